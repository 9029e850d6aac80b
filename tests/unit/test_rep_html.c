/*
 * test_rep_html.c - the HTML sink (reports/rep_html.c, rep_html_chart.c)
 * on a replay result built by hand (rep_testutil.c): report.html is one
 * self-contained page (no external script, style, font, image or link);
 * every string from the trace is escaped (markup, quotes, invalid UTF-8);
 * numbers are shown as a user reads them and sorted by their exact value;
 * the sections and charts are there when they apply and only then; stacks
 * are listed leaf first.
 */
#include "rep_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct run {
	rt_result *r;
	char dir[512];
	rep_out out;
	char *page;
} run;

static const char *html(run *t)
{
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(
	    rt_run_sink(&rep_html_sink, &t->r->res, "dir/job <1>.atr", t->dir, &t->out), REP_OK);
	assert_int_equal(t->out.nwritten, 1);
	assert_string_equal(t->out.written[0], "report.html");
	t->page = rt_read(t->dir, "report.html");
	assert_non_null(t->page);
	return t->page;
}

static int setup(void **state)
{
	run *t = calloc(1, sizeof(*t));
	t->r = rt_result_new();
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	run *t = *state;
	if (t->dir[0])
		rt_rmdir(t->dir);
	free(t->page);
	free(t->r);
	free(t);
	return 0;
}

#define assert_has(page, s) assert_non_null(strstr((page), (s)))
#define assert_lacks(page, s) assert_null(strstr((page), (s)))

/* Nothing the page needs comes from elsewhere: no src attribute, no
 * <link>, @import or url(); one <script>, inline; links only to its own
 * sections. */
static void test_self_contained(void **state)
{
	const char *p = html(*state);
	const char *head = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
	assert_memory_equal(p, head, strlen(head));
	const char *tail = "</script></body></html>\n";
	assert_string_equal(p + strlen(p) - strlen(tail), tail);
	assert_lacks(p, "src=");
	assert_lacks(p, "<link");
	assert_lacks(p, "@import");
	assert_lacks(p, "url(");
	assert_lacks(p, "http:");
	assert_lacks(p, "https:");
	assert_int_equal(rt_count(p, "<script"), 1);
	assert_int_equal(rt_count(p, "<script>"), 1);
	assert_int_equal(rt_count(p, "<style"), 1);
	assert_int_equal(rt_count(p, "<style>"), 1);
	assert_true(rt_count(p, "href=\"") > 0);
	assert_int_equal(rt_count(p, "href=\""), rt_count(p, "href=\"#"));
}

/* The program's path, its argv, the trace's path and the frames' names as
 * text: markup and quotes escaped, a valid UTF-8 letter kept, a byte that
 * is no UTF-8 shown as U+FFFD. */
static void test_escaping(void **state)
{
	const char *p = html(*state);
	assert_has(p, "<title>arenatrace: /opt/a&lt;b&gt;&amp;&quot;c&#39;.py</title>");
	assert_has(p, "<h1>arenatrace report: python3 &lt;script&gt;alert(1)&lt;/script&gt; "
	              "caf\xc3\xa9 &#xfffd;</h1>");
	assert_lacks(p, "<script>alert");
	assert_lacks(p, "\xff");
	assert_has(p, "<td class=\"l\">dir/job &lt;1&gt;.atr</td>");
	assert_has(p, "<summary>#2 ns::Box&lt;std::pair&lt;int, char&gt;&gt;::make "
	              "(inlined)</summary>");
	assert_has(p, "<li>run_job(&quot;a,b&quot;) at job.cc:12</li>");
	assert_lacks(p, "std::pair<");
}

/* A model's label is escaped too, wherever it shows. */
static void test_label_escaped(void **state)
{
	run *t = *state;
	snprintf(t->r->res.models[1].profile, sizeof(t->r->res.models[1].profile), "x<y>&");
	const char *p = html(t);
	assert_has(p, "<th>x&lt;y&gt;&amp; gc-off</th>");
	assert_has(p, "</span>x&lt;y&gt;&amp; gc-off</li>");
	assert_lacks(p, "x<y>");
}

/* Bytes in binary units with their exact count as the sort value and the
 * tooltip; seconds with 3 decimals; use as a percentage; the start as UTC. */
