/*
 * cli_simulate.c - the `arenatrace simulate` command: options, the summary
 * and JSON of a run, and --emit-python, the workload as a Python program
 * that reports through gc.callbacks what the real collector did
 * (traces/workloads/README.md says how the two compare).
 */
#include "cli.h"
#include "rep_text.h"
#include "rp_workload.h"
#include "tf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILE (64u << 20) /* workload files are text a person writes */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char sim_usage[] =
    "usage: arenatrace simulate [--profile P] [--threshold T0,T1,T2] [--gc on|off] [--json]\n"
    "                           [-o TRACE] WORKLOAD\n"
    "       arenatrace simulate --emit-python [--threshold T0,T1,T2] [--gc on|off] WORKLOAD\n"
    "\n"
    "Runs an object-graph workload (traces/workloads/README.md) through the\n"
    "refcount/GC model and the pymalloc model.\n"
    "  --profile P         cpython-3.8 ... cpython-3.13 (default cpython-3.13), or\n"
    "                      custom:... pymalloc parameters (3.13's GC rules)\n"
    "  --threshold T0,T1,T2  the collector's thresholds at start (default: the\n"
    "                      version's, 700,10,10 or 2000,10,10 for 3.13)\n"
    "  --gc off            as if the collector never ran: no automatic and no\n"
    "                      explicit collection (collect returns 0)\n"
    "  --json              the result as one JSON object\n"
    "  -o TRACE            also write the run as a trace that replay reads\n"
    "  --emit-python       write the equivalent Python program on stdout\n";

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0, k;
	char *buf = malloc(cap);
	while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n > MAX_FILE) {
			cli_error("%s: larger than %u MiB", path, MAX_FILE >> 20);
			free(buf);
			buf = NULL;
			break;
		}
		if (n == cap) {
			char *p = realloc(buf, cap *= 2);
			if (!p)
				free(buf);
			buf = p;
		}
	}
	if (buf && ferror(f)) {
		cli_error("%s: %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else if (!buf && n <= MAX_FILE) {
		cli_error("%s: out of memory", path);
	}
	fclose(f);
	*len = n;
	return buf;
}

static bool parse_threshold(const char *v, uint32_t t[GCM_NGEN])
{
	unsigned long x[GCM_NGEN];
	char tail;
	if (sscanf(v, "%lu,%lu,%lu%c", &x[0], &x[1], &x[2], &tail) != 3)
		return false;
	for (int i = 0; i < GCM_NGEN; i++) {
		if (x[i] > RP_WL_MAX_THRESHOLD || strchr(v, '-'))
			return false;
		t[i] = (uint32_t)x[i];
	}
	return true;
}

/* ---- output ---- */

static void print_summary(FILE *out, const char *path, const rp_sim_opts *o,
			  const rp_sim_result *r)
{
	const gcm_stats *g = &r->gc;
	gcm_params gp;
	gcm_params_for_version(r->python, &gp);
	fprintf(out, "workload     %s: %" PRIu64 " statements run\n", path, r->statements);
	fprintf(out, "profile      %s, GC rules of %s%s, thresholds %u,%u,%u at the end, gc %s\n",
		r->profile, r->python, gp.scheduled ? " (collections at the eval breaker)" : "",
		g->threshold[0], g->threshold[1], g->threshold[2], o->gc_off ? "off" : "on");
	fprintf(out,
		"objects      %" PRIu64 " created (%" PRIu64 " containers), peak %" PRIu64
		" live (%" PRIu64 " bytes), %" PRIu64 " live at the end (%" PRIu64 " bytes)\n",
		g->created, g->created_containers, g->peak_objects, g->peak_bytes,
		g->live_objects, g->live_bytes);
	fprintf(out,
		"freed        by refcount %" PRIu64 " objects (%" PRIu64 " bytes), by the collector %" PRIu64
		" objects (%" PRIu64 " bytes)\n",
		g->freed_rc_objects, g->freed_rc_bytes, g->freed_gc_objects, g->freed_gc_bytes);
	fprintf(out,
		"collections  gen0 %" PRIu64 ", gen1 %" PRIu64 ", gen2 %" PRIu64 "; collected gen0 %" PRIu64
		", gen1 %" PRIu64 ", gen2 %" PRIu64 "; uncollectable %" PRIu64 "\n",
		g->collections[0], g->collections[1], g->collections[2], g->collected[0],
		g->collected[1], g->collected[2],
		g->uncollectable[0] + g->uncollectable[1] + g->uncollectable[2]);
	fprintf(out, "explicit     %" PRIu64 " collect() call%s", r->explicit_collects,
		r->explicit_collects == 1 ? "" : "s");
	for (uint64_t i = 0; i < r->explicit_collects && i < RP_WL_RETURNS; i++)
		fprintf(out, "%s%" PRIu64, i ? ", " : ": ", r->returns[i]);
	fprintf(out, "%s\n", r->explicit_collects > RP_WL_RETURNS ? ", ..." : "");
	fprintf(out,
		"arenas       %" PRIu64 " allocated, %" PRIu64 " released, highwater %" PRIu64
		", %" PRIu64 " held at the end (%" PRIu64 " bytes each)\n",
		r->arenas_allocated, r->arenas_released, r->arenas_highwater, r->arenas_current,
		r->arena_size);
	fprintf(out, "peak held    %" PRIu64 " bytes (arenas and large objects)\n", r->peak_held);
}

