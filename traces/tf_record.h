/*
 * tf_record.h - a record of the trace format as C sees it: the header, events,
 * stack nodes, modules, labels, arenas, GC passes, forks and the end.
 */
#ifndef ARENATRACE_TF_RECORD_H
#define ARENATRACE_TF_RECORD_H

#include "tf_kind.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A byte string inside a record.  For records returned by the reader it
 * points into the reader's frame buffer and lives until the next call. */
typedef struct tf_bytes {
	const char *ptr;
	size_t len;
} tf_bytes;

/* Allocation-layer event (malloc family and Python domains). */
typedef struct tf_alloc {
	uint64_t stack; /* leaf stack node id, 0 = no stack */
	uint64_t addr;  /* result (0 = failed or NULL); freed pointer for frees */
	uint64_t old;   /* realloc/reallocarray: the pointer passed in */
	uint64_t size;  /* requested size (element size for calloc/reallocarray) */
	uint64_t nmemb; /* calloc/reallocarray element count */
	uint64_t align; /* posix_memalign/aligned_alloc/memalign alignment */
	uint64_t ret;   /* posix_memalign return value (0 or an errno value) */
} tf_alloc;

typedef struct tf_header {
	uint64_t version;       /* TF_FORMAT_VERSION */
	uint64_t pid, ppid;     /* of the traced process */
	uint64_t start_real_ns; /* CLOCK_REALTIME at start, ns since the epoch */
	uint64_t start_mono_ns; /* the clock below at start; event times count from it */
	uint64_t page_size;     /* sysconf(_SC_PAGESIZE) */
	uint64_t pointer_size;  /* sizeof(void *) of the traced process */
	uint64_t quantum_ns;    /* writer's time-record spacing, 0 = every change */
	tf_bytes clock;         /* "CLOCK_MONOTONIC" */
	tf_bytes tool_version;  /* arenatrace version that wrote the file */
	tf_bytes exe;           /* /proc/self/exe */
	tf_bytes argv;          /* arguments, each followed by one NUL */
	tf_bytes python;        /* "3.12.1" when CPython was detected, else empty */
	tf_bytes exec_from;     /* the trace of the program that exec'd this one, as
				 * that trace's path; empty when this process did not
				 * start by exec from a traced program */
	tf_bytes fork_from;     /* a forked child's: the parent's trace, as the
				 * parent's tracer named it; empty otherwise */
	uint64_t fork_at;       /* a forked child's: the events of fork_from
				 * recorded before the fork */
} tf_header;

typedef struct tf_thread {
	uint64_t tid;    /* small id, 1 = main thread */
	uint64_t os_tid; /* gettid() */
	tf_bytes name;
} tf_thread;

typedef struct tf_stack_node {
	uint64_t id;     /* implicit: 1, 2, 3 … in file order */
	uint64_t parent; /* 0 = root (this node is an outermost frame) */
	uint64_t ip;     /* native frame: its return address; Python frame: the
			  * byte offset of its current instruction in the code */
	uint64_t code;   /* 0: a native frame; else the py_code id of a Python frame */
} tf_stack_node;

/* A Python code object, written once before the first frame that runs it
 * (FORMAT.md §5.5).  Ids are the writer's, from 1, never reused in a
 * file: a code object born where a dead one was gets a new id. */
typedef struct tf_py_code {
	uint64_t id;
	uint64_t first_line;   /* co_firstlineno */
	uint64_t lines_format; /* TF_PYLINES_* (tf_pyline.h): how `lines` is encoded */
	tf_bytes filename;     /* co_filename */
	tf_bytes name;         /* co_name */
	tf_bytes qualname;     /* co_qualname (3.11+); empty before */
	tf_bytes lines;        /* the code object's line table, as the interpreter has it */
} tf_py_code;

/* The replay and the reports keep a stack node's frame as one number: a
 * native frame's return address, or a Python frame as (code id, offset)
 * with the top bit set, which no user-space address has. */
#define TF_PY_FRAME_BIT (1ull << 63)
static inline uint64_t tf_py_frame(uint64_t code, uint64_t offset)
{
	return TF_PY_FRAME_BIT | (code & 0x7fffffffu) << 32 | (offset & 0xffffffffu);
}
static inline bool tf_is_py_frame(uint64_t frame)
{
	return frame & TF_PY_FRAME_BIT;
}
static inline uint64_t tf_py_frame_code(uint64_t frame)
{
	return (frame >> 32) & 0x7fffffffu;
}
static inline uint64_t tf_py_frame_offset(uint64_t frame)
{
	return frame & 0xffffffffu;
}

typedef struct tf_module {
	uint64_t id;      /* chosen by the writer; MODULE_UNLOAD names it */
	uint64_t base;    /* load bias (dlpi_addr) */
	tf_bytes path;
	tf_bytes build_id; /* raw GNU build-id bytes, may be empty */
	tf_bytes segments; /* packed varint triples: vaddr, memsz, flags (PF_*) */
} tf_module;

typedef struct tf_label {
	tf_bytes label;
	tf_bytes text; /* snapshot: the allocator's statistics as printed */
} tf_label;

typedef struct tf_arena {
	uint64_t addr; /* base, 0 = allocation failed */
	uint64_t size;
} tf_arena;

typedef struct tf_gc {
	uint64_t generation;
	uint64_t collected;     /* GC_STOP only */
	uint64_t uncollectable; /* GC_STOP only */
} tf_gc;

typedef struct tf_fork {
	uint64_t child_pid;
	tf_bytes child_trace; /* path of the child's trace file, may be empty */
} tf_fork;

/* py_init: the interpreter was initialised again in the same process */
typedef struct tf_py_init {
	uint64_t number;    /* which initialisation: 2 for the second, … */
	tf_bytes allocator; /* what serves the domains from now on, as python_allocator names it */
} tf_py_init;
/* Which obmalloc state a thread's Python-layer requests and arena records
 * are for from here on (FORMAT.md §5.4): CPython 3.12+'s isolated
 * subinterpreters each have their own.  Every thread starts with the main
 * interpreter's (state 0). */
typedef struct tf_heap {
	uint64_t tid;   /* the thread's small id */
	uint64_t state; /* 0: the main interpreter's; else its struct _obmalloc_state's address */
	uint64_t block; /* the malloc-family block whose free ends that state (0 for the main) */
} tf_heap;

typedef struct tf_end {
	uint64_t clean;       /* TF_END_EXIT, TF_END_EXEC or TF_END_OTHER */
	int64_t exit_status;  /* exit() argument when clean */
	uint64_t events;      /* event records written before this one */
	uint64_t stacks;      /* stack nodes written */
	uint64_t threads;     /* thread records written */
	uint64_t dropped;     /* events the tracer could not record */
} tf_end;

typedef struct tf_record {
	tf_kind kind;
	uint32_t thread; /* current thread (SWITCH state) */
	uint64_t time;   /* ns since header.start_mono_ns (TIME state) */
	union {
		tf_alloc alloc;
		tf_header header;
		tf_thread thread;
		tf_stack_node node;
		tf_py_code py_code;
		tf_module module;
		tf_label label;
		tf_arena arena;
		tf_gc gc;
		tf_fork fork;
		tf_end end;
		tf_heap heap;
		uint64_t module_unload; /* module id */
		tf_bytes python_allocator; /* what served CPython's OBJ domain: "pymalloc" … */
		tf_py_init py_init;
	} u;
} tf_record;

#endif
