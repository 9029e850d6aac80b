/*
 * cli_util.c - what every command of the CLI shares: the one-line error, an
 * option's choice among words, and the following of exec links.
 */
#include "cli.h"
#include "rep_sym.h"
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

int cli_choice(const char *v, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(v, words[i]))
			return i;
	return -1;
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

void cli_symbol_warnings(const rep_sym *s)
{
	rep_sym_stats st;
	rep_sym_get_stats(s, &st);
	for (size_t i = 0; i < st.warnings; i++) {
		const char *w = rep_sym_warning(s, i);
		if (!w) {
			cli_error("symbols: %zu more warnings", (size_t)st.warnings - i);
			break;
		}
		cli_error("symbols: %s", w);
	}
}
