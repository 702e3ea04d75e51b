#!/usr/bin/env bash
# make-corpus.sh - the benchmarks' corpus: N synthetic packages, deterministic from a seed.
#
# Under OUT it writes:
#   trees/<name>-<ver>/{bin,lib,share}/...      the unpacked trees (also usable as a GNU stow dir)
#   pkgs/<name>-<ver>.pkg                        Pandora packages: tar.zst of manifest.acl + files/
#   pkgs/SHA256SUMS                              sha256 of every .pkg
#   pacman/<name>-<ver>-1-x86_64.pkg.tar.zst     the same trees as pacman packages (.PKGINFO + usr/)
#   base.list, update.list                       "<name> <ver>" lines: pkg0000..pkg<N-1> 1.0.0,
#                                                and 1.0.1 of the first UPDATES of them
#   corpus.env                                   parameters and sizes, sourced by bench/install.sh
# Each package has 24 regular files (bin/, lib/, share/; log-uniform sizes scaled so that the N
# base packages hold TOTAL_MB in all) and one symlink, lib/lib<name>.so -> lib<name>.so.1. There
# are no dependencies between packages. Contents are compressible pseudo-random bytes that
# depend only on SEED: the same parameters give byte-identical archives on every machine.
# Needs bash, coreutils, python3, tar (GNU) and zstd. An OUT that already holds a corpus made
# with the same parameters is kept as it is (-f remakes it).
# Usage: make-corpus.sh [-n N (200)] [-s TOTAL_MB (150)] [-o OUT (/tmp/pandora-bench/corpus)]
#                       [-l ZSTD_LEVEL (19)] [-u UPDATES (1)] [-f]
# Each option can also be set through the environment variable of the same name, as can SEED,
# EPOCH (the mtime and build date stamped into every archive) and JOBS (parallel packers).
set -euo pipefail

N=${N:-200}                    # number of packages
TOTAL_MB=${TOTAL_MB:-150}      # total uncompressed payload of the N base packages (MiB)
OUT=${OUT:-/tmp/pandora-bench/corpus}
ZSTD_LEVEL=${ZSTD_LEVEL:-19}   # Arch's makepkg uses 20 (--ultra); 19 is the non-ultra max
UPDATES=${UPDATES:-1}          # first UPDATES packages also get a version 1.0.1
SEED=${SEED:-20240101}
EPOCH=${EPOCH:-1704067200}     # mtime/builddate stamped into every archive
JOBS=${JOBS:-$(nproc)}
FORCE=${FORCE:-0}

while getopts "n:s:o:l:u:fh" opt; do
  case $opt in
    n) N=$OPTARG ;; s) TOTAL_MB=$OPTARG ;; o) OUT=$OPTARG ;;
    l) ZSTD_LEVEL=$OPTARG ;; u) UPDATES=$OPTARG ;; f) FORCE=1 ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done

for t in python3 tar zstd sha256sum xargs; do
  command -v "$t" >/dev/null || { echo "make-corpus: missing tool: $t" >&2; exit 1; }
done

PARAMS="N=$N TOTAL_MB=$TOTAL_MB ZSTD_LEVEL=$ZSTD_LEVEL UPDATES=$UPDATES SEED=$SEED EPOCH=$EPOCH"
if [[ $FORCE != 1 && -f $OUT/corpus.env ]] && grep -qxF "PARAMS='$PARAMS'" "$OUT/corpus.env"; then
  echo "make-corpus: $OUT already holds this corpus ($PARAMS)"
  exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT/trees" "$OUT/pkgs" "$OUT/pacman"

echo "make-corpus: generating trees ($PARAMS)"
# ---------------------------------------------------------------------------------------
# 1. Plain trees (Python only for the byte generator; all randomness is from the seed).
# ---------------------------------------------------------------------------------------
python3 - "$OUT" "$N" "$TOTAL_MB" "$SEED" "$UPDATES" <<'PY'
import hashlib, math, os, random, sys

out, n, total_mb, seed, updates = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])

