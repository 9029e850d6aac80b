# tests/: cmocka unit tests, end-to-end suites, fuzz targets, benchmarks.

UNIT_TESTS := test_tf_format test_tf_damage test_tf_compat
UNIT_BINS := $(UNIT_TESTS:%=$(B)/tests/%)
TESTUTIL_OBJ := $(B)/tests/unit/tf_testutil.o
$(B)/tests/unit/%.o: MOD_CFLAGS := -Itraces $(CMOCKA_CFLAGS) $(LIBZSTD_CFLAGS)

$(B)/tests/%: $(B)/tests/unit/%.o $(TESTUTIL_OBJ) $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CMOCKA_LIBS) $(LIBZSTD_LIBS)

E2E_SUITES := $(wildcard tests/e2e/test_*.sh)

# The fuzz entry points, replayed over their seed corpus by a plain driver
# (any compiler), and built for libFuzzer when clang is there.
$(B)/tests/fuzz/raw_reader.o: tests/fuzz/fuzz_reader.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itraces -DFUZZ_RAW=1 -c $< -o $@
$(B)/tests/fuzz/fuzz_reader.o: MOD_CFLAGS := -Itraces
$(B)/tests/fuzz-replay-reader: $(B)/tests/fuzz/fuzz_reader.o $(B)/tests/fuzz/standalone.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
$(B)/tests/fuzz-replay-raw: $(B)/tests/fuzz/raw_reader.o $(B)/tests/fuzz/standalone.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
$(B)/fuzz-corpus/.done: $(B)/atr-synth tests/fuzz/make-corpus.sh
	sh tests/fuzz/make-corpus.sh $(B) $(B)/fuzz-corpus
	@touch $@

FUZZ_REPLAY := $(B)/tests/fuzz-replay-reader $(B)/tests/fuzz-replay-raw
TEST_DEPS := all $(B)/atr-synth $(UNIT_BINS) $(FUZZ_REPLAY) $(B)/fuzz-corpus/.done
# Each suite is one command line whose output is TAP.
TEST_SUITES := $(UNIT_BINS) \
	"$(B)/tests/fuzz-replay-reader $(B)/fuzz-corpus/reader" \
	"$(B)/tests/fuzz-replay-raw $(B)/fuzz-corpus/raw" \
	$(E2E_SUITES:%="sh %")

test: $(TEST_DEPS)
	@sh tests/run.sh $(B) $(TEST_SUITES)

# Benchmarks: print ratios against anchors measured in the same run.
$(B)/tests/bench/bench_format.o: MOD_CFLAGS := -Itraces $(LIBZSTD_CFLAGS)
$(B)/tests/bench_format: $(B)/tests/bench/bench_format.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)

bench: all $(B)/atr-synth $(B)/tests/bench_format
	@sh tests/bench/run.sh $(B)
