#!/usr/bin/env bash
# Installing the 200-package corpus of bench/make-corpus.sh side by side with what a
# user would otherwise run, in one run on this machine (release builds, warm page cache):
#   (a) cold: `pandora install` of all 200 pins into a fresh PANDORA_HOME (daemon running,
#       registry configured, empty blob cache) from `pandora-registry serve` on 127.0.0.1,
#       vs `pacman -U` of the corpus's pacman packages in one transaction into a temp root
#       (--nodeps --noscriptlet, signatures off), vs one `tar -x` of the already-decompressed
#       archives;
#       plus, for reference, the same install from the registry directory as file://, and
#       from a copy of the registry signed with a minisign key that the client pins (every
#       snapshot and package signature checked); and the floor of the HTTP path: the file://
#       install while curl downloads the same blobs from the server at the same time
#   (b) warm: the same install again, everything in the store, the registry server stopped
#   (c) `pandora list --store`, whole process, daemon warm
#   (d) the daemon's memory: VmRSS idle, and peak (VmHWM, and VmRSS sampled every 10 ms)
#       during a cold install
# Each run gets a new home (PANDORA_HOME, and HOME for the daemon's activation links): the
# previous one is renamed aside, and everything renamed aside
# is deleted at the end (on ext4, creating files within minutes of a mass delete was measured
# 10-30x slower than usual). Prints a markdown table with ratios.
# With -b DIR, the cold HTTP and file:// installs also run with the pandora and pandorad
# binaries in DIR (an older build), in the same run, for a before/after ratio; when DIR also
# holds pandora-registry, those rows download from it (serving the same directories).
# With -i, the cold rows (a) are interleaved: each round runs every row once (after one
# warm-up round), so a machine whose speed drifts from minute to minute slows all rows alike;
# each run is timed as a whole `sh -c` process instead of by hyperfine.
# Usage: bench/install.sh [-r RUNS (5, >= 3)] [-o OUT (/tmp/pandora-bench/install)]
#                         [-c CORPUS (/tmp/pandora-bench/corpus)] [-b DIR] [-i]
set -euo pipefail
RUNS=5 OUT=/tmp/pandora-bench/install CORPUS=/tmp/pandora-bench/corpus BEFORE= INTERLEAVE=0 BEFORE_PIDS=
while getopts "r:o:c:b:i" opt; do
  case $opt in
    r) RUNS=$OPTARG ;; o) OUT=$OPTARG ;; c) CORPUS=$OPTARG ;; b) BEFORE=$(cd "$OPTARG" && pwd) ;;
    i) INTERLEAVE=1 ;;
    *) sed -n '2,27p' "$0"; exit 2 ;;
  esac
done
if [[ -n $BEFORE ]]; then
  for b in pandora pandorad; do
    [[ -x $BEFORE/$b ]] || { echo "bench: $BEFORE/$b is missing" >&2; exit 2; }
  done
fi
((RUNS >= 3)) || { echo "bench: RUNS must be >= 3" >&2; exit 2; }
for t in hyperfine zstd tar python3 awk; do
  command -v $t >/dev/null || { echo "bench: missing $t (apt-get install $t)" >&2; exit 1; }
done
HAVE_PACMAN=1
if ! command -v pacman >/dev/null; then
  echo "bench: pacman is missing (Debian: apt-get install pacman-package-manager); its row is skipped" >&2
  HAVE_PACMAN=0
fi
export LC_ALL=C
cd "$(dirname "$0")/.."
HERE=$PWD
cargo build --release --quiet -p pandorad -p pandora-cli -p pandora-registry
P=$HERE/target/release/pandora
D=$HERE/target/release/pandorad
R=$HERE/target/release/pandora-registry

# The corpus (idempotent: it keeps an existing one made with the same parameters).
OUT="$CORPUS" "$HERE/bench/make-corpus.sh" -o "$CORPUS" >&2
# shellcheck source=/dev/null
source "$CORPUS/corpus.env" # N FILES LINKS PAYLOAD_BYTES PKG_BYTES ...
N=$(wc -l < "$CORPUS/base.list")

