#!/bin/sh
# The book in a real browser, run by tools/check.sh (make test). Renders the site into
# $BUILD/book, copies it to $BUILD/book-browser with tools/tests/book_probe.js first in every page,
# and has headless Chromium load every page at a phone's 390 px and a desktop's 1280 px (in an
# iframe of that width: a headless window is at least 500 px wide). A page fails on a script or
# console error, a resource that does not load, a broken link or anchor (across pages), a `{{` left
# in its text, or an element wider than the viewport (code blocks and tables must scroll inside
# themselves). Then screenshots of every page at both widths go to $BUILD/book/shots/ for a human
# look. Each page appends "PASS|FAIL book-browser PAGE" to $PS_RESULTS. tools/setup.sh installs
# Chromium, so a missing browser is a failure, not a skip.
set -u
B=${BUILD:-build}
ROOT=$(pwd)
OUT=$ROOT/$B/book
T=$ROOT/$B/book-browser
WIDTHS="390 1280"

record() {  # STATUS NAME [why]
    [ -n "${PS_RESULTS:-}" ] && echo "$1 book-browser $2" >> "$PS_RESULTS"
    printf 'book-browser %-26s %s\n' "$2" "$1"
    [ $# -gt 2 ] && [ "$1" != PASS ] && printf '%s\n' "$3" | sed 's/^/    /' | head -20
    return 0
}
limit() {  # SECONDS COMMAND...: no hang, where `timeout` exists (macOS lacks it)
    if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi
}

browser=""
for c in chromium chromium-browser google-chrome google-chrome-stable \
         "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" "/Applications/Chromium.app/Contents/MacOS/Chromium"; do
    if command -v "$c" >/dev/null 2>&1 || [ -x "$c" ]; then browser=$c; break; fi
done
if [ -z "$browser" ]; then
    record FAIL setup "Chromium is not installed (tools/setup.sh installs it: make deps)"
    exit 0
fi
chrome() {  # SECONDS ARGS...: headless; --no-sandbox for root in CI, no /dev/shm (small in containers); stderr to a log
    s=$1; shift
    limit "$s" "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --mute-audio --no-first-run \
        --disable-extensions --disable-background-networking "$@" 2>>"$T/chromium.log"
}

# mkbook --check itself: in a made-up repository whose book has one mistake of each kind, it must
# fail and name each (the citations are spelt through $b so that this file cites nothing).
F=$T/fixture
b=book
rm -rf "$T" && mkdir -p "$F/book" "$F/tools"
printf '# Index\n\n## Measured speed\n\nSee [m9](m9.md#nope) and ![plot](img/none.svg).\n' > "$F/book/index.md"
printf '# Nine\n\n1. A step:\n\n    {{code solutions/none.c no-such-tag}}\n\nA stray {{cod x}} here.\n' > "$F/book/m9.md"
printf 'int x; // %s/index.md#measured-speed is fine, %s/index.md#gone and %s/m8.md are not\n' $b $b $b > "$F/tools/cites.c"
printf '#define ANCHOR(task) "%s/index.md#" task\nconst char *a = ANCHOR("measured-speed"), *b = ANCHOR("lost");\n' $b >> "$F/tools/cites.c"
out=$(cd "$F" && "$ROOT/$B/tools/mkbook" --check book 2>&1)
miss=""
for want in "m9.html#nope" "img/none.svg" "has no region no-such-tag" "stray braces: {{cod x}}" "$b/index.md#gone" "$b/m8.md" "$b/index.md#lost"; do
    case "$out" in *"$want"*) ;; *) miss="$miss [$want]" ;; esac
done
case "$out" in *"index.md#measured-speed"*) miss="$miss [a good citation reported]" ;; esac
if [ -z "$miss" ]; then record PASS mkbook-check-catches
else record FAIL mkbook-check-catches "mkbook --check in $F did not report:$miss (it said: $out)"; fi

# The site, and its test copy with the probe as each page's first script.
if ! out=$("$B/tools/mkbook" book "$OUT" 2>&1); then
    record FAIL render "$out"
    exit 0
