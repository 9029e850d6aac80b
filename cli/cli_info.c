/*
 * cli_info.c - `arenatrace info [--json] TRACE`: what a trace holds.
 * The JSON keys are documented in cli/CLI.md.
 */
#include "cli.h"
#include "rep_text.h"
#include "tf_summary.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

static const char info_usage[] =
    "usage: arenatrace info [--json] TRACE\n"
    "  Header facts, counts per record kind and per function, threads, stacks\n"
    "  (and the requests whose stacks hold Python frames), modules, time span,\n"
    "  compressed and uncompressed size, completeness.\n"
    "  --json   one JSON object (keys in cli/CLI.md)\n";

/* Every malloc-family function, in the order info prints them. */
static const tf_kind malloc_fns[] = {TF_MALLOC,    TF_CALLOC,         TF_REALLOC,
				     TF_REALLOCARRAY, TF_FREE,      TF_POSIX_MEMALIGN,
				     TF_ALIGNED_ALLOC, TF_MEMALIGN, TF_VALLOC, TF_PVALLOC};
static const tf_kind py_mem[] = {TF_PY_MEM_MALLOC, TF_PY_MEM_CALLOC, TF_PY_MEM_REALLOC,
				 TF_PY_MEM_FREE};
static const tf_kind py_obj[] = {TF_PY_OBJ_MALLOC, TF_PY_OBJ_CALLOC, TF_PY_OBJ_REALLOC,
				 TF_PY_OBJ_FREE};
static const char *const py_fn_names[] = {"malloc", "calloc", "realloc", "free"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* "1,234,567" */
static const char *commas(uint64_t v, char buf[32])
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v), o = 0;
	for (int i = 0; i < n; i++) {
		buf[o++] = tmp[i];
		if ((n - i - 1) % 3 == 0 && i != n - 1)
			buf[o++] = ',';
	}
	buf[o] = 0;
	return buf;
}

static const char *human_bytes(uint64_t v, char buf[32])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double d = (double)v;
	unsigned u = 0;
	while (d >= 1024 && u + 1 < NELEM(units))
		d /= 1024, u++;
	snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", d, units[u]);
	return buf;
}

static double per_event(const tf_summary *s)
{
	return s->events ? (double)s->status.bytes_compressed / (double)s->events : 0;
}

/* ---- text ---- */

/* Arguments separated by spaces (each is stored with a trailing NUL). */
static void text_argv(const tf_bytes *a)
{
	for (size_t i = 0; i < a->len; i++)
		putchar(a->ptr[i] ? a->ptr[i] : i + 1 < a->len ? ' ' : '\n');
	if (!a->len)
		putchar('\n');
}

static void text_complete(const tf_summary *s)
{
	const tf_reader_status *st = &s->status;
	if (st->complete && s->end.clean == TF_END_EXIT)
		printf("yes (exit status %" PRId64 ")\n", s->end.exit_status);
	else if (st->complete && s->end.clean == TF_END_EXEC)
		puts("yes (the process called exec)");
	else if (st->complete)
		puts("yes (the process did not exit normally)");
	else if (st->truncated)
		printf("no: truncated at byte %" PRIu64 ", read up to the last complete frame\n",
		       st->truncated_at);
	else
		puts("no: no end record (the process was killed or is still running)");
}

static void text_calls(const char *title, const tf_summary *s, const tf_kind *k, size_t n)
{
	char b1[32], b2[32];
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += s->kinds[k[i]];
	printf("%s%s\n", title, total ? "" : "  none");
	for (size_t i = 0; i < n; i++) {
		if (!s->kinds[k[i]])
			continue;
		printf("  %-16s %15s", tf_kind_name(k[i]), commas(s->kinds[k[i]], b1));
		if (s->failed[k[i]])
			printf("  (%s failed)", commas(s->failed[k[i]], b2));
		putchar('\n');
	}
}

static char exec_to[TF_LINK_MAX + 1]; /* the exec link at the end of the file, or "" */

