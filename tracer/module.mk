# tracer/: libarenatrace.so, the LD_PRELOAD recorder (links the trace
# writer and libunwind; exports only the interposed functions and the
# arenatrace_* API), arenatrace-drain, the process beside each traced one
# that compresses and writes its trace (installed next to the library).
# The `record` launcher is the command line's (cli/cli_record.c).
TR_SRC := tracer/tr_core.c tracer/tr_env.c tracer/tr_region.c tracer/tr_stack.c \
	tracer/tr_modules.c tracer/tr_modinfo.c tracer/tr_python.c tracer/tr_pystack.c \
	tracer/tr_preload.c tracer/tr_ucache.c
TR_OBJ := $(TR_SRC:%.c=$(B)/%.o)
# the writer, built again with hidden symbols for the library
TR_TF_OBJ := $(patsubst traces/%.c,$(B)/tracer/tf/%.o,traces/tf_codec.c traces/tf_error.c \
	traces/tf_writer.c traces/tf_link.c)
# and the hash table, likewise
TR_COMMON_OBJ := $(B)/tracer/common/u64map.o
TR_CFLAGS := -Itraces -Icommon -fvisibility=hidden $(LIBZSTD_CFLAGS) $(LIBUNWIND_CFLAGS)
$(TR_OBJ): MOD_CFLAGS := $(TR_CFLAGS)
$(B)/tracer/tf/%.o: traces/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fvisibility=hidden $(LIBZSTD_CFLAGS) -MMD -MP -c $< -o $@

$(B)/tracer/common/%.o: common/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fvisibility=hidden -MMD -MP -c $< -o $@

$(B)/libarenatrace.so: $(TR_OBJ) $(TR_TF_OBJ) $(TR_COMMON_OBJ)
	$(CC) -shared $(LDFLAGS_ALL) -Wl,-z,defs -o $@ $^ $(LIBUNWIND_LIBS) $(LIBZSTD_LIBS) -ldl -lpthread

$(B)/tracer/tr_drain.o: MOD_CFLAGS := -Itraces $(LIBZSTD_CFLAGS)
$(B)/arenatrace-drain: $(B)/tracer/tr_drain.o $(B)/libtf.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
