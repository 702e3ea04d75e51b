#!/usr/bin/env bash
# Pandora's demo: builds Pandora, packs the example packages in examples/ into deterministic
# .pkg files, shows that packing twice gives the same bytes, and inspects the result.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p pandora-cli
pandora=target/release/pandora
out=$(mktemp -d "${TMPDIR:-/tmp}/pandora-demo.XXXXXX")
trap 'rm -rf "$out"' EXIT

echo "== checking the example manifests"
"$pandora" acl check examples/*/manifest.acl examples/hello/hooks/preinstall.acl

echo
echo "== packing examples/libgreet and examples/hello"
"$pandora" pack examples/libgreet -o "$out"
"$pandora" pack examples/hello -o "$out"

echo
echo "== packing again, from another directory and with a different umask: same bytes"
mkdir "$out/again"
(cd /tmp && umask 077 && "$OLDPWD/$pandora" pack "$OLDPWD/examples/hello" -o "$out/again" >/dev/null 2>&1)
cmp "$out/hello-1.0.0.pkg" "$out/again/hello-1.0.0.pkg" && echo "identical: $(sha256sum "$out/hello-1.0.0.pkg" | cut -c1-16)…"

echo
echo "== inspecting hello-1.0.0.pkg"
"$pandora" pack --inspect "$out/hello-1.0.0.pkg"

echo
echo "== one value from a manifest"
echo "hello depends on: $("$pandora" acl get examples/hello/manifest.acl 'manifest.dependencies[0]')"