static void test_numbers(void **state)
{
	const char *p = html(*state);
	assert_has(p, "<div class=\"card\"><b>1.5 KiB</b>peak live</div>");
	assert_has(p, "<div class=\"card\"><b>512.0 KiB</b>peak held</div>");
	assert_has(p, "<div class=\"card\"><b>256.0 KiB</b>held at the end</div>");
	assert_has(p, "<div class=\"card\"><b>2.50</b>peak held / peak live (jw4)</div>");
	assert_has(p, "<div class=\"card\"><b>2 / 1</b>arenas allocated / released</div>");
	assert_has(p, "<td data-v=\"1536\" title=\"1536 bytes\">1.5 KiB</td>");
	assert_has(p, "<td data-v=\"1000\" title=\"1000 bytes\">1000 B</td>");
	assert_has(p, "<td data-v=\"600000000\">0.600 s</td>");
	assert_has(p, "<td data-v=\"2500000\">2.500 ms</td>");
	assert_has(p, "<td data-v=\"750000000\">0.750 s &ndash; 1.450 s</td>");
	assert_has(p, "<td data-v=\"51\">20%</td>");
	assert_has(p, "<td data-v=\"0.0098\">1%</td>");
	assert_has(p, "<td class=\"l\">2023-11-14 22:13:20 UTC</td>");
	assert_has(p, "<td class=\"l\">pid 4242, parent 1</td>");
	assert_has(p, "<td class=\"l\">1.500 s</td>");
	assert_has(p, "<td class=\"l\">exit, exit status 0</td>");
	/* the comparison: a count and a ratio of each model */
	assert_has(p, "<tr><td class=\"l\">arenas allocated</td><td>2</td><td>2</td></tr>");
	assert_has(p, "<tr><td class=\"l\">peak held/peak live (jw4)</td><td>2.50</td><td>3.00</td>"
	              "</tr>");
}

static const char *const sections[] = {"summary",   "memory", "arenas",  "pinning", "classes",
                                       "callsites", "gc",     "compare", "system",  "facts"};

/* Every section, in the page's order, each in the navigation. */
static void test_sections(void **state)
{
	const char *p = html(*state);
	const char *at = p;
	char id[64];
	for (size_t k = 0; k < sizeof(sections) / sizeof(sections[0]); k++) {
		snprintf(id, sizeof(id), "<section id=\"%s\">", sections[k]);
		const char *s = strstr(p, id);
		assert_non_null(s);
		assert_true(s > at);
		at = s;
		snprintf(id, sizeof(id), "<a href=\"#%s\">", sections[k]);
		assert_int_equal(rt_count(p, id), 1);
	}
	assert_int_equal(rt_count(p, "<section "), sizeof(sections) / sizeof(sections[0]));
	const char *const charts[] = {"memory-chart", "lifeline-chart", "classes-peak-chart",
	                              "classes-end-chart", "compare-chart"};
	for (size_t k = 0; k < sizeof(charts) / sizeof(charts[0]); k++) {
		snprintf(id, sizeof(id), "<svg class=\"chart\" id=\"%s\"", charts[k]);
		assert_int_equal(rt_count(p, id), 1);
	}
	assert_int_equal(rt_count(p, "<svg"), rt_count(p, "</svg>"));
}

/* One model, no GC pass, no --system: neither their sections nor links. */
static void test_only_what_applies(void **state)
{
	run *t = *state;
	rp_replay_result *res = &t->r->res;
	res->nmodels = 1;
	res->has_system = false;
	res->gc_passes[0] = 0;
	res->npasses = 0;
	const char *p = html(t);
	const char *const absent[] = {"gc", "compare", "system"};
	char s[64];
	for (int k = 0; k < 3; k++) {
		snprintf(s, sizeof(s), "<section id=\"%s\">", absent[k]);
		assert_lacks(p, s);
		snprintf(s, sizeof(s), "href=\"#%s\"", absent[k]);
		assert_lacks(p, s);
	}
	assert_lacks(p, "id=\"compare-chart\"");
	assert_lacks(p, "<g class=\"gc\">");
	assert_has(p, "<section id=\"facts\">");
}

/* No model ran: no page, and no error. */
static void test_no_models(void **state)
{
	run *t = *state;
	t->r->res.nmodels = 0;
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink(&rep_html_sink, &t->r->res, "job.atr", t->dir, &t->out),
	                 REP_OK);
	assert_int_equal(t->out.nwritten, 0);
	assert_null(rt_read(t->dir, "report.html"));
}

/* A stack: its leaf line as the summary, every line when opened, leaf
 * first; a call site without a stack says so. */
static void test_stacks(void **state)
{
	const char *p = html(*state);
	const char *cell = "<td class=\"stack\"><details><summary>#2 ns::Box&lt;std::pair&lt;int, "
	                   "char&gt;&gt;::make (inlined)</summary><ol>"
	                   "<li>ns::Box&lt;std::pair&lt;int, char&gt;&gt;::make (inlined)</li>"
	                   "<li>run_job(&quot;a,b&quot;) at job.cc:12</li>"
	                   "<li>main at main.c:3</li></ol></details></td>";
	/* the held arena's top stack, the pinning stack, the first call site */
	assert_int_equal(rt_count(p, cell), 3);
	assert_int_equal(rt_count(p, "<td class=\"stack\">(no stack)</td>"), 1);
}

