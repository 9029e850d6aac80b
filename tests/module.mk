# tests/: cmocka unit tests, end-to-end suites, fuzz targets, benchmarks.

UNIT_TESTS := test_u64map test_rp_workload test_tf_format test_tf_damage test_tf_compat test_tf_pyline test_tr_core test_pym test_gcm \
	test_rp_replay test_rep_sym
UNIT_TESTS += test_tr_python
UNIT_TESTS += test_rep_csv test_rep_html test_rep_view
UNIT_BINS := $(UNIT_TESTS:%=$(B)/tests/%)
TESTUTIL_OBJ := $(B)/tests/unit/tf_testutil.o
$(B)/tests/unit/%.o: MOD_CFLAGS := -Itraces $(CMOCKA_CFLAGS) $(LIBZSTD_CFLAGS)

$(B)/tests/%: $(B)/tests/unit/%.o $(TESTUTIL_OBJ) $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS)

$(B)/tests/unit/test_u64map.o: MOD_CFLAGS := -Icommon $(CMOCKA_CFLAGS)
$(B)/tests/test_u64map: $(B)/tests/unit/test_u64map.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS)

# the workload language and the simulator: the models and the writer, no reader
$(B)/tests/unit/test_rp_workload.o: MOD_CFLAGS := -Itraces -Iallocator -Ireplay $(CMOCKA_CFLAGS)
$(B)/tests/test_rp_workload: $(B)/tests/unit/test_rp_workload.o $(B)/replay/rp_workload.o \
		$(B)/replay/rp_simulate.o $(B)/libpym.a $(B)/libgcm.a $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS)

$(B)/tests/unit/test_pym.o: MOD_CFLAGS := -Iallocator -Icommon $(CMOCKA_CFLAGS)
$(B)/tests/test_pym: $(B)/tests/unit/test_pym.o $(B)/libpym.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS)

$(B)/tests/unit/test_gcm.o: MOD_CFLAGS := -Iallocator $(CMOCKA_CFLAGS)
$(B)/tests/test_gcm: $(B)/tests/unit/test_gcm.o $(B)/libgcm.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS)

# the engine and the text sinks only: no symbolizer, so no libdw; the
# model with pym_check() after every operation (libpym-checked.a)
$(B)/tests/unit/test_rp_replay.o: MOD_CFLAGS := -Itraces -Ireplay -Iallocator -Ireports $(CMOCKA_CFLAGS)
$(B)/tests/test_rp_replay: $(B)/tests/unit/test_rp_replay.o $(TESTUTIL_OBJ) \
		$(B)/reports/rep_summary.o $(B)/reports/rep_json.o $(B)/reports/rep_view.o \
		$(B)/reports/rep_util.o $(B)/librp.a \
		$(B)/libpym-checked.a $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS) $(RP_LIBS)

$(B)/tests/unit/test_rep_sym.o: MOD_CFLAGS := -Itraces -Ireports -Itracer $(CMOCKA_CFLAGS) \
	$(LIBDW_CFLAGS)
$(B)/tests/test_rep_sym: $(B)/tests/unit/test_rep_sym.o $(REP_SYM_OBJ) $(COMMON_OBJ) \
		$(B)/tracer/tr_modinfo.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS) $(REP_SYM_LIBS)

# The sinks on a result built by hand (tests/unit/rep_testutil.c): each
# links its sink and the helpers the sinks share, and the replay library
# for the result's names (rp_model_label, rp_series_names); no
# symbolizer, so neither libdw nor libstdc++.
REP_TEST_OBJ := $(B)/tests/unit/rep_testutil.o $(B)/reports/rep_util.o $(B)/reports/rep_view.o \
	$(B)/librp.a $(B)/libpym.a $(B)/libtf.a
$(B)/tests/unit/rep_testutil.o $(B)/tests/unit/test_rep_csv.o $(B)/tests/unit/test_rep_html.o \
	$(B)/tests/unit/test_rep_view.o: MOD_CFLAGS := -Itraces -Ireplay -Ireports $(CMOCKA_CFLAGS)
$(B)/tests/test_rep_csv: $(B)/tests/unit/test_rep_csv.o $(B)/reports/rep_csv.o $(B)/reports/rep_paths.o $(REP_TEST_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS) $(RP_LIBS)
# the stack view, with the stream sinks that show it (the summary, --json)
$(B)/tests/test_rep_view: $(B)/tests/unit/test_rep_view.o $(B)/reports/rep_summary.o \
		$(B)/reports/rep_json.o $(REP_TEST_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS) $(RP_LIBS)