static void print_text(const char *path, const tf_summary *s)
{
	const tf_header *h = &s->header;
	char b1[32], b2[32], tbuf[64];
	time_t t = (time_t)(h->start_real_ns / 1000000000u);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("trace      %s\n", path);
	printf("format     version %" PRIu64 ", written by arenatrace %s\n", h->version,
	       h->tool_version.ptr);
	printf("process    pid %" PRIu64 " (parent %" PRIu64 "), %s\n", h->pid, h->ppid,
	       h->exe.ptr);
	printf("argv       ");
	text_argv(&h->argv);
	if (h->exec_from.len)
		printf("exec from  %s (the trace of the program that exec'd this one)\n",
		       h->exec_from.ptr);
	if (exec_to[0])
		printf("exec to    %s (the trace of the program it exec'd)\n", exec_to);
	if (h->fork_from.len)
		printf("fork from  %s, after its event %" PRIu64 " (the parent's trace; replay "
		       "starts from its state)\n",
		       h->fork_from.ptr, h->fork_at);
	printf("python     %s", h->python.len ? h->python.ptr : "not detected");
	if (s->python_allocator[0])
		printf(", allocator %s%s", s->python_allocator,
		       tf_pymalloc_served(s->python_allocator)
			   ? ""
			   : " (not pymalloc: a replay compares no address with the interpreter's)");
	putchar('\n');
	printf("started    %s\n", tbuf);
	printf("span       %.6f s\n", (double)(s->last_ns - s->first_ns) / 1e9);
	printf("complete   ");
	text_complete(s);
	printf("events     %s", commas(s->events, b1));
	if (s->status.complete && s->end.dropped)
		printf(" (and %s calls the tracer could not record: made before it started)",
		       commas(s->end.dropped, b1));
	putchar('\n');
	if (s->kinds[TF_PY_FINALIZE])
		puts("exit       the interpreter began to finalise (py_finalize recorded)");
	if (s->kinds[TF_PY_INIT])
		printf("inits      the interpreter was initialised %s times in this process (py_init "
		       "records)\n",
		       commas(s->kinds[TF_PY_INIT] + 1, b1));
	text_calls("calls", s, malloc_fns, NELEM(malloc_fns));
	if (h->python.len || s->kinds[TF_ARENA_ALLOC] || s->kinds[TF_PY_OBJ_MALLOC]) {
		text_calls("python MEM domain", s, py_mem, NELEM(py_mem));
		text_calls("python OBJ domain", s, py_obj, NELEM(py_obj));
		printf("arenas     %s allocated, %s freed\n", commas(s->kinds[TF_ARENA_ALLOC], b1),
		       commas(s->kinds[TF_ARENA_FREE], b2));
		if (s->kinds[TF_HEAP]) /* isolated subinterpreters: FORMAT.md §5.4 */
			printf("heaps      %s heap records: threads on subinterpreters' own "
			       "obmalloc states\n",
			       commas(s->kinds[TF_HEAP], b1));
		printf("gc passes  %s (gen0 %" PRIu64 ", gen1 %" PRIu64 ", gen2 %" PRIu64 ")\n",
		       commas(s->kinds[TF_GC_STOP], b1), s->gc_by_gen[0], s->gc_by_gen[1],
		       s->gc_by_gen[2]);
		printf("py stacks  %s of %s requests have Python frames in their stack (%s code "
		       "objects)\n",
		       commas(s->py_requests, b1), commas(s->requests, b2),
		       commas(s->kinds[TF_PY_CODE], tbuf));
	}
	printf("marks      %s, snapshots %s\n", commas(s->kinds[TF_MARK], b1),
	       commas(s->kinds[TF_SNAPSHOT], b2));
	printf("threads    %s\n", commas(s->kinds[TF_THREAD], b1));
	printf("stacks     %s nodes\n", commas(s->kinds[TF_STACK], b1));
	printf("modules    %s loaded, %s unloaded\n", commas(s->kinds[TF_MODULE], b1),
	       commas(s->kinds[TF_MODULE_UNLOAD], b2));
	if (s->kinds[TF_FORK])
		printf("forks      %s\n", commas(s->kinds[TF_FORK], b1));
	printf("size       %s compressed in %s frames, %s uncompressed\n",
	       human_bytes(s->status.bytes_compressed, b1), commas(s->status.frames, b2),
	       human_bytes(s->status.bytes_raw, tbuf));
	printf("per event  %.2f bytes compressed, %.2f uncompressed\n", per_event(s),
	       s->events ? (double)s->status.bytes_raw / (double)s->events : 0.0);
	if (s->status.unknown_records)
		printf("skipped    %s records of kinds this version does not know\n",
		       commas(s->status.unknown_records, b1));
}

