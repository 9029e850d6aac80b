/*
 * tf_codec.c - the record layout table (FORMAT.md §5), the request shapes
 * derived from it, varints and names.
 *
 * The table is the single definition of every record's fields: the writer
 * encodes from it, emits it as the schema record, and the reader decodes
 * known tags with it and skips unknown ones with the file's schema.
 */
#include "tf_internal.h"

#include <stddef.h>

#define F(fc, member) {TF_FC_##fc, offsetof(tf_record, member)}
#define SCRATCH offsetof(tf_record, u.module_unload)

static const tf_field f_state[] = {{TF_FC_U, SCRATCH}};
static const tf_field f_header[] = {
    F(U, u.header.version),       F(U, u.header.pid),
    F(U, u.header.ppid),          F(U, u.header.start_real_ns),
    F(U, u.header.start_mono_ns), F(U, u.header.page_size),
    F(U, u.header.pointer_size),  F(U, u.header.quantum_ns),
    F(B, u.header.clock),         F(B, u.header.tool_version),
    F(B, u.header.exe),           F(B, u.header.argv),
    F(B, u.header.python),        F(B, u.header.exec_from),
    F(B, u.header.fork_from),     F(U, u.header.fork_at),
};
static const tf_field f_thread[] = {F(U, u.thread.tid), F(U, u.thread.os_tid),
				    F(B, u.thread.name)};
static const tf_field f_thread_name[] = {F(U, u.thread.tid), F(B, u.thread.name)};
static const tf_field f_stack[] = {F(PARENT, u.node.parent), F(IP, u.node.ip),
				   F(U, u.node.code)};
static const tf_field f_py_code[] = {F(U, u.py_code.id),	   F(U, u.py_code.first_line),
				     F(U, u.py_code.lines_format), F(B, u.py_code.filename),
				     F(B, u.py_code.name),	   F(B, u.py_code.qualname),
				     F(B, u.py_code.lines)};
static const tf_field f_module[] = {F(U, u.module.id), F(B, u.module.path),
				    F(U, u.module.base), F(B, u.module.build_id),
				    F(B, u.module.segments)};
static const tf_field f_mark[] = {F(B, u.label.label)};
static const tf_field f_snapshot[] = {F(B, u.label.label), F(B, u.label.text)};
static const tf_field f_fork[] = {F(U, u.fork.child_pid), F(B, u.fork.child_trace)};
static const tf_field f_end[] = {F(U, u.end.clean),  F(S, u.end.exit_status),
				 F(U, u.end.events), F(U, u.end.stacks),
				 F(U, u.end.threads), F(U, u.end.dropped)};

/* Allocation events: stack first, inputs, then the result address. */
static const tf_field f_malloc[] = {F(K, u.alloc.stack), F(U, u.alloc.size),
				   F(ANEW, u.alloc.addr)};
static const tf_field f_calloc[] = {F(K, u.alloc.stack), F(U, u.alloc.nmemb),
				   F(U, u.alloc.size), F(ANEW, u.alloc.addr)};
static const tf_field f_realloc[] = {F(K, u.alloc.stack), F(AOLD, u.alloc.old),
				    F(U, u.alloc.size), F(ANEW, u.alloc.addr)};
static const tf_field f_reallocarray[] = {
    F(K, u.alloc.stack), F(AOLD, u.alloc.old), F(U, u.alloc.nmemb),
    F(U, u.alloc.size), F(ANEW, u.alloc.addr)};
static const tf_field f_free[] = {F(K, u.alloc.stack), F(AOLD, u.alloc.addr)};
static const tf_field f_posix_memalign[] = {F(K, u.alloc.stack), F(U, u.alloc.align),
					    F(U, u.alloc.size), F(U, u.alloc.ret),
					    F(ANEW, u.alloc.addr)};
static const tf_field f_aligned[] = {F(K, u.alloc.stack), F(U, u.alloc.align),
				    F(U, u.alloc.size), F(ANEW, u.alloc.addr)};
static const tf_field f_arena[] = {F(U, u.arena.addr), F(U, u.arena.size)};
static const tf_field f_gc_start[] = {F(U, u.gc.generation)};
static const tf_field f_gc_stop[] = {F(U, u.gc.generation), F(U, u.gc.collected),
				    F(U, u.gc.uncollectable)};
static const tf_field f_python_allocator[] = {F(B, u.python_allocator)};
static const tf_field f_py_init[] = {F(U, u.py_init.number), F(B, u.py_init.allocator)};
static const tf_field f_heap[] = {F(U, u.heap.tid), F(U, u.heap.state), F(U, u.heap.block)};

#define NF(a) (sizeof(a) / sizeof((a)[0]))
#define N(a) (uint8_t)NF(a), a
#define EV TF_RF_EVENT
#define BY TF_RF_BYTES
#define MA (TF_RF_EVENT | TF_RF_MALLOC | TF_RF_STACK)
#define PY (TF_RF_EVENT | TF_RF_PYTHON | TF_RF_STACK)

