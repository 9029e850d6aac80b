/*
 * cli_dump.c - `arenatrace dump [--limit N] TRACE`: one line per record.
 *
 * Line layout (stable, golden-tested):  INDEX TIME tTHREAD KIND FIELDS
 * where TIME is seconds since the start with nanosecond digits and FIELDS
 * are name=value pairs in schema order; addresses are hex, strings quoted.
 */
#include "rep_sym.h"
#include "cli.h"
#include "rep_text.h"
#include "tf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char dump_usage[] =
    "usage: arenatrace dump [--limit N] [--symbolize] [--debug-dir DIR]... TRACE\n"
    "  One line per record: index, time in seconds, thread, kind, fields.\n"
    "  --limit N       stop after N records\n"
    "  --symbolize     stack records get sym=\"...\": the frame's function at\n"
    "                  file:line (inlined ones first, '; ' between), or module+offset,\n"
    "                  from the modules recorded before it (as in replay's summary);\n"
    "                  a Python frame's file:line in function, from its py_code record\n"
    "  --debug-dir DIR with --symbolize: also look for debug info in DIR\n";

/* --symbolize: the module map so far, fed as records are read. */
static rep_sym *dump_sym;

static void sym_field(uint64_t id, uint64_t ip)
{
	const rep_frame *fr;
	int n = rep_sym_resolve(dump_sym, ip, id, &fr);
	char text[4096];
	size_t len = 0;
	for (int i = 0; i < n && len < sizeof(text); i++) {
		if (i)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "; ");
		if (len < sizeof(text))
			len += (size_t)rep_frame_format(&fr[i], text + len, sizeof(text) - len);
		if (len < sizeof(text) && fr[i].inlined)
			len += (size_t)snprintf(text + len, sizeof(text) - len, " (inlined)");
	}
	if (len >= sizeof(text))
		len = sizeof(text) - 1;
	if (n > 0) {
		fputs(" sym=", stdout);
		rep_c_str(stdout, text, len);
	}
}

static void str_field(const char *name, tf_bytes b)
{
	printf(" %s=", name);
	rep_c_str(stdout, b.ptr, b.len);
}

static void hex_field(const char *name, tf_bytes b)
{
	printf(" %s=", name);
	for (size_t i = 0; i < b.len; i++)
		printf("%02x", (unsigned char)b.ptr[i]);
	if (!b.len)
		putchar('-');
}

static void argv_field(tf_bytes a)
{
	fputs(" argv=[", stdout);
	for (size_t start = 0, i = 0; i < a.len; i++) {
		if (a.ptr[i])
			continue;
		if (start)
			putchar(',');
		rep_c_str(stdout, a.ptr + start, i - start);
		start = i + 1;
	}
	putchar(']');
}

/* Segments: varint triples vaddr, memsz, flags. */
static void segments_field(tf_bytes b)
{
	const uint8_t *p = (const uint8_t *)b.ptr, *end = p + b.len;
	fputs(" segments=[", stdout);
	for (int n = 0; p < end; n++) {
		uint64_t v[3];
		for (int i = 0; i < 3; i++)
			if (!tf_get_varint(&p, end, &v[i])) {
				fputs(" malformed]", stdout);
				return;
			}
		printf("%s0x%" PRIx64 "+0x%" PRIx64 ":%c%c%c", n ? " " : "", v[0], v[1],
		       (v[2] & 4) ? 'r' : '-', (v[2] & 2) ? 'w' : '-', (v[2] & 1) ? 'x' : '-');
	}
	putchar(']');
}

static void alloc_fields(const tf_record *r)
{
	const tf_alloc *a = &r->u.alloc;
	switch (r->kind) {
	case TF_FREE:
	case TF_PY_MEM_FREE:
	case TF_PY_OBJ_FREE:
		printf(" ptr=0x%" PRIx64, a->addr);
		break;
	case TF_REALLOC:
	case TF_PY_MEM_REALLOC:
	case TF_PY_OBJ_REALLOC:
		printf(" ptr=0x%" PRIx64 " size=%" PRIu64, a->old, a->size);
		break;
	case TF_REALLOCARRAY:
		printf(" ptr=0x%" PRIx64 " nmemb=%" PRIu64 " size=%" PRIu64, a->old, a->nmemb,
		       a->size);
		break;
	case TF_CALLOC:
	case TF_PY_MEM_CALLOC:
	case TF_PY_OBJ_CALLOC:
		printf(" nmemb=%" PRIu64 " size=%" PRIu64, a->nmemb, a->size);
		break;
	case TF_POSIX_MEMALIGN:
	case TF_ALIGNED_ALLOC:
	case TF_MEMALIGN:
		printf(" align=%" PRIu64 " size=%" PRIu64, a->align, a->size);
		break;
	default:
		printf(" size=%" PRIu64, a->size);
	}
	if (r->kind == TF_POSIX_MEMALIGN)
		printf(" ret=%" PRIu64, a->ret);
	if (a->stack)
		printf(" stack=%" PRIu64, a->stack);
	if (r->kind != TF_FREE && r->kind != TF_PY_MEM_FREE && r->kind != TF_PY_OBJ_FREE)
		printf(" -> 0x%" PRIx64, a->addr);
}

