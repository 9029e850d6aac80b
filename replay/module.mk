# replay/: the arenatrace command line (info, dump, replay, report, simulate);
# the CLI links the reports (symbolized stacks, CSV, HTML).
RP_SRC := replay/rp_main.c replay/rp_util.c replay/rp_info.c replay/rp_dump.c replay/rp_replay.c \
	replay/rp_cmd_replay.c replay/rp_system.c replay/rp_workload.c replay/rp_simulate.c \
	replay/rp_sim_cli.c
RP_OBJ := $(RP_SRC:%.c=$(B)/%.o)
$(RP_OBJ): MOD_CFLAGS := -Itraces -Itracer -Iallocator -Ireplay -Ireports

$(B)/arenatrace: $(RP_OBJ) $(REP_OBJ) $(B)/tracer/tr_record.o $(B)/libtf.a $(B)/libpym.a \
		$(B)/libgcm.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS) $(REP_LIBS)
