# allocator/: the pymalloc model and the refcount/GC model; depends on
# nothing but the hash table of common/, which libpym.a carries.
PYM_SRC := allocator/pym.c allocator/pym_stats.c allocator/pym_profile.c allocator/pym_check.c
PYM_OBJ := $(PYM_SRC:%.c=$(B)/%.o)
GCM_SRC := allocator/gcm.c
GCM_OBJ := $(GCM_SRC:%.c=$(B)/%.o)

$(PYM_OBJ): MOD_CFLAGS := -Icommon
$(B)/libpym.a: $(PYM_OBJ) $(COMMON_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
$(B)/libgcm.a: $(GCM_OBJ)
	$(AR) rcs $@ $^

# The same library with pym_check() after every operation (pym.c), for
# the replay's tests and fuzzer: a broken invariant aborts there.
PYM_CHECKED_OBJ := $(PYM_SRC:allocator/%.c=$(B)/allocator/checked/%.o)
$(B)/allocator/checked/%.o: allocator/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icommon -DPYM_CHECK_EVERY_OP -MMD -MP -c $< -o $@
$(B)/libpym-checked.a: $(PYM_CHECKED_OBJ) $(COMMON_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
