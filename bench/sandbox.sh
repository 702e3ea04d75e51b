#!/usr/bin/env bash
# Sandbox start-up, side by side in one run (hyperfine medians of the whole process running
# /bin/true, which is start-up plus tear-down):
#   * `pandora-sandbox -- /bin/true`, the helper pandorad runs builds and hooks through (user,
#     mount, pid, net, ipc and uts namespaces, a tmpfs
#     root with the system binds, /proc, /dev, /tmp, loopback, limits, no capabilities,
#     Landlock and seccomp);
#   * bubblewrap with the same namespaces and binds (no seccomp filter: bwrap takes one only
#     as a compiled program);
#   * a plain fork+exec of /bin/true.
# Needs hyperfine and bwrap (Debian: hyperfine, bubblewrap).
# Usage: bench/sandbox.sh   (RUNS=n, default 100)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-100}
for tool in hyperfine bwrap; do
  command -v "$tool" >/dev/null || { echo "bench/sandbox.sh needs $tool" >&2; exit 2; }
done
cargo build --release -q -p pandora-sandbox --manifest-path "$ROOT/Cargo.toml"
HELPER=${CARGO_TARGET_DIR:-$ROOT/target}/release/pandora-sandbox

binds=(--ro-bind /usr /usr)
for d in /bin /sbin /lib /lib32 /lib64 /libx32; do
  if [ -L "$d" ]; then binds+=(--symlink "$(readlink "$d")" "$d");
  elif [ -d "$d" ]; then binds+=(--ro-bind "$d" "$d"); fi
done
for f in /etc/ld.so.cache /etc/ld.so.conf /etc/ld.so.conf.d /etc/alternatives; do
  [ -e "$f" ] && binds+=(--ro-bind "$f" "$f")
done
BWRAP="bwrap --unshare-user --uid 0 --gid 0 --unshare-ipc --unshare-pid --unshare-net --unshare-uts \
--die-with-parent ${binds[*]} --proc /proc --dev /dev --tmpfs /tmp --chdir / \
--setenv PATH /usr/bin:/bin --cap-drop ALL /bin/true"
$BWRAP

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pandora-sandbox-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/s.json" --export-markdown "$WORK/s.md" \
  -n "pandora-sandbox" "$HELPER -- /bin/true" \
  -n "bwrap" "$BWRAP" \
  -n "fork+exec" "/bin/true" >&2
cat "$WORK/s.md"
python3 - "$WORK/s.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
p, b, f = r["pandora-sandbox"], r["bwrap"], r["fork+exec"]
print(f"\nmedians: pandora-sandbox {p:.1f} ms, bwrap {b:.1f} ms, fork+exec {f:.1f} ms")
print(f"pandora-sandbox / bwrap = {p / b:.2f}x; pandora-sandbox / fork+exec = {p / f:.1f}x")
PY
