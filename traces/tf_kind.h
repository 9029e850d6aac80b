/*
 * tf_kind.h - the trace format's constants, error codes and record kinds
 * (traces/FORMAT.md §2), with the varint and UTF-8 helpers every side uses.
 */
#ifndef ARENATRACE_TF_KIND_H
#define ARENATRACE_TF_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_FORMAT_VERSION 1
#define TF_MAGIC "\x89" "ATRACE\n" /* 8 bytes at decompressed offset 0 */
#define TF_MAGIC_LEN 8

#define TF_MAX_FRAME (16u << 20)   /* decompressed bytes per frame, hard cap */
#define TF_MAX_BLOB (1u << 20)     /* writer truncates longer byte fields */
#define TF_DEFAULT_FRAME (1u << 20) /* writer's target frame content size */
#define TF_DEFAULT_QUANTUM 1000000u /* ns between time records, at most */
#define TF_DEFAULT_LEVEL 1          /* zstd level (3 is slower, hardly smaller) */

/* Errors: negative codes, one table in tf_error.c. */
typedef enum tf_err {
	TF_OK = 0,
	TF_E_IO = -1,        /* read or write failed; errno says why */
	TF_E_NOMEM = -2,     /* out of memory */
	TF_E_EMPTY = -3,     /* the file has no bytes */
	TF_E_NOT_TRACE = -4, /* not zstd, or no arenatrace magic */
	TF_E_VERSION = -5,   /* format version this reader does not know */
	TF_E_CORRUPT = -6,   /* bad zstd data, checksum or malformed record */
	TF_E_TRUNCATED = -7, /* ends before the first record could be read */
	TF_E_TOO_LARGE = -8, /* a frame or field over the format's limits */
	TF_E_ARG = -9,       /* invalid argument from the caller */
	TF_E_FAILED = -10,   /* writer stopped after an earlier error */
} tf_err;

const char *tf_strerror(int err);

/*
 * Record kinds.  The value is the one-byte tag written in the file.
 * X(NAME, tag, "name in dump and info", class)
 */
#define TF_C_NONE 0
#define TF_C_EVENT 1            /* allocation-layer calls, arena and GC events, marks, snapshots, fork */
#define TF_C_MALLOC_FN (1 | 2)  /* malloc … pvalloc, free (events) */
#define TF_C_PYTHON_FN (1 | 4)  /* py_mem_* and py_obj_* (events) */

