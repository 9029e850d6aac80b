/*
 * test_rp_replay.c - the replay on hand-made traces: the malloc layer maps
 * every block and counts what does not add up (free of an unknown block,
 * double free, realloc of an unknown block, allocation over a live block)
 * without stopping; the Python layer takes arena bases from the trace.
 */
#include "pym.h"
#include "rp_cli.h"
#include "rp_replay.h"
#include "tf_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

static tf_writer *w;
static int fd;

static void start(const char *python)
{
	fd = tmp_fd();
	tf_writer_opts o = {.fd = fd};
	tf_header h = theader();
	h.python = (tf_bytes){python, strlen(python)};
	assert_int_equal(tf_writer_create(&w, &o, &h), 0);
}

static void ev(tf_kind kind, uint64_t old, uint64_t size, uint64_t addr)
{
	tf_record r = {.kind = kind, .thread = 1};
	r.u.alloc.old = old;
	r.u.alloc.size = size;
	r.u.alloc.addr = addr;
	assert_int_equal(tf_writer_put(w, &r), 0);
}

static rp_replay_result finish_and_replay(int layer, const char *model)
{
	assert_int_equal(tf_writer_finish(w, TF_END_EXIT, 0, 0), 0);
	tf_writer_free(w);
	tbuf b;
	assert_int_equal(tbuf_from_fd(fd, &b), 0);
	close(fd);
	tf_reader *r;
	assert_int_equal(tf_reader_open_mem(&r, b.data, b.len), 0);
	FILE *sink = fopen("/dev/null", "w");
	rp_replay_opts o = {.model = model, .layer = layer, .out = sink};
	rp_replay_result res;
	assert_int_equal(rp_replay_run(r, &o, "test", &res), RP_EXIT_OK);
	fclose(sink);
	tf_reader_free(r);
	free(b.data);
	return res;
}

static void test_malloc_layer_anomalies(void **state)
{
	(void)state;
	start("");
	ev(TF_MALLOC, 0, 24, 0x1000);
	ev(TF_MALLOC, 0, 700, 0x2000);        /* raw in the model */
	ev(TF_REALLOC, 0x1000, 40, 0x3000);   /* moves */
	ev(TF_FREE, 0, 0, 0x3000);
	ev(TF_FREE, 0, 0, 0x3000);            /* double free */
	ev(TF_FREE, 0, 0, 0x9000);            /* never allocated */
	ev(TF_REALLOC, 0x8000, 10, 0x8000);   /* realloc of an unknown block */
	ev(TF_MALLOC, 0, 16, 0x2000);         /* over a live block */
	ev(TF_FREE, 0, 0, 0);                 /* free(NULL): fine */
	ev(TF_CALLOC, 0, 8, 0x4000);
	rp_replay_result res = finish_and_replay(RP_LAYER_AUTO, "cpython-3.12");
	assert_true(res.malloc_layer); /* no Python version: the malloc layer */
	assert_int_equal(res.requests, 10);
	assert_int_equal(res.anomalies, 4);
}

static void test_python_layer_arena_bases(void **state)
{
	(void)state;
	start("3.12.1");
	tf_record r = {.kind = TF_ARENA_ALLOC, .thread = 1};
	r.u.arena = (tf_arena){0x7f0000000000, 1 << 20};
	assert_int_equal(tf_writer_put(w, &r), 0);
	/* pymalloc's first block of the first arena, as the interpreter got it */
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x7f0000000000 + 48);
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x7f0000000000 + 48 + 32);
	ev(TF_PY_OBJ_MALLOC, 0, 600, 0x5555000); /* raw: keeps the real address */
	ev(TF_PY_OBJ_FREE, 0, 0, 0x5555000);
	ev(TF_PY_OBJ_FREE, 0, 0, 0x7f0000000000 + 48);
	ev(TF_MALLOC, 0, 600, 0x5555000); /* malloc layer: not replayed here */
	rp_replay_result res = finish_and_replay(RP_LAYER_AUTO, NULL);
	assert_false(res.malloc_layer);
	assert_int_equal(res.requests, 5);
	assert_int_equal(res.addr_mismatch, 0);
	assert_int_equal(res.arena_mismatch, 0);
	assert_int_equal(res.anomalies, 0);
}

static void test_python_layer_mismatch_is_counted(void **state)
{
	(void)state;
	start("3.12.1");
	/* no arena records: the model places its arena itself, so its
	 * addresses differ from the ones recorded, and are followed */
	ev(TF_PY_OBJ_MALLOC, 0, 32, 0x1230);
	ev(TF_PY_OBJ_FREE, 0, 0, 0x1230);
	rp_replay_result res = finish_and_replay(RP_LAYER_PYTHON, NULL);
	assert_int_equal(res.addr_mismatch, 1);
	assert_int_equal(res.anomalies, 0); /* the free found the model's block */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_malloc_layer_anomalies),
	    cmocka_unit_test(test_python_layer_arena_bases),
	    cmocka_unit_test(test_python_layer_mismatch_is_counted),
	};
	return cmocka_run_group_tests_name("rp_replay", tests, NULL, NULL);
}