$(B)/tests/test_rep_html: $(B)/tests/unit/test_rep_html.o $(B)/reports/rep_html.o \
		$(B)/reports/rep_html_chart.o $(REP_TEST_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS) $(REP_SINK_LIBS) $(RP_LIBS)

# The tracer core without the preload shim (CONTRIBUTING.md, Tests).
TR_CORE_OBJ := $(B)/tracer/tr_core.o $(B)/tracer/tr_env.o $(B)/tracer/tr_region.o \
	$(B)/tracer/tr_stack.o $(B)/tracer/tr_pystack.o $(B)/tracer/tr_modules.o $(B)/tracer/tr_modinfo.o \
	$(TR_COMMON_OBJ)
$(B)/tests/unit/test_tr_core.o: MOD_CFLAGS := -Itraces -Itracer $(CMOCKA_CFLAGS)
$(B)/tests/test_tr_core: $(B)/tests/unit/test_tr_core.o $(TR_CORE_OBJ) $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS) -lpthread
# The CPython hooks and the core they record through, against a fake CPython
# API the test exports (-rdynamic) for the hooks' dlsym.
$(B)/tests/unit/test_tr_python.o: MOD_CFLAGS := -Itraces -Itracer $(CMOCKA_CFLAGS)
$(B)/tests/test_tr_python: $(B)/tests/unit/test_tr_python.o $(B)/tracer/tr_python.o $(TR_CORE_OBJ) \
		$(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -rdynamic -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS) -ldl -lpthread

E2E_SUITES := $(wildcard tests/e2e/test_*.sh)

# Programs the tracer's end-to-end tests run under the tracer, and a checker.
PROGS := selfcount threads forker killme dlprog sigchld fdlimit daemon phdrfork mainexit crash lonely chdirfork plateau ticks ustacks
PROG_BINS := $(PROGS:%=$(B)/tests/progs/%) $(B)/tests/progs/libplugin.so
$(B)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $< -ldl -lpthread
$(B)/tests/progs/libplugin.so: tests/progs/plugin.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -fPIC -shared -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $<
# Threads that free each other's blocks, for the order across threads.
PROG_BINS += $(B)/tests/progs/handoff
# A library whose constructor allocates before the tracer starts (dropped events).
PROG_BINS += $(B)/tests/progs/libearly.so
$(B)/tests/progs/libearly.so: tests/progs/early.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -fPIC -shared -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $<
$(B)/tests/progs/cxx: tests/progs/cxx.cc
	@mkdir -p $(dir $@)
	$(CXX) -O1 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $<
# The symbolizer's program (tests/e2e/test_symbols.sh): with debug info and
# inlining, the same with another build-id, and without debug info.
SYMPROG_BINS := $(B)/tests/progs/symprog $(B)/tests/progs/symprog-alt $(B)/tests/progs/symprog-g0
SYMPROG_FLAGS := -O2 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)
$(B)/tests/progs/symprog: tests/progs/symprog.cc
	@mkdir -p $(dir $@)
	$(CXX) $(SYMPROG_FLAGS) -g -o $@ $<
$(B)/tests/progs/symprog-alt: tests/progs/symprog.cc
	@mkdir -p $(dir $@)
	$(CXX) $(SYMPROG_FLAGS) -g -DSYMPROG_ALT -o $@ $<
$(B)/tests/progs/symprog-g0: tests/progs/symprog.cc
	@mkdir -p $(dir $@)
	$(CXX) $(SYMPROG_FLAGS) -g0 -o $@ $<
$(B)/tests/tools/atr-check.o: MOD_CFLAGS := -Itraces
$(B)/atr-check: $(B)/tests/tools/atr-check.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
# The Python frames of a trace's requests, as text, for tests/e2e/test_pystacks.sh.
$(B)/tests/tools/atr-pystacks.o: MOD_CFLAGS := -Itraces
$(B)/atr-pystacks: $(B)/tests/tools/atr-pystacks.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
# The tracer's table of CPython frame layouts, for tests/e2e/test_pylayout.sh.
$(B)/tests/tools/pylayout_print.o: MOD_CFLAGS := -Itracer
$(B)/pylayout-print: $(B)/tests/tools/pylayout_print.o
	$(CC) $(LDFLAGS_ALL) -o $@ $^