# (path template, content kind, (min bytes, max bytes)); sizes are log-uniform in the range,
# then all scaled by one factor so that the N base packages add up to TOTAL_MB.
LAYOUT = [
    ("bin/{n}",                     "bin",  (40_000, 800_000)),
    ("bin/{n}-helper",              "bin",  (8_000, 120_000)),
    ("bin/{n}-tool",                "bin",  (8_000, 160_000)),
    ("lib/lib{n}.so.1",             "bin",  (30_000, 1_200_000)),
    ("lib/lib{n}.a",                "bin",  (10_000, 300_000)),
    ("lib/pkgconfig/{n}.pc",        "text", (150, 600)),
    ("lib/{n}/plugin-a.so",         "bin",  (4_000, 80_000)),
    ("lib/{n}/plugin-b.so",         "bin",  (4_000, 80_000)),
    ("lib/{n}/plugin-c.so",         "bin",  (4_000, 80_000)),
    ("share/doc/{n}/README",        "text", (1_000, 12_000)),
    ("share/doc/{n}/COPYING",       "text", (12_000, 35_000)),
    ("share/doc/{n}/NEWS",          "text", (1_000, 40_000)),
    ("share/doc/{n}/CHANGELOG",     "text", (2_000, 120_000)),
    ("share/man/man1/{n}.1",        "text", (1_500, 20_000)),
    ("share/man/man1/{n}-helper.1", "text", (1_500, 20_000)),
    ("share/man/man1/{n}-tool.1",   "text", (1_500, 20_000)),
] + [("share/{n}/data-%02d.dat" % i, "bin" if i % 2 else "text", (256, 96_000)) for i in range(8)]
SYMLINK = ("lib/lib{n}.so", "lib{n}.so.1")

def rng_for(*parts):
    h = hashlib.sha256("/".join((seed,) + parts).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "little"))

def stream(nbytes, *parts):                  # deterministic bytes (FIPS 202 SHAKE128)
    return hashlib.shake_128("/".join((seed,) + parts).encode()).digest(nbytes)

# Literal alphabets: "bin" = 22% zero bytes + the rest spread; "text" = English-ish letters.
BIN_TABLE = bytes(0 if i < 56 else (i * 37) & 0xFF for i in range(256))
freq = "e12 t9 a8 o8 i7 n7 s6 h6 r6 d4 l4 c3 u3 m3 w2 f2 g2 y2 p2 b2 v1 k1 _2 .1 =1 -1 /1"
alpha = "".join(tok[0] * int(tok[1:]) for tok in freq.split())
alpha = alpha + " " * 28 + "\n" * 4
TEXT_TABLE = bytes((alpha * 4)[i].encode()[0] for i in range(256))

def content(name, ver, path, kind, size):
    r = rng_for("content", name, ver, path)
    vocab = VOCAB[kind]
    lit = stream(size, "lit", name, ver, path).translate(BIN_TABLE if kind == "bin" else TEXT_TABLE)
    p_match = 0.62 if kind == "bin" else 0.70
    out, pos, vl = [], 0, len(vocab)
    total = 0
    while total < size:
        if r.random() < p_match:             # repeated string from the package vocabulary
            L = 6 + int(r.random() ** 2 * 90)
            o = int(r.random() * (vl - L))
            out.append(vocab[o:o + L])
        else:                                # fresh literals
            L = 4 + int(r.random() ** 2 * 60)
            out.append(lit[pos:pos + L]); pos += L
        total += L
    return b"".join(out)[:size]

# Sizes for all base packages first, then one scale factor.
names = ["pkg%04d" % i for i in range(n)]
raw = {}
for name in names:
    r = rng_for("sizes", name)
    raw[name] = [math.exp(math.log(lo) + r.random() * (math.log(hi) - math.log(lo)))
                 for _, _, (lo, hi) in LAYOUT]
scale = total_mb * 1024 * 1024 / sum(sum(v) for v in raw.values())

def write_tree(name, ver, sizes):
    global VOCAB
    VOCAB = {k: stream(24_576, "vocab", k, name).translate(BIN_TABLE if k == "bin" else TEXT_TABLE)
             for k in ("bin", "text")}
    root = os.path.join(out, "trees", "%s-%s" % (name, ver))
    nbytes = 0
    for (tmpl, kind, _), s in zip(LAYOUT, sizes):
        rel = tmpl.format(n=name)
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        size = max(64, int(s))
        with open(p, "wb") as f:
            f.write(content(name, ver, rel, kind, size))
        os.chmod(p, 0o755 if rel.startswith("bin/") or rel.endswith(".so") or ".so." in rel else 0o644)
        nbytes += size
    os.symlink(SYMLINK[1].format(n=name), os.path.join(root, SYMLINK[0].format(n=name)))
    return nbytes

total = 0
with open(os.path.join(out, "base.list"), "w") as bl:
    for name in names:
        total += write_tree(name, "1.0.0", [s * scale for s in raw[name]])
        bl.write("%s 1.0.0\n" % name)
with open(os.path.join(out, "update.list"), "w") as ul:
    for name in names[:updates]:             # a "rebuilt" version: same layout, new bytes
        write_tree(name, "1.0.1", [s * scale for s in raw[name]])
        ul.write("%s 1.0.1\n" % name)
print("make-corpus: %d base packages, %.1f MiB payload" % (n, total / 1048576))
PY

