#!/usr/bin/env bash
# Activating the benchmark corpus (bench/make-corpus.sh: 200 packages, 5,000 files) side by
# side with GNU stow, in one run, as hyperfine medians:
#   * all 200 packages into a new profile (`pandora lock apply` of a lockfile naming them all:
#     one generation) vs `stow` of the 200 trees into an empty directory;
#   * switching one package's version (`pandora activate`, there and back) vs `stow -D` +
#     `stow` of one tree (there and back), and vs rebuilding the whole profile;
#   * a rollback (`pandora profile rollback --to N`, there and back), with `pandora list
#     --store` (a read, the floor of any whole `pandora` process) for scale.
# Ends with one table: medians, ratios, and the directories and symlinks each operation
# creates (a symlink that is a hard link of the previous generation's is not new).
# Needs hyperfine, stow, zstd.
# Usage: bench/activate.sh   (CORPUS=dir to reuse a corpus; RUNS=n, default 5; PANDORA_BIN=dir
#        to time the pandora and pandorad in dir, e.g. an older build, instead of building)
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
if [[ -n ${PANDORA_BIN:-} ]]; then
  BIN=$PANDORA_BIN
else
  cargo build --release -q -p pandora-cli -p pandorad --manifest-path "$ROOT/Cargo.toml"
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi

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
# Another profile is the active one, so `bench` can be deleted and built anew.
p -q profile create idle >/dev/null && p -q profile switch idle >/dev/null

# What a generation holds, and how much of it is new: directories, symlinks, and the
# symlinks that are not hard links of the previous generation's (new inodes).
census() {
  local gen=$1 prev=${2:-}
  local dirs links new
  dirs=$(find "$gen" -type d | wc -l)
  links=$(find "$gen" -type l | wc -l)
  if [[ -n $prev ]]; then
    new=$(comm -23 <(find "$gen" -type l -printf '%i\n' | sort -u) \
                   <(find "$prev" -type l -printf '%i\n' | sort -u) | wc -l)
  else
    new=$links
  fi
  echo "$dirs directories, $links symlinks of which $new new"
}
gen_of() { readlink -f "$PANDORA_HOME/profiles/bench/current"; }

echo "## full activation of $(grep -c Package "$WORK/all.lock") packages" >&2
hyperfine -N --runs "$RUNS" --export-json "$WORK/full.json" \
  --prepare "sh -c '$BIN/pandora -q profile delete bench || true'" \
  -n "pandora lock apply (new profile)" "$BIN/pandora -q lock apply $WORK/all.lock --profile bench" \
  --prepare "sh -c 'rm -rf $TARGET && mkdir -p $TARGET'" \
  -n "stow (200 trees)" "stow -d $CORPUS/trees -t $TARGET $TREES" >&2 || true

# The profile and the stow target as they now stand, for the one-package switch.
p profile delete bench >/dev/null 2>&1 || true
p -q lock apply "$WORK/all.lock" --profile bench >/dev/null
rm -rf "$TARGET" && mkdir -p "$TARGET" && (cd "$CORPUS/trees" && stow -t "$TARGET" $TREES)
FULL_P=$(census "$(gen_of)")
FULL_S="$(find "$TARGET" -type d | wc -l) directories, $(find "$TARGET" -type l | wc -l) symlinks"
before=$(gen_of)
p -q activate "$ONE@1.0.1" --profile bench >/dev/null
SWITCH_P=$(census "$(gen_of)" "$before")
before=$(gen_of)
p -q activate "$ONE@1.0.0" --profile bench >/dev/null
SWITCH_BACK_P=$(census "$(gen_of)" "$before")
links_of() { find "$TARGET" -type l -printf '%p %l\n' | sort; }
links_of > "$WORK/stow-before"
(cd "$CORPUS/trees" && stow -D -t "$TARGET" $ONE-1.0.0 && stow -t "$TARGET" $ONE-1.0.1)
SWITCH_S="$(comm -13 "$WORK/stow-before" <(links_of) | wc -l) symlinks made, $(comm -23 "$WORK/stow-before" <(links_of) | wc -l) removed"
(cd "$CORPUS/trees" && stow -D -t "$TARGET" $ONE-1.0.1 && stow -t "$TARGET" $ONE-1.0.0)

