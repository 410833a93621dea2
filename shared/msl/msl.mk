# shared/msl/msl.mk: the MSL CPU emulator (included by the top-level Makefile; also usable alone:
# `make -f shared/msl/msl.mk emu-test`).
#
# How a .metal file reaches the emulator (all at build time, nothing at run time):
#   shaders/foo.metal --c++ -E--> build/msl/shaders/foo.i --tools/mslpp--> build/msl/shaders/foo.cpp
#                     --c++--> build/msl/shaders/foo.o
# foo.o registers its kernels under the name "shaders/foo.metal" before main() runs, so a
# program linked with $(MTL_OBJS) and foo.o finds them with
#   mtl_library_new(ctx, "shaders/foo.metal");  mtl_pipeline_new(lib, "kernel_name");
# A program that links .metal objects must be linked with $(MTL_LDLIBS).
#
# Provides: MTL_OBJS MTL_LDLIBS MSL_SHADER_OBJS, the rule build/msl/%.o <- %.metal, and the
# targets emu-test, emu-check-clang, bench-emu, mslpp.

CC ?= cc
CXX ?= c++
CFLAGS ?= -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Ishared
MSL_BUILD ?= build/msl
# The target's CPU, from the compiler (not uname), so that a cross build (tools/check-arm64.sh)
# gets no x86 flags.
MSL_ARCH ?= $(firstword $(subst -, ,$(shell $(CXX) -dumpmachine)))
MSL_F16C := $(if $(filter x86_64,$(MSL_ARCH)),-mf16c)
# Generated shader C++: warnings that Metal's compiler would not raise are off; no exceptions,
# RTTI or thread-safe statics, so the objects link with plain $(CC) (no libstdc++); no strict
# aliasing, because shaders reinterpret buffers freely (a half buffer read as half4). Like
# Metal's default fast math, sums may be reordered (so loops vectorize), but NaN and infinity
# keep working: the NaN poison in threadgroup memory must stay visible.
MSL_CXXFLAGS ?= -std=c++17 -O2 -g -Wall -Wextra -Werror -Wno-unused-function -Wno-unused-parameter \
  -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-local-typedefs -fno-exceptions \
  -fno-rtti -fno-threadsafe-statics -fno-strict-aliasing -fassociative-math -fno-signed-zeros \
  -fno-trapping-math $(MSL_F16C) -Ishared/msl/include -Ishared/msl
# Sanitizers requested in CFLAGS (make asan) instrument the shaders too: overflows are reported
# at the .metal line.
MSL_CXXFLAGS += $(if $(MTL_EMULATOR),-DMTL_EMULATOR)
MSL_CXXFLAGS += $(filter -fsanitize=% -fno-sanitize=% -fno-sanitize-recover%,$(CFLAGS))
# -I. : a .metal file includes the headers it shares with C (solutions/m5-quantization/
# quant_blocks.h, solutions/m6-metal/kernel_params.h) by their path from the repository root, the
# way the Mac's loader finds them too (shared/mtl_macos.c, mtl_library_new).
MSL_PPFLAGS := -E -x c++ -nostdinc -Ishared/msl/pp -I. -D__METAL_VERSION__=310 -DMSL_EMULATOR=1
MSL_RT_CFLAGS = $(CFLAGS) -g -Ishared $(if $(MTL_EMULATOR),-DMTL_EMULATOR)
MTL_LDLIBS := -lpthread -lm

