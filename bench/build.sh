#!/usr/bin/env bash
# `pandora build` of examples/hello-c: a cache hit (whole process, goal under 50 ms) side by
# side with a full build in the sandbox (`--no-cache`) and with `make` of the same sources
# run directly, in one run (hyperfine medians). Needs hyperfine, cc and make.
# Usage: bench/build.sh   (RUNS=n, default 20)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-20}
command -v hyperfine >/dev/null || { echo "bench/build.sh needs hyperfine" >&2; exit 2; }
cargo build --release -q -p pandora-cli -p pandorad --manifest-path "$ROOT/Cargo.toml"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pandora-build-bench.XXXXXX")
export HOME=$WORK/home PANDORA_HOME=$WORK/home/pandora
mkdir -p "$HOME" "$WORK/out"
cleanup() {
  kill "$(cat "$PANDORA_HOME/run/lock" 2>/dev/null)" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
EX=$ROOT/examples/hello-c
"$BIN/pandora" -q build "$EX" -o "$WORK/out" >/dev/null
cp -r "$EX/src" "$WORK/src"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/b.json" --export-markdown "$WORK/b.md" \
  -n "pandora build (cache hit)" "$BIN/pandora -q build $EX -o $WORK/out" \
  -n "pandora build --no-cache" "$BIN/pandora -q build $EX -o $WORK/out --no-cache" \
  -n "make (no sandbox)" "make -s -B -C $WORK/src hello" >&2 || true
cat "$WORK/b.md"
python3 - "$WORK/b.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
hit, full, make = r["pandora build (cache hit)"], r["pandora build --no-cache"], r["make (no sandbox)"]
print(f"\nmedians: cache hit {hit:.1f} ms, full sandboxed build {full:.1f} ms, plain make {make:.1f} ms")
print(f"full build / plain make = {full / make:.1f}x; cache hit / full build = {hit / full:.3f}")
PY
