# Fuzzing (tools/fuzz/; DEVELOPERS.md, "Fuzzing"). Included at the end of the Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=N] [FUZZ_TARGETS="config st_header"]
#                      each clang libFuzzer target for that long; new inputs go to
#                      $(BUILD)/fuzz/corpus/TARGET (the committed corpus is only read)
#   make fuzz-corpus   every target once over its committed seeds and regressions, clang and gcc
#                      builds (result lines into $PS_RESULTS; make test runs it)
#   make fuzz-bundle   $(BUILD)/fuzz/bundle/: the clang binaries, seeds, libcjson and run-long.sh,
#                      to fuzz for hours on a machine without clang or libcjson
#
# Each target is tools/fuzz/fuzz_NAME.c. The engine sources are compiled again here with the
# sanitizers, into one archive per compiler so a target links only what it calls.

FUZZ_DIR := tools/fuzz
FUZZ_OUT := $(BUILD)/fuzz
FUZZ_CLANG ?= clang
FUZZ_GCC ?= gcc
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_ALL := $(sort $(patsubst $(FUZZ_DIR)/fuzz_%.c,%,$(filter-out $(FUZZ_DIR)/fuzz_util.c,$(wildcard $(FUZZ_DIR)/fuzz_*.c))))
FUZZ_TARGETS ?= $(FUZZ_ALL)

# The CPU engine of labs M0-M5 (the GPU labs and the CLI parse nothing) and the shared helpers
# minus the Metal layer: the Makefile's per-lab lists, or (a Makefile without them) every file.
FUZZ_LABS := m0-tokenizer m1-weights m2-forward m3-sampling m4-kv-cache m5-quantization
FUZZ_LAB_SRCS := $(addprefix solutions/m0-tokenizer/,$(M0_SRCS)) $(addprefix solutions/m1-weights/,$(M1_SRCS)) \
    $(addprefix solutions/m2-forward/,$(M2_SRCS)) $(addprefix solutions/m3-sampling/,$(M3_SRCS)) \
    $(addprefix solutions/m4-kv-cache/,$(M4_SRCS)) $(addprefix solutions/m5-quantization/,$(M5_SRCS))
