/*
 * cli_util.c - what every command of the CLI shares: the one-line error and
 * the following of exec links.
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