/* The lifelines: a row per arena with its id, a release tick for the
 * released one only, cells in the eight shades, a full one darkest. */
/* A Python program's page (rt_py): its Python frames first, the
 * program's own marked, a library's tagged, the native frames folded in
 * a <details> of their own; rows of the same Python lines summed; the
 * styles for it only on such a page. */
static void test_python_stacks(void **state)
{
	run *t = *state;
	rt_py *p = rt_py_new();
	rep_input in = {&p->r.res, "app.atr", rt_namer, NULL, rt_describe, REP_STACKS_AUTO, NULL, NULL};
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink_in(&rep_html_sink, &in, t->dir, &t->out), REP_OK);
	char *page = rt_read(t->dir, "report.html");
	assert_has(page, ".own{font-weight:600");
	assert_has(page, "<td class=\"stack\"><details><summary>#3 (and 2 more stacks of these "
			 "Python lines) <span class=\"own\">/home/u/app/lib.py:12 in make</span>"
			 "</summary><ol><li class=\"own\">/home/u/app/lib.py:12 in make</li>"
			 "<li class=\"own\">/home/u/app/main.py:30 in &lt;module&gt;</li></ol>"
			 "<details class=\"native\"><summary>1 native frame</summary><ol>"
			 "<li>ns::Box&lt;std::pair&lt;int, char&gt;&gt;::make (inlined)</li>");
	assert_has(page, "<li class=\"lib\">/usr/lib/python3.12/json/decoder.py:352 in "
			 "JSONDecoder.raw_decode<span class=\"tag\">stdlib</span></li>");
	assert_has(page, "<li class=\"py\">unknown Python frame (code 9, offset 6)</li>");
	/* the call sites' table: five rows of seven call sites */
	assert_has(page, "The 5 of 5 rows that allocated the most bytes");
	free(page);
	rt_rmdir(t->dir);
	/* hybrid: nothing folded, the call order */
	in.stacks = REP_STACKS_HYBRID;
	rt_mkdir(t->dir, sizeof(t->dir));
	assert_int_equal(rt_run_sink_in(&rep_html_sink, &in, t->dir, &t->out), REP_OK);
	page = rt_read(t->dir, "report.html");
	assert_null(strstr(page, "<details class=\"native\">"));
	assert_has(page, "<summary>#8 <span>main at main.c:3</span></summary><ol><li>main at "
			 "main.c:3</li>"
			 "<li class=\"lib\">");
	free(page);
	free(p);
	/* a result without Python frames: none of it */
	page = (char *)html(t);
	assert_null(strstr(page, ".own{"));
	assert_null(strstr(page, "class=\"own\""));
}

static void test_lifelines(void **state)
{
	const char *p = html(*state);
	const char *s = strstr(p, "id=\"lifeline-chart\"");
	assert_non_null(s);
	char *chart = strndup(s, (size_t)(strstr(s, "</svg>") - s));
	assert_int_equal(rt_count(chart, "<g><title>arena "), 2);
	assert_has(chart, "<title>arena 1 at 0x7f0000000000: allocated at 0.250 s, released at "
	                  "1.250 s, peak use 100%</title>");
	assert_has(chart,
	           "<title>arena 2 at 0x7f0000040000: allocated at 0.750 s, held at the end, "
	           "peak use 20%</title>");
	assert_int_equal(rt_count(chart, "<line class=\"release\""), 1);
	assert_has(chart, "text-anchor=\"end\">#1</text>");
	assert_has(chart, "text-anchor=\"end\">#2</text>");
	assert_has(chart, "fill=\"#1b3f73\"");
	static const char *const shades[] = {"#f1f5fb", "#d6e2f3", "#b3c9e8", "#8eaedb",
	                                     "#6a93cd", "#4977bd", "#2e5c9f", "#1b3f73"};
	size_t shaded = 0;
	char fill[32];
	for (int k = 0; k < 8; k++) {
		snprintf(fill, sizeof(fill), "fill=\"%s\"", shades[k]);
		shaded += rt_count(chart, fill);
	}
	assert_true(shaded > 0);
	assert_int_equal(shaded, rt_count(chart, "fill=\""));
	free(chart);
	assert_has(p, "<p>2 of the 2 arenas the model allocated. ");
}

