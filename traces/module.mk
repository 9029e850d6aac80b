# traces/: the trace format library (writer, reader, summary, Python lines);
# needs libzstd.
TF_SRC := traces/tf_codec.c traces/tf_error.c traces/tf_writer.c traces/tf_reader.c traces/tf_decode.c \
	traces/tf_summary.c traces/tf_link.c traces/tf_pyline.c
TF_OBJ := $(TF_SRC:%.c=$(B)/%.o)
$(TF_OBJ): MOD_CFLAGS := $(LIBZSTD_CFLAGS)

$(B)/libtf.a: $(TF_OBJ)
	$(AR) rcs $@ $^

# A synthetic workload written with the library, for the demo, benchmarks
# and tests until real traces come from the tracer.
$(B)/atr-synth: $(B)/traces/examples/synth.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
$(B)/traces/examples/synth.o: MOD_CFLAGS := -Itraces
