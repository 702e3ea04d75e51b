#!/usr/bin/env bash
# Packing and unpacking one large package, side by side with the shell pipelines a user would
# otherwise run, in one run on this machine:
#   pack:   pandora-bench pack   vs  tar --sort=name ... | zstd -LEVEL  (same level, one thread)
#   unpack: pandora-bench unpack vs  zstd -dc FILE | tar -x           (on the same archive)
# Pandora's unpack also checks every entry, hashes the archive and every file.
# Usage: bench/pkg.sh [-m MEGABYTES (100)] [-l LEVEL (19)] [-r RUNS (5)] [-o OUT (/tmp/pandora-bench/pkg)]
set -euo pipefail
MB=100 LEVEL=19 RUNS=5 OUT=/tmp/pandora-bench/pkg
while getopts "m:l:r:o:" opt; do
  case $opt in m) MB=$OPTARG ;; l) LEVEL=$OPTARG ;; r) RUNS=$OPTARG ;; o) OUT=$OPTARG ;; *) sed -n '2,8p' "$0"; exit 2 ;; esac
done
for t in hyperfine zstd tar python3; do command -v $t >/dev/null || { echo "bench: missing $t (apt-get install $t)" >&2; exit 1; }; done
cd "$(dirname "$0")/.."
cargo build --release --quiet -p pandora-bench
B=$PWD/target/release/pandora-bench
mkdir -p "$OUT"
[ -d "$OUT/tree" ] || "$B" gen-tree "$OUT/tree" "$MB"
# Garbage is renamed aside and deleted at the end: on ext4, creating files within minutes of a
# mass delete was measured 10-30x slower than usual.
cat > "$OUT/trash.sh" <<SH
#!/bin/sh
mkdir -p "$OUT/trash"
for d in "\$@"; do if [ -e "\$d" ]; then mv "\$d" "$OUT/trash/\$(date +%s%N)"; fi; mkdir -p "\$d"; done
SH
chmod +x "$OUT/trash.sh"
trash() { "$OUT/trash.sh" "$@"; }
TAR=(tar --sort=name --format=gnu --mtime=@0 --owner=0 --group=0 --numeric-owner)
trash "$OUT/p1" "$OUT/p2"
hyperfine --style basic --runs 2 --export-json "$OUT/pack.json" \
  --prepare "$OUT/trash.sh $OUT/p1 $OUT/p2" \
  -n pandora "$B pack $OUT/tree $OUT/p1 $LEVEL" \
  -n "tar | zstd -$LEVEL" "${TAR[*]} -C $OUT/tree -cf - . | zstd -q -$LEVEL -T1 -o $OUT/p2/bigpkg.tar.zst"
PKG=$OUT/bigpkg.pkg
"$B" pack "$OUT/tree" "$OUT" "$LEVEL" >/dev/null && mv "$OUT/bigpkg-1.0.0.pkg" "$PKG"
hyperfine --style basic --runs "$RUNS" --warmup 1 --export-json "$OUT/unpack.json" \
  --prepare "$OUT/trash.sh $OUT/u1 $OUT/u2" \
  -n pandora "$B unpack $PKG $OUT/u1" \
  -n "zstd -dc | tar -x" "zstd -dc $PKG | tar -x -C $OUT/u2"
python3 - "$OUT" "$PKG" "$OUT/tree" <<'PY'
import json, os, sys
out, pkg, tree = sys.argv[1:]
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tree) for f in fs) / 1e6
print(f"\npayload {size:.0f} MB, archive {os.path.getsize(pkg)/1e6:.1f} MB")
print("| operation | Pandora s | baseline s | Pandora MB/s | baseline MB/s | baseline / Pandora |")
print("|---|---:|---:|---:|---:|---:|")
for name in ("pack", "unpack"):
    r = {x["command"]: x["median"] for x in json.load(open(f"{out}/{name}.json"))["results"]}
    p = r.pop("pandora"); (bn, b), = r.items()
    bn = bn.replace("|", "\\|")
    print(f"| {name} vs `{bn}` | {p:.3f} | {b:.3f} | {size/p:.0f} | {size/b:.0f} | {b/p:.2f}x |")
PY
rm -rf "$OUT/trash" &