mkdir -p "$OUT"
TRASH=$OUT/.trash-$(date +%s)
mkdir -p "$TRASH"
for old in "$OUT"/* "$OUT"/.trash-*; do [[ -e $old && $old != "$TRASH" ]] && mv "$old" "$TRASH/"; done
BIN=$OUT/bin RES=$OUT/results REG=$OUT/registry HOMEDIR=$OUT/home USERHOME=$OUT/user
mkdir -p "$BIN" "$RES" "$OUT/tars"
PINS=$(awk '{printf "%s@%s ", $1, $2}' "$CORPUS/base.list")
PKGS=$(awk -v d="$CORPUS/pkgs" '{printf "%s/%s-%s.pkg ", d, $1, $2}' "$CORPUS/base.list")
PACS=$(awk -v d="$CORPUS/pacman" '{printf "%s/%s-%s-1-x86_64.pkg.tar.zst ", d, $1, $2}' "$CORPUS/base.list")

echo "registry: pandora-registry add of $N packages" >&2
"$R" init "$REG" --name bench >/dev/null
# shellcheck disable=SC2086
"$R" add "$REG" $PKGS >/dev/null
for p in $PKGS; do b=${p##*/}; zstd -dcq "$p" > "$OUT/tars/${b%.pkg}.tar"; done
# The same registry, signed (snapshot and every package), its secret key outside it.
cp -r "$REG" "$OUT/registry-signed"
"$R" keygen "$OUT/registry-signed" --secret-key "$OUT/keys/bench.key" >/dev/null
KEY=$(grep -o 'RW[A-Za-z0-9+/=]*' "$OUT/registry-signed/config.acl" | head -1)

