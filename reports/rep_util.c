/*
 * rep_util.c - what the report sinks share: CSV fields (RFC 4180), HTML
 * escaping, naming a stack's frames, opening and closing their files.
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

#define NAMES_PER_FRAME 16 /* lines the namer may give one return address */
#define MAX_DEPTH 4096     /* nodes followed up a stack: a cycle in a damaged tree ends */

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

void rep_stack_frames(const rep_input *in, uint64_t stack, int max,
		      void (*fn)(void *ctx, const char *line), void *ctx)
{
	const rp_replay_result *res = in->res;
	int lines = 0;
	char hex[32];
	/* a stack id names its leaf node; parents lead outwards (FORMAT.md) */
	for (uint64_t id = stack, hops = 0; id && id <= res->nnodes && lines < max && hops < MAX_DEPTH;
	     id = res->node_parent[id - 1], hops++) {
		uint64_t ip = res->node_ip[id - 1];
		const char *names[NAMES_PER_FRAME];
		int n = in->namer ? in->namer(in->namer_ctx, ip, stack, names, NAMES_PER_FRAME) : 0;
		if (n <= 0) {
			snprintf(hex, sizeof(hex), "0x%" PRIx64, ip);
			names[0] = hex;
			n = 1;
		}
		for (int k = 0; k < n && lines < max; k++, lines++)
			fn(ctx, names[k]);
	}
}

FILE *rep_open(rep_out *out, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out->dir, name);
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
