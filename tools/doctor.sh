#!/bin/sh
# make doctor: is this machine ready for protostar? One line per check, [OK] or [FAIL] with the fix.
CC=${CC:-cc}
fails=0
ok()   { printf '[OK]   %s\n' "$1"; }
fail() { printf '[FAIL] %s\n       fix: %s\n' "$1" "$2"; fails=$((fails + 1)); }
opt()  { printf '[--]   %s\n       optional: %s\n' "$1" "$2"; }
header() { printf '#include <%s>\n' "$1" | $CC -E -x c - $2 >/dev/null 2>&1; }
BREW_INC=""; command -v brew >/dev/null 2>&1 && BREW_INC="-I$(brew --prefix)/include"

if command -v "$CC" >/dev/null 2>&1; then ok "C compiler: $($CC --version | head -1)"
else fail "no C compiler ($CC)" "sh tools/setup.sh (Debian: apt-get install build-essential; macOS: xcode-select --install)"; fi
if command -v c++ >/dev/null 2>&1; then ok "C++ compiler (for the MSL emulator): $(c++ --version | head -1)"
else fail "no C++ compiler (the MSL emulator compiles shaders as C++)" "sh tools/setup.sh"; fi
make --version 2>/dev/null | grep -q 'GNU Make' && ok "GNU make" || fail "GNU make not found" "install GNU make"
if [ -f /usr/include/stb/stb_ds.h ] || [ -f build/deps/stb_ds.h ]; then ok "stb_ds.h"
else fail "stb_ds.h missing" "sh tools/setup.sh (Debian: libstb-dev)"; fi
if header cjson/cJSON.h "$BREW_INC"; then ok "cJSON"
else fail "cJSON missing" "sh tools/setup.sh (Debian: libcjson-dev; macOS: brew install cjson)"; fi
if [ -f models/tiny/model.safetensors ]; then ok "tiny model (models/tiny)"
else fail "models/tiny is missing" "it is committed: git checkout -- models/tiny"; fi
if [ -f models/qwen3-0.6b/tokenizer.json ]; then ok "Qwen3 tokenizer (models/qwen3-0.6b/tokenizer.json)"
else opt "Qwen3 tokenizer not downloaded (its M0 tests skip)" "make tokenizer"; fi
if [ -f models/qwen3-0.6b/model.safetensors ]; then ok "Qwen3-0.6B weights"
else opt "Qwen3-0.6B weights not downloaded (tests that need them skip)" "make model"; fi
if [ "$(uname -s)" = Darwin ]; then
    if xcrun -sdk macosx metal -v >/dev/null 2>&1; then ok "Metal compiler (xcrun metal)"
    else opt "no offline Metal compiler; shaders are compiled at run time instead" "xcode-select --install"; fi
    [ "$(uname -m)" = arm64 ] && ok "Apple Silicon" || opt "not Apple Silicon: M6/M7 run on the MSL emulator" ""
else
    ok "Linux: M6/M7 shaders run on the MSL CPU emulator (shared/msl)"
fi
command -v cmark-gfm >/dev/null 2>&1 && ok "cmark-gfm (make book)" || opt "cmark-gfm missing (make book installs it)" "sh tools/setup.sh --book"
[ $fails -eq 0 ] && echo "ready." || { echo "$fails problem(s) above."; exit 1; }