static void print_header(const tf_header *h)
{
	printf(" version=%" PRIu64 " pid=%" PRIu64 " ppid=%" PRIu64 " start_real_ns=%" PRIu64
	       " start_mono_ns=%" PRIu64 " page_size=%" PRIu64 " pointer_size=%" PRIu64
	       " quantum_ns=%" PRIu64,
	       h->version, h->pid, h->ppid, h->start_real_ns, h->start_mono_ns, h->page_size,
	       h->pointer_size, h->quantum_ns);
	str_field("clock", h->clock);
	str_field("tool", h->tool_version);
	str_field("exe", h->exe);
	argv_field(h->argv);
	str_field("python", h->python);
}

static void print_record(const tf_reader *rd, uint64_t index, const tf_record *r)
{
	const char *name = tf_reader_kind_name(rd, r->kind);
	printf("%" PRIu64 " %" PRIu64 ".%09" PRIu64 " t%" PRIu32 " %s", index,
	       r->time / 1000000000u, r->time % 1000000000u, r->thread, name ? name : "?");
	switch (r->kind) {
	case TF_HEADER:
		print_header(&r->u.header);
		break;
	case TF_THREAD:
		printf(" tid=%" PRIu64 " os_tid=%" PRIu64, r->u.thread.tid, r->u.thread.os_tid);
		str_field("name", r->u.thread.name);
		break;
	case TF_THREAD_NAME:
		printf(" tid=%" PRIu64, r->u.thread.tid);
		str_field("name", r->u.thread.name);
		break;
	case TF_SWITCH:
	case TF_TIME:
		break; /* their effect is in the time and thread columns */
	case TF_STACK:
		if (r->u.node.code) { /* a Python frame: its code and instruction */
			printf(" id=%" PRIu64 " parent=%" PRIu64 " code=%" PRIu64 " offset=%" PRIu64,
			       r->u.node.id, r->u.node.parent, r->u.node.code, r->u.node.ip);
			if (dump_sym)
				sym_field(r->u.node.id, tf_py_frame(r->u.node.code, r->u.node.ip));
			break;
		}
		printf(" id=%" PRIu64 " parent=%" PRIu64 " ip=0x%" PRIx64, r->u.node.id,
		       r->u.node.parent, r->u.node.ip);
		if (dump_sym)
			sym_field(r->u.node.id, r->u.node.ip);
		break;
	case TF_PY_CODE:
		printf(" id=%" PRIu64 " first_line=%" PRIu64 " lines_format=%" PRIu64, r->u.py_code.id,
		       r->u.py_code.first_line, r->u.py_code.lines_format);
		str_field("filename", r->u.py_code.filename);
		str_field("name", r->u.py_code.name);
		str_field("qualname", r->u.py_code.qualname);
		printf(" lines=%zu bytes", r->u.py_code.lines.len);
		break;
	case TF_MODULE:
		printf(" id=%" PRIu64 " base=0x%" PRIx64, r->u.module.id, r->u.module.base);
		str_field("path", r->u.module.path);
		hex_field("build_id", r->u.module.build_id);
		segments_field(r->u.module.segments);
		break;
	case TF_MODULE_UNLOAD:
		printf(" id=%" PRIu64, r->u.module_unload);
		break;
	case TF_MARK:
		str_field("label", r->u.label.label);
		break;
	case TF_SNAPSHOT:
		str_field("label", r->u.label.label);
		printf(" text_bytes=%zu", r->u.label.text.len);
		str_field("text", r->u.label.text);
		break;
	case TF_FORK:
		printf(" child_pid=%" PRIu64, r->u.fork.child_pid);
		str_field("child_trace", r->u.fork.child_trace);
		break;
	case TF_END:
		printf(" clean=%" PRIu64 " exit_status=%" PRId64 " events=%" PRIu64
		       " stacks=%" PRIu64 " threads=%" PRIu64 " dropped=%" PRIu64,
		       r->u.end.clean, r->u.end.exit_status, r->u.end.events, r->u.end.stacks,
		       r->u.end.threads, r->u.end.dropped);
		break;
	case TF_ARENA_ALLOC:
	case TF_ARENA_FREE:
		printf(" addr=0x%" PRIx64 " size=%" PRIu64, r->u.arena.addr, r->u.arena.size);
		break;
	case TF_GC_START:
		printf(" generation=%" PRIu64, r->u.gc.generation);
		break;
	case TF_GC_STOP:
		printf(" generation=%" PRIu64 " collected=%" PRIu64 " uncollectable=%" PRIu64,
		       r->u.gc.generation, r->u.gc.collected, r->u.gc.uncollectable);
		break;
	case TF_PYTHON_ALLOCATOR:
		str_field("name", r->u.python_allocator);
		break;
	case TF_PY_FINALIZE: /* no fields */
		break;
	case TF_PY_INIT:
		printf(" number=%" PRIu64, r->u.py_init.number);
		str_field("allocator", r->u.py_init.allocator);
		break;
	case TF_HEAP: /* 0: the main interpreter's obmalloc state */
		printf(" tid=%" PRIu64 " state=0x%" PRIx64 " block=0x%" PRIx64, r->u.heap.tid,
		       r->u.heap.state, r->u.heap.block);
		break;
	default:
		if (tf_kind_is_malloc_fn(r->kind) || tf_kind_is_python_fn(r->kind))
			alloc_fields(r);
		else
			printf(" (unknown tag 0x%02x, skipped)", (unsigned)r->kind);
	}
	putchar('\n');
}

