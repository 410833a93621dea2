# protostar — build, labs and checks. Plain GNU make; see DEVELOPERS.md for the conventions.
#
#   make                 the reference engine (build/protostar) and the tools
#   make run             generate text with the embedded tiny model
#   make test            everything against the solutions (= make check; what CI runs)
#   make check-lab N     your lab N (earlier labs: yours if they pass their tests, else the reference)
#   make asan            the checks under AddressSanitizer + UBSan
#   make bench | book | doctor | golden | model | tokenizer | skeletons

.DEFAULT_GOAL := all
BUILD ?= build
UNAME := $(shell uname -s)
CC ?= cc
CXX ?= c++

STB_DIR := $(firstword $(wildcard /usr/include/stb) $(BUILD)/deps)
BREW := $(if $(filter Darwin,$(UNAME)),$(shell brew --prefix 2>/dev/null))
OS_FLAGS := $(if $(filter Linux,$(UNAME)),-D_GNU_SOURCE,) $(if $(BREW),-I$(BREW)/include,)
OS_LIBS := $(if $(BREW),-L$(BREW)/lib,)
OPT ?= -O2
SAN ?=
CFLAGS := -std=c11 $(OPT) -g -Wall -Wextra -Werror -Ishared -Isolutions -I$(STB_DIR) $(OS_FLAGS) $(SAN)
# A half-written lab legitimately has unused parameters and helpers.
LAB_CFLAGS := $(CFLAGS) -Wno-unused-parameter -Wno-unused-variable -Wno-unused-function \
              -Wno-unused-but-set-variable -Wno-unused-const-variable
LDFLAGS += $(SAN) $(OS_LIBS)
LDLIBS := -lcjson -lm -lpthread

LABS := m0-tokenizer m1-weights m2-forward m3-sampling m4-kv-cache m5-quantization m6-metal m7-gpu-engine
DEPS_OK := $(BUILD)/.deps-ok

# Which lab each solution file belongs to: its first line, `// lab: NAME`.
SOL_SRCS := $(sort $(wildcard solutions/*.c))
SOL_TAGS := $(if $(SOL_SRCS),$(shell awk 'FNR==1 { print $$3 ":" FILENAME }' $(SOL_SRCS)))
srcs_of = $(patsubst $(1):%,%,$(filter $(1):%,$(SOL_TAGS)))
ref_obj = $(patsubst solutions/%.c,$(BUILD)/ref/%.o,$(1))

SHARED_SRCS := shared/harness.c shared/golden.c shared/lab_todo.c shared/mapfile.c
SHARED_OBJS := $(patsubst shared/%.c,$(BUILD)/shared/%.o,$(SHARED_SRCS)) $(BUILD)/shared/stb_ds_impl.o

# MINE lists the labs whose code comes from labs/ (the learner's) instead of solutions/.
# A lab's files with TODO regions live in labs/LAB/; its other files always come from solutions/.
MINE ?=
lab_files = $(notdir $(wildcard labs/$(1)/*.c))
objs_of = $(if $(filter $(1),$(MINE)),\
    $(patsubst %.c,$(BUILD)/labs/$(1)/%.o,$(call lab_files,$(1))) \
    $(call ref_obj,$(filter-out $(addprefix solutions/,$(call lab_files,$(1))),$(call srcs_of,$(1)))),\
    $(call ref_obj,$(call srcs_of,$(1))))
ENGINE_OBJS = $(foreach L,$(LABS),$(call objs_of,$(L)))
CLI_OBJS := $(call ref_obj,$(call srcs_of,none))
MTL_OBJS ?=
MTL_LDLIBS ?=
MTL_KERNEL_OBJS ?=   # shared/msl/msl.mk: the kernels (shaders/*.metal) on the emulator

MSL_BUILD := $(BUILD)/msl
-include shared/msl/msl.mk

empty :=
space := $(empty) $(empty)
TEST_KEY = $(if $(MINE),$(subst $(space),+,$(sort $(MINE))),ref)
# LAB=NAME limits the test binaries to one lab's (LAB=tools: the tools' own tests).
LAB ?=
TEST_SRCS := $(if $(LAB),$(wildcard labs/$(LAB)/tests/test_*.c tools/tests/test_*.c),\
             $(wildcard labs/*/tests/test_*.c) $(wildcard tools/tests/test_*.c))
TEST_SRCS := $(if $(filter tools,$(LAB)),$(filter tools/%,$(TEST_SRCS)),\
             $(if $(LAB),$(filter labs/%,$(TEST_SRCS)),$(TEST_SRCS)))