static void u64s(FILE *out, const uint64_t *v, uint64_t n)
{
	fputc('[', out);
	for (uint64_t i = 0; i < n; i++)
		fprintf(out, "%s%" PRIu64, i ? ", " : "", v[i]);
	fputc(']', out);
}

static void print_json(FILE *out, const char *path, const rp_sim_opts *o, const rp_sim_result *r)
{
	const gcm_stats *g = &r->gc;
	fputs("{\"workload\": ", out);
	rep_json_str(out, path, strlen(path));
	fprintf(out, ", \"profile\": \"%s\", \"python\": \"%s\", \"gc\": \"%s\"", r->profile,
		r->python, o->gc_off ? "off" : "on");
	fprintf(out, ", \"thresholds\": [%u, %u, %u], \"statements\": %" PRIu64, g->threshold[0],
		g->threshold[1], g->threshold[2], r->statements);
	fprintf(out,
		", \"objects\": {\"created\": %" PRIu64 ", \"containers\": %" PRIu64
		", \"peak\": %" PRIu64 ", \"peak_bytes\": %" PRIu64 ", \"live_end\": %" PRIu64
		", \"live_end_bytes\": %" PRIu64 "}",
		g->created, g->created_containers, g->peak_objects, g->peak_bytes, g->live_objects,
		g->live_bytes);
	fprintf(out,
		", \"freed_by_refcount\": {\"objects\": %" PRIu64 ", \"bytes\": %" PRIu64
		"}, \"freed_by_gc\": {\"objects\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
		g->freed_rc_objects, g->freed_rc_bytes, g->freed_gc_objects, g->freed_gc_bytes);
	fputs(", \"collections\": ", out);
	u64s(out, g->collections, GCM_NGEN);
	fputs(", \"collected\": ", out);
	u64s(out, g->collected, GCM_NGEN);
	fputs(", \"uncollectable\": ", out);
	u64s(out, g->uncollectable, GCM_NGEN);
	fprintf(out, ", \"explicit_collects\": %" PRIu64 ", \"collect_returns\": ",
		r->explicit_collects);
	u64s(out, r->returns, r->explicit_collects < RP_WL_RETURNS ? r->explicit_collects
								    : RP_WL_RETURNS);
	fprintf(out,
		", \"arenas\": {\"allocated_total\": %" PRIu64 ", \"released\": %" PRIu64
		", \"highwater\": %" PRIu64 ", \"current\": %" PRIu64 ", \"arena_size\": %" PRIu64
		"}, \"peak_held_bytes\": %" PRIu64 ", \"requests\": %" PRIu64 "}\n",
		r->arenas_allocated, r->arenas_released, r->arenas_highwater, r->arenas_current,
		r->arena_size, r->peak_held, r->requests);
}

/* ---- --emit-python ---- */

/* A name as a Python expression: G["x"], or an f-string key when it holds
 * '%' (the enclosing loop variables _i0, _i1, ...). */
static void py_name(FILE *out, const rp_workload *w, const rp_wl_stmt *st, int which)
{
	const char *n = w->names + st->name[which];
	bool f = strchr(n, '%') != NULL;
	fprintf(out, "G[%s\"", f ? "f" : "");
	for (; *n; n++) {
		if (*n != '%') {
			fputc(*n, out);
			continue;
		}
		for (int d = 0; d < st->depth; d++)
			fprintf(out, "%s{_i%d}", d ? "_" : "", d);
	}
	fputs("\"]", out);
}

