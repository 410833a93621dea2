#!/bin/sh
# The strict front-end's tests (make strict-test; README.md here). Each ok_*.metal must pass
# tools/mslstrict and, unless it says strict-only, tools/mslpp (both builds) and the C++ compiler; each
# bad_*.metal must be refused with one message per `// <- error` line, each citing the MSL spec
# and the first containing the `// expect:` words. numerics.cpp checks the emulator's math.
# Environment (from shared/msl/msl.mk): MSLSTRICT MSLPP CXX MSL_CXXFLAGS MSL_PPFLAGS CONTRACT OUT.
# contract.c: mtl.h's encoding contracts (NULL pipeline or buffer, setBytes' 4 KB) on the backend.
set -u
DIR=shared/msl/tests/strict
mkdir -p "$OUT"
st=0
result() {  # STATUS NAME [why]
    printf 'emu %-40s %s\n' "strict.$2" "$1"
    [ "$1" = PASS ] || { st=1; [ $# -gt 2 ] && printf '    %s\n' "$3"; }
    if [ -n "${PS_RESULTS:-}" ]; then echo "$1 emu strict.$2" >> "$PS_RESULTS"; fi
    return 0
}
for f in "$DIR"/ok_*.metal "$DIR"/bad_*.metal; do
    name=$(basename "$f" .metal)
    i="$OUT/$name.i"
    if ! $CXX $MSL_PPFLAGS "$f" -o "$i" 2>"$OUT/$name.err"; then
        result FAIL "$name" "does not preprocess: $(head -3 "$OUT/$name.err")"; continue
    fi
    "$MSLSTRICT" "$f" < "$i" > "$OUT/$name.out" 2>&1
    rc=$?
    case $name in
    ok_*)
        if [ $rc -ne 0 ] || [ -s "$OUT/$name.out" ]; then
            result FAIL "$name" "valid MSL refused: $(head -3 "$OUT/$name.out")"; continue
        fi
        if ! grep -q 'strict-only' "$f"; then
            if ! "$MSLPP" "$f" < "$i" > "$OUT/$name.cpp" 2>"$OUT/$name.err" ||
               ! $CXX $MSL_CXXFLAGS -fsyntax-only "$OUT/$name.cpp" 2>>"$OUT/$name.err" ||
               ! "$MSLPP" -check "$f" < "$i" > "$OUT/$name.check.cpp" 2>>"$OUT/$name.err" ||
               ! $CXX $MSL_CXXFLAGS -fsyntax-only "$OUT/$name.check.cpp" 2>>"$OUT/$name.err"; then
                result FAIL "$name" "the emulator does not compile it: $(grep -m3 error "$OUT/$name.err")"; continue
            fi
        fi
        result PASS "$name" ;;
    bad_*)
        want=$(grep -n '// <- error' "$f" | cut -d: -f1)
        expect=$(sed -n 's|^// expect: ||p' "$f")
        got=$(grep -c ': error: ' "$OUT/$name.out")
        why=""
        [ $rc -eq 1 ] || why="mslstrict exited $rc, not 1"
        [ -n "$why" ] || [ "$got" -eq "$(echo "$want" | wc -w)" ] ||
            why="$got messages for $(echo "$want" | wc -w) marked lines: $(cat "$OUT/$name.out")"
        for line in $want; do
            [ -n "$why" ] || grep -q "^$f:$line: error: " "$OUT/$name.out" || why="line $line not reported: $(cat "$OUT/$name.out")"
        done
        [ -n "$why" ] || [ -z "$expect" ] || grep -qF "$expect" "$OUT/$name.out" || why="no message says '$expect': $(cat "$OUT/$name.out")"
        # bad_syntax_*: C++ grammar the checks cannot read past, not an MSL rule: no spec to cite
        case $name in bad_syntax_*) ;; *)
        [ -n "$why" ] || ! grep ': error: ' "$OUT/$name.out" | grep -qv '(MSL spec §' || why="a message cites no spec rule" ;;
        esac
        if [ -z "$why" ]; then result PASS "$name"; else result FAIL "$name" "$why"; fi ;;
    esac
done
# numerics, with the compiler's _Float16 where it has one and with the software half
# (msl_types.h) that g++ 12 on arm64 uses
for variant in "" soft_half; do
    n=numerics${variant:+_$variant}
    if $CXX $MSL_CXXFLAGS ${variant:+-DMSL_SOFT_HALF} -Ishared "$DIR/numerics.cpp" -o "$OUT/$n" 2>"$OUT/$n.err"; then
        "$OUT/$n" > "$OUT/$n.out" 2>&1
        while read -r status test why; do result "$status" "${variant:+$variant.}$test" "$why"; done < "$OUT/$n.out"
        grep -q . "$OUT/$n.out" || result FAIL "$n" "printed nothing"
    else
        result FAIL "$n" "does not compile: $(grep -m3 error "$OUT/$n.err")"
    fi
done
"$CONTRACT" > "$OUT/contract.out" 2>&1
while read -r status test why; do result "$status" "$test" "$why"; done < "$OUT/contract.out"
grep -q . "$OUT/contract.out" || result FAIL contract "printed nothing"
exit $st