SERVER_PID= SIGNED_PID=
DAEMON_PIDFILE=$OUT/daemon.pid
stop_daemon() {
  [[ -f $DAEMON_PIDFILE ]] || return 0
  local pid; pid=$(cat "$DAEMON_PIDFILE"); rm -f "$DAEMON_PIDFILE"
  kill "$pid" 2>/dev/null || return 0
  while [[ -e /proc/$pid ]]; do sleep 0.01; done
}
cleanup() {
  stop_daemon
  [[ -z $SERVER_PID ]] || kill "$SERVER_PID" 2>/dev/null || true
  [[ -z $SIGNED_PID ]] || kill "$SIGNED_PID" 2>/dev/null || true
  for pid in $BEFORE_PIDS; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

"$R" serve "$REG" --listen 127.0.0.1:0 > "$OUT/serve.out" 2> "$OUT/serve.log" < /dev/null &
SERVER_PID=$!
for _ in $(seq 500); do [[ -s $OUT/serve.out ]] && break; sleep 0.01; done
URL=$(sed -n '1s/^listening on //p' "$OUT/serve.out")
[[ $URL == http://* ]] || { echo "bench: the registry server did not start: $(cat "$OUT/serve.log")" >&2; exit 1; }
"$R" serve "$OUT/registry-signed" --listen 127.0.0.1:0 > "$OUT/serve-signed.out" 2> "$OUT/serve-signed.log" < /dev/null &
SIGNED_PID=$!
for _ in $(seq 500); do [[ -s $OUT/serve-signed.out ]] && break; sleep 0.01; done
SIGNED_URL=$(sed -n '1s/^listening on //p' "$OUT/serve-signed.out")
[[ $SIGNED_URL == http://* ]] || { echo "bench: the signed registry server did not start" >&2; exit 1; }
# start_server VAR BINARY DIR NAME: starts BINARY serve DIR, sets VAR to its URL.
start_server() {
  "$2" serve "$3" --listen 127.0.0.1:0 > "$OUT/$4.out" 2> "$OUT/$4.log" < /dev/null &
  BEFORE_PIDS+=" $!"
  for _ in $(seq 500); do [[ -s $OUT/$4.out ]] && break; sleep 0.01; done
  printf -v "$1" '%s' "$(sed -n '1s/^listening on //p' "$OUT/$4.out")"
}
BEFORE_URL=$URL BEFORE_SIGNED_URL=$SIGNED_URL
if [[ -n $BEFORE && -x $BEFORE/pandora-registry ]]; then
  start_server BEFORE_URL "$BEFORE/pandora-registry" "$REG" serve-before
  start_server BEFORE_SIGNED_URL "$BEFORE/pandora-registry" "$OUT/registry-signed" serve-before-signed
  [[ $BEFORE_URL == http://* && $BEFORE_SIGNED_URL == http://* ]] \
    || { echo "bench: the older registry server did not start" >&2; exit 1; }
fi

# fresh DIR...: each DIR becomes a new empty directory (the old one renamed into the trash,
# or on tmpfs deleted: there the trash would fill memory and slow every later run), then sync,
# so the previous run's writeback does not overlap the next measured run.
if [[ $(stat -f -c %T "$OUT") == tmpfs ]]; then DISCARD='chmod -R u+w "$d" 2>/dev/null; rm -rf "$d"'; else DISCARD='mv "$d" "'$TRASH'/$(date +%s%N).$$"'; fi
cat > "$BIN/fresh" <<SH
#!/bin/sh
for d; do
  if [ -e "\$d" ]; then $DISCARD; fi
  mkdir -p "\$d"
done
sync
SH
# home-up URL [KEY]: stop the daemon, rename its home aside, make a fresh home whose
# registries.acl names the registry at URL (with KEY pinned and signatures required, when
# given), start pandorad (\$DAEMON if set) on it and wait for its socket. The daemon's HOME
# is a fresh directory too, as a new user's would be: the activation puts \$HOME/bin and the
# desktop links (600 manual pages of the corpus) there, never into the caller's home.
cat > "$BIN/home-up" <<SH
#!/bin/sh
set -e
if [ -f "$DAEMON_PIDFILE" ]; then
  pid=\$(cat "$DAEMON_PIDFILE"); rm -f "$DAEMON_PIDFILE"
  if kill "\$pid" 2>/dev/null; then while [ -e /proc/\$pid ]; do sleep 0.01; done; fi
fi
"$BIN/fresh" "$HOMEDIR" "$USERHOME"
if [ -n "\${2:-}" ]; then
  printf 'Registry "bench" {\n    string url = "%s";\n    int priority = 0;\n    bool require_signatures = true;\n    string[] trusted_keys = {"%s"};\n}\n' "\$1" "\$2" > "$HOMEDIR/registries.acl"
else
  printf 'Registry "bench" {\n    string url = "%s";\n    int priority = 0;\n}\n' "\$1" > "$HOMEDIR/registries.acl"
fi
HOME="$USERHOME" PANDORA_HOME="$HOMEDIR" "\${DAEMON:-$D}" < /dev/null >> "$OUT/pandorad.log" 2>&1 &
echo \$! > "$DAEMON_PIDFILE"
i=0
until [ -S "$HOMEDIR/run/sock" ]; do
  i=\$((i + 1)); [ \$i -lt 1000 ] || { echo "pandorad did not start" >&2; exit 1; }
  sleep 0.01
done
SH
cat > "$BIN/pacman.conf" <<'CONF'
[options]
Architecture = auto
SigLevel = Never
LocalFileSigLevel = Never
CONF
cat > "$BIN/pac" <<SH
#!/bin/sh
r=\$1; shift
exec pacman --config "$BIN/pacman.conf" --root "\$r/root" --dbpath "\$r/db" \\
  --cachedir "\$r/cache" --hookdir "\$r/hooks" --logfile "\$r/pacman.log" --gpgdir "\$r/gnupg" \\
  --noconfirm --nodeps --noscriptlet --noprogressbar -U "\$@"
SH
chmod +x "$BIN"/fresh "$BIN"/home-up "$BIN"/pac

export PANDORA_HOME=$HOMEDIR PANDORA_NO_AUTOSTART=1
store_count() { find "$HOMEDIR/store" -mindepth 2 -maxdepth 2 -type d 2>/dev/null | wc -l; }
# bench ID PREPARE COMMAND [hyperfine options...]
bench() {
  local id=$1 prep=$2 cmd=$3; shift 3
  echo "=== $id: $cmd" | cut -c1-150 >&2
  hyperfine --style basic --export-json "$RES/$id.json" --prepare "$prep" -n "$id" "$@" "$cmd" >&2
}
# Everything read is in the page cache before the first measured run.
cat "$REG"/blobs/sha256/* "$OUT"/registry-signed/blobs/sha256/* "$CORPUS"/pacman/*.pkg.tar.zst "$OUT"/tars/*.tar > /dev/null

# (a) cold installs: ID PREPARE COMMAND CHECK (CHECK: the store must hold all N after it).
ROWS=()
row() { ROWS+=("$1" "$2" "$3" "$4"); }
row a-pandora-http "$BIN/home-up $URL" "$P install $PINS" store
row a-pandora-file "$BIN/home-up file://$REG" "$P install $PINS" -
row a-pandora-signed "$BIN/home-up $SIGNED_URL $KEY" "$P install $PINS" store
if [[ -n $BEFORE ]]; then
  row a-before-http "DAEMON=$BEFORE/pandorad $BIN/home-up $BEFORE_URL" "$BEFORE/pandora install $PINS" store
  row a-before-file "DAEMON=$BEFORE/pandorad $BIN/home-up file://$REG" "$BEFORE/pandora install $PINS" -
  row a-before-signed "DAEMON=$BEFORE/pandorad $BIN/home-up $BEFORE_SIGNED_URL $KEY" "$BEFORE/pandora install $PINS" -
fi
if ((HAVE_PACMAN)); then
  PR=$OUT/pacroot
  row a-pacman "$BIN/fresh $PR/root $PR/db $PR/hooks $PR/cache" "$BIN/pac $PR $PACS" -
fi
row a-tar "$BIN/fresh $OUT/tarroot" "cat $OUT/tars/*.tar | tar -xi -C $OUT/tarroot" -
# What the HTTP path cannot do without: the file:// install while curl downloads the same
# blobs from the same server into a fresh directory (4 transfers at once, as pandorad's 4
# fetch workers), both at once. An HTTP install that keeps a cached copy of every blob does
# at least this much work, less one read of the blobs; its time over the file:// row is the
# floor for "HTTP over file://" on this machine.
HAVE_CURL=0
if command -v curl >/dev/null; then
  HAVE_CURL=1
  for p in $PKGS; do
    s=$(sha256sum "$p"); s=${s%% *}
    printf 'url = "%s/blobs/sha256/%s"\noutput = "%s/dl/%s"\n' "$URL" "$s" "$OUT" "$s"
  done > "$BIN/curl.cfg"
  row a-floor "$BIN/home-up file://$REG; $BIN/fresh $OUT/dl" \
    "curl -sf -Z --parallel-max 4 -K $BIN/curl.cfg & c=\$!; $P install $PINS; wait \$c" -
else
  echo "bench: curl is missing (apt-get install curl); the floor row is skipped" >&2
fi
check_store() {
  [[ $(store_count) == "$N" ]] || { echo "bench: $1 left $(store_count) of $N in the store" >&2; exit 1; }
}
if ((INTERLEAVE)); then
  for ((round = 0; round <= RUNS; round++)); do
    echo "=== round $round of $RUNS (0: warm-up)" >&2
    for ((i = 0; i < ${#ROWS[@]}; i += 4)); do
      id=${ROWS[i]}
      sh -c "${ROWS[i + 1]}" > /dev/null 2>&1
      t0=$(date +%s%N)
      sh -c "${ROWS[i + 2]}" > /dev/null 2>&1 || { echo "bench: $id failed" >&2; exit 1; }
      t1=$(date +%s%N)
      [[ ${ROWS[i + 3]} == - ]] || check_store "$id"
      ((round == 0)) || echo $(((t1 - t0) / 1000)) >> "$RES/$id.us"
    done
  done
  # The same JSON shape as hyperfine's, for the table below.
  for ((i = 0; i < ${#ROWS[@]}; i += 4)); do
    python3 - "$RES/${ROWS[i]}.us" "$RES/${ROWS[i]}.json" <<'PY'
import json, statistics, sys
t = [int(l) / 1e6 for l in open(sys.argv[1]) if l.strip()]
json.dump({"results": [{"median": statistics.median(t), "min": min(t), "max": max(t), "times": t}]}, open(sys.argv[2], "w"))
PY
  done
else
  for ((i = 0; i < ${#ROWS[@]}; i += 4)); do
    bench "${ROWS[i]}" "${ROWS[i + 1]}" "${ROWS[i + 2]}" --runs "$RUNS" --warmup 1
    [[ ${ROWS[i + 3]} == - ]] || check_store "${ROWS[i]}"
  done
fi

# (d) memory: a fresh daemon, idle, then one more cold install sampled every 10 ms.
"$BIN/home-up" "$URL"
DPID=$(cat "$DAEMON_PIDFILE")
sleep 1
kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$DPID/status"; }
RSS_IDLE=$(kb VmRSS)
( peak=0
  while [[ -e /proc/$DPID && ! -e $OUT/sampling.stop ]]; do
    v=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$DPID/status" 2>/dev/null || echo 0)
    ((v > peak)) && peak=$v
    sleep 0.01
  done
  echo "$peak" > "$OUT/sampled.kb" ) &
SAMPLER=$!
# shellcheck disable=SC2086
"$P" install $PINS > /dev/null 2> "$OUT/sampled-install.log"
touch "$OUT/sampling.stop"; wait "$SAMPLER"
RSS_SAMPLED=$(cat "$OUT/sampled.kb") RSS_HWM=$(kb VmHWM) RSS_AFTER=$(kb VmRSS)
[[ $(store_count) == "$N" ]] || { echo "bench: the sampled install failed" >&2; exit 1; }

# (b) warm reinstall with the registry server stopped, (c) list --store, daemon warm.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
bench b-pandora-warm "true" "$P install $PINS" --runs 30 --warmup 3 -N
bench c-pandora-list "true" "$P list --store" --runs 100 --warmup 5 -N
RSS_AFTER_READS=$(kb VmRSS)
stop_daemon

# The table: medians, min-max, and pandora's time over each baseline's (below 1: faster).
python3 - "$RES" "$N" "$PAYLOAD_BYTES" "$RSS_IDLE" "$RSS_SAMPLED" "$RSS_HWM" "$RSS_AFTER" "$RSS_AFTER_READS" <<'PY' | tee "$RES/table.md"
import json, os, sys
res, n, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
idle, sampled, hwm, after, after_reads = (int(x) / 1024 for x in sys.argv[4:9])
def load(i):
    p = os.path.join(res, i + ".json")
    if not os.path.exists(p):
        return None
    r = json.load(open(p))["results"][0]
    return r["median"], r["min"], r["max"]
def t(s):
    return "%.3f s" % s if s >= 1 else "%.1f ms" % (s * 1e3)
rows = [
    ("a-pandora-http", "(a) `pandora install` %d pins, cold, HTTP registry on 127.0.0.1" % n),
    ("a-pandora-file", "(a) same, registry as file:// (no HTTP)"),
    ("a-pandora-signed", "(a) same over HTTP, registry signed and its key pinned"),
    ("a-before-http", "(a) older build (-b): cold install over HTTP"),
    ("a-before-file", "(a) older build (-b): from file://"),
    ("a-before-signed", "(a) older build (-b): signed, key pinned"),
    ("a-pacman", "(a) `pacman -U` %d packages, one transaction" % n),
    ("a-tar", "(a) one `tar -x` of the %d pre-decompressed tars" % n),
    ("a-floor", "(a) floor: the file:// install and, at once, curl downloading its blobs from the server"),
    ("b-pandora-warm", "(b) `pandora install` %d pins, all in the store, server stopped" % n),
    ("c-pandora-list", "(c) `pandora list --store` (%d entries), daemon warm" % n),
]
pac, tar = load("a-pacman"), load("a-tar")
ratio = lambda m, base: "%.2f×" % (m / base[0]) if base else "n/a"
print("| measurement | median | min–max | MiB/s | ÷ pacman -U | ÷ tar -x |")
print("|---|---:|---:|---:|---:|---:|")
for i, label in rows:
    r = load(i)
    if r is None:
        print("| %s | n/a | | | | |" % label)
        continue
    m, lo, hi = r
    rate = "%.0f" % (payload / 1048576 / m) if i.startswith("a-") else "–"
    cold = i.startswith(("a-pandora", "a-before"))
    print("| %s | %s | %s–%s | %s | %s | %s |" % (label, t(m), t(lo), t(hi), rate,
          ratio(m, pac) if cold else "–", ratio(m, tar) if cold else "–"))
signed, http = load("a-pandora-signed"), load("a-pandora-http")
if signed and http:
    print("\nSigned registry, key pinned (snapshot and %d package signatures checked): %.2f× the unsigned HTTP install" % (n, signed[0] / http[0]))
file = load("a-pandora-file")
if file and http:
    print("\nHTTP over file://: %.2f× (goal ≤ 1.10×)" % (http[0] / file[0]))
floor = load("a-floor")
if file and floor:
    print("\nThe floor over file:// (the file:// install plus curl's download of the same blobs, at once): %.2f×" % (floor[0] / file[0]))
pacman = load("a-pacman")
if pacman and http:
    print("\npacman -U over the cold HTTP install: %.2f× (goal ≥ 2×)" % (pacman[0] / http[0]))
for row, label in (("http", "HTTP"), ("file", "file://"), ("signed", "signed")):
    before, now = load("a-before-" + row), load("a-pandora-" + row)
    if before and now:
        print("\nOlder build over this one, %s: %.2f×" % (label, before[0] / now[0]))
warm = load("b-pandora-warm")
if warm:
    print("\n(b) goal < 50 ms: %s (%s)" % ("met" if warm[0] < 0.05 else "NOT met", t(warm[0])))
print("\n| pandorad memory | MiB |")
print("|---|---:|")
print("| (d) VmRSS idle, fresh daemon | %.1f |" % idle)
print("| (d) peak during a cold install of %d: VmHWM | %.1f |" % (n, hwm))
print("| (d) peak VmRSS sampled every 10 ms | %.1f |" % sampled)
print("| VmRSS after the install | %.1f |" % after)
print("| VmRSS after (b) and (c) | %.1f |" % after_reads)
print("\nRatios are pandora's median time over the baseline's: below 1.00× pandora is faster.")
PY
echo "results: $RES (table.md, one hyperfine JSON per row); deleting earlier outputs ($TRASH)" >&2
rm -rf "$TRASH"