static const char py_prologue[] =
    "import gc, json, sys\n"
    "\n"
    "G = globals()  # the workload's names are module globals\n"
    "_colls = [0, 0, 0]  # collections per generation, seen by the callback\n"
    "_coll = [0, 0, 0]  # objects collected per generation\n"
    "_unc = [0, 0, 0]\n"
    "_explicit = []  # what each explicit gc.collect() returned\n"
    "\n"
    "\n"
    "class _L(list):\n"
    "    # a list, but not from the list free list, so that every one counts\n"
    "    # in generation 0 as a container allocation counts in the model\n"
    "    __slots__ = ()\n"
    "\n"
    "\n"
    "def _cb(phase, info):\n"
    "    if phase == \"stop\":\n"
    "        g = info[\"generation\"]\n"
    "        _colls[g] += 1\n"
    "        _coll[g] += info[\"collected\"]\n"
    "        _unc[g] += info[\"uncollectable\"]\n"
    "\n"
    "\n"
    "def _unref(a, b):\n"
    "    # by identity: list.remove compares with ==\n"
    "    for i in range(len(a)):\n"
    "        if a[i] is b:\n"
    "            del a[i]\n"
    "            return\n"
    "    raise ValueError(\"unref: no such reference\")\n"
    "\n"
    "\n"
    "# Start like the model, from nothing: the interpreter's garbage collected,\n"
    "# its objects frozen out of the collector's sight, and a second full\n"
    "# collection to reset the long-lived counts and the generation counts.\n"
    "gc.collect()\n"
    "gc.freeze()\n"
    "gc.collect()\n";

void rp_sim_emit_python(const rp_workload *w, const rp_sim_opts *o, FILE *out)
{
	fprintf(out, "# generated by arenatrace simulate --emit-python from ");
	fputs(o->file ? o->file : "a workload", out);
	fputs("\n", out);
	fputs(py_prologue, out);
	if (o->set_threshold)
		fprintf(out, "gc.set_threshold(%u, %u, %u)\n", o->threshold[0], o->threshold[1],
			o->threshold[2]);
	if (o->gc_off)
		fputs("gc.disable()  # --gc off\n", out);
	fputs("gc.callbacks.append(_cb)\n\n# the workload\n", out);
	for (size_t i = 0; i < w->n; i++) {
		const rp_wl_stmt *st = &w->s[i];
		if (st->op == RP_WL_END) {
			if (w->s[st->jump].jump == i && st->jump + 1 == i)
				fprintf(out, "%*spass\n", 4 * (st->depth + 1), "");
			continue;
		}
		fprintf(out, "%*s", 4 * st->depth, "");
		switch (st->op) {
		case RP_WL_NEW:
			py_name(out, w, st, 0);
			if (st->container)
				fputs(" = _L()\n", out);
			else
				fprintf(out, " = bytearray(%" PRIu64 ")\n", st->num[0]);
			break;
		case RP_WL_REF:
			py_name(out, w, st, 0);
			fputs(".append(", out);
			py_name(out, w, st, 1);
			fputs(")\n", out);
			break;
		case RP_WL_UNREF:
			fputs("_unref(", out);
			py_name(out, w, st, 0);
			fputs(", ", out);
			py_name(out, w, st, 1);
			fputs(")\n", out);
			break;
		case RP_WL_DROP:
			fputs("del ", out);
			py_name(out, w, st, 0);
			fputs("\n", out);
			break;
		case RP_WL_ALIAS:
			py_name(out, w, st, 0);
			fputs(" = ", out);
			py_name(out, w, st, 1);
			fputs("\n", out);
			break;
		case RP_WL_COLLECT:
			if (o->gc_off)
				fputs("_explicit.append(0)  # --gc off\n", out);
			else
				fprintf(out, "_explicit.append(gc.collect(%" PRIu64 "))\n", st->num[0]);
			break;
		case RP_WL_THRESHOLD:
			fputs("gc.set_threshold(", out);
			for (int k = 0; k < st->nargs; k++)
				fprintf(out, "%s%" PRIu64, k ? ", " : "", st->num[k]);
			fputs(")\n", out);
			break;
		case RP_WL_FREEZE:
			fputs("gc.freeze()\n", out);
			break;
		case RP_WL_UNFREEZE:
			fputs("gc.unfreeze()\n", out);
			break;
		case RP_WL_ENABLE:
		case RP_WL_DISABLE:
			if (o->gc_off)
				fputs("pass  # --gc off\n", out);
			else
				fputs(st->op == RP_WL_ENABLE ? "gc.enable()\n" : "gc.disable()\n", out);
			break;
		case RP_WL_REPEAT:
			fprintf(out, "for _i%d in range(%" PRIu64 "):\n", st->depth, st->num[0]);
			break;
		}
	}
	fputs("\ngc.callbacks.remove(_cb)\n"
	      "print(json.dumps({\"python\": \"%d.%d\" % sys.version_info[:2],\n"
	      "                  \"collections\": _colls, \"collected\": _coll,\n"
	      "                  \"uncollectable\": _unc, \"explicit_collects\": len(_explicit),\n"
	      "                  \"collect_returns\": _explicit[:100],\n"
	      "                  \"thresholds\": list(gc.get_threshold())}))\n",
	      out);
}

