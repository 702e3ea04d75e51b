#!/usr/bin/env bash
# Pandora's demo, on a fresh machine: builds Pandora, packs the example packages in
# examples/, publishes them into a registry served by pandora-registry on 127.0.0.1, points a
# temporary Pandora home at it, installs `hello` (which depends on `libgreet`) and shows the
# store, then runs hello from the store. Everything it makes lives in one temporary directory,
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build Pandora (release; the first build takes several minutes)"
cargo build --release -p pandora-cli -p pandorad -p pandora-registry
bin=${CARGO_TARGET_DIR:-$PWD/target}/release
work=$(mktemp -d "${TMPDIR:-/tmp}/pandora-demo.XXXXXX")
export PANDORA_HOME=$work/home
server=
cleanup() {
  "$bin/pandora" status >/dev/null 2>&1 && kill "$(cat "$PANDORA_HOME/run/lock")" 2>/dev/null || true
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pandora() { "$bin/pandora" --log human "$@"; }

step "pack the example packages (deterministic: same tree, same bytes)"
"$bin/pandora" acl check examples/*/manifest.acl
"$bin/pandora" pack examples/libgreet -o "$work"
"$bin/pandora" pack examples/hello -o "$work"

step "make a registry of them and serve it on 127.0.0.1"
"$bin/pandora-registry" init "$work/registry" --name examples
"$bin/pandora-registry" add "$work/registry" "$work"/*.pkg
"$bin/pandora-registry" serve "$work/registry" --listen 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.log" &
server=$!
for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
echo "serving $url"

step "a fresh Pandora home uses it (pandorad starts on demand)"
pandora registry add examples "$url"
pandora search greet

step "install hello: its dependency comes too, verified by sha256"
pandora install hello

step "the store"
pandora list --store
pandora info hello@1.0.0
pandora verify --all
pandora status

step "run hello from the store (activation onto PATH is not built yet)"
store=$PANDORA_HOME/store
exe=$(find "$store/hello/1.0.0/files" -type f -perm -u+x | sort | head -n 1)
[ -n "$exe" ] || { echo "no executable under $store/hello/1.0.0/files" >&2; exit 1; }
# hello finds libgreet next to itself (../lib/greet/), as it will in a profile. Until profiles
# exist, two symlinks put the two store entries side by side; the program run is the store's.
run=$work/run
mkdir -p "$run/bin"
ln -s "$exe" "$run/bin/${exe##*/}"
ln -s "$store/libgreet/2.1.0/files/lib" "$run/lib"
echo "running $exe"
echo "  (as $run/bin/${exe##*/}, with $run/lib -> $store/libgreet/2.1.0/files/lib)"
"$run/bin/${exe##*/}"
