# cli/: the `arenatrace` command line (main, record, info, dump, replay,
# report, simulate): argument parsing, error lines and exit statuses over
# the libraries of reports/, replay/, allocator/ and traces/.
CLI_SRC := cli/cli_main.c cli/cli_util.c cli/cli_info.c cli/cli_dump.c cli/cli_replay.c \
	cli/cli_simulate.c cli/cli_record.c cli/cli_moments.c
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
$(CLI_OBJ): MOD_CFLAGS := -Icli -Itraces -Iallocator -Ireplay -Ireports

$(B)/arenatrace: $(CLI_OBJ) $(REP_OBJ) $(B)/librp.a $(B)/libtf.a $(B)/libpym.a $(B)/libgcm.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBZSTD_LIBS) $(REP_LIBS) $(RP_LIBS)
