#!/usr/bin/env bash
# The first command after autostart with a large store (issue 14's goal: under 100 ms with
# 10,000 entries): a store of N entries is made by copying one real entry (installed from a
# package packed here) under N names; then once with no store index (cache/store-index, as
# after an upgrade or with the cache deleted), and R times with the index the daemon saved,
# with no daemon running:
#   (a) `pandora list --store` that autostarts pandorad and waits for its answer (whole
#       process, the daemon's start-up and store scan included),
#   (b) the same command again, daemon warm (within a second: the view the daemon took at
#       start is used as it is), and again after 1.5 s (the store is looked at again),
#   (c) the daemon's VmRSS after them.
# Usage: bench/startup.sh [-n ENTRIES (10000)] [-r RUNS (5)] [-o OUT (/tmp/pandora-bench/startup)]
#                         [-b BINDIR: pandora and pandorad from there, e.g. an older build]
set -euo pipefail
N=10000 RUNS=5 OUT=/tmp/pandora-bench/startup BINDIR=
while getopts "n:r:o:b:" opt; do
  case $opt in n) N=$OPTARG ;; r) RUNS=$OPTARG ;; o) OUT=$OPTARG ;; b) BINDIR=$OPTARG ;; *) sed -n '2,11p' "$0"; exit 2 ;; esac
done
cd "$(dirname "$0")/.."
if [ -z "$BINDIR" ]; then
  cargo build --release --quiet -p pandorad -p pandora-cli
  BINDIR=$PWD/target/release
fi
P=$BINDIR/pandora
rm -rf "$OUT" && mkdir -p "$OUT/src/files/bin"
export HOME=$OUT PANDORA_HOME=$OUT/pandora
printf '#!/bin/sh\necho one\n' > "$OUT/src/files/bin/one" && chmod +x "$OUT/src/files/bin/one"
cat > "$OUT/src/manifest.acl" <<'EOF'
manifest { string name = "one"; string version = "1.0.0"; string arch = "any"; string[] authors = { "B <b@example.org>" };
  string license = "MIT"; string description = "one"; string[] dependencies = {}; string[] install_hooks = {};
  build_meta { builder = "bench"; } }
EOF
"$P" pack "$OUT/src" -o "$OUT/one.pkg" > /dev/null
"$P" install "$OUT/one.pkg" --no-activate > /dev/null
kill "$(cat "$PANDORA_HOME/run/lock")"
while [ -S "$PANDORA_HOME/run/sock" ]; do sleep 0.01; done
echo "making $N store entries" >&2
python3 - "$PANDORA_HOME/store" "$N" <<'PY'
import os, shutil, sys
store, n = sys.argv[1], int(sys.argv[2])
src = os.path.join(store, "one", "1.0.0")
manifest = open(os.path.join(src, "manifest.acl")).read()
files_acl = open(os.path.join(src, "files.acl")).read()
script = open(os.path.join(src, "files", "bin", "one")).read()
for i in range(n):
    name = "pkg%05d" % i
    d = os.path.join(store, name, "1.0.0")
    os.makedirs(os.path.join(d, "files", "bin"))
    with open(os.path.join(d, "files", "bin", "one"), "w") as f:
        f.write(script)
    os.chmod(os.path.join(d, "files", "bin", "one"), 0o755)
    with open(os.path.join(d, "files.acl"), "w") as f:
        f.write(files_acl)
    with open(os.path.join(d, "manifest.acl"), "w") as f:
        f.write(manifest.replace('"one"', '"%s"' % name, 1))
PY
sync
# Directories changed in the last 100 ms are listed again at each start (a change within the
# same clock tick would not move their mtime): a store is older than that in real use.
sleep 1
ms() { local s e; s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
first=() warm=() later=() rss=()
rm -f "$PANDORA_HOME/cache/store-index"
cold=$(ms "$P" list --store)
[ -s "$PANDORA_HOME/cache/store-index" ] || { echo "bench: the daemon saved no store index" >&2; exit 1; }
kill "$(cat "$PANDORA_HOME/run/lock")"
while [ -S "$PANDORA_HOME/run/sock" ]; do sleep 0.01; done
for _ in $(seq "$RUNS"); do
  first+=("$(ms "$P" list --store)")
  warm+=("$(ms "$P" list --store)")
  sleep 1.5
  later+=("$(ms "$P" list --store)")
  rss+=("$(awk '$1 == "VmRSS:" {print $2}' "/proc/$(cat "$PANDORA_HOME/run/lock")/status")")
  kill "$(cat "$PANDORA_HOME/run/lock")"
  while [ -S "$PANDORA_HOME/run/sock" ]; do sleep 0.01; done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "| $N store entries, median of $RUNS | value |"
echo "|---|---:|"
echo "| (a) autostart + first \`list --store\`, no store index yet | $cold ms |"
echo "| (a) autostart + first \`list --store\`, whole process | $(median "${first[@]}") ms (goal < 100 ms) |"
echo "| (b) the same again, daemon warm | $(median "${warm[@]}") ms |"
echo "| (b) again 1.5 s later (the store looked at again) | $(median "${later[@]}") ms |"
echo "| (c) pandorad VmRSS after them | $(($(median "${rss[@]}") / 1024)) MiB |"
rm -rf "$OUT"
