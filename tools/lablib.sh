# Sourced by tools/check-lab.sh, tools/compare-lab.sh and tools/mine.sh: which engine each lab is taken from.
#
# A lab is the learner's (labs/<lab>/) when its own tests all pass, else the reference (solutions/),
# so one unfinished lab cannot hide the next one's work. REF= forces the reference and YOURS= the
# learner's code without running its tests again (the pins a printed rerun line carries, so the
# rerun links the same objects). Both take a list: "m1,m2", "M1 M2", "1", "m1-weights" or "all".
#
# Sourced from the repository root. Sets B (the build folder, $BUILD or build), M (make, $MAKE or
# make) and ROOT (the root) for the scripts and the functions below, and, once lab_choose ran,
# LAB_MINE (the learner's labs, space-separated folder names), LAB_BANNER ("  M0 yours ✓  M1
# REFERENCE (yours 3/9)"), and LAB_PINS (" REF=m1 YOURS=m0": the choice as arguments for a rerun).
B=${BUILD:-build}
M=${MAKE:-make}
ROOT=$(pwd)

lab_dir() {  # N -> m0-tokenizer (nothing when there is no such lab)
    for d in labs/m$1-*/; do [ -d "$d" ] && basename "$d"; done
}

# The lab numbers a list names, one per line; exit status 2 (with a message) on a name it does not know.
lab_arg() {  # N USAGE -> sets LAB_NAME to lab N's folder name, or exits with USAGE / a message
    case "$1" in
        [0-7]) ;;
        *) echo "usage: $2"; exit 2 ;;
    esac
    LAB_NAME=$(lab_dir "$1")
    [ -n "$LAB_NAME" ] || { echo "lab $1 does not exist (no labs/m$1-*/ folder)"; exit 2; }
}

lab_numbers() {  # VARIABLE-NAME VALUE
    for word in $(echo "$2" | tr ',' ' '); do
        w=$(echo "$word" | tr 'M' 'm')
        case "$w" in
            all) echo 0 1 2 3 4 5 6 7 | tr ' ' '\n'; continue ;;
            m[0-7] | [0-7]) n=${w#m} ;;
            m[0-7]-*) n=$(echo "$w" | cut -c2)
                [ "$w" = "$(lab_dir "$n")" ] || { echo "$1=$2: no lab is called $word (labs/: $(ls -d labs/m*/ | xargs -n1 basename | paste -sd' ' -))" >&2; return 2; } ;;
            *) echo "$1=$2: '$word' is not a lab (write M3, m3, 3, m3-sampling or all)" >&2; return 2 ;;
        esac
        echo "$n"
    done
}

lab_in() {  # N LIST-OF-NUMBERS
    echo " $2 " | tr '\n' ' ' | grep -q " $1 "
}

# Builds one lab's test binaries with the given MINE and runs them quietly, all of them; result lines
# go to RESULTS. Returns 1 when they do not build (the compiler's output is in $B/check-lab.build).
lab_run_tests() {  # LAB MINE RESULTS
    $M -s tests LAB="$1" MINE="$2" BUILD="$B" >"$B/check-lab.build" 2>&1 || return 1
    for t in $(cat "$B/t/$(lab_key "$2")/list-$1"); do
        ONLY="" PS_RESULTS="$ROOT/$3" "./$t" >/dev/null 2>&1
    done
    return 0
}

lab_key() {  # MINE -> the test binaries' folder name under $B/t/ (the Makefile's TEST_KEY)
    k=$(echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort | paste -sd+ -)
    echo "${k:-ref}"
}

# Decides labs 0 .. UPTO-1. REF_NUMS / YOURS_NUMS: the forced lab numbers (from lab_numbers).
lab_choose() {  # UPTO
    LAB_MINE=""; LAB_BANNER=""; ref_pins=""; yours_pins=""
    k=0
    while [ "$k" -lt "$1" ]; do
        L=$(lab_dir "$k"); id="M$k"; n=$k; k=$((k + 1))
        [ -n "$L" ] || continue
        if lab_in "$n" "${REF_NUMS:-}"; then
            LAB_BANNER="$LAB_BANNER  $id REFERENCE (REF)"; ref_pins="$ref_pins,m$n"; continue
        fi
        if ! ls "labs/$L/"*.c >/dev/null 2>&1; then LAB_BANNER="$LAB_BANNER  $id reference"; continue; fi
        if lab_in "$n" "${YOURS_NUMS:-}"; then
            LAB_MINE="$LAB_MINE $L"; LAB_BANNER="$LAB_BANNER  $id yours (YOURS)"; yours_pins="$yours_pins,m$n"
            continue
        fi
        res="$B/check-lab-$L.txt"; : > "$res"
        if ! lab_run_tests "$L" "$LAB_MINE $L" "$res"; then
            LAB_BANNER="$LAB_BANNER  $id REFERENCE (yours does not build)"; ref_pins="$ref_pins,m$n"; continue
        fi
        total=$(grep -c -v '^SKIP ' "$res"); passed=$(grep -c '^PASS ' "$res")
        if [ "$total" -gt 0 ] && [ "$passed" -eq "$total" ]; then
            LAB_MINE="$LAB_MINE $L"; LAB_BANNER="$LAB_BANNER  $id yours ✓"; yours_pins="$yours_pins,m$n"
        else
            LAB_BANNER="$LAB_BANNER  $id REFERENCE (yours $passed/$total)"; ref_pins="$ref_pins,m$n"
        fi
    done
    LAB_PINS="${ref_pins:+ REF=${ref_pins#,}}${yours_pins:+ YOURS=${yours_pins#,}}"
}

# Reads REF= and YOURS= into REF_NUMS / YOURS_NUMS; exits 2 on a name it does not know.
lab_read_pins() {
    REF_NUMS=$(lab_numbers REF "${REF:-}") || exit 2
    YOURS_NUMS=$(lab_numbers YOURS "${YOURS:-}") || exit 2
    for n in $YOURS_NUMS; do
        if lab_in "$n" "$REF_NUMS"; then echo "M$n is in both REF= and YOURS=; name it in one" >&2; exit 2; fi
    done
}