/* ---- JSON ---- */

static void json_counts(const tf_summary *s, const tf_kind *k, const char *const *names,
			size_t n)
{
	putchar('{');
	for (size_t i = 0; i < n; i++)
		printf("%s\"%s\": %" PRIu64, i ? ", " : "", names ? names[i] : tf_kind_name(k[i]),
		       s->kinds[k[i]]);
	putchar('}');
}

static void json_failed(const tf_summary *s, const tf_kind *k, size_t n)
{
	putchar('{');
	for (size_t i = 0; i < n; i++)
		printf("%s\"%s\": %" PRIu64, i ? ", " : "", tf_kind_name(k[i]), s->failed[k[i]]);
	putchar('}');
}

/* argv is stored as NUL-terminated strings back to back. */
static void json_argv(const tf_bytes *a)
{
	putchar('[');
	for (size_t start = 0, i = 0; i < a->len; i++) {
		if (a->ptr[i])
			continue;
		if (start)
			fputs(", ", stdout);
		rep_json_str(stdout, a->ptr + start, i - start);
		start = i + 1;
	}
	putchar(']');
}

static void json_records(const tf_summary *s)
{
	putchar('{');
	const char *sep = "";
	uint64_t unknown = 0;
	for (unsigned t = 0; t < TF_NKINDS; t++) {
		if (!s->kinds[t])
			continue;
		if (!tf_kind_name(t)) {
			unknown += s->kinds[t];
			continue;
		}
		printf("%s\"%s\": %" PRIu64, sep, tf_kind_name(t), s->kinds[t]);
		sep = ", ";
	}
	if (unknown)
		printf("%s\"unknown\": %" PRIu64, sep, unknown);
	putchar('}');
}

/* s[0..len) as a JSON string, null when empty. */
static void json_str_or_null(const char *s, size_t len)
{
	if (len)
		rep_json_str(stdout, s, len);
	else
		fputs("null", stdout);
}

