#!/usr/bin/env bash
# `pandora-registry serve` against nginx on the same registry directory, both on 127.0.0.1:
#   requests/s for one small `index/<name>.acl`, and MB/s for one 10 MB blob,
# each measured with `wrk -t2 -c50 -dDURATION`, sampling the registry server's RSS during the
# blob run. The registry holds 200 small packages plus the 10 MB one, made with `pandora pack`
# and `pandora-registry add`. Each measurement is run RUNS times, alternating the two
# servers, and the best run counts (the machine is shared; interference only slows a run).
# Prints a markdown table with registry/nginx ratios.
# Usage: bench/registry.sh [-d DURATION (10s)] [-r RUNS (2)] [-o OUT (/tmp/pandora-bench/registry)]
set -euo pipefail
DURATION=10s RUNS=2 OUT=/tmp/pandora-bench/registry
while getopts "d:r:o:" opt; do
  case $opt in d) DURATION=$OPTARG ;; r) RUNS=$OPTARG ;; o) OUT=$OPTARG ;; *) sed -n '2,10p' "$0"; exit 2 ;; esac
done
for t in wrk nginx ps awk; do
  command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "bench: missing $t (apt-get install $t)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cd "$(dirname "$0")/.."
cargo build --release --quiet -p pandora-registry -p pandora-cli
P=$PWD/target/release/pandora
R=$PWD/target/release/pandora-registry
mkdir -p "$OUT/trees" "$OUT/pkgs"