static bool parse_limit(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return false;
	*out = v;
	return true;
}

int cli_cmd_dump(int argc, char **argv)
{
	uint64_t limit = UINT64_MAX;
	bool symbolize = false;
	rep_sym_opts so = {0};
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--limit") || !strcmp(argv[i], "-n")) {
			if (i + 1 >= argc || !parse_limit(argv[++i], &limit)) {
				cli_error("dump: --limit needs a non-negative number");
				return CLI_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--symbolize")) {
			symbolize = true;
		} else if (!strcmp(argv[i], "--debug-dir") && i + 1 < argc) {
			if (so.ndebug_dirs == REP_SYM_MAX_DIRS) {
				cli_error("dump: at most %d --debug-dir", REP_SYM_MAX_DIRS);
				return CLI_EXIT_USAGE;
			}
			so.debug_dirs[so.ndebug_dirs++] = argv[++i];
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(dump_usage, stdout);
			return CLI_EXIT_OK;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			cli_error("dump: unknown option '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		} else if (path) {
			cli_error("dump: one trace at a time");
			return CLI_EXIT_USAGE;
		} else
			path = argv[i];
	}
	if (!path) {
		fputs(dump_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	tf_reader *r;
	char err[512];
	if (tf_reader_open_file(&r, path, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	if (symbolize && rep_sym_create(&dump_sym, &so) < 0) {
		cli_error("dump: out of memory");
		tf_reader_free(r);
		return CLI_EXIT_USAGE;
	}
	tf_record rec;
	uint64_t n = 0, nodes = 0;
	int rc = 0;
	while (n < limit && (rc = tf_reader_next(r, &rec)) > 0) {
		/* stamps as the replay's: stack nodes read before the module record */
		nodes += rec.kind == TF_STACK;
		if (dump_sym && rec.kind == TF_MODULE)
			(void)rep_sym_load(dump_sym, &rec.u.module, nodes);
		else if (dump_sym && rec.kind == TF_MODULE_UNLOAD)
			(void)rep_sym_unload(dump_sym, rec.u.module_unload, nodes);
		else if (dump_sym && rec.kind == TF_PY_CODE)
			(void)rep_sym_py_code(dump_sym, &rec.u.py_code);
		print_record(r, n++, &rec);
	}
	fflush(stdout);
	for (size_t i = 0; dump_sym && rep_sym_warning(dump_sym, i); i++)
		cli_error("symbols: %s", rep_sym_warning(dump_sym, i));
	rep_sym_free(dump_sym);
	dump_sym = NULL;
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	if (rc < 0)
		cli_error("%s: %s", path, tf_reader_error(r));
	else if (n < limit && st.truncated)
		cli_error("warning: %s: truncated at byte %" PRIu64
			 "; records up to the last complete frame shown",
			 path, st.truncated_at);
	tf_reader_free(r);
	return rc < 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}
