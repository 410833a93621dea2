#!/bin/sh
# Installs what the build and the tests need and is missing: a C compiler, stb_ds.h, cJSON, and
# clang (make test builds everything with clang too, and the fuzzers need it), cmark-gfm and
# Chromium (make test renders the book and checks it in a headless browser)
# (`setup.sh --book`: cmark-gfm alone, which renders the book).
# `setup.sh --list` only prints what it would install. SETUP_ROOT=DIR probes DIR instead of / (the
# tests point it at an empty folder: setup must then name every package a fresh machine lacks).
# Debian/Ubuntu: apt-get (as root, or through sudo). macOS: Homebrew for cJSON, and a pinned,
# checksummed download of stb_ds.h (Homebrew has no package for it).
set -eu
ROOT=${SETUP_ROOT:-}
have_cmd() { [ -z "$ROOT" ] && command -v "$1" >/dev/null 2>&1; }
have_header() {  # HEADER [FLAGS]: under SETUP_ROOT only its file in ROOT/usr/include counts
    if [ -n "$ROOT" ]; then [ -f "$ROOT/usr/include/$1" ]; return; fi
    printf '#include <%s>\n' "$1" | ${CC:-cc} -E -x c - $2 >/dev/null 2>&1
}
missing=""
if [ "${1:-}" = --book ]; then  # make book renders Markdown with cmark-gfm
    command -v cmark-gfm >/dev/null && exit 0
    case "$(uname -s)" in
    Darwin) exec brew install cmark-gfm ;;
    *) if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
       $SUDO apt-get update -q || true
       exec $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q cmark-gfm ;;
    esac
fi
have_cmd "${CC:-cc}" || missing="$missing build-essential"
have_cmd c++ || missing="$missing g++"
# The same v0.67 file that Debian 12 ships (libstb-dev 0.0~git20220908.8b5f1f3).
STB_SHA=3ef6d369f0ee324e60326160b7721b83bb52e123d4276322e993676555d0efdd
case "$(uname -s)" in
Linux)
    [ -f "$ROOT/usr/include/stb/stb_ds.h" ] || missing="$missing libstb-dev"
    have_header cjson/cJSON.h "" || missing="$missing libcjson-dev"
    { have_cmd clang && have_cmd clang++; } || missing="$missing clang"
    have_cmd cmark-gfm || missing="$missing cmark-gfm"  # make test renders the book
    have_cmd chromium || missing="$missing chromium"    # and loads it in a browser
    if [ "${1:-}" = --list ]; then echo "$missing"; exit 0; fi
    if [ -n "$missing" ]; then
        echo "setup: installing$missing"
        if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo
        else echo "setup: please install:$missing (as root)"; exit 1; fi
        command -v apt-get >/dev/null || { echo "setup: no apt-get; please install:$missing"; exit 1; }
        $SUDO apt-get update -q || true
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
    fi ;;
Darwin)
    [ "${1:-}" = --list ] && { echo "(macOS: Homebrew's cjson, and stb_ds.h into build/deps)"; exit 0; }
    command -v brew >/dev/null || { echo "setup: install Homebrew (https://brew.sh), then rerun"; exit 1; }
    have_header cjson/cJSON.h "-I$(brew --prefix)/include" || brew install cjson
    command -v cmark-gfm >/dev/null || brew install cmark-gfm  # the book; its browser test uses Google Chrome
    if [ ! -f build/deps/stb_ds.h ]; then
        # stb_ds.h at a pinned commit of nothings/stb, checked against its sha256
        url=https://raw.githubusercontent.com/nothings/stb/8b5f1f3/stb_ds.h
        mkdir -p build/deps
        curl -fsSL "$url" -o build/deps/stb_ds.h.part
        echo "$STB_SHA build/deps/stb_ds.h.part" | shasum -a 256 -c - || { rm -f build/deps/stb_ds.h.part; exit 1; }
        mv build/deps/stb_ds.h.part build/deps/stb_ds.h
    fi ;;
esac
exit 0
