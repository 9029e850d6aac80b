# reports/: symbolization (libdw, and libstdc++'s demangler) and the
# replay's symbolized outputs; depends on replay's result types only.
REP_SRC := reports/rep_sym.c reports/rep_stacks.c
REP_OBJ := $(REP_SRC:%.c=$(B)/%.o)
REP_LIBS := $(LIBDW_LIBS) -lstdc++
$(REP_OBJ): MOD_CFLAGS := -Itraces -Ireplay $(LIBDW_CFLAGS)
