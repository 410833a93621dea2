#!/bin/sh
# make compare-lab N [TASK]: for each task of lab N that your code passes, your code beside the
# reference's (diff -u, reference first, with the file:lines of both), then the reference's notes on
# choices the tests cannot tell apart (`//!` lines in the solution's region). ALL=1 also shows the
# tasks you have not finished. A task passes when every test naming its book anchor passes (a task
# no test names: when the whole lab passes).
#
# Your region is found by lining up your file with the skeleton tools/mkskel makes from the
# solution (a longest-common-subsequence match of the lines outside the TODO regions): what lies
# between the code before a TODO and the code after it is yours, however you rewrote it.
set -u
N=${1:-}
TASK=${2:-}
. tools/lablib.sh   # B, M, ROOT
lab_arg "$N" "make compare-lab N [TASK]   (N = 0..7; ALL=1 shows unfinished tasks too)"
LAB=$LAB_NAME
ID="M$N"
CHAPTER="book/$LAB.md"
unset ONLY

# The solution files with regions for this lab: .c in solutions/<lab>/, .metal in shaders/.
files=""
for f in solutions/"$LAB"/*.c shaders/*.metal; do
    [ -f "$f" ] && grep -q "^[[:space:]]*//> $ID " "$f" && files="$files $f"
