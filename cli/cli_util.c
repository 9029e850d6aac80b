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

/* What a trace's header says of its process's fork. */
typedef struct fork_hdr {
	uint64_t pid, ppid;
	char from[4097]; /* the parent's trace, "" when none */
	uint64_t at;     /* its events before the fork */
} fork_hdr;

/* The header of the trace at path; false when unreadable. */
static bool fork_header(const char *path, fork_hdr *h)
{
	tf_reader *rd;
	tf_record rec;
	if (tf_reader_open_file(&rd, path, NULL, 0) < 0)
		return false;
	bool ok = tf_reader_next(rd, &rec) > 0 && rec.kind == TF_HEADER;
	if (ok) {
		const tf_header *x = tf_reader_header(rd);
		h->pid = x->pid;
		h->ppid = x->ppid;
		h->at = x->fork_at;
		snprintf(h->from, sizeof(h->from), "%.*s", (int)x->fork_from.len, x->fork_from.ptr);
	}
	tf_reader_free(rd);
	return ok;
}

/* The parent's trace of the child's at child (header c): the one c names,
 * else the file of that name beside child (traces moved together), the
 * first readable one of c's parent process, into out and its header into
 * p.  NULL, or why neither is (of the file that was there, in out, else
 * of the one c names). */
static const char *find_parent(const char *child, const fork_hdr *c, char *out, size_t cap,
			       fork_hdr *p)
{
	snprintf(out, cap, "%s", c->from);
	const char *base = strrchr(c->from, '/'), *dir = strrchr(child, '/');
	base = base ? base + 1 : c->from;
	char beside[4097];
	int len = dir ? snprintf(beside, sizeof(beside), "%.*s/%s", (int)(dir - child), child, base)
		      : snprintf(beside, sizeof(beside), "%s", base);
	const char *cand[2] = {c->from, len > 0 && (size_t)len < sizeof(beside) ? beside : NULL};
	const char *why = "is not there";
	for (int k = 0; k < 2 && cand[k]; k++) {
		if (k && !strcmp(cand[k], c->from))
			break;
		if (access(cand[k], R_OK) != 0)
			continue;
		snprintf(out, cap, "%s", cand[k]);
		if (!fork_header(cand[k], p))
			why = "cannot be read";
		else if (p->pid != c->ppid)
			why = "is another process's";
		else
			return NULL;
	}
	return why;
}

void cli_fork_chain(const char *path, int follow, cli_chain *ch, const char *cmd)
{
	/* the child first, its parent next ..., then reversed */
	static char rev[CLI_CHAIN_MAX][sizeof(ch->path[0])];
	static fork_hdr h[2];
	uint64_t at[CLI_CHAIN_MAX];
	int n = 0, cur = 0;
	snprintf(rev[n++], sizeof(rev[0]), "%s", path);
	bool ok = fork_header(path, &h[cur]);
	while (follow && ok && h[cur].from[0] && n < CLI_CHAIN_MAX) {
		const char *why = find_parent(rev[n - 1], &h[cur], rev[n], sizeof(rev[n]), &h[!cur]);
		if (why) {
			cli_error("%s: %s is a forked child's trace; its parent's trace %s %s: "
				  "replaying it alone (what it inherited is unknown)",
				  cmd, rev[n - 1], rev[n], why);
			break;
		}
		at[n - 1] = h[cur].at;
		n++;
		cur = !cur; /* the parent's header: its own parent, and the events before */
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
