# arenatrace - one plain GNU Makefile; each folder adds its part in module.mk.
#
#   make            build/arenatrace (CLI), build/libarenatrace.so (tracer) and
#                   build/arenatrace-drain (writes the traces beside it)
#   make test       unit and end-to-end tests, ends with "N passed, N failed"
#   make test-all   test + ASan and UBSan runs + fuzzing + long stress
#   make demo       build, then run the main job on a bundled workload
#   make bench      benchmarks (tests/bench/), ratios against same-run anchors
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
# Knobs: DEBUG=1, SAN=address|undefined, WERROR=1 (CI), CC=...

VERSION := 0.1.0
PREFIX ?= /usr/local
CC ?= cc
SAN ?=
DEBUG ?=
WERROR ?=

ifneq ($(SAN),)
B := build/$(SAN)
else
B := build
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(DEBUG),1)
OPT := -O0 -g3
else
OPT := -O2 -g
endif
SANFLAGS :=
ifeq ($(SAN),address)
SANFLAGS := -fsanitize=address -fno-omit-frame-pointer
else ifeq ($(SAN),undefined)
SANFLAGS := -fsanitize=undefined -fno-sanitize-recover=all
else ifneq ($(SAN),)
$(error SAN must be address or undefined)
endif

CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -fPIC $(OPT) $(WARN) $(SANFLAGS) \
	-DARENATRACE_VERSION='"$(VERSION)"' $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

.PHONY: all test test-all demo bench install clean deps
.SECONDARY:
all:

# Library flags come from mk/deps.sh, which installs what is missing.
NODEPS_GOALS := clean
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
include build/deps.mk
endif
build/deps.mk: mk/deps.sh
	@mkdir -p build
	@sh mk/deps.sh > $@.tmp && mv $@.tmp $@

deps: build/deps.mk

include common/module.mk
include traces/module.mk
include allocator/module.mk
include tracer/module.mk
include reports/module.mk
include replay/module.mk
include cli/module.mk
include tests/module.mk

all: $(B)/arenatrace $(B)/libarenatrace.so $(B)/arenatrace-drain

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(MOD_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(B) -name '*.d' 2>/dev/null)

demo: all $(B)/atr-synth $(B)/tests/bench/churn
	@sh mk/demo.sh $(B)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/arenatrace
	install -m 755 $(B)/arenatrace $(DESTDIR)$(PREFIX)/bin/arenatrace
	install -m 755 $(B)/libarenatrace.so $(DESTDIR)$(PREFIX)/lib/arenatrace/libarenatrace.so
	install -m 755 $(B)/arenatrace-drain $(DESTDIR)$(PREFIX)/lib/arenatrace/arenatrace-drain

clean:
	rm -rf build
