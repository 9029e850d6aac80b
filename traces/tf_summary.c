/*
 * tf_summary.c - the counting pass behind `arenatrace info`.
 */
#include "tf_summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool failed_call(const tf_record *r)
{
	const tf_alloc *a = &r->u.alloc;
	switch (r->kind) {
	case TF_FREE:
	case TF_PY_MEM_FREE:
	case TF_PY_OBJ_FREE:
		return false;
	case TF_POSIX_MEMALIGN:
		return a->ret != 0;
	case TF_CALLOC:
	case TF_PY_MEM_CALLOC:
	case TF_PY_OBJ_CALLOC:
	case TF_REALLOCARRAY:
		return !a->addr && a->nmemb && a->size;
	default: /* realloc(p, 0) returning NULL freed p: not a failure */
		return !a->addr && a->size;
	}
}

static int copy_header(tf_summary *s, const tf_header *h)
{
	tf_bytes *f[] = {&s->header.clock, &s->header.tool_version, &s->header.exe,
			 &s->header.argv, &s->header.python};
	size_t n = sizeof(f) / sizeof(f[0]), total = 0;
	s->header = *h;
	for (size_t i = 0; i < n; i++)
		total += f[i]->len + 1;
	s->strings = malloc(total);
	if (!s->strings)
		return TF_E_NOMEM;
	char *p = s->strings;
	for (size_t i = 0; i < n; i++) {
		if (f[i]->len) /* a field an older writer left out is {NULL, 0} */
			memcpy(p, f[i]->ptr, f[i]->len);
		p[f[i]->len] = 0;
		f[i]->ptr = p;
		p += f[i]->len + 1;
	}
	return 0;
}

/* A stack node: whether a Python frame is on its way to the root.  Nodes
 * come in id order; one out of order, or no memory, counts as none. */
static void node(tf_summary *s, const tf_stack_node *n)
{
	if (n->id != s->nodes + 1)
		return;
	if (s->nodes == s->cap_nodes) {
		size_t cap = s->cap_nodes ? 2 * s->cap_nodes : 4096;
		uint8_t *p = realloc(s->py_nodes, cap);
		if (!p)
			return;
		s->py_nodes = p;
		s->cap_nodes = cap;
	}
	const bool parent_py = n->parent && n->parent <= s->nodes && s->py_nodes[n->parent - 1];
	s->py_nodes[s->nodes++] = n->code || parent_py;
}

static void count(tf_summary *s, const tf_record *r)
{
	s->kinds[r->kind]++;
	if (r->kind == TF_STACK)
		node(s, &r->u.node);
	if (tf_kind_is_malloc_fn(r->kind) || tf_kind_is_python_fn(r->kind)) {
		const uint64_t st = r->u.alloc.stack;
		s->failed[r->kind] += failed_call(r);
		s->requests++;
		s->py_requests += st && st <= s->nodes && s->py_nodes[st - 1];
	}
	if (r->kind == TF_END)
		s->end = r->u.end;
	if (r->kind == TF_GC_STOP && r->u.gc.generation < 3)
		s->gc_by_gen[r->u.gc.generation]++;
	if (r->kind == TF_PYTHON_ALLOCATOR && !s->python_allocator[0]) {
		const tf_bytes *b = &r->u.python_allocator;
		size_t n = b->len < sizeof(s->python_allocator) - 1 ? b->len
								    : sizeof(s->python_allocator) - 1;
		if (n)
			memcpy(s->python_allocator, b->ptr, n);
		s->python_allocator[n] = 0;
	}
	if (tf_kind_is_event(r->kind)) {
		if (!s->events++)
			s->first_ns = r->time;
		s->last_ns = r->time;
	}
}

int tf_summarize(const char *path, tf_summary *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	tf_reader *r;
	int rc = tf_reader_open_file(&r, path, err, errlen);
	if (rc)
		return rc;
	struct stat sb;
	if (stat(path, &sb) == 0)
		s->file_bytes = (uint64_t)sb.st_size;
	tf_record rec;
	while ((rc = tf_reader_next(r, &rec)) > 0) {
		if (rec.kind == TF_HEADER && (rc = copy_header(s, &rec.u.header)) < 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			break;
		}
		count(s, &rec);
	}
	if (rc < 0 && rc != TF_E_NOMEM)
		snprintf(err, errlen, "%s: %s", path, tf_reader_error(r));
	tf_reader_get_status(r, &s->status);
	tf_reader_free(r);
	return rc < 0 ? rc : 0;
}

void tf_summary_free(tf_summary *s)
{
	free(s->strings);
	s->strings = NULL;
	free(s->py_nodes);
	s->py_nodes = NULL;
	s->nodes = s->cap_nodes = 0;
}

bool tf_pymalloc_served(const char *python_allocator)
{
	return !python_allocator[0] || !strcmp(python_allocator, "pymalloc") ||
	       !strcmp(python_allocator, "pymalloc_debug");
}