# ---------------------------------------------------------------------------------------
# 2. Archives: deterministic tar (sorted, fixed mtime/owner/mode) | zstd, in parallel.
# ---------------------------------------------------------------------------------------
cat > "$OUT/.pack-one.sh" <<'SH'
#!/usr/bin/env bash
# .pack-one.sh OUT NAME VER   (LEVEL and EPOCH come from the environment)
# Writes the Pandora-shaped .pkg and the pacman package of one tree.
set -euo pipefail
out=$1 name=$2 ver=$3
TAR=(tar --sort=name --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
     --mtime=@"$EPOCH" --owner=0 --group=0 --numeric-owner --mode=u+rwX,go+rX,go-w)
top=$(printf '%s' "$name-$ver" | sed 's/[.]/\\./g')     # tree dir name as a sed regex
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# Pandora shape: manifest.acl first (a streaming installer can read it before the payload),
# then files/. The manifest is a `manifest` block with every field Pandora requires.
(
  echo "manifest {"
  echo "    string name = \"$name\";"
  echo "    string version = \"$ver\";"
  echo "    string arch = \"x86_64\";"
  echo "    string[] authors = { \"Benchmark Corpus <corpus@example.invalid>\" };"
  echo "    string license = \"MIT\";"
  echo "    string description = \"synthetic benchmark package $name\";"
  echo "    string[] tags = { \"bench\" };"
  echo "    string[] dependencies = { };"
  echo "    string[] install_hooks = { };"
  echo "    build_meta {"
  echo "        builder = \"make-corpus\";"
  echo "        date = \"$EPOCH\";"
  echo "    }"
  echo "}"
) > "$stage/manifest.acl"
"${TAR[@]}" -C "$stage" -cf - manifest.acl \
    -C "$out/trees" --transform="s,^$top,files," "$name-$ver" \
  | zstd -q -"$LEVEL" -o "$out/pkgs/$name-$ver.pkg"

# pacman shape: .PKGINFO first, payload under usr/.
{
  echo "# Generated by make-corpus.sh (synthetic benchmark package)"
  echo "pkgname = $name"
  echo "pkgbase = $name"
  echo "pkgver = $ver-1"
  echo "pkgdesc = synthetic benchmark package $name"
  echo "url = https://example.invalid/$name"
  echo "builddate = $EPOCH"
  echo "packager = corpus <corpus@example.invalid>"
  echo "size = $(du -sb --apparent-size "$out/trees/$name-$ver" | cut -f1)"
  echo "arch = x86_64"
  echo "license = custom"
} > "$stage/.PKGINFO"
"${TAR[@]}" -C "$stage" -cf - .PKGINFO \
    -C "$out/trees" --transform="s,^$top,usr," "$name-$ver" \
  | zstd -q -"$LEVEL" -o "$out/pacman/$name-$ver-1-x86_64.pkg.tar.zst"
SH
chmod +x "$OUT/.pack-one.sh"

echo "make-corpus: packing $(cat "$OUT/base.list" "$OUT/update.list" | wc -l) trees with zstd -$ZSTD_LEVEL on $JOBS jobs"
cat "$OUT/base.list" "$OUT/update.list" \
  | LEVEL=$ZSTD_LEVEL EPOCH=$EPOCH xargs -P "$JOBS" -L 1 "$OUT/.pack-one.sh" "$OUT"
rm -f "$OUT/.pack-one.sh"

(cd "$OUT/pkgs" && sha256sum -- *.pkg > SHA256SUMS)

# ---------------------------------------------------------------------------------------
# 3. Summary, sourced by bench/install.sh
# ---------------------------------------------------------------------------------------
base_trees=$(sed 's/ /-/; s|^|trees/|' "$OUT/base.list")
base_pkgs=$(sed 's/ /-/; s|^|pkgs/|; s|$|.pkg|' "$OUT/base.list")
base_pac=$(sed 's/ /-/; s|^|pacman/|; s|$|-1-x86_64.pkg.tar.zst|' "$OUT/base.list")
cd "$OUT"
# shellcheck disable=SC2086
{
  echo "PARAMS='$PARAMS'"
  echo "N=$N"
  echo "FILES=$(find $base_trees -type f | wc -l)"
  echo "LINKS=$(find $base_trees -type l | wc -l)"
  echo "DIRS=$(find $base_trees -mindepth 1 -type d | wc -l)"
  echo "PAYLOAD_BYTES=$(find $base_trees -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"
  echo "PKG_BYTES=$(du -cb --apparent-size $base_pkgs | tail -1 | cut -f1)"
  echo "PACMAN_BYTES=$(du -cb --apparent-size $base_pac | tail -1 | cut -f1)"
  echo "MEDIAN_FILE_BYTES=$(find $base_trees -type f -printf '%s\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
} > corpus.env
cat corpus.env
