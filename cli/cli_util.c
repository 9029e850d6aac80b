/*
 * cli_util.c - what every command of the CLI shares: the one-line error, an
 * option's choice among words, the following of exec links and of a forked
 * child's parents.
 */
#include "cli.h"
#include "rep_sym.h"
#include "tf.h"

#include <inttypes.h>
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

/* The header of the trace at path: its pid, and its parent's trace and
 * fork point (from, of cap bytes; "" when none).  false when unreadable. */
static bool fork_header(const char *path, uint64_t *pid, uint64_t *ppid, char *from, size_t cap,
			uint64_t *at)
{
	tf_reader *rd;
	tf_record rec;
	if (tf_reader_open_file(&rd, path, NULL, 0) < 0)
		return false;
	bool ok = tf_reader_next(rd, &rec) > 0 && rec.kind == TF_HEADER;
	if (ok) {
		const tf_header *h = tf_reader_header(rd);
		*pid = h->pid;
		*ppid = h->ppid;
		*at = h->fork_at;
		snprintf(from, cap, "%.*s", (int)h->fork_from.len, h->fork_from.ptr);
	}
	tf_reader_free(rd);
	return ok;
}

/* Where the parent's trace named from is for the child's at child: from
 * itself, else the file of that name beside child.  false: neither. */
static bool find_parent(const char *child, const char *from, char *out, size_t cap)
{
	if (access(from, R_OK) == 0) {
		snprintf(out, cap, "%s", from);
		return true;
	}
	const char *base = strrchr(from, '/'), *dir = strrchr(child, '/');
	base = base ? base + 1 : from;
	int len = dir ? snprintf(out, cap, "%.*s/%s", (int)(dir - child), child, base)
		      : snprintf(out, cap, "%s", base);
	return len > 0 && (size_t)len < cap && access(out, R_OK) == 0;
}

void cli_fork_chain(const char *path, int follow, cli_chain *ch, const char *cmd)
{
	/* the child first, its parent next ..., then reversed */
	static char rev[CLI_CHAIN_MAX][sizeof(ch->path[0])];
	uint64_t at[CLI_CHAIN_MAX];
	int n = 0;
	snprintf(rev[n++], sizeof(rev[0]), "%s", path);
	uint64_t pid, ppid, fork_at;
	char from[sizeof(ch->path[0])], found[sizeof(ch->path[0])];
	bool ok = fork_header(path, &pid, &ppid, from, sizeof(from), &fork_at);
	while (follow && ok && from[0] && n < CLI_CHAIN_MAX) {
		const char *child = rev[n - 1];
		const uint64_t child_ppid = ppid, child_at = fork_at;
		const char *why = NULL;
		const bool there = find_parent(child, from, found, sizeof(found));
		if (!there)
			why = "is not there";
		else if (!(ok = fork_header(found, &pid, &ppid, from, sizeof(from), &fork_at)))
			why = "cannot be read";
		else if (pid != child_ppid)
			why = "is another process's";
		if (why) {
			cli_error("%s: %s is a forked child's trace; its parent's trace %s %s: "
				  "replaying it alone (what it inherited is unknown)",
				  cmd, child, there ? found : from, why);
			break;
		}
		at[n - 1] = child_at;
		snprintf(rev[n++], sizeof(rev[0]), "%s", found);
	}
	ch->n = n;
	for (int i = 0; i < n; i++) {
		snprintf(ch->path[i], sizeof(ch->path[i]), "%s", rev[n - 1 - i]);
		ch->until[i] = i < n - 1 ? at[n - 2 - i] : 0;
	}
	if (n > 1)
		cli_error("%s: %s is a forked child's trace; replaying %d parent trace%s up to the "
			  "fork first, from %s (--no-follow-fork: the child alone)",
			  cmd, path, n - 1, n > 2 ? "s" : "", ch->path[0]);
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
