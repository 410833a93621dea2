# sha256_of FILE: the file's SHA-256 in hex. Sourced by tools/fetch_model.sh and
# tools/fetch_tokenizer.sh (each defines die() first). Linux has sha256sum, macOS has shasum; both
# print "<hex>  <name>".
if command -v sha256sum >/dev/null 2>&1; then
    sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256_of() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
    die "need sha256sum or shasum to verify downloads"
fi
