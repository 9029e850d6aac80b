/*
 * rp_util.c - what every command of the CLI shares: the one-line error and
 * string escaping for JSON and dump output.
 */
#include "rp_cli.h"

#include <stdarg.h>
#include <stdbool.h>

void rp_error(const char *fmt, ...)
{
	va_list ap;
	fputs("arenatrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (!n || n > len || (s[0] < 0xe0 && n != 2))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
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
		else if (c >= 0x80 && (n = utf8_len(u + i, len - i))) {
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

