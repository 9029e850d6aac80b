# reports/: symbolization (libdw, and libstdc++'s demangler) and the
# replay's symbolized outputs; depends on replay's result types only.
REP_SRC := reports/rep_sym.c reports/rep_stacks.c reports/rep_util.c reports/rep_csv.c \
	reports/rep_html.c reports/rep_dir.c \
	reports/rep_summary.c reports/rep_json.c
REP_OBJ := $(REP_SRC:%.c=$(B)/%.o)
REP_LIBS := $(LIBDW_LIBS) -lstdc++ -lm
$(REP_OBJ): MOD_CFLAGS := -Itraces -Ireplay $(LIBDW_CFLAGS)
