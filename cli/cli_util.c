/*
 * cli_util.c - what every command of the CLI shares: the one-line error and
 * string escaping for JSON and dump output.
 */
#include "cli.h"
#include "tf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <unistd.h>
#include <string.h>

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("arenatrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* JSON keeps valid UTF-8 and writes U+FFFD for other bytes; C style
 * writes \xNN for every byte outside printable ASCII. */
static void put_escaped(FILE *out, const char *s, size_t len, bool json)
{
	const unsigned char *u = (const unsigned char *)s;
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = u[i];
		size_t n;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, out);
		else if (!json)
			fprintf(out, "\\x%02x", c);
		else if (c >= 0x80 && (n = tf_utf8_len(u + i, len - i))) {
			fwrite(u + i, 1, n, out);
			i += n - 1;
		} else if (c >= 0x80)
			fputs("\\ufffd", out);
		else
			fprintf(out, "\\u%04x", c);
	}
	fputc('"', out);
}

void rp_json_str(FILE *out, const char *s, size_t len)
{
	put_escaped(out, s, len, true);
}

void rp_c_str(FILE *out, const char *s, size_t len)
{
	put_escaped(out, s, len, false);
}


const char *cli_follow_exec(const char *path, char *buf, size_t cap, const char *cmd)
{
	const char *cur = path;
	char next[TF_LINK_MAX + 1];
	for (int hops = 0; hops < 64 && tf_link_read(cur, next, sizeof(next)) == 1; hops++) {
		if (access(next, R_OK) != 0) {
			cli_error("%s: %s ended by exec; the program it became wrote %s, which is not "
				 "there: reading %s as it is",
				 cmd, cur, next, cur);
			break;
		}
		snprintf(buf, cap, "%s", next);
		cur = buf;
	}
	if (cur != path)
		cli_error("%s: %s ended by exec; reading %s, the trace of the program it became "
			 "(--no-follow-exec: %s itself)",
			 cmd, path, cur, path);
	return cur;
}
