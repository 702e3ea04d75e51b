#!/usr/bin/env bash
# Activating the benchmark corpus (bench/make-corpus.sh: 200 packages, 5,000 files) side by
# side with GNU stow, in one run, as hyperfine medians:
#   * all 200 packages into a new profile (`pandora lock apply` of a lockfile naming them all:
#     one generation) vs `stow` of the 200 trees into an empty directory;
#   * switching one package's version (`pandora activate`, there and back) vs `stow -D` +
#     `stow` of one tree (there and back), and vs rebuilding the whole profile;
#   * a rollback (`pandora profile rollback --to N`, there and back).
# Also prints the directories and symlinks each side creates. Needs hyperfine, stow, zstd.
# Usage: bench/activate.sh   (CORPUS=dir to reuse a corpus; RUNS=n, default 5)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORPUS=${CORPUS:-/tmp/pandora-bench/corpus-l3}
RUNS=${RUNS:-5}
for tool in hyperfine stow zstd; do
  command -v "$tool" >/dev/null || { echo "bench/activate.sh needs $tool" >&2; exit 2; }
done

# Compression does not matter here: a fast level keeps the corpus quick to make.
"$HERE/make-corpus.sh" -o "$CORPUS" -l 3 >&2
cargo build --release -q -p pandora-cli -p pandorad --manifest-path "$ROOT/Cargo.toml"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pandora-activate.XXXXXX")
export HOME=$WORK/home PANDORA_HOME=$WORK/home/pandora PANDORA_FSYNC=0
mkdir -p "$HOME"
cleanup() {
  "$BIN/pandora" status >/dev/null 2>&1 && kill "$(cat "$PANDORA_HOME/run/lock")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
p() { "$BIN/pandora" --log plain "$@"; }

# Every base package and the one update (pkg0000@1.0.1) into the store.
p -q install --yes "$CORPUS"/pkgs/*.pkg >/dev/null
# A lockfile naming the 200 base packages, from the store's own record of their sha256.
p list --store | python3 -c '
import sys
base = {tuple(l.split()) for l in open(sys.argv[1]) if l.strip()}
out = ["Lock {", "    string profile = \"bench\";", "    int generation = 1;"]
for line in sys.stdin:
    kv = dict(f.split("=", 1) for f in line.split())
    if (kv["name"], kv["version"]) in base:
        out.append("    Package \"%s\" { string version = \"%s\"; string sha256 = \"%s\"; string registry = \"local\"; }" % (kv["name"], kv["version"], kv["sha256"]))
out.append("}")
print("\n".join(out))
' "$CORPUS/base.list" > "$WORK/all.lock"

TARGET=$WORK/stow-target
TREES=$(cd "$CORPUS/trees" && ls -d *-1.0.0 | tr '\n' ' ')
ONE=pkg0000

echo "## full activation of $(grep -c Package "$WORK/all.lock") packages" >&2
hyperfine -N --runs "$RUNS" --export-markdown "$WORK/full.md" \
  --prepare "sh -c '$BIN/pandora -q profile delete bench || true'" \
  -n "pandora lock apply (new profile)" "$BIN/pandora -q lock apply $WORK/all.lock --profile bench" \
  --prepare "sh -c 'rm -rf $TARGET && mkdir -p $TARGET'" \
  -n "stow (200 trees)" "stow -d $CORPUS/trees -t $TARGET $TREES" >&2 || true
cat "$WORK/full.md"

# The profile and the stow target as they now stand, for the one-package switch.
p profile delete bench >/dev/null 2>&1 || true
p -q lock apply "$WORK/all.lock" --profile bench >/dev/null
rm -rf "$TARGET" && mkdir -p "$TARGET" && (cd "$CORPUS/trees" && stow -t "$TARGET" $TREES)
gen=$(readlink -f "$PANDORA_HOME/profiles/bench/current")
echo "pandora generation: $(find "$gen" -type d | wc -l) directories, $(find "$gen" -type l | wc -l) symlinks" >&2
echo "stow target:        $(find "$TARGET" -type d | wc -l) directories, $(find "$TARGET" -type l | wc -l) symlinks" >&2

echo "## switching one package's version, there and back" >&2
hyperfine -N --runs "$RUNS" --export-markdown "$WORK/switch.md" \
  --prepare true -n "pandora activate (x2)" "sh -c '$BIN/pandora -q activate $ONE@1.0.1 --profile bench && $BIN/pandora -q activate $ONE@1.0.0 --profile bench'" \
  --prepare true -n "stow -D + stow (x2)" "sh -c 'cd $CORPUS/trees && stow -D -t $TARGET $ONE-1.0.0 && stow -t $TARGET $ONE-1.0.1 && stow -D -t $TARGET $ONE-1.0.1 && stow -t $TARGET $ONE-1.0.0'" \
  --prepare "sh -c '$BIN/pandora -q profile delete bench || true'" \
  -n "rebuild the whole profile (x1)" "$BIN/pandora -q lock apply $WORK/all.lock --profile bench" >&2 || true
cat "$WORK/switch.md"

p profile delete bench >/dev/null 2>&1 || true
p -q lock apply "$WORK/all.lock" --profile bench >/dev/null
p -q activate "$ONE@1.0.1" --profile bench >/dev/null
echo "## rollback, there and back" >&2
hyperfine -N --runs "$RUNS" --export-markdown "$WORK/rollback.md" \
  -n "pandora profile rollback (x2)" "sh -c '$BIN/pandora -q profile rollback --to 1 --profile bench && $BIN/pandora -q profile rollback --to 2 --profile bench'" >&2 || true
cat "$WORK/rollback.md"