fi
cp -R "$OUT"/. "$T"/ && rm -rf "$T/shots"
cp tools/tests/book_probe.js "$T/probe.js"
pages=""
for f in "$T"/*.html; do
    sed 's|<meta charset="utf-8">|&<script src="probe.js"></script>|' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
    pages="$pages \"$(basename "$f")\","
done
{
    echo '<!doctype html><meta charset="utf-8"><title>book browser test</title><body style="margin:0">'
    echo "<script>window.PAGES = [${pages%,} ]; window.WIDTHS = [$(echo $WIDTHS | tr ' ' ',')];</script>"
    echo '<script src="probe.js"></script>'
} > "$T/run.html"

# One browser loads every page at every width; the verdict is in the dumped DOM.
chrome 120 --window-size=1400,1000 --virtual-time-budget=120000 --dump-dom "file://$T/run.html" > "$T/run.dom"
sed -n '/<pre id="verdict">/,/<\/pre>/p' "$T/run.dom" | sed -e 's/<pre id="verdict">//' -e 's/<\/pre>.*//' \
    -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e 's/&amp;/\&/g' > "$T/verdict.txt"
if ! grep -q '^end$' "$T/verdict.txt"; then
    record FAIL run "Chromium gave no verdict (see $T/chromium.log and $T/run.dom)"
    exit 0
fi

# Links and anchors across pages; then one line "FAIL PAGE why" per problem.
awk -v dir="$T" '
    $1 == "id"   { id[$2 "#" $4] = 1; page[$2] = 1; next }
    $1 == "link" { if (!(($2 " " $4) in seen)) { seen[$2 " " $4] = 1; link[++n] = $2 " " $4 }; next }
    $1 == "end" || NF == 0 { next }
    { why = $0; sub(/^[^ ]+ [^ ]+ /, "", why); print "FAIL " $2 " " $1 " at " why }
    END {
        for (i = 1; i <= n; i++) {
            split(link[i], f, " "); from = f[1]; url = f[2]
            path = url; frag = ""
            if (index(url, "#")) { path = substr(url, 1, index(url, "#") - 1); frag = substr(url, index(url, "#") + 1) }
            if (path == "") path = from
            if (path ~ /\.html$/ && !(path in page)) print "FAIL " from " broken link " url ": no page " path
            else if (path ~ /\.html$/ && frag != "" && !((path "#" frag) in id)) print "FAIL " from " broken anchor " url
            else if (path !~ /\.html$/ && system("test -e \"" dir "/" path "\"") != 0) print "FAIL " from " broken link " url
        }
    }' "$T/verdict.txt" > "$T/problems.txt"
for f in "$T"/*.html; do
    p=$(basename "$f")
    [ "$p" = run.html ] && continue
    if grep -q "^FAIL $p " "$T/problems.txt"; then record FAIL "$p" "$(grep "^FAIL $p " "$T/problems.txt" | cut -d' ' -f3-)"
    else record PASS "$p"; fi
done

# Screenshots of the real site (no probe): the top of every page, desktop and phone (the phone's
# through a 390 px iframe).
mkdir -p "$OUT/shots"
for f in "$OUT"/*.html; do
    p=$(basename "$f" .html)
    echo "<!doctype html><body style=\"margin:0\"><iframe src=\"file://$OUT/$p.html\" style=\"border:0;width:390px;height:1400px\"></iframe>" > "$T/shot-$p.html"
    printf '%s\n' "--window-size=1280,1400 --screenshot=$OUT/shots/$p-1280.png file://$OUT/$p.html" \
                  "--window-size=390,1400 --screenshot=$OUT/shots/$p-390.png file://$T/shot-$p.html"
done > "$T/shots.txt"
rm -f "$OUT"/shots/*.png
n=0
while read -r size shot url; do  # three browsers at a time
    chrome 90 "$size" "$shot" --virtual-time-budget=2000 "$url" >/dev/null &
    n=$((n + 1)); [ $((n % 3)) = 0 ] && wait
done < "$T/shots.txt"
wait
while read -r size shot url; do  # once more, alone, for any a loaded machine timed out
    [ -s "${shot#--screenshot=}" ] || chrome 120 "$size" "$shot" --virtual-time-budget=2000 "$url" >/dev/null
done < "$T/shots.txt"
missing=$(for shot in $(cut -d' ' -f2 "$T/shots.txt"); do [ -s "${shot#--screenshot=}" ] || echo "${shot#--screenshot=}"; done)
if [ -z "$missing" ]; then record PASS screenshots
else record FAIL screenshots "not written (see $T/chromium.log): $missing"; fi