MSL_RT := msl_rt msl_pool msl_fiber msl_check msl_devcheck
MSL_EMU_OBJS := $(MSL_RT:%=$(MSL_BUILD)/rt/%.o) $(MSL_BUILD)/rt/mtl_emu.o
# On a Mac the real GPU backend (set MTL_EMULATOR=1 to use the emulator there too).
ifeq ($(shell uname -s)$(MTL_EMULATOR),Darwin)
MTL_OBJS := $(MSL_BUILD)/rt/mtl_macos.o
MTL_LDLIBS := -framework Metal -framework Foundation -framework CoreGraphics -lobjc
else
MTL_OBJS := $(MSL_EMU_OBJS)
endif
# MSL_CHECKED=1 links the checking build of the kernels (race and barrier-divergence reports).
MSL_OBJ_SUFFIX := $(if $(MSL_CHECKED),.check.o,.o)
MSL_SHADER_OBJS := $(patsubst %.metal,$(MSL_BUILD)/%$(MSL_OBJ_SUFFIX),$(wildcard shaders/*.metal))
# Lab M6: when MINE names m6-metal, the learner's kernels (labs/m6-metal/shaders/*.metal) are
# linked too. They register under their own path, and the lab's host code loads them from there
# (solutions/m6-metal/gpu_ops.c, gpu_kernel_dir()), so `make check-lab 6` runs the learner's kernels.
MSL_LAB_SHADER_OBJS = $(if $(filter m6-metal,$(MINE)),\
    $(patsubst %.metal,$(MSL_BUILD)/%$(MSL_OBJ_SUFFIX),$(wildcard labs/m6-metal/shaders/*.metal)))
# What a program links to find its kernels: the emulator's objects, or nothing with real Metal
# (which compiles the .metal sources at run time).
MTL_KERNEL_OBJS = $(if $(filter $(MSL_EMU_OBJS),$(MTL_OBJS)),$(MSL_SHADER_OBJS) $(MSL_LAB_SHADER_OBJS))
MSL_HEADERS := $(wildcard shared/msl/*.h shared/msl/include/*) shared/mtl.h
MSLPP := $(MSL_BUILD)/mslpp
# mslpp runs at build time: a cross build names the build machine's compiler here.
MSL_HOST_CC ?= $(CC)

$(MSL_BUILD)/rt/%.o: shared/msl/%.c $(MSL_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(MSL_RT_CFLAGS) -c $< -o $@
$(MSL_BUILD)/rt/%.o: shared/%.c $(MSL_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(MSL_RT_CFLAGS) -c $< -o $@
$(MSLPP): tools/mslpp.c tools/mslpp_emit.c tools/mslpp.h
	@mkdir -p $(@D)
	$(MSL_HOST_CC) $(CFLAGS) $(filter %.c,$^) -o $@
mslpp: $(MSLPP)
# The strict front-end runs first on every .metal file: it refuses, citing the MSL spec, what
# Apple's compiler refuses and a C++ compiler would accept (tools/mslstrict.c).
MSLSTRICT := $(MSL_BUILD)/mslstrict
$(MSLSTRICT): tools/mslstrict.c tools/mslstrict_rules.c tools/mslstrict.h
	@mkdir -p $(@D)
	$(MSL_HOST_CC) $(CFLAGS) $(filter %.c,$^) -o $@

# .metal -> preprocessed -> C++ (normal and checking build) -> object
$(MSL_BUILD)/%.i: %.metal
	@mkdir -p $(@D)
	$(CXX) $(MSL_PPFLAGS) -MMD -MP -MT $@ -MF $@.d $< -o $@
$(MSL_BUILD)/%.cpp: $(MSL_BUILD)/%.i $(MSLPP) $(MSLSTRICT)
	$(MSLSTRICT) $*.metal < $< && $(MSLPP) $*.metal < $< > $@.tmp && mv $@.tmp $@
$(MSL_BUILD)/%.check.cpp: $(MSL_BUILD)/%.i $(MSLPP) $(MSLSTRICT)
	$(MSLSTRICT) $*.metal < $< && $(MSLPP) -check $*.metal < $< > $@.tmp && mv $@.tmp $@
$(MSL_BUILD)/%.o: $(MSL_BUILD)/%.cpp $(MSL_HEADERS)
	$(CXX) $(MSL_CXXFLAGS) -c $< -o $@
.PRECIOUS: $(MSL_BUILD)/%.i $(MSL_BUILD)/%.cpp $(MSL_BUILD)/%.check.cpp
-include $(wildcard $(MSL_BUILD)/shaders/*.i.d $(MSL_BUILD)/shared/msl/tests/*.i.d \
  $(MSL_BUILD)/labs/m6-metal/shaders/*.i.d)

# ---- the emulator's own suite: normal build, then the checking build (race detector) ----
MSL_TEST_METAL := $(wildcard shared/msl/tests/*.metal)
MSL_TEST_OBJS := $(MSL_TEST_METAL:%.metal=$(MSL_BUILD)/%.o)
MSL_TEST_CHECK_OBJS := $(MSL_TEST_METAL:%.metal=$(MSL_BUILD)/%.check.o)
MSL_HARNESS := $(MSL_BUILD)/rt/harness.o $(MSL_BUILD)/rt/lab_todo.o
MSL_TEST_SRCS := $(wildcard shared/msl/tests/*.c)

$(MSL_BUILD)/test_emu: $(MSL_TEST_SRCS) $(MSL_TEST_OBJS) $(MSL_EMU_OBJS) $(MSL_HARNESS)
	$(CC) $(MSL_RT_CFLAGS) $(MSL_TEST_SRCS) $(MSL_TEST_OBJS) $(MSL_EMU_OBJS) $(MSL_HARNESS) \
	  -o $@ -lpthread -lm
$(MSL_BUILD)/test_emu_check: $(MSL_TEST_SRCS) $(MSL_TEST_CHECK_OBJS) $(MSL_EMU_OBJS) $(MSL_HARNESS)
	$(CC) $(MSL_RT_CFLAGS) -DMSL_CHECKING $(MSL_TEST_SRCS) $(MSL_TEST_CHECK_OBJS) $(MSL_EMU_OBJS) \
	  $(MSL_HARNESS) -o $@ -lpthread -lm

# The macOS backend cannot run here; it must at least compile, against the runtime prototypes
# in shared/mtl_objc_stub.h (its selectors are checked by the macos.selectors test).
MSL_MACOS_CHECK = $(CC) $(CFLAGS) -DMTL_OBJC_STUB -Ishared -c shared/mtl_macos.c -o $(MSL_BUILD)/mtl_macos_check.o

emu-test: $(MSL_BUILD)/test_emu $(MSL_BUILD)/test_emu_check
	@st=0; $(MSL_BUILD)/test_emu || st=1; $(MSL_BUILD)/test_emu_check || st=1; \
	if $(MSL_MACOS_CHECK); then r=PASS; else r=FAIL; st=1; fi; \
	printf 'emu %-32s %s\n' macos.compile_check $$r; \
	if [ -n "$$PS_RESULTS" ]; then echo "$$r emu macos.compile_check" >> "$$PS_RESULTS"; fi; \
	exit $$st

# The same suite built with clang (another compiler, and the software half of clang < 15).
# Its objects live under $(MSL_BUILD), so `make asan` (other flags) never reuses them. Under
# UBSan, clang's -fsanitize=function needs the C++ runtime, which a C link does not pull in.
MSL_CLANG_CFLAGS = $(CFLAGS) $(if $(filter -fsanitize=%,$(CFLAGS)),-fno-sanitize=function)
emu-check-clang:
	@if command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory -f shared/msl/msl.mk MSL_BUILD=$(MSL_BUILD)/clang CC=clang \
	    CXX=clang++ CFLAGS="$(MSL_CLANG_CFLAGS)" emu-test; \
	else \
	  echo "FAIL emu clang (clang is not installed; tools/setup.sh installs it)"; \
	  if [ -n "$$PS_RESULTS" ]; then echo "FAIL emu clang" >> "$$PS_RESULTS"; fi; \
	fi

# ---- the strict front-end's rules and the numerics (shared/msl/tests/strict/, run by make test) ----
# contract: mtl.h's encoding contracts on this platform's backend (the emulator, or Metal on a Mac).
MSL_CONTRACT := $(MSL_BUILD)/strict/contract
$(MSL_CONTRACT): shared/msl/tests/strict/contract.c $(MTL_OBJS) shared/mtl.h shared/mtl_contract.h
	@mkdir -p $(@D)
	$(CC) $(MSL_RT_CFLAGS) $< $(MTL_OBJS) -o $@ $(MTL_LDLIBS)
strict-test: $(MSLSTRICT) $(MSLPP) $(MSL_CONTRACT)
	@MSLSTRICT=$(MSLSTRICT) MSLPP=$(MSLPP) CXX="$(CXX)" MSL_CXXFLAGS="$(MSL_CXXFLAGS)" \
	  MSL_PPFLAGS="$(MSL_PPFLAGS)" CONTRACT=$(MSL_CONTRACT) OUT=$(MSL_BUILD)/strict \
	  sh shared/msl/tests/strict/run.sh

# ---- benchmarks: Q8_0 matvec and attention on the emulator ----
# tools/bench_emu.c is one of the tools (make bench runs every $(BUILD)/tools/bench_*): linked with
# the engine like the others, and with the bench's own .metal files, which its kernels come from.
MSL_BENCH_METAL := $(wildcard shared/msl/bench/*.metal)
$(BUILD)/tools/bench_emu: $(MSL_BENCH_METAL:%.metal=$(MSL_BUILD)/%.o)
bench-emu: $(BUILD)/tools/bench_emu
	$(BUILD)/tools/bench_emu

.PHONY: emu-test emu-check-clang bench-emu mslpp strict-test
