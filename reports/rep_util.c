/*
 * rep_util.c - what the report sinks share: CSV fields (RFC 4180), HTML
 * escaping, a forked child's wording, opening and closing their files (a
 * stack's frames are rep_view.c's).
 *
 * Invariants: the escapers write every byte of their input or its
 * replacement, so a field or a text is never cut; a file is written only
 * inside out->dir, never through a symbolic link, and every file opened
 * is in out->written (rep_dir's manifest relies on both).
 */
#include "rep.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

bool rep_fork_text(const rp_replay_result *res, char *buf, size_t cap)
{
	const rp_facts *x = &res->facts;
	buf[0] = 0;
	if (!x->fork_from[0])
		return false;
	char from[192] = "; replayed without that trace", skipped[128] = "";
	if (x->ancestors)
		snprintf(from, sizeof(from),
			 "; replayed from the parent's state: %" PRIu64 " events of %u earlier trace%s "
			 "first%s",
			 x->inherited_events, (unsigned)x->ancestors, x->ancestors > 1 ? "s" : "",
			 x->parent_missing ? "; the first of those traces is a forked child's too, "
					     "without its parent's"
					   : "");
	if (x->parent_missing)
		snprintf(skipped, sizeof(skipped),
			 ": %" PRIu64 " frees and reallocs of blocks inherited at the fork skipped, "
			 "not anomalies",
			 res->inherited_unknown);
	snprintf(buf, cap, "from %s at its event %" PRIu64 "%s%s", x->fork_from, x->fork_at, from,
		 skipped);
	return true;
}

void rep_csv_field(FILE *f, const char *s, size_t len)
{
	bool quote = false;
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote) {
		fwrite(s, 1, len, f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

void rep_html_text(FILE *f, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		switch (c) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
				fputc(c, f);
			} else {
				size_t n = c >= 0x80 ? tf_utf8_len(u + i, len - i) : 0;
				if (n) {
					fwrite(u + i, 1, n, f);
					i += n;
					continue;
				}
				fputs("&#xfffd;", f);
			}
		}
		i++;
	}
}

FILE *rep_open(rep_out *out, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out->dir, name);
	if (out->on_file)
		out->on_file(out->ctx, name);
	if (out->nwritten == REP_MAX_FILES) {
		snprintf(out->failed, sizeof(out->failed), "%s/%s: more files than a report has",
			 out->dir, name);
		return NULL;
	}
	/* a link of a report's name is not followed out of the directory */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		snprintf(out->failed, sizeof(out->failed), "%s/%s: %s", out->dir, name,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	out->written[out->nwritten++] = name;
	return f;
}

int rep_close(rep_out *out, FILE *f, const char *name)
{
	bool bad = ferror(f);
	int err = bad ? EIO : 0;
	if (fclose(f) != 0) {
		bad = true;
		err = errno;
	}
	if (!bad)
		return REP_OK;
	snprintf(out->failed, sizeof(out->failed), "%s/%s: %s", out->dir, name, strerror(err));
	return REP_E_IO;
}
