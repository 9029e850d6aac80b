/*
 * tf.h - arenatrace trace format v1: record types, writer and pull reader.
 *
 * The byte-level specification is traces/FORMAT.md; this header is its C
 * face.  A trace is a sequence of independent zstd frames whose decompressed
 * concatenation is: magic, schema record, header record, then any records.
 * Both the tracer (writer) and every offline tool (reader) use this library.
 */
#ifndef ARENATRACE_TF_H
#define ARENATRACE_TF_H

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
	X(PYTHON_ALLOCATOR, 0x2c, "python_allocator", TF_C_NONE)

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
} tf_header;

typedef struct tf_thread {
	uint64_t tid;    /* small id, 1 = main thread */
	uint64_t os_tid; /* gettid() */
	tf_bytes name;
} tf_thread;

typedef struct tf_stack_node {
	uint64_t id;     /* implicit: 1, 2, 3 … in file order */
	uint64_t parent; /* 0 = root (this node is an outermost frame) */
	uint64_t ip;     /* return address of the frame */
} tf_stack_node;

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
		tf_module module;
		tf_label label;
		tf_arena arena;
		tf_gc gc;
		tf_fork fork;
		tf_end end;
		uint64_t module_unload; /* module id */
		tf_bytes python_allocator; /* what served CPython's OBJ domain: "pymalloc" … */
	} u;
} tf_record;

/* ---- frames ---- */

/* The streams of a frame, in frame order (FORMAT.md §1.1). */
enum { TF_S_TAGS, TF_S_STACKS, TF_S_ADDRS, TF_S_NUMS, TF_S_BYTES, TF_NSTREAMS };

typedef struct tf_mem {
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr);
	void *ctx;
} tf_mem;

/* How far the streams of the frame being built hold complete records.  The
 * writer publishes it after every call that adds records, writing the slot
 * len[(seq + 1) & 1] and then seq, so that another thread or process that
 * shares the buffers (the tracer's drain) can take what is complete while
 * records are still being added, and everything up to the last complete
 * record after the writing process died (a process stops between two
 * instructions, and seq is stored by one). */
typedef struct tf_commit {
	uint64_t seq;                 /* publications; len[seq & 1] is the current slot */
	uint32_t len[2][TF_NSTREAMS]; /* bytes of complete records, per stream */
} tf_commit;

/* A consistent copy of c's current lengths, c being written meanwhile. */
void tf_commit_read(const tf_commit *c, uint32_t len[TF_NSTREAMS]);

/* The buffers of a frame being built: one per stream, and its commit. */
typedef struct tf_frame_bufs {
	uint8_t *s[TF_NSTREAMS];
	size_t cap[TF_NSTREAMS]; /* each at least tf_stream_cap(frame_bytes, i) */
	tf_commit *commit;
} tf_frame_bufs;

/* The room stream i needs in a writer whose target frame content is
 * frame_bytes (0 = TF_DEFAULT_FRAME). */
size_t tf_stream_cap(size_t frame_bytes, int stream);

/* Where a writer's frames go instead of being compressed and written to a
 * file descriptor: the tracer hands them to its drain process. */
enum {
	TF_SINK_FIRST, /* fill *b with the buffers of the first frame */
	TF_SINK_FULL,  /* *b is complete (its commit is final): take it, fill *b anew */
	TF_SINK_LAST,  /* *b is complete and ends with the END record: take it */
};
typedef struct tf_sink {
	/* Returns 0 or a negative tf_err; may wait until buffers are free.
	 * A frame handed over may be empty (all lengths 0). */
	int (*swap)(void *ctx, tf_frame_bufs *b, int why);
	void *ctx;
} tf_sink;

/* Compression of frames (FORMAT.md §1): what the writer does with fd, for
 * a sink's other end. */
typedef struct tf_framer tf_framer;
/* level 0 = default; max_content: room made now for frames this large (0:
 * as they come). */
int tf_framer_create(tf_framer **out, int level, size_t max_content, const tf_mem *mem);
/* Compresses streams s[i][0 .. len[i]) as one frame, after the magic when
 * first.  Returns the frame's size, its bytes in *out (valid until the next
 * call), or a negative tf_err. */
long tf_framer_compress(tf_framer *f, bool first, const uint8_t *const s[TF_NSTREAMS],
			const uint32_t len[TF_NSTREAMS], const uint8_t **out);
void tf_framer_free(tf_framer *f);

/* ---- writer ---- */

typedef struct tf_writer tf_writer;

typedef struct tf_writer_opts {
	int fd;             /* output; the writer never closes it; -1 with a sink */
	const tf_sink *sink; /* else frames go here, uncompressed (fd unused) */
	int level;          /* zstd level, 0 = default (1) */
	size_t frame_bytes; /* target frame content, 0 = TF_DEFAULT_FRAME */
	uint64_t quantum_ns; /* min spacing of time records, 0 = TF_DEFAULT_QUANTUM */
	bool exact_time;    /* a time record on every change (quantum 0) */
	const tf_mem *mem;  /* all writer memory comes from here; NULL = malloc */
} tf_writer_opts;