TEST_BINS = $(patsubst %.c,$(BUILD)/t/$(TEST_KEY)/%,$(TEST_SRCS))
BUILD_TOOLS := mkskel mkbook
TOOL_SRCS := $(filter-out $(BUILD_TOOLS:%=tools/%.c),$(wildcard tools/*.c))
TOOL_BINS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS)) $(BUILD_TOOLS:%=$(BUILD)/tools/%)

.PHONY: all run test check check-lab asan bench book doctor golden model tokenizer skeletons \
        tests clean deps
all: $(BUILD)/protostar $(TOOL_BINS) tests

deps: $(DEPS_OK)
$(DEPS_OK): tools/setup.sh
	@sh tools/setup.sh
	@mkdir -p $(@D) && touch $@

$(BUILD)/ref/%.o: solutions/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/labs/%.o: labs/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(LAB_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/shared/stb_ds_impl.o: shared/stb_ds_impl.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(OPT) -w -I$(STB_DIR) $(SAN) -c $< -o $@
$(BUILD)/shared/%.o: shared/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/tobj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/protostar: $(CLI_OBJS) $(ENGINE_OBJS) $(SHARED_OBJS) $(MTL_OBJS) $(MTL_KERNEL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(MTL_LDLIBS) $(LDLIBS)
# The build's own tools (skeletons, book) need nothing from the engine.
$(BUILD_TOOLS:%=$(BUILD)/tools/%): $(BUILD)/tools/%: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<
$(BUILD)/tools/%: $(BUILD)/tobj/tools/%.o $(ENGINE_OBJS) $(SHARED_OBJS) $(MTL_OBJS) $(MTL_KERNEL_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(MTL_LDLIBS) $(LDLIBS)

define test_rule
$(BUILD)/t/$(TEST_KEY)/$(1): $(BUILD)/tobj/$(1).o $(ENGINE_OBJS) $(SHARED_OBJS) $(MTL_OBJS) $(MTL_KERNEL_OBJS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(MTL_LDLIBS) $$(LDLIBS)
endef
$(foreach t,$(patsubst %.c,%,$(TEST_SRCS)),$(eval $(call test_rule,$(t))))

# Builds the test binaries of every lab for the current MINE and prints their paths.
tests: $(TEST_BINS)
	@mkdir -p $(BUILD)/t/$(TEST_KEY)
	@printf '%s\n' $(TEST_BINS) > $(BUILD)/t/$(TEST_KEY)/list$(if $(LAB),-$(LAB))

skeletons: $(BUILD)/tools/mkskel
	$(BUILD)/tools/mkskel solutions labs

test: check
check: all
	@BUILD=$(BUILD) MAKE="$(MAKE)" sh tools/check.sh

ifeq ($(firstword $(MAKECMDGOALS)),check-lab)
LAB_N := $(word 2,$(MAKECMDGOALS))
$(eval $(LAB_N):;@:)
endif
check-lab: $(BUILD)/tools/mkskel | $(DEPS_OK)
	@BUILD=$(BUILD) MAKE="$(MAKE)" REF="$(REF)" ONLY="$(ONLY)" sh tools/check-lab.sh "$(LAB_N)"

asan:
	TIMEOUT_MULT=5 $(MAKE) --no-print-directory check BUILD=build/asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

run: $(BUILD)/protostar
	$(BUILD)/protostar generate -m models/tiny -p "In the beginning" -n 64

model:
	bash tools/fetch_model.sh
tokenizer:
	bash tools/fetch_tokenizer.sh
doctor:
	@sh tools/doctor.sh
book: $(BUILD)/tools/mkbook
	@command -v cmark-gfm >/dev/null || sh tools/setup.sh --book
	$(BUILD)/tools/mkbook book $(BUILD)/book
bench: all
	@BUILD=$(BUILD) sh tools/bench.sh
golden:
	@cat golden/README.md

# ---- synthetic models (tools/synth.c, lab M1/M2 tests): make build/models/PRESET/model.safetensors ----
SYNTH_SMALL := tiny-mha-f32 tiny-gqa2-bf16 small-gqa4-bf16 small-tiedcopy-f32
build/models/%/model.safetensors: | $(BUILD)/tools/synth
	$(BUILD)/tools/synth $* $(@D)
synth: $(addprefix build/models/,$(addsuffix /model.safetensors,$(SYNTH_SMALL)))
.PHONY: synth
# ---- end synthetic models ----

# ---- check-arm64: the arm64-only code (fiber switch, NEON kernels) under qemu-user; not in make test ----
check-arm64:
	@MAKE="$(MAKE)" sh tools/check-arm64.sh $(ARGS)
.PHONY: check-arm64
# ---- end check-arm64 ----

clean:
	rm -rf $(BUILD)

# Keep intermediate objects (make would delete them after linking, and print that after the
# closing "N passed, N failed" line).
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