/* ---- the command ---- */

int cli_cmd_simulate(int argc, char **argv)
{
	rp_sim_opts o = {0};
	const char *path = NULL, *trace = NULL;
	bool json = false, emit = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(sim_usage, stdout);
			return CLI_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--emit-python")) {
			emit = true;
		} else if (!strcmp(a, "--check")) {
			o.check = true; /* gcm_check after every statement, for tests */
		} else if (!strcmp(a, "--profile") || !strcmp(a, "--threshold") ||
			   !strcmp(a, "--gc") || !strcmp(a, "-o")) {
			if (!v) {
				cli_error("simulate: %s needs a value", a);
				return CLI_EXIT_USAGE;
			}
			i++;
			if (!strcmp(a, "--profile")) {
				o.profile = v;
			} else if (!strcmp(a, "-o")) {
				trace = v;
			} else if (!strcmp(a, "--gc")) {
				if (strcmp(v, "on") && strcmp(v, "off")) {
					cli_error("simulate: --gc takes on or off");
					return CLI_EXIT_USAGE;
				}
				o.gc_off = !strcmp(v, "off");
			} else if (!parse_threshold(v, o.threshold)) {
				cli_error("simulate: --threshold takes T0,T1,T2 (numbers up to %llu)",
					 (unsigned long long)RP_WL_MAX_THRESHOLD);
				return CLI_EXIT_USAGE;
			} else {
				o.set_threshold = true;
			}
		} else if (a[0] == '-' && a[1]) {
			cli_error("simulate: unknown option '%s' (run 'arenatrace simulate --help')", a);
			return CLI_EXIT_USAGE;
		} else if (path) {
			cli_error("simulate: one workload at a time");
			return CLI_EXIT_USAGE;
		} else {
			path = a;
		}
	}
	if (!path) {
		fputs(sim_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	size_t len;
	char *text = read_file(path, &len);
	if (!text)
		return CLI_EXIT_USAGE;
	char err[512];
	rp_workload *w;
	int rc = rp_workload_parse(text, len, path, &w, err, sizeof(err));
	free(text);
	if (rc < 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	o.file = path;
	if (emit) {
		rp_sim_emit_python(w, &o, stdout);
		rp_workload_free(w);
		return CLI_EXIT_OK;
	}
	int status = CLI_EXIT_USAGE, fd = -1;
	tf_writer *tw = NULL;
	if (trace) {
		fd = open(trace, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			cli_error("%s: %s", trace, strerror(errno));
			goto out_free;
		}
		char version[16];
		snprintf(version, sizeof(version), "%s",
			 o.profile && !strncmp(o.profile, "cpython-", 8) ? o.profile + 8 : "3.13");
		char argv0[] = "arenatrace\0simulate\0";
		tf_header h = {.pid = (uint64_t)getpid(), .ppid = (uint64_t)getppid(),
			       /* the run is "recorded" now */
			       .start_real_ns = clock_ns(CLOCK_REALTIME),
			       .start_mono_ns = clock_ns(CLOCK_MONOTONIC),
			       .page_size = 4096, .pointer_size = 8,
			       .clock = {"CLOCK_MONOTONIC", 15},
			       .tool_version = {ARENATRACE_VERSION, strlen(ARENATRACE_VERSION)},
			       .exe = {"arenatrace simulate", 19},
			       .argv = {argv0, sizeof(argv0) - 1},
			       .python = {version, strlen(version)}};
		tf_writer_opts wo = {.fd = fd, .exact_time = true};
		if ((rc = tf_writer_create(&tw, &wo, &h)) < 0) {
			cli_error("%s: %s", trace, tf_strerror(rc));
			goto out_close;
		}
		o.trace = tw;
	}
	rp_sim_result res;
	if (rp_sim_run(w, &o, &res, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		goto out_close;
	}
	if (tw && (rc = tf_writer_finish(tw, TF_END_EXIT, 0, 0)) < 0) {
		cli_error("%s: %s", trace, tf_strerror(rc));
		goto out_close;
	}
	if (json)
		print_json(stdout, path, &o, &res);
	else
		print_summary(stdout, path, &o, &res);
	status = CLI_EXIT_OK;
out_close:
	tf_writer_free(tw);
	if (fd >= 0)
		close(fd);
out_free:
	rp_workload_free(w);
	return status;
}
