# common/: what every part shares and that depends on nothing: the hash
# table of 64-bit keys (u64map.h).  Each part that uses it links the
# object itself (the tracer builds its own, with hidden symbols).
COMMON_SRC := common/u64map.c
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