# Damage inside frames that zstd still accepts, for the reader's and the
# replay's corrupt-frame tests.
$(B)/tests/tools/atr-mutate.o: MOD_CFLAGS := -Itraces $(LIBZSTD_CFLAGS)
$(B)/atr-mutate: $(B)/tests/tools/atr-mutate.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
# A trace less its Nth arena_free record, for the replay's arena cross-check
# (tests/e2e/test_arena_xcheck.sh).
$(B)/tests/tools/atr-drop.o: MOD_CFLAGS := -Itraces
$(B)/atr-drop: $(B)/tests/tools/atr-drop.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
# tf_pyline() against the interpreters' own answers (tests/e2e/test_pylines.sh).
$(B)/tests/tools/atr-pylines.o: MOD_CFLAGS := -Itraces
$(B)/atr-pylines: $(B)/tests/tools/atr-pylines.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)

# The fuzz entry points, replayed over their seed corpus by a plain driver
# (any compiler), and built for libFuzzer when clang is there.
$(B)/tests/fuzz/raw_reader.o: tests/fuzz/fuzz_reader.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itraces -DFUZZ_RAW=1 -MMD -MP -c $< -o $@
$(B)/tests/fuzz/fuzz_reader.o: MOD_CFLAGS := -Itraces
$(B)/tests/fuzz-replay-reader: $(B)/tests/fuzz/fuzz_reader.o $(B)/tests/fuzz/standalone.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
$(B)/tests/fuzz-replay-raw: $(B)/tests/fuzz/raw_reader.o $(B)/tests/fuzz/standalone.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
$(B)/tests/fuzz/fuzz_replay.o: MOD_CFLAGS := -Itraces -Ireplay -Iallocator -Ireports
$(B)/tests/fuzz-replay-replay: $(B)/tests/fuzz/fuzz_replay.o $(B)/tests/fuzz/standalone.o \
		$(REP_SINK_OBJ) $(REP_TEXT_OBJ) $(B)/librp.a $(B)/libpym-checked.a $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS) $(REP_SINK_LIBS) $(RP_LIBS)
$(B)/tests/fuzz/fuzz_pyline.o: MOD_CFLAGS := -Itraces
$(B)/tests/fuzz-pyline: $(B)/tests/fuzz/fuzz_pyline.o $(B)/tests/fuzz/standalone.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^
$(B)/tests/fuzz/fuzz_workload.o: MOD_CFLAGS := -Itraces -Ireplay -Iallocator
$(B)/tests/fuzz-workload: $(B)/tests/fuzz/fuzz_workload.o $(B)/tests/fuzz/standalone.o \
		$(B)/replay/rp_workload.o $(B)/replay/rp_simulate.o $(B)/libpym.a $(B)/libgcm.a $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
$(B)/fuzz-corpus/.done: $(B)/atr-synth tests/fuzz/make-corpus.sh
	sh tests/fuzz/make-corpus.sh $(B) $(B)/fuzz-corpus
	@touch $@

FUZZ_REPLAY := $(B)/tests/fuzz-replay-reader $(B)/tests/fuzz-replay-raw $(B)/tests/fuzz-replay-replay \
	$(B)/tests/fuzz-workload $(B)/tests/fuzz-pyline
TEST_DEPS := all $(B)/atr-synth $(B)/atr-check $(B)/atr-mutate $(B)/atr-pylines $(B)/pylayout-print \
	$(B)/atr-pystacks $(B)/atr-drop \
	$(UNIT_BINS) $(FUZZ_REPLAY) \
	$(B)/fuzz-corpus/.done $(PROG_BINS) $(B)/tests/progs/cxx $(SYMPROG_BINS)
# Each suite is one command line whose output is TAP.
TEST_SUITES := $(UNIT_BINS) \
	"$(B)/tests/fuzz-replay-reader $(B)/fuzz-corpus/reader" \
	"$(B)/tests/fuzz-replay-raw $(B)/fuzz-corpus/raw tests/fuzz/regressions/raw" \
	"$(B)/tests/fuzz-replay-replay $(B)/fuzz-corpus/raw tests/fuzz/regressions/raw" \
	"$(B)/tests/fuzz-workload traces/workloads tests/fuzz/workloads" \
	"$(B)/tests/fuzz-pyline tests/fuzz/pylines" \
	$(E2E_SUITES:%="sh %")

test: $(TEST_DEPS)
	@ARENATRACE_SAN=$(SAN) sh tests/run.sh $(B) $(TEST_SUITES)

# Benchmarks: print ratios against anchors measured in the same run.
$(B)/tests/bench/bench_format.o: MOD_CFLAGS := -Itraces $(LIBZSTD_CFLAGS)
$(B)/tests/bench_format: $(B)/tests/bench/bench_format.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)

