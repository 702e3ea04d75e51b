#!/usr/bin/env bash
# Pandora's demo, on a fresh machine: builds Pandora, packs the example packages in
# examples/, publishes them into a registry served by pandora-registry on 127.0.0.1 and signs
# it with a new minisign key, points a temporary home at it with that key pinned, installs `hello` (which depends on `libgreet`), shows the store,
# shows hello active and runs it from the temporary $HOME/bin; then builds examples/hello-c (a
# C program) and examples/greet-tools (a script with a postinstall hook) from source in the
# sandbox, installs them and runs them. Everything it makes lives in one temporary directory,
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build Pandora (release; the first build takes several minutes)"
cargo build --release -p pandora-cli -p pandorad -p pandora-sandbox -p pandora-registry
bin=${CARGO_TARGET_DIR:-$PWD/target}/release
work=$(mktemp -d "${TMPDIR:-/tmp}/pandora-demo.XXXXXX")
# A temporary HOME too: activation links $HOME/bin into the profile.
export HOME=$work/home
export PANDORA_HOME=$HOME/pandora
server=
cleanup() {
  "$bin/pandora" stop >/dev/null 2>&1 || true
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pandora() { "$bin/pandora" --log human "$@"; }

step "pack the example packages (deterministic: same tree, same bytes)"
"$bin/pandora" acl check examples/*/manifest.acl
"$bin/pandora" pack examples/libgreet -o "$work"
"$bin/pandora" pack examples/hello -o "$work"

step "make a registry of them, sign it, and serve it on 127.0.0.1"
"$bin/pandora-registry" init "$work/registry" --name examples
"$bin/pandora-registry" add "$work/registry" "$work"/*.pkg
# The secret key stays outside the served directory.
keygen=$("$bin/pandora-registry" keygen "$work/registry" --secret-key "$work/keys/examples.key")
echo "$keygen"
key=$(sed -n 's/^public key: //p' <<<"$keygen")
"$bin/pandora-registry" check "$work/registry"
"$bin/pandora-registry" serve "$work/registry" --listen 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.log" &
server=$!
for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
echo "serving $url"

step "a fresh Pandora home uses it, pinning its key (pandorad starts on demand)"
pandora registry add examples "$url" --key "$key"
pandora registry list
pandora search greet

step "install hello: its dependency comes too, verified by sha256 and the pinned key, and both are activated"
pandora install hello --yes

step "the store"
pandora list --store
pandora info hello@1.0.0
pandora verify --all
pandora status

step "hello is active: \$HOME/bin now leads into the profile"
pandora list
ls -l "$HOME/bin"
echo "running $HOME/bin/hello"
"$HOME/bin/hello"

step "build from source in the sandbox: reproducible packages with provenance and an SBOM"
pandora build examples/hello-c -o "$work"
pandora build examples/greet-tools -o "$work" --check
pandora info "$work/hello-c-1.0.0.pkg"
pandora install "$work/hello-c-1.0.0.pkg" "$work/greet-tools-1.0.0.pkg" --yes
echo "running $HOME/bin/hello-c and $HOME/bin/greet"
"$HOME/bin/hello-c" demo
"$HOME/bin/greet"
echo "what greet-tools' postinstall hook wrote in its state directory:"
cat "$PANDORA_HOME/state/greet-tools/first-greeting"
