#!/usr/bin/env bash
# Parsing and decoding a generated registry index of PACKAGES x VERSIONS (20,000 x 5 by
# default: 100,000 `Version` blocks), reporting MB/s and peak memory.
# Usage: bench/index.sh [PACKAGES] [VERSIONS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p pandora-bench
B=target/release/pandora-bench
F=/tmp/pandora-bench/index-${1:-20000}x${2:-5}.acl
mkdir -p /tmp/pandora-bench
[ -f "$F" ] || "$B" gen-index "$F" "${1:-20000}" "${2:-5}"
"$B" parse-index "$F" "${3:-5}"
