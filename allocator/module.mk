# allocator/: the pymalloc model; depends on nothing.
PYM_SRC := allocator/pym.c
PYM_OBJ := $(PYM_SRC:%.c=$(B)/%.o)

$(B)/libpym.a: $(PYM_OBJ)
	$(AR) rcs $@ $^
