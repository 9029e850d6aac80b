# reports/: symbolization (libdw, and libstdc++'s demangler) and the
# replay's symbolized outputs; depends on replay's result types only.
# The symbolizer (REP_SYM_*), the file sinks (REP_SINK_*) and the stream
# sinks (REP_TEXT_*, rep_text.h) are named apart, so a program or test
# links only what it uses: only the symbolizer needs libdw and libstdc++.
# The symbolizer's tables are u64maps: whatever links REP_SYM_OBJ links
# $(COMMON_OBJ) too (or librp.a, which holds it).
REP_SYM_SRC := reports/rep_sym.c reports/rep_sym_map.c reports/rep_sym_dwarf.c reports/rep_sym_py.c
REP_SINK_SRC := reports/rep_util.c reports/rep_view.c reports/rep_paths.c reports/rep_csv.c reports/rep_html.c reports/rep_html_chart.c \
	reports/rep_dir.c
REP_TEXT_SRC := reports/rep_summary.c reports/rep_json.c
REP_SRC := $(REP_SYM_SRC) reports/rep_stacks.c $(REP_SINK_SRC) $(REP_TEXT_SRC)
REP_SYM_OBJ := $(REP_SYM_SRC:%.c=$(B)/%.o)
REP_SINK_OBJ := $(REP_SINK_SRC:%.c=$(B)/%.o)
REP_TEXT_OBJ := $(REP_TEXT_SRC:%.c=$(B)/%.o)
REP_OBJ := $(REP_SRC:%.c=$(B)/%.o)
REP_SYM_LIBS := $(LIBDW_LIBS) -lstdc++
REP_SINK_LIBS := -lm
REP_LIBS := $(REP_SYM_LIBS) $(REP_SINK_LIBS)
$(REP_OBJ): MOD_CFLAGS := -Itraces -Ireplay -Icommon $(LIBDW_CFLAGS)