done
[ -n "$files" ] || { echo "lab $ID has no TODO regions"; exit 0; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare-lab.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
$M -s "$B/tools/mkskel" >/dev/null 2>&1 && "$B/tools/mkskel" solutions "$tmp/skel" >/dev/null \
    || { echo "compare-lab: cannot build or run tools/mkskel"; exit 1; }

# Your lab's tests, once (earlier labs from the reference: a task is judged by your lab alone).
mkdir -p "$B"
$M -s synth >/dev/null 2>&1
res="$B/compare-lab-$LAB.txt"; : > "$res"
echo "==> running lab $ID's tests on your code ..."
if ! lab_run_tests "$LAB" "$LAB" "$res"; then
    cat "$B/check-lab.build"; echo "your lab $ID does not compile: nothing to compare yet"; exit 1
fi
all_pass=no
[ "$(grep -c -v -E '^(PASS|SKIP) ' "$res")" -eq 0 ] && grep -q '^PASS ' "$res" && all_pass=yes

# "yes TESTS" when the task passes, "no TESTS" otherwise (TESTS: the tests naming it).
task_status() {  # TASK
    named=$(awk -v a="$CHAPTER#$1" '$4 == a' "$res")
    if [ -z "$named" ]; then echo "$all_pass (no test names it: it counts as passed when the whole lab passes)"; return; fi
    names=$(echo "$named" | awk '{ print $3 }' | paste -sd' ' -)
    if echo "$named" | grep -q -v -E '^(PASS|SKIP) ' || ! echo "$named" | grep -q '^PASS '; then echo "no $names"
    else echo "yes $names"; fi
}

# Lines START..END of FILE, numbered like the compiler would.
region_of_solution() {  # FILE TASK K -> "start end" of the K-th region (code lines inside the markers)
    awk -v id="$ID" -v task="$2" -v k="$3" '
        { t = $0; sub(/^[ \t]+/, "", t) }
        t ~ "^//> " && $2 == id && $3 == task { n++; if (n == k) start = NR + 1 }
        start && !stop && NR >= start && t ~ /^\/\/</ { stop = NR - 1 }
        END { if (start) print start, stop }' "$1"
}
# The skeleton's lines for the K-th region of TASK: the TODO comment, the hints, the replacement.
region_of_skeleton() {  # SKELETON SOLUTION TASK K
    size=$(awk -v id="$ID" -v task="$3" -v k="$4" '
        { t = $0; sub(/^[ \t]+/, "", t) }
        t ~ "^//> " && $2 == id && $3 == task { n++; if (n == k) inside = 1; next }
        inside && t ~ /^\/\/</ { print 1 + hints + (repl ? repl : 1); exit }
        inside && t ~ /^\/\/\?/ { hints++ }
        inside && t ~ /^\/\/=/ { repl++ }' "$2")
    awk -v mark="// TODO($ID $3):" -v k="$4" -v size="$size" '
        index($0, mark) { n++; if (n == k) { print NR, NR + size - 1; exit } }' "$1"
}
# Your lines for skeleton lines A..B: between the matches of the skeleton's neighbouring lines.
region_of_yours() {  # SKELETON YOURS A B
    awk -v a="$3" -v b="$4" '
        FNR == 1 { f++ }
        f == 1 { s[++ns] = $0; next }
        { y[++ny] = $0 }
        END {
            # longest common subsequence of the non-blank lines; L[i,j] = LCS of s[i..], y[j..]
            for (i = ns; i >= 1; i--) for (j = ny; j >= 1; j--) {
                if (s[i] == y[j] && s[i] !~ /^[ \t]*$/) L[i, j] = L[i + 1, j + 1] + 1
                else L[i, j] = (L[i + 1, j] >= L[i, j + 1]) ? L[i + 1, j] : L[i, j + 1]
            }
            i = 1; j = 1
            while (i <= ns && j <= ny) {
                if (s[i] == y[j] && s[i] !~ /^[ \t]*$/) { at[i] = j; i++; j++ }
                else if (L[i + 1, j] >= L[i, j + 1]) i++
                else j++
            }
            lo = 1; hi = ny
            for (i = a - 1; i >= 1; i--) if (i in at) { lo = at[i] + 1; break }
            for (i = b + 1; i <= ns; i++) if (i in at) { hi = at[i] - 1; break }
            print lo, hi
        }' "$1" "$2"
}

# Every task of the lab, in the chapter's order (tasks missing from the chapter last).
tasks=$(for f in $files; do
    awk -v id="$ID" '{ t = $0; sub(/^[ \t]+/, "", t) } t ~ "^//> " && $2 == id { print $3 }' "$f"
done | awk '!seen[$0]++')
ordered=$(for t in $tasks; do
    pos=$(grep -n "<a id=\"$t\">" "$CHAPTER" 2>/dev/null | head -1 | cut -d: -f1)
    echo "${pos:-99999} $t"
done | sort -n -s -k1,1 | cut -d' ' -f2)
[ -z "$TASK" ] || echo "$tasks" | grep -qx "$TASK" || {
    echo "lab $ID has no task '$TASK'; its tasks: $(echo $ordered)"; exit 2; }

shown=0; hidden=""
for t in $ordered; do
    [ -z "$TASK" ] || [ "$t" = "$TASK" ] || continue
    st=$(task_status "$t")
    if [ "${st%% *}" != yes ] && [ "${ALL:-}" != 1 ]; then hidden="$hidden $t"; continue; fi
    shown=$((shown + 1))
    echo
    echo "==== $ID $t  ($CHAPTER#$t) — $( [ "${st%% *}" = yes ] && echo "passes: ${st#yes }" || echo "NOT PASSING YET: ${st#no }")"
    for sol in $files; do
        k=0
        for _ in $(awk -v id="$ID" -v task="$t" '{ x = $0; sub(/^[ \t]+/, "", x) } x ~ "^//> " && $2 == id && $3 == task { print 1 }' "$sol"); do
            k=$((k + 1))
            case "$sol" in
                shaders/*) yours="labs/$LAB/shaders/${sol#shaders/}"; skel="$tmp/skel/$LAB/shaders/${sol#shaders/}" ;;
                *) yours="labs/$LAB/$(basename "$sol")"; skel="$tmp/skel/$LAB/$(basename "$sol")" ;;
            esac
            set -- $(region_of_solution "$sol" "$t" "$k")
            rs=$1; re=$2
            sed -n "${rs},${re}p" "$sol" | grep -v -E '^[[:space:]]*//[?=!]' > "$tmp/ref.txt"
            if [ ! -f "$yours" ] || [ ! -f "$skel" ]; then echo "  ($yours: not found)"; continue; fi
            set -- $(region_of_skeleton "$skel" "$sol" "$t" "$k")
            if [ $# -lt 2 ]; then echo "  (cannot find TODO($ID $t) in the skeleton of $yours)"; continue; fi
            ss=$1; se=$2
            set -- $(region_of_yours "$skel" "$yours" "$ss" "$se")
            ys=$1; ye=$2; set -- "$ss" "$se"
            # your lines, less the skeleton's TODO comment and hints where you kept them
            sed -n "${1},${2}p" "$skel" | grep -v 'LAB_TODO' > "$tmp/skel-region.txt"
            if [ "$ye" -ge "$ys" ]; then sed -n "${ys},${ye}p" "$yours" | grep -v -x -F -f "$tmp/skel-region.txt" > "$tmp/yours.txt"
            else : > "$tmp/yours.txt"; fi
            if diff -u --label "reference  $sol:$rs-$re" --label "yours      $yours:$ys-$ye" \
                   "$tmp/ref.txt" "$tmp/yours.txt" > "$tmp/diff.txt"; then
                echo "  $yours:$ys-$ye is the same as $sol:$rs-$re"
            else
                cat "$tmp/diff.txt"
            fi
            notes=$(sed -n "${rs},${re}p" "$sol" | grep -E '^[[:space:]]*//!' | sed -E 's/^[[:space:]]*\/\/! ?/  /')
            if [ -n "$notes" ]; then echo "notes from the reference (choices the tests cannot tell apart):"; echo "$notes"; fi
        done
    done
done
echo
[ -z "$hidden" ] || echo "not shown, not passing yet:$hidden  (ALL=1 shows them too)"
[ "$shown" -gt 0 ] || echo "no task of lab $ID passes yet: make check-lab $N says what is left"
exit 0