FUZZ_ENGINE_SRCS ?= $(if $(M1_SRCS),$(FUZZ_LAB_SRCS) $(addprefix shared/,$(SHARED_SRCS)),\
    $(sort $(wildcard $(FUZZ_LABS:%=solutions/%/*.c)) \
           $(filter-out shared/mtl_%.c shared/stb_ds_impl.c,$(wildcard shared/*.c))))
FUZZ_STB := -I/usr/include/stb -Ibuild/deps
# Lab M5's view of the headers (labs 0-5 and shared/), as the Makefile gives it.
FUZZ_INC := $(or $(INC_m5-quantization),$(addprefix -I,$(patsubst %/,%,$(sort $(dir $(wildcard \
              $(FUZZ_LABS:%=solutions/%/*.h) shared/*.h)))))) -I$(FUZZ_DIR) $(FUZZ_STB)
FUZZ_CFLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror $(FUZZ_INC) \
               $(if $(filter Linux,$(shell uname -s)),-D_GNU_SOURCE,)
FUZZ_SAN_clang := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SAN_gcc := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_LIBS := -lcjson -lm -lpthread
FUZZ_DEPS_OK := $(if $(DEPS_OK),$(DEPS_OK))

FUZZ_OBJS_OF = $(patsubst %.c,$(FUZZ_OUT)/$(1)/obj/%.o,$(FUZZ_ENGINE_SRCS) shared/stb_ds_impl.c)
FUZZ_BINS_clang := $(FUZZ_ALL:%=$(FUZZ_OUT)/clang/fuzz_%)
FUZZ_BINS_gcc := $(FUZZ_ALL:%=$(FUZZ_OUT)/gcc/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-build-clang fuzz-build-gcc fuzz-corpus fuzz-bundle

# ---- objects: the engine and the targets, per compiler ----
$(FUZZ_OUT)/clang/obj/shared/stb_ds_impl.o: shared/stb_ds_impl.c | $(FUZZ_DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CLANG) -std=c11 -O1 -g -w $(FUZZ_STB) $(FUZZ_SAN_clang) -fno-sanitize=array-bounds \
	    -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_OUT)/gcc/obj/shared/stb_ds_impl.o: shared/stb_ds_impl.c | $(FUZZ_DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_GCC) -std=c11 -O1 -g -w $(FUZZ_STB) $(FUZZ_SAN_gcc) -c $< -o $@
# (stb_ds keeps its string arena in a `char storage[8]` struct-hack array, which clang's bounds
# check reports on every string map insert: not ours to fix, and ASan still guards the memory.)
# Coverage instrumentation (fuzzer-no-link) everywhere, so libFuzzer sees inside the parsers.
$(FUZZ_OUT)/clang/obj/%.o: %.c | $(FUZZ_DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN_clang) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_OUT)/gcc/obj/%.o: %.c | $(FUZZ_DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_GCC) $(FUZZ_CFLAGS) $(FUZZ_SAN_gcc) -MMD -MP -c $< -o $@

$(FUZZ_OUT)/clang/libengine.a: $(call FUZZ_OBJS_OF,clang)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_OUT)/gcc/libengine.a: $(call FUZZ_OBJS_OF,gcc)
	@rm -f $@
	ar rcs $@ $^

# ---- binaries ----
# clang: libFuzzer's own main; libstdc++ (libFuzzer's) linked in, and libcjson looked up beside
# the binary first ($ORIGIN), so the bundle runs where neither is installed.
$(FUZZ_OUT)/clang/fuzz_%: $(FUZZ_OUT)/clang/obj/$(FUZZ_DIR)/fuzz_%.o $(FUZZ_OUT)/clang/obj/$(FUZZ_DIR)/fuzz_util.o \
                          $(FUZZ_OUT)/clang/libengine.a
	$(FUZZ_CLANG) $(FUZZ_SAN_clang) -fsanitize=fuzzer -static-libstdc++ -Wl,-rpath,'$$ORIGIN' -o $@ $^ $(FUZZ_LIBS)
# gcc: no libFuzzer; corpus_main.c runs the target over files.
$(FUZZ_OUT)/gcc/fuzz_%: $(FUZZ_OUT)/gcc/obj/$(FUZZ_DIR)/fuzz_%.o $(FUZZ_OUT)/gcc/obj/$(FUZZ_DIR)/fuzz_util.o \
                        $(FUZZ_OUT)/gcc/obj/$(FUZZ_DIR)/corpus_main.o $(FUZZ_OUT)/gcc/libengine.a
	$(FUZZ_GCC) $(FUZZ_SAN_gcc) -o $@ $^ $(FUZZ_LIBS)

# The strict front-end of the MSL emulator is a tool, not part of the engine: its checks link in.
$(FUZZ_OUT)/clang/fuzz_mslstrict: $(FUZZ_OUT)/clang/obj/tools/mslstrict_rules.o
$(FUZZ_OUT)/gcc/fuzz_mslstrict: $(FUZZ_OUT)/gcc/obj/tools/mslstrict_rules.o

fuzz-build-clang: $(FUZZ_BINS_clang)
fuzz-build-gcc: $(FUZZ_BINS_gcc)
fuzz-build: fuzz-build-clang fuzz-build-gcc

# ---- running ----
# Seeds and regressions are read-only inputs (listed after the scratch corpus, where libFuzzer
# writes); crash reproducers land in $(FUZZ_OUT)/artifacts/TARGET/.
fuzz: fuzz-build-clang
	@set -e; for t in $(FUZZ_TARGETS); do \
	    out=$(FUZZ_OUT)/artifacts/$$t; mkdir -p $(FUZZ_OUT)/corpus/$$t $$out; \
	    seeds=; for d in $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/regressions/$$t; do \
	        if [ -d $$d ]; then seeds="$$seeds $$d"; fi; done; \
	    dict=; if [ -f $(FUZZ_DIR)/dict/$$t.dict ]; then dict=-dict=$(FUZZ_DIR)/dict/$$t.dict; fi; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s (log: $$out/log.txt)"; \
	    $(FUZZ_OUT)/clang/fuzz_$$t $(if $(filter-out 1,$(FUZZ_JOBS)),-fork=$(FUZZ_JOBS)) \
	        -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 $$dict \
	        -artifact_prefix=$$out/ $(FUZZ_OUT)/corpus/$$t $$seeds 2>$$out/log.txt \
	        || { tail -40 $$out/log.txt; echo "fuzz: $$t FAILED (reproducer in $$out/)"; exit 1; }; \
	    grep -E '^(Done [0-9]+ runs|INFO: exiting)' $$out/log.txt | tail -1; \
	done

fuzz-corpus:
	@BUILD=$(BUILD) MAKE="$(MAKE)" FUZZ_CLANG=$(FUZZ_CLANG) FUZZ_GCC=$(FUZZ_GCC) sh $(FUZZ_DIR)/run-corpus.sh

fuzz-bundle: fuzz-build-clang
	@BUILD=$(BUILD) sh $(FUZZ_DIR)/make-bundle.sh $(FUZZ_ALL)
