#!/bin/sh
# make mine: the command-line engine built from YOUR labs, into $BUILD/mine/protostar, then a short
# generation with the committed tiny model (like make run, which runs the reference). Each lab is
# yours when it passes its own tests, else the reference: the same decision and banner as
# make check-lab (tools/lablib.sh), and REF= / YOURS= work the same way. Where M2 or M5 is yours,
# your plain loops run instead of the SIMD kernels (tools/mine/simd_policy.c), and where M4 is, your
# cached_attention instead of the engine's threaded one; PS_SIMD=on brings the engine's back.
set -u
. tools/lablib.sh   # B, M, ROOT
lab_read_pins
unset ONLY
mkdir -p "$B"
echo "==> deciding which labs are yours (running each lab's tests) ..."
$M -s synth >/dev/null || echo "warning: make synth failed; tests that need synthetic models will say so"
lab_choose 8
plain=""
for k in 2 4 5; do
    L=$(lab_dir "$k")
    case " $LAB_MINE " in *" $L "*) ;; *) continue ;; esac
    note="your loops; PS_SIMD=on for the SIMD kernels"
    case $k in
    2) plain="$plain F32" ;;
    4) plain="$plain ATTN"; note="your cached_attention; PS_SIMD=on for the engine's threaded one" ;;
    *) plain="$plain QUANT" ;;
    esac
    LAB_BANNER=$(echo "$LAB_BANNER" | sed -e "s/M$k yours ✓/M$k yours ✓ ($note)/" -e "s/M$k yours (YOURS)/M$k yours (YOURS; $note)/")
done
echo "==> your engine:${LAB_BANNER}"
rm -f "$B/mine/protostar"  # MINE may differ from the last build: always link again
if ! $M -s "$B/mine/protostar" MINE="$LAB_MINE" MINE_PLAIN="$plain" >"$B/mine.build" 2>&1; then
    cat "$B/mine.build"
    echo "make mine: the engine did not build (the errors above)"
    exit 1
fi
echo "==> $B/mine/protostar generate -m models/tiny -p \"In the beginning\" -n 64"
"$B/mine/protostar" generate -m models/tiny -p "In the beginning" -n 64
