/*
 * atr-pystacks.c - the call stacks of a trace's allocations as lines of
 * text, for the tracer's Python-stack tests (tests/e2e/test_pystacks.sh):
 * independent of the replay and the reports, it reads the stack and
 * py_code records itself and resolves lines with tf_pyline.
 *
 * One line per allocation event (malloc family and Python domains, not
 * frees) whose stack has a Python frame, or every allocation with --all:
 *   KIND SIZE tid=T frames=N | FRAME | FRAME ...
 * frames innermost first; a Python frame is BASENAME:LINE:FUNCTION (the
 * qualname when the trace has one), a native frame is "native", runs of
 * them folded into one "native*K".  With --counts, only totals:
 *   requests R with_python P max_frames M codes C
 * usage: atr-pystacks [--all] [--counts] TRACE
 */
#include "tf.h"
#include "tf_pyline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct code {
	char *file, *name;
	uint64_t first, format;
	uint8_t *lines;
	size_t nlines;
} code;

typedef struct node {
	uint64_t parent, ip, code;
} node;

static node *nodes;
static size_t nnodes, capnodes;
static code *codes;
static size_t capcodes;

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need < *cap)
		return p;
	size_t c = *cap ? *cap : 1024;
	while (c <= need)
		c *= 2;
	char *q = realloc(p, c * size);
	if (!q) {
		fprintf(stderr, "atr-pystacks: out of memory\n");
		exit(2);
	}
	memset(q + *cap * size, 0, (c - *cap) * size);
	*cap = c;
	return q;
}

static char *dup(tf_bytes b)
{
	char *s = malloc(b.len + 1);
	if (!s)
		exit(2);
	memcpy(s, b.ptr, b.len);
	s[b.len] = 0;
	return s;
}

static void keep_code(const tf_py_code *c)
{
	codes = grow(codes, &capcodes, c->id, sizeof(*codes));
	code *k = &codes[c->id];
	free(k->file), free(k->name), free(k->lines);
	const char *slash = memrchr(c->filename.ptr, '/', c->filename.len);
	tf_bytes base = c->filename;
	if (slash) {
		base.len -= (size_t)(slash + 1 - base.ptr);
		base.ptr = slash + 1;
	}
	k->file = dup(base);
	k->name = dup(c->qualname.len ? c->qualname : c->name);
	k->first = c->first_line;
	k->format = c->lines_format;
	k->nlines = c->lines.len;
	k->lines = malloc(c->lines.len + 1);
	if (!k->lines)
		exit(2);
	memcpy(k->lines, c->lines.ptr, c->lines.len);
}

int main(int argc, char **argv)
{
	bool all = false, counts = false;
	int i = 1;
	for (; i < argc - 1; i++)
		if (!strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "--counts"))
			counts = true;
	if (i != argc - 1) {
		fprintf(stderr, "usage: atr-pystacks [--all] [--counts] TRACE\n");
		return 2;
	}
	tf_reader *r;
	char err[256];
	if (tf_reader_open_file(&r, argv[i], err, sizeof(err)) < 0) {
		fprintf(stderr, "atr-pystacks: %s\n", err);
		return 2;
	}
	tf_record rec;
	int rc;
	uint64_t requests = 0, with_python = 0, max_frames = 0, ncodes = 0;
	while ((rc = tf_reader_next(r, &rec)) > 0) {
		if (rec.kind == TF_PY_CODE) {
			keep_code(&rec.u.py_code);
			ncodes++;
			continue;
		}
		if (rec.kind == TF_STACK) {
			nodes = grow(nodes, &capnodes, rec.u.node.id, sizeof(*nodes));
			nodes[rec.u.node.id] = (node){rec.u.node.parent, rec.u.node.ip, rec.u.node.code};
			nnodes = rec.u.node.id;
			continue;
		}
		if (!(tf_kind_is_malloc_fn(rec.kind) || tf_kind_is_python_fn(rec.kind)) ||
		    rec.kind == TF_FREE || rec.kind == TF_PY_MEM_FREE || rec.kind == TF_PY_OBJ_FREE)
			continue;
		requests++;
		uint64_t n = 0, py = 0;
		for (uint64_t id = rec.u.alloc.stack; id && id <= nnodes; id = nodes[id].parent) {
			n++;
			py += nodes[id].code != 0;
		}
		with_python += py > 0;
		if (n > max_frames)
			max_frames = n;
		if (counts || (!py && !all))
			continue;
		uint64_t size = rec.u.alloc.nmemb ? rec.u.alloc.nmemb * rec.u.alloc.size : rec.u.alloc.size;
		printf("%s %" PRIu64 " tid=%u frames=%" PRIu64 " |", tf_kind_name(rec.kind), size,
		       rec.thread, n);
		uint64_t natives = 0;
		for (uint64_t id = rec.u.alloc.stack; id && id <= nnodes; id = nodes[id].parent) {
			const node *nd = &nodes[id];
			if (!nd->code) {
				natives++;
				continue;
			}
			if (natives)
				printf(natives > 1 ? " native*%" PRIu64 " |" : " native |", natives);
			natives = 0;
			const code *c = nd->code < capcodes ? &codes[nd->code] : NULL;
			if (!c || !c->file) {
				printf(" ?:?:? |");
				continue;
			}
			int64_t line = tf_pyline((unsigned)c->format, c->lines, c->nlines, (int64_t)c->first,
						 (int64_t)nd->ip);
			printf(" %s:%" PRId64 ":%s |", c->file, line, c->name);
		}
		if (natives)
			printf(natives > 1 ? " native*%" PRIu64 : " native", natives);
		putchar('\n');
	}
	if (rc < 0) {
		fprintf(stderr, "atr-pystacks: %s\n", tf_reader_error(r));
		return 2;
	}
	if (counts)
		printf("requests %" PRIu64 " with_python %" PRIu64 " max_frames %" PRIu64
		       " codes %" PRIu64 "\n",
		       requests, with_python, max_frames, ncodes);
	tf_reader_free(r);
	return 0;
}