echo "## switching one package's version, there and back" >&2
hyperfine -N --runs "$RUNS" --export-json "$WORK/switch.json" \
  --prepare true -n "pandora activate (x2)" "sh -c '$BIN/pandora -q activate $ONE@1.0.1 --profile bench && $BIN/pandora -q activate $ONE@1.0.0 --profile bench'" \
  --prepare true -n "stow -D + stow (x2)" "sh -c 'cd $CORPUS/trees && stow -D -t $TARGET $ONE-1.0.0 && stow -t $TARGET $ONE-1.0.1 && stow -D -t $TARGET $ONE-1.0.1 && stow -t $TARGET $ONE-1.0.0'" \
  --prepare "sh -c '$BIN/pandora -q profile delete bench || true'" \
  -n "rebuild the whole profile (x1)" "$BIN/pandora -q lock apply $WORK/all.lock --profile bench" >&2 || true

p profile delete bench >/dev/null 2>&1 || true
p -q lock apply "$WORK/all.lock" --profile bench >/dev/null
p -q activate "$ONE@1.0.1" --profile bench >/dev/null
echo "## rollback, there and back" >&2
hyperfine -N --runs "$((RUNS * 4))" --warmup 2 --export-json "$WORK/rollback.json" \
  -n "pandora profile rollback (x2)" "sh -c '$BIN/pandora -q profile rollback --to 1 --profile bench && $BIN/pandora -q profile rollback --to 2 --profile bench'" \
  -n "pandora list --store (x2, for scale)" "sh -c '$BIN/pandora -q list --store >/dev/null && $BIN/pandora -q list --store >/dev/null'" >&2 || true

python3 - "$WORK" "$FULL_P" "$FULL_S" "$SWITCH_P" "$SWITCH_BACK_P" "$SWITCH_S" <<'PY'
import json, sys
work, full_p, full_s, switch_p, back_p, switch_s = sys.argv[1:]
def medians(name):
    return {r["command"]: (r["median"] * 1e3, r["min"] * 1e3) for r in json.load(open(f"{work}/{name}.json"))["results"]}
full, switch, rollback = medians("full"), medians("switch"), medians("rollback")
fp, fs = full["pandora lock apply (new profile)"], full["stow (200 trees)"]
sp, ss = switch["pandora activate (x2)"], switch["stow -D + stow (x2)"]
rb = switch["rebuild the whole profile (x1)"]
ro, ls = rollback["pandora profile rollback (x2)"], rollback["pandora list --store (x2, for scale)"]
ms = lambda t: f"{t[0]:.1f} ms (min {t[1]:.1f})"
half = lambda t: (t[0] / 2, t[1] / 2)
print("| operation (hyperfine medians) | Pandora | baseline | ratio | what Pandora creates |")
print("|---|---:|---:|---:|---|")
print(f"| all 200 packages into a new profile | {ms(fp)} | stow: {ms(fs)} | stow / Pandora {fs[0] / fp[0]:.1f}× | {full_p} (stow: {full_s}) |")
print(f"| one package's version, each way | {ms(half(sp))} | stow -D + stow: {ms(half(ss))} | stow / Pandora {ss[0] / sp[0]:.1f}× | there: {switch_p}; back: {back_p} (stow: {switch_s}) |")
print(f"| rebuild of the whole profile | {ms(rb)} | | rebuild / switch {rb[0] / (sp[0] / 2):.1f}× (goal ≥ 10×) | {full_p} |")
print(f"| rollback, each way | {ms(half(ro))} | list --store: {ms(half(ls))} | goal < 5 ms | 0 directories, 0 symlinks (one link renamed over `current`) |")
PY