# Packages are kept between runs; the registry is made anew (the old one renamed aside and
# deleted at the end: creating files right after a mass delete is slow on this ext4).
manifest() { # NAME VERSION
  cat <<ACL
manifest {
    string name = "$1";
    string version = "$2";
    string arch = "x86_64";
    string[] authors = { "Bench <bench@example.org>" };
    string license = "MIT";
    string description = "benchmark package $1";
    string[] tags = { "bench" };
    string[] dependencies = {};
    string[] install_hooks = {};
    build_meta { builder = "bench"; }
}
ACL
}
if [ "$(ls "$OUT/pkgs" | wc -l)" -lt 201 ]; then
  echo "packing 200 small packages and a 10 MB one..." >&2
  for i in $(seq -w 0 199); do
    t="$OUT/trees/pkg-$i"
    mkdir -p "$t/files/share/pkg-$i"
    manifest "pkg-$i" "1.$((10#$i % 7)).0" > "$t/manifest.acl"
    head -c $((2000 + 10#$i * 10)) /dev/urandom | base64 > "$t/files/share/pkg-$i/data"
    "$P" pack "$t" -o "$OUT/pkgs/pkg-$i.pkg" >/dev/null 2>&1
  done
  t="$OUT/trees/bulky"
  mkdir -p "$t/files/share/bulky"
  manifest bulky 1.0.0 > "$t/manifest.acl"
  head -c 10485760 /dev/urandom > "$t/files/share/bulky/data"
  "$P" pack "$t" -o "$OUT/pkgs/bulky.pkg" >/dev/null 2>&1
fi
REG="$OUT/reg-$(date +%s%N)"
"$R" init "$REG" --name bench >/dev/null
"$R" add "$REG" "$OUT"/pkgs/*.pkg >/dev/null
BLOB_SHA=$(sha256sum "$OUT/pkgs/bulky.pkg" | cut -d' ' -f1)
BLOB_SIZE=$(stat -c %s "$OUT/pkgs/bulky.pkg")
INDEX=index/pkg-042.acl

cleanup() {
  [ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null || true
  [ -n "${NPID:-}" ] && kill "$NPID" 2>/dev/null || true
  wait 2>/dev/null || true
  for d in "$OUT"/reg-*; do [ "$d" = "$REG" ] || rm -rf "$d"; done
}
trap cleanup EXIT

RUST_LOG=warn "$R" serve "$REG" --listen 127.0.0.1:0 > "$OUT/serve.out" 2> "$OUT/serve.log" &
RPID=$!
for _ in $(seq 100); do grep -q '^listening on ' "$OUT/serve.out" 2>/dev/null && break; sleep 0.05; done
RURL=$(sed -n 's/^listening on //p' "$OUT/serve.out")
[ -n "$RURL" ] || { echo "bench: pandora-registry serve did not start:" >&2; cat "$OUT/serve.log" >&2; exit 1; }

NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
mkdir -p "$OUT/nginx/logs"
cat > "$OUT/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $OUT/nginx/body;
  proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fastcgi;
  uwsgi_temp_path $OUT/nginx/uwsgi;
  scgi_temp_path $OUT/nginx/scgi;
  default_type application/octet-stream;
  types { text/plain acl; }
  server { listen 127.0.0.1:$NPORT; root $REG; location / { } }
}
CONF
"$NGINX" -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx" -e "$OUT/nginx/logs/error.log" &
NPID=$!
NURL=http://127.0.0.1:$NPORT
for _ in $(seq 100); do curl -sf -o /dev/null "$NURL/config.acl" 2>/dev/null && break; sleep 0.05; done

for u in "$RURL" "$NURL"; do
  cmp -s <(curl -s "$u/blobs/sha256/$BLOB_SHA") "$REG/blobs/sha256/$BLOB_SHA" \
    || { echo "bench: $u serves other bytes for the blob" >&2; exit 1; }
done

# wrk URL -> requests/s
run_wrk() {
  wrk -t2 -c50 -d"$DURATION" "$1" | awk '/^Requests\/sec:/ { print $2 }'
}
best() { printf '%s\n' "$@" | sort -g | tail -1; }

echo "wrk -t2 -c50 -d$DURATION, best of $RUNS, registry $REG" >&2
R_IDX=() N_IDX=() R_BLOB=() N_BLOB=()
: > "$OUT/rss.txt"
for _ in $(seq "$RUNS"); do
  R_IDX+=("$(run_wrk "$RURL/$INDEX")")
  N_IDX+=("$(run_wrk "$NURL/$INDEX")")
  ( while kill -0 "$RPID" 2>/dev/null; do ps -o rss= -p "$RPID" >> "$OUT/rss.txt" || true; sleep 0.2; done ) &
  SAMPLER=$!
  R_BLOB+=("$(run_wrk "$RURL/blobs/sha256/$BLOB_SHA")")
  kill "$SAMPLER" 2>/dev/null || true
  N_BLOB+=("$(run_wrk "$NURL/blobs/sha256/$BLOB_SHA")")
done
echo "runs: index ${R_IDX[*]} vs ${N_IDX[*]} req/s; blob ${R_BLOB[*]} vs ${N_BLOB[*]} req/s" >&2
R_IDX=$(best "${R_IDX[@]}") N_IDX=$(best "${N_IDX[@]}")
R_BLOB=$(best "${R_BLOB[@]}") N_BLOB=$(best "${N_BLOB[@]}")
RSS=$(awk 'NF { v = $1 / 1024; if (min == "" || v < min) min = v; if (v > max) max = v }
           END { printf "%.1f-%.1f MiB", min, max }' "$OUT/rss.txt")
IDLE=$(ps -o rss= -p "$RPID" | awk '{ printf "%.1f MiB", $1 / 1024 }')

awk -v ri="$R_IDX" -v ni="$N_IDX" -v rb="$R_BLOB" -v nb="$N_BLOB" -v size="$BLOB_SIZE" \
    -v rss="$RSS" -v idle="$IDLE" -v idx="$INDEX" 'BEGIN {
  rmb = rb * size / 1e6; nmb = nb * size / 1e6
  printf "| workload | pandora-registry | nginx | registry/nginx |\n"
  printf "|---|---:|---:|---:|\n"
  printf "| `%s` req/s | %.0f | %.0f | %.2f |\n", idx, ri, ni, ri / ni
  printf "| 10 MB blob MB/s | %.0f | %.0f | %.2f |\n", rmb, nmb, rmb / nmb
  printf "| registry RSS during the blob run | %s | | |\n", rss
  printf "| registry RSS after | %s | | |\n", idle
}'