$(B)/tests/bench/churn: tests/bench/churn.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -o $@ $<

$(B)/tests/bench/xthreads: tests/bench/xthreads.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -o $@ $< -lpthread

$(B)/tests/bench/libforward.so: tests/bench/forward.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -fPIC -shared -Wall -Wextra -o $@ $<

$(B)/tests/bench/bench_pym.o: MOD_CFLAGS := -Iallocator
$(B)/tests/bench_pym: $(B)/tests/bench/bench_pym.o $(B)/libpym.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^

bench: all $(B)/atr-synth $(B)/tests/bench_format $(B)/tests/bench/churn $(B)/tests/bench_pym \
	$(B)/tests/bench/xthreads \
	$(B)/tests/bench/libforward.so
	@sh tests/bench/run.sh $(B)
	@echo "== pymalloc model alone"
	@$(B)/tests/bench_pym cpython-3.8
	@$(B)/tests/bench_pym cpython-3.12
	@bash tests/bench/tracer.sh $(B)

# libFuzzer (clang): both reader targets, a short run each from the seed
# corpus.  FUZZ_SECONDS per target; new inputs go to build/fuzz/corpus-*.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Itraces
build/fuzz/fuzz-reader: tests/fuzz/fuzz_reader.c $(TF_SRC) traces/tf.h traces/tf_internal.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_reader.c $(TF_SRC) $(LIBZSTD_LIBS)
build/fuzz/fuzz-raw: tests/fuzz/fuzz_reader.c $(TF_SRC) traces/tf.h traces/tf_internal.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZ_RAW=1 -o $@ tests/fuzz/fuzz_reader.c $(TF_SRC) $(LIBZSTD_LIBS)
build/fuzz/fuzz-replay: tests/fuzz/fuzz_replay.c $(RP_SRC) $(REP_SINK_SRC) $(REP_TEXT_SRC) \
		$(PYM_SRC) $(GCM_SRC) $(TF_SRC) $(COMMON_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DPYM_CHECK_EVERY_OP -Ireplay -Iallocator -Ireports -Icommon -o $@ \
		$(filter %.c,$^) $(LIBZSTD_LIBS) $(REP_SINK_LIBS)

build/fuzz/fuzz-workload: tests/fuzz/fuzz_workload.c replay/rp_workload.c replay/rp_simulate.c \
		replay/rp_workload.h $(PYM_SRC) $(GCM_SRC) $(TF_SRC) $(COMMON_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Ireplay -Iallocator -Icommon -o $@ $(filter %.c,$^) $(LIBZSTD_LIBS)

build/fuzz/fuzz-pyline: tests/fuzz/fuzz_pyline.c traces/tf_pyline.c traces/tf_pyline.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_pyline.c traces/tf_pyline.c

.PHONY: fuzz
fuzz: build/fuzz/fuzz-reader build/fuzz/fuzz-raw build/fuzz/fuzz-replay build/fuzz/fuzz-workload \
		build/fuzz/fuzz-pyline $(B)/fuzz-corpus/.done
	@for t in reader raw replay workload pyline; do \
		mkdir -p build/fuzz/corpus-$$t; \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
		seeds="$(B)/fuzz-corpus/$$([ $$t = replay ] && echo raw || echo $$t)"; \
		[ $$t = reader ] || seeds="$$seeds tests/fuzz/regressions/raw"; \
		[ $$t = workload ] && seeds="traces/workloads tests/fuzz/workloads"; \
		[ $$t = pyline ] && seeds="tests/fuzz/pylines"; \
		build/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
			-max_len=262144 -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$$t- \
			build/fuzz/corpus-$$t $$seeds >build/fuzz/$$t.log 2>&1; \
		rc=$$?; tail -n 12 build/fuzz/$$t.log; \
		if [ $$rc -ne 0 ]; then echo "fuzz: $$t failed (status $$rc), input in build/fuzz/crash-$$t-*"; exit 1; fi; \
	done

# Everything: the tests as they are, under ASan and UBSan, the fuzzers when
# clang is installed, and the long stress variants (ARENATRACE_LONG=1).
test-all:
	$(MAKE) test
	$(MAKE) SAN=address test
	$(MAKE) SAN=undefined test
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then $(MAKE) fuzz; \
	else echo "test-all: $(FUZZ_CC) not installed, fuzzing skipped (apt-get install clang)"; fi
	ARENATRACE_LONG=1 $(MAKE) test