const tf_kinddef tf_kinds[TF_NKINDS] = {
    [TF_SCHEMA] = {"schema", 0, 0, 0, NULL}, /* fixed layout, FORMAT.md §3 */
    [TF_HEADER] = {"header", BY, 0, N(f_header)},
    [TF_THREAD] = {"thread", BY, 0, N(f_thread)},
    [TF_THREAD_NAME] = {"thread_name", BY, 0, N(f_thread_name)},
    [TF_SWITCH] = {"switch", 0, 0, N(f_state)},
    [TF_TIME] = {"time", 0, 0, N(f_state)},
    [TF_STACK] = {"stack", 0, 0, N(f_stack)},
    [TF_MODULE] = {"module", BY, 0, N(f_module)},
    [TF_MODULE_UNLOAD] = {"module_unload", 0, 0, N(f_state)},
    [TF_MARK] = {"mark", EV | BY, 0, N(f_mark)},
    [TF_SNAPSHOT] = {"snapshot", EV | BY, 0, N(f_snapshot)},
    [TF_FORK] = {"fork", EV | BY, 0, N(f_fork)},
    [TF_PY_CODE] = {"py_code", BY, 0, N(f_py_code)},
    [TF_END] = {"end", 0, 0, N(f_end)},
    [TF_MALLOC] = {"malloc", MA, 0, N(f_malloc)},
    [TF_CALLOC] = {"calloc", MA, 0, N(f_calloc)},
    [TF_REALLOC] = {"realloc", MA, 0, N(f_realloc)},
    [TF_REALLOCARRAY] = {"reallocarray", MA, 0, N(f_reallocarray)},
    [TF_FREE] = {"free", MA, 0, N(f_free)},
    [TF_POSIX_MEMALIGN] = {"posix_memalign", MA, 0, N(f_posix_memalign)},
    [TF_ALIGNED_ALLOC] = {"aligned_alloc", MA, 0, N(f_aligned)},
    [TF_MEMALIGN] = {"memalign", MA, 0, N(f_aligned)},
    [TF_VALLOC] = {"valloc", MA, 0, N(f_malloc)},
    [TF_PVALLOC] = {"pvalloc", MA, 0, N(f_malloc)},
    [TF_PY_MEM_MALLOC] = {"py_mem_malloc", PY, 1, N(f_malloc)},
    [TF_PY_MEM_CALLOC] = {"py_mem_calloc", PY, 1, N(f_calloc)},
    [TF_PY_MEM_REALLOC] = {"py_mem_realloc", PY, 1, N(f_realloc)},
    [TF_PY_MEM_FREE] = {"py_mem_free", PY, 1, N(f_free)},
    [TF_PY_OBJ_MALLOC] = {"py_obj_malloc", PY, 1, N(f_malloc)},
    [TF_PY_OBJ_CALLOC] = {"py_obj_calloc", PY, 1, N(f_calloc)},
    [TF_PY_OBJ_REALLOC] = {"py_obj_realloc", PY, 1, N(f_realloc)},
    [TF_PY_OBJ_FREE] = {"py_obj_free", PY, 1, N(f_free)},
    [TF_ARENA_ALLOC] = {"arena_alloc", EV, 0, N(f_arena)},
    [TF_ARENA_FREE] = {"arena_free", EV, 0, N(f_arena)},
    [TF_GC_START] = {"gc_start", EV, 0, N(f_gc_start)},
    [TF_GC_STOP] = {"gc_stop", EV, 0, N(f_gc_stop)},
    [TF_PYTHON_ALLOCATOR] = {"python_allocator", BY, 0, N(f_python_allocator)},
    [TF_PY_FINALIZE] = {"py_finalize", 0, 0, 0, NULL}, /* no fields: its place says it */
    [TF_PY_INIT] = {"py_init", BY, 0, N(f_py_init)},
    [TF_HEAP] = {"heap", 0, 0, N(f_heap)},
};

const char *tf_kind_name(unsigned kind)
{
	return kind < TF_NKINDS ? tf_kinds[kind].name : NULL;
}

size_t tf_put_varint(uint8_t *p, uint64_t v)
{
	return tf_put_uv(p, v);
}

bool tf_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	return tf_get_uv(pp, end, v);
}

size_t tf_utf8_len(const unsigned char *s, size_t len)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		 : s[0] >= 0xf0 && s[0] <= 0xf4			     ? 4
									     : 0;
	if (!n || n > len)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, or a surrogate */
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0; /* overlong, or above U+10FFFF */
	return n;
}

#define ALLOC_OFF(m) offsetof(tf_record, u.alloc.m)

uint8_t tf_shape_of(const tf_kinddef *d)
{
	if (!(d->flags & TF_RF_STACK) || d->nfields < 2 || d->fields[0].fc != TF_FC_K ||
	    d->fields[0].off != ALLOC_OFF(stack) || d->layer > 1)
		return 0;
	uint8_t sh = TF_SH_EVENT | (d->layer ? TF_SH_LAYER1 : 0);
	const tf_field *f = d->fields + 1, *end = d->fields + d->nfields;
	if (d->nfields == 2)
		return f->fc == TF_FC_AOLD && f->off == ALLOC_OFF(addr) ? sh | TF_SH_FREE : 0;
	if (f->fc == TF_FC_AOLD && f->off == ALLOC_OFF(old))
		sh |= TF_SH_OLD, f++;
	if (f < end && f->fc == TF_FC_U && f->off == ALLOC_OFF(nmemb))
		sh |= TF_SH_NMEMB, f++;
	else if (f < end && f->fc == TF_FC_U && f->off == ALLOC_OFF(align))
		sh |= TF_SH_ALIGN, f++;
	if (f == end || f->fc != TF_FC_U || f->off != ALLOC_OFF(size))
		return 0;
	if (++f < end && f->fc == TF_FC_U && f->off == ALLOC_OFF(ret))
		sh |= TF_SH_RET, f++;
	if (f == end || f->fc != TF_FC_ANEW || f->off != ALLOC_OFF(addr) || f + 1 != end)
		return 0;
	return sh;
}