/* The memory chart: one band per layer, each named. */
static void test_memory_chart(void **state)
{
	const char *p = html(*state);
	const char *s = strstr(p, "id=\"memory-chart\"");
	assert_non_null(s);
	char *chart = strndup(s, (size_t)(strstr(s, "</svg>") - s));
	assert_int_equal(rt_count(chart, "<path fill=\""), 6);
	const char *const layers[] = {
	    "requested",   "internal waste",    "free blocks in used pools",
	    "empty pools", "empty arenas kept", "large objects"};
	char title[64];
	for (int k = 0; k < 6; k++) {
		snprintf(title, sizeof(title), "<title>%s</title></path>", layers[k]);
		assert_int_equal(rt_count(chart, title), 1);
	}
	assert_has(chart, "text-anchor=\"middle\">1.500 s</text>");
	free(chart);
}

/* The moments: a section each, in the trace's order, the label escaped;
 * a marker on the memory chart linking to each; the leaks at exit. */
static void test_moments(void **state)
{
	run *t = *state;
	static rp_moment mo[2];
	memset(mo, 0, sizeof(mo));
	mo[0] = (rp_moment){.kind = RP_AT_MARK, .request = 7, .time_ns = 800000000, .held = 4000,
			    .live = 1001, .arenas_held = 1};
	snprintf(mo[0].label, sizeof(mo[0].label), "<evict>");
	mo[0].pinning.nstacks = 1;
	mo[0].pinning.stacks[0] = (rp_pin){.stack = 2, .arenas = 1, .blocks = 3, .bytes = 96};
	mo[1] = (rp_moment){.kind = RP_AT_EXIT, .request = 9, .time_ns = 1500000000, .leak_blocks = 5,
			    .leak_bytes = 160, .nleaks = 1};
	snprintf(mo[1].label, sizeof(mo[1].label), "exit");
	mo[1].leaks[0] = (rp_leak){.stack = 2, .blocks = 4, .bytes = 128, .arenas = 1};
	t->r->res.models[0].moments = mo;
	t->r->res.models[0].nmoments = 2;
	const char *p = html(t);
	assert_has(p, "<a href=\"#moments\">moments</a>");
	const char *m0 = strstr(p, "<div class=\"moment\" id=\"moment-0\"><h3>At &lt;evict&gt; (request 7, 0.800 s)</h3>");
	const char *m1 = strstr(p, "<div class=\"moment\" id=\"moment-1\"><h3>At exit (request 9, 1.500 s)</h3>");
	assert_non_null(m0);
	assert_non_null(m1);
	assert_true(m0 < m1);
	assert_null(strstr(p, "<evict>"));
	/* the leak table only at exit, with its stack's frames */
	assert_int_equal(rt_count(p, "<h4>Live at exit: 5 blocks, 160 B</h4>"), 1);
	assert_non_null(strstr(m1, "main at main.c:3"));
	/* markers on the memory chart, linking to the sections */
	const char *c = strstr(p, "id=\"memory-chart\"");
	assert_non_null(c);
	char *chart = strndup(c, (size_t)(strstr(c, "</svg>") - c));
	assert_int_equal(rt_count(chart, "<a href=\"#moment-"), 2);
	assert_has(chart, "<title>&lt;evict&gt;</title></a>");
	free(chart);
}

/* The size classes' charts have no time axis: no time labels on them. */
static void test_classes_chart_no_times(void **state)
{
	const char *p = html(*state);
	for (const char *id = "id=\"classes-"; (p = strstr(p, id)); p++) {
		const char *end = strstr(p, "</svg>");
		assert_non_null(end);
		char *chart = strndup(p, (size_t)(end - p));
		assert_int_equal(rt_count(chart, " s</text>"), 0);
		free(chart);
	}
}

/* A trace without times: its charts go by request, and say so. */
static void test_timeless(void **state)
{
	run *t = *state;
	for (int i = 0; i < 2; i++)
		memset(t->r->series[i].time, 0, sizeof(t->r->series[i].time));
	t->r->res.facts.span_ns = 0;
	const char *p = html(t);
	assert_int_equal(rt_count(p, "requests, in order (the trace has no times)"), 2);
}

/* A directory that cannot be written: the error, and which file. */
static void test_unwritable(void **state)
{
	run *t = *state;
	rep_out out;
	assert_int_equal(
	    rt_run_sink(&rep_html_sink, &t->r->res, "job.atr", "/nonexistent/dir", &out), REP_E_IO);
	assert_has(out.failed, "/nonexistent/dir/report.html: ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_self_contained, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_label_escaped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_only_what_applies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_models, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stacks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_python_stacks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifelines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_chart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_moments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_classes_chart_no_times, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeless, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
