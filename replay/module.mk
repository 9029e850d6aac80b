# replay/: the arenatrace command line (info, dump; replay later).
RP_SRC := replay/rp_main.c replay/rp_util.c replay/rp_info.c replay/rp_dump.c replay/rp_replay.c \
	replay/rp_workload.c replay/rp_simulate.c replay/rp_sim_cli.c
RP_OBJ := $(RP_SRC:%.c=$(B)/%.o)
$(RP_OBJ): MOD_CFLAGS := -Itraces -Itracer -Iallocator

$(B)/arenatrace: $(RP_OBJ) $(B)/tracer/tr_record.o $(B)/libtf.a $(B)/libpym.a $(B)/libgcm.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS)