static void print_json(const tf_summary *s)
{
	const tf_header *h = &s->header;
	const tf_reader_status *st = &s->status;
	printf("{\"format_version\": %" PRIu64 ", \"pid\": %" PRIu64 ", \"ppid\": %" PRIu64,
	       h->version, h->pid, h->ppid);
	fputs(", \"exe\": ", stdout);
	rep_json_str(stdout, h->exe.ptr, h->exe.len);
	fputs(", \"argv\": ", stdout);
	json_argv(&h->argv);
	fputs(", \"tool_version\": ", stdout);
	rep_json_str(stdout, h->tool_version.ptr, h->tool_version.len);
	fputs(", \"clock\": ", stdout);
	rep_json_str(stdout, h->clock.ptr, h->clock.len);
	printf(", \"start_time_ns\": %" PRIu64 ", \"page_size\": %" PRIu64
	       ", \"pointer_size\": %" PRIu64 ", \"time_quantum_ns\": %" PRIu64,
	       h->start_real_ns, h->page_size, h->pointer_size, h->quantum_ns);
	printf(", \"complete\": %s, \"truncated\": %s", st->complete ? "true" : "false",
	       st->truncated ? "true" : "false");
	if (st->truncated)
		printf(", \"truncated_at\": %" PRIu64, st->truncated_at);
	else
		fputs(", \"truncated_at\": null", stdout);
	if (st->complete)
		printf(", \"clean_exit\": %s, \"exec\": %s, \"exit_status\": %" PRId64
		       ", \"dropped\": %" PRIu64,
		       s->end.clean == TF_END_EXIT ? "true" : "false",
		       s->end.clean == TF_END_EXEC ? "true" : "false", s->end.exit_status,
		       s->end.dropped);
	else
		fputs(", \"clean_exit\": null, \"exec\": null, \"exit_status\": null, \"dropped\": null",
		      stdout);
	printf(", \"events\": %" PRIu64 ", \"records\": ", s->events);
	json_records(s);
	fputs(", \"calls\": ", stdout);
	json_counts(s, malloc_fns, NULL, NELEM(malloc_fns));
	fputs(", \"failed\": ", stdout);
	json_failed(s, malloc_fns, NELEM(malloc_fns));
	fputs(", \"exec_from\": ", stdout);
	json_str_or_null(h->exec_from.ptr, h->exec_from.len);
	fputs(", \"exec_to\": ", stdout);
	json_str_or_null(exec_to, strlen(exec_to));
	fputs(", \"fork_from\": ", stdout);
	json_str_or_null(h->fork_from.ptr, h->fork_from.len);
	fputs(", \"fork_at\": ", stdout);
	if (h->fork_from.len)
		printf("%" PRIu64, h->fork_at);
	else
		fputs("null", stdout);
	fputs(", \"python\": {\"version\": ", stdout);
	json_str_or_null(h->python.ptr, h->python.len);
	fputs(", \"allocator\": ", stdout);
	if (s->python_allocator[0])
		rep_json_str(stdout, s->python_allocator, strlen(s->python_allocator));
	else
		fputs("null", stdout);
	fputs(", \"mem\": ", stdout);
	json_counts(s, py_mem, py_fn_names, NELEM(py_mem));
	fputs(", \"obj\": ", stdout);
	json_counts(s, py_obj, py_fn_names, NELEM(py_obj));
	printf(", \"arena_alloc\": %" PRIu64 ", \"arena_free\": %" PRIu64
	       ", \"gc_passes\": %" PRIu64 ", \"gc_by_generation\": [%" PRIu64 ", %" PRIu64
	       ", %" PRIu64 "], \"codes\": %" PRIu64 ", \"requests_with_python_frames\": %" PRIu64
	       ", \"heap_records\": %" PRIu64 "}",
	       s->kinds[TF_ARENA_ALLOC], s->kinds[TF_ARENA_FREE], s->kinds[TF_GC_STOP],
	       s->gc_by_gen[0], s->gc_by_gen[1], s->gc_by_gen[2], s->kinds[TF_PY_CODE], s->py_requests,
	       s->kinds[TF_HEAP]);
	printf(", \"requests\": %" PRIu64, s->requests);
	printf(", \"marks\": %" PRIu64 ", \"snapshots\": %" PRIu64 ", \"forks\": %" PRIu64
	       ", \"threads\": %" PRIu64 ", \"stacks\": %" PRIu64 ", \"modules\": %" PRIu64
	       ", \"module_unloads\": %" PRIu64,
	       s->kinds[TF_MARK], s->kinds[TF_SNAPSHOT], s->kinds[TF_FORK], s->kinds[TF_THREAD],
	       s->kinds[TF_STACK], s->kinds[TF_MODULE], s->kinds[TF_MODULE_UNLOAD]);
	printf(", \"time\": {\"first_ns\": %" PRIu64 ", \"last_ns\": %" PRIu64
	       ", \"span_ns\": %" PRIu64 "}",
	       s->first_ns, s->last_ns, s->last_ns - s->first_ns);
	printf(", \"frames\": %" PRIu64 ", \"bytes_compressed\": %" PRIu64
	       ", \"bytes_uncompressed\": %" PRIu64 ", \"bytes_per_event\": %.3f"
	       ", \"file_bytes\": %" PRIu64 ", \"unknown_records\": %" PRIu64 "}\n",
	       st->frames, st->bytes_compressed, st->bytes_raw, per_event(s), s->file_bytes,
	       st->unknown_records);
}

int cli_cmd_info(int argc, char **argv)
{
	bool json = false;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(info_usage, stdout);
			return CLI_EXIT_OK;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			cli_error("info: unknown option '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		} else if (path) {
			cli_error("info: one trace at a time");
			return CLI_EXIT_USAGE;
		} else
			path = argv[i];
	}
	if (!path) {
		fputs(info_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	tf_summary s;
	char err[512];
	if (tf_link_read(path, exec_to, sizeof(exec_to)) != 1)
		exec_to[0] = 0;
	if (tf_summarize(path, &s, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		tf_summary_free(&s);
		return CLI_EXIT_USAGE;
	}
	if (json)
		print_json(&s);
	else
		print_text(path, &s);
	tf_summary_free(&s);
	return CLI_EXIT_OK;
}
