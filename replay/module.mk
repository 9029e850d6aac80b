# replay/: the replay engine (a trace's requests through pymalloc models,
# and --system's real allocator) and the workload simulator; a library
# below the command line and the reports.
RP_SRC := replay/rp_engine.c replay/rp_lifecycle.c replay/rp_measure.c replay/rp_arenas.c replay/rp_xcheck.c replay/rp_heaps.c \
	replay/rp_moments.c replay/rp_lead.c \
	replay/rp_pinning.c replay/rp_gc.c replay/rp_system.c replay/rp_workload.c replay/rp_simulate.c
RP_OBJ := $(RP_SRC:%.c=$(B)/%.o)
$(RP_OBJ): MOD_CFLAGS := -Itraces -Iallocator -Ireplay -Icommon

# what a program linking librp.a links too: replay and report run a leading
# engine on a second thread (rp_lead.c)
RP_LIBS := -pthread

$(B)/librp.a: $(RP_OBJ) $(COMMON_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
