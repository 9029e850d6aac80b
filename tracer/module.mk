# tracer/: libarenatrace.so, the LD_PRELOAD recorder; links the writer.
TR_SRC := tracer/tr_lib.c
TR_OBJ := $(TR_SRC:%.c=$(B)/%.o)
TR_TF_OBJ := $(B)/traces/tf_codec.o $(B)/traces/tf_error.o $(B)/traces/tf_writer.o
$(TR_OBJ): MOD_CFLAGS := -Itraces $(LIBZSTD_CFLAGS)

$(B)/libarenatrace.so: $(TR_OBJ) $(TR_TF_OBJ)
	$(CC) -shared $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