/* Creates a writer and writes the magic, schema and header (header.version,
 * quantum_ns are filled in).  *out is owned by the caller: tf_writer_free. */
int tf_writer_create(tf_writer **out, const tf_writer_opts *opts, const tf_header *h);
/* Appends one record.  time and thread are taken from rec; the writer adds
 * TIME and SWITCH records as needed.  STACK records get the next id, which
 * is returned through rec->u.node.id.  Returns 0 or a negative tf_err; after
 * an I/O error every call fails with TF_E_FAILED and writes nothing. */
int tf_writer_put(tf_writer *w, tf_record *rec);
/* The same for a malloc-family or Python-domain event (kind malloc …
 * pvalloc, py_mem_* or py_obj_*) given by its parts, and faster: the
 * tracer's hot path.  Returns what tf_writer_put would. */
int tf_writer_put_alloc(tf_writer *w, unsigned kind, uint32_t thread, uint64_t time,
			const tf_alloc *a);
/* Compresses what is buffered into one frame and writes it (with a sink:
 * hands the frame over). */
int tf_writer_flush(tf_writer *w);
/* How the process ended, for the END record. */
enum { TF_END_OTHER = 0, TF_END_EXIT = 1, TF_END_EXEC = 2 };
/* Writes an END record (filling events/stacks/threads), flushes.  clean is
 * TF_END_EXIT (exit or return from main, with its status), TF_END_EXEC
 * (the image was replaced by exec) or TF_END_OTHER. */
int tf_writer_finish(tf_writer *w, unsigned clean, int64_t exit_status, uint64_t dropped);
/* Frees the writer without writing anything more.  NULL is a no-op. */
void tf_writer_free(tf_writer *w);

typedef struct tf_writer_stats {
	uint64_t records, events, stacks, threads;
	uint64_t bytes_raw;        /* decompressed bytes produced */
	uint64_t bytes_compressed; /* bytes written to fd (0 with a sink) */
	uint64_t frames;           /* frames written or handed to the sink */
} tf_writer_stats;
void tf_writer_get_stats(const tf_writer *w, tf_writer_stats *st);
/* Bytes buffered but not yet flushed. */
size_t tf_writer_pending(const tf_writer *w);

/* ---- reader ---- */

typedef struct tf_reader tf_reader;

/* Opens a trace file.  On failure *out is NULL; the message (with path) is
 * in errbuf when given. */
int tf_reader_open_file(tf_reader **out, const char *path, char *errbuf, size_t errlen);
/* Reads a compressed trace held in memory (not copied: must outlive r). */
int tf_reader_open_mem(tf_reader **out, const void *buf, size_t len);
/* Reads an already decompressed record stream (magic first); for fuzzing
 * the record layer and for tests.  Not copied. */
int tf_reader_open_raw(tf_reader **out, const void *buf, size_t len);
/* Next record: 1 and *rec filled, 0 at the end, or a negative tf_err; the
 * error then stays, and tf_reader_error() describes it with its offset. */
int tf_reader_next(tf_reader *r, tf_record *rec);
const char *tf_reader_error(const tf_reader *r);
/* Record name as declared in the file's schema (also for unknown tags). */
const char *tf_reader_kind_name(const tf_reader *r, unsigned tag);
void tf_reader_free(tf_reader *r);

typedef struct tf_reader_status {
	bool complete;             /* the END record was read */
	bool truncated;            /* the file ends inside a frame */
	uint64_t truncated_at;     /* compressed offset of that partial frame */
	uint64_t frames;           /* complete frames decoded */
	uint64_t bytes_compressed; /* bytes of complete frames */
	uint64_t bytes_raw;        /* decompressed bytes of complete frames */
	uint64_t unknown_records;  /* records of unknown tags, skipped */
} tf_reader_status;
void tf_reader_get_status(const tf_reader *r, tf_reader_status *st);
/* The header, valid after the first successful tf_reader_next (it is the
 * first record returned).  Byte fields live as long as the reader. */
const tf_header *tf_reader_header(const tf_reader *r);

/* ---- the exec link (FORMAT.md §1.2) ---- */

#define TF_LINK_MAX 4096 /* longest path a link holds */
/* Appends to trace a link naming next, the trace of the program its
 * process exec'd.  0 or a negative tf_err (errno set for TF_E_IO). */
int tf_link_append(const char *trace, const char *next);
/* The trace a link at the end of trace names, into next: 1, or 0 when
 * trace ends without a link, or a negative tf_err. */
int tf_link_read(const char *trace, char *next, size_t cap);

/* ---- helpers ---- */

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