#define TF_KIND_LIST(X)                                                      \
	X(SCHEMA, 0x01, "schema", TF_C_NONE)                                   \
	X(HEADER, 0x02, "header", TF_C_NONE)                                   \
	X(THREAD, 0x03, "thread", TF_C_NONE)                                   \
	X(THREAD_NAME, 0x04, "thread_name", TF_C_NONE)                         \
	X(SWITCH, 0x05, "switch", TF_C_NONE)                                   \
	X(TIME, 0x06, "time", TF_C_NONE)                                       \
	X(STACK, 0x07, "stack", TF_C_NONE)                                     \
	X(MODULE, 0x08, "module", TF_C_NONE)                                   \
	X(MODULE_UNLOAD, 0x09, "module_unload", TF_C_NONE)                     \
	X(MARK, 0x0a, "mark", TF_C_EVENT)                                      \
	X(SNAPSHOT, 0x0b, "snapshot", TF_C_EVENT)                              \
	X(FORK, 0x0c, "fork", TF_C_EVENT)                                      \
	X(PY_CODE, 0x0d, "py_code", TF_C_NONE)                                 \
	X(END, 0x0f, "end", TF_C_NONE)                                         \
	X(MALLOC, 0x10, "malloc", TF_C_MALLOC_FN)                              \
	X(CALLOC, 0x11, "calloc", TF_C_MALLOC_FN)                              \
	X(REALLOC, 0x12, "realloc", TF_C_MALLOC_FN)                            \
	X(REALLOCARRAY, 0x13, "reallocarray", TF_C_MALLOC_FN)                  \
	X(FREE, 0x14, "free", TF_C_MALLOC_FN)                                  \
	X(POSIX_MEMALIGN, 0x15, "posix_memalign", TF_C_MALLOC_FN)              \
	X(ALIGNED_ALLOC, 0x16, "aligned_alloc", TF_C_MALLOC_FN)                \
	X(MEMALIGN, 0x17, "memalign", TF_C_MALLOC_FN)                          \
	X(VALLOC, 0x18, "valloc", TF_C_MALLOC_FN)                              \
	X(PVALLOC, 0x19, "pvalloc", TF_C_MALLOC_FN)                            \
	X(PY_MEM_MALLOC, 0x20, "py_mem_malloc", TF_C_PYTHON_FN)                \
	X(PY_MEM_CALLOC, 0x21, "py_mem_calloc", TF_C_PYTHON_FN)                \
	X(PY_MEM_REALLOC, 0x22, "py_mem_realloc", TF_C_PYTHON_FN)              \
	X(PY_MEM_FREE, 0x23, "py_mem_free", TF_C_PYTHON_FN)                    \
	X(PY_OBJ_MALLOC, 0x24, "py_obj_malloc", TF_C_PYTHON_FN)                \
	X(PY_OBJ_CALLOC, 0x25, "py_obj_calloc", TF_C_PYTHON_FN)                \
	X(PY_OBJ_REALLOC, 0x26, "py_obj_realloc", TF_C_PYTHON_FN)              \
	X(PY_OBJ_FREE, 0x27, "py_obj_free", TF_C_PYTHON_FN)                    \
	X(ARENA_ALLOC, 0x28, "arena_alloc", TF_C_EVENT)                        \
	X(ARENA_FREE, 0x29, "arena_free", TF_C_EVENT)                          \
	X(GC_START, 0x2a, "gc_start", TF_C_EVENT)                              \
	X(GC_STOP, 0x2b, "gc_stop", TF_C_EVENT)                                \
	X(PYTHON_ALLOCATOR, 0x2c, "python_allocator", TF_C_NONE)              \
	X(PY_FINALIZE, 0x2d, "py_finalize", TF_C_NONE)                         \
	X(HEAP, 0x2e, "heap", TF_C_NONE)                                       \
	X(PY_INIT, 0x2f, "py_init", TF_C_NONE)

typedef enum tf_kind {
	TF_NONE = 0,
#define TF_X_ENUM(n, tag, s, c) TF_##n = tag,
	TF_KIND_LIST(TF_X_ENUM)
#undef TF_X_ENUM
} tf_kind;

#define TF_NKINDS 256 /* tags are one byte */

/* Name of a kind ("malloc"), or NULL for a tag this library does not know. */
const char *tf_kind_name(unsigned kind);

/* The class of a kind (TF_C_*); inline, as readers ask it of every record. */
static inline unsigned tf_kind_class(unsigned kind)
{
	switch (kind) {
#define TF_X_CLASS(n, tag, s, c) case tag: return c;
	TF_KIND_LIST(TF_X_CLASS)
#undef TF_X_CLASS
	}
	return TF_C_NONE;
}

static inline bool tf_kind_is_event(unsigned kind)
{
	return tf_kind_class(kind) & TF_C_EVENT;
}

static inline bool tf_kind_is_malloc_fn(unsigned kind)
{
	return (tf_kind_class(kind) & TF_C_MALLOC_FN) == TF_C_MALLOC_FN;
}

static inline bool tf_kind_is_python_fn(unsigned kind)
{
	return (tf_kind_class(kind) & TF_C_PYTHON_FN) == TF_C_PYTHON_FN;
}

/* Appends LEB128 varint; returns bytes written (at most 10). */
size_t tf_put_varint(uint8_t *p, uint64_t v);

/* Strings in records are bytes as the process had them.  For writers of
 * text (JSON, HTML): the length of the valid UTF-8 sequence at s (at most
 * len bytes; no overlong forms, no surrogates, nothing above U+10FFFF),
 * or 0 when s starts no valid sequence. */
size_t tf_utf8_len(const unsigned char *s, size_t len);
/* Decodes a varint from [*pp, end); returns false on overrun or overflow. */
bool tf_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v);

#endif
