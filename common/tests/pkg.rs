//! The `.pkg` format: pack/unpack round trips, determinism, and a malicious corpus built with a
//! hand-written tar writer (the tar crate's builder refuses most of these archives).

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pandora_common::pkg::{
    EntryInfo, EntryKind, Limits, PackOptions, UnpackError, inspect, pack, pack_to_dir, unpack,
};
use sha2::{Digest, Sha256};

const MANIFEST: &str = r#"manifest {
    string name = "hello";
    string version = "1.0.0";
    string arch = "x86_64";
    string[] authors = { "Test <test@example.invalid>" };
    string license = "MIT";
    string[] dependencies = { };
    string[] install_hooks = { };
    build_meta {
        builder = "test";
    }
}
"#;

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

// ---------------------------------------------------------------------------------------------
// A raw tar writer: 512-byte headers built by hand, so names, types and sizes can be anything.
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Hdr {
    name: Vec<u8>,
    typeflag: u8,
    mode: u32,
    /// Size written into the header.
    size: u64,
    link: Vec<u8>,
    data: Vec<u8>,
}

fn octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}", width = field.len() - 1);
    let last = field.len() - 1;
    field[..last].copy_from_slice(text.as_bytes());
    field[last] = 0;
}

fn header_block(h: &Hdr) -> [u8; 512] {
    let mut b = [0u8; 512];
    let name = &h.name[..h.name.len().min(100)];
    b[..name.len()].copy_from_slice(name);
    octal(&mut b[100..108], u64::from(h.mode));
    octal(&mut b[108..116], 0);
    octal(&mut b[116..124], 0);
    octal(&mut b[124..136], h.size);
    octal(&mut b[136..148], 0);
    b[156] = h.typeflag;
    let link = &h.link[..h.link.len().min(100)];
    b[157..157 + link.len()].copy_from_slice(link);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    fix_checksum(&mut b);
    b
}

fn fix_checksum(b: &mut [u8]) {
    b[148..156].fill(b' ');
    let sum: u32 = b[..512].iter().map(|&x| u32::from(x)).sum();
    let text = format!("{sum:06o}\0 ");
    b[148..156].copy_from_slice(text.as_bytes());
}

#[derive(Clone, Default)]
struct RawTar {
    out: Vec<u8>,
}

impl RawTar {
    fn new() -> Self {
        RawTar::default()
    }

    fn push(mut self, h: Hdr) -> Self {
        self.out.extend_from_slice(&header_block(&h));
        self.out.extend_from_slice(&h.data);
        let pad = (512 - h.data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0, pad));
        self
    }

    fn entry(self, name: &[u8], typeflag: u8, mode: u32, link: &[u8], data: &[u8]) -> Self {
        let h = Hdr {
            name: name.to_vec(),
            typeflag,
            mode,
            size: data.len() as u64,
            link: link.to_vec(),
            data: data.to_vec(),
        };
        self.push(h)
    }

    fn manifest(self) -> Self {
        self.file(b"manifest.acl", MANIFEST.as_bytes())
    }

    fn file(self, name: &[u8], data: &[u8]) -> Self {
        self.entry(name, b'0', 0o644, b"", data)
    }

    fn file_mode(self, name: &[u8], mode: u32, data: &[u8]) -> Self {
        self.entry(name, b'0', mode, b"", data)
    }

    fn dir(self, name: &[u8]) -> Self {
        self.entry(name, b'5', 0o755, b"", b"")
    }

    fn symlink(self, name: &[u8], target: &[u8]) -> Self {
        self.entry(name, b'2', 0o777, target, b"")
    }

    /// A GNU long-name header, then the entry itself with its name cut to 100 bytes.
    fn long_file(self, name: &[u8], data: &[u8]) -> Self {
        let mut long = name.to_vec();
        long.push(0);
        self.entry(b"././@LongLink", b'L', 0o644, b"", &long)
            .file(name, data)
    }

    fn pax(self, records: &[(&str, &str)]) -> Self {
        let mut data = String::new();
        for (k, v) in records {
            let body = format!(" {k}={v}\n");
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            data.push_str(&format!("{len}{body}"));
        }
        self.entry(b"PaxHeaders/x", b'x', 0o644, b"", data.as_bytes())
    }

    fn raw(mut self, bytes: &[u8]) -> Self {
        self.out.extend_from_slice(bytes);
        self
    }

    fn tar(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }

    fn zst(self) -> Vec<u8> {
        zstd::encode_all(&self.tar()[..], 3).expect("compress")
    }
}

fn zst(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).expect("compress")
}

/// Every path under `dir` (not following symlinks) with its kind and size.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, u64)> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (String, u64)>) {
        for entry in fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("dirent").path();
            let meta = fs::symlink_metadata(&path).expect("lstat");
            out.insert(
                path.clone(),
                (format!("{:?}", meta.file_type()), meta.len()),
            );
            if meta.is_dir() {
                walk(&path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The malicious corpus.
// ---------------------------------------------------------------------------------------------

struct Case {
    name: &'static str,
    archive: fn() -> Vec<u8>,
    limits: fn() -> Limits,
    /// Substrings the error's Display must contain: the entry and the rule.
    expect: &'static [&'static str],
}

fn default_limits() -> Limits {
    Limits::default()
}

fn bomb() -> Vec<u8> {
    // 64 MiB of zeros in one file, streamed through the encoder to keep memory low.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
    let size = 64u64 << 20;
    let head = RawTar::new().manifest().push(Hdr {
        name: b"files/zeros".to_vec(),
        typeflag: b'0',
        mode: 0o644,
        size,
        link: Vec::new(),
        data: Vec::new(),
    });
    enc.write_all(&head.out).expect("write");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).expect("write");
    }
    enc.write_all(&[0u8; 1024]).expect("write");
    enc.finish().expect("finish")
}

fn many_entries() -> Vec<u8> {
    let mut tar = RawTar::new().manifest().dir(b"files/");
    for i in 0..100 {
        tar = tar.file(format!("files/f{i:03}").as_bytes(), b"x");
    }
    tar.zst()
}

fn valid() -> Vec<u8> {
    RawTar::new()
        .manifest()
        .dir(b"files/")
        .file(b"files/a", b"hello\n")
        .zst()
}

const CASES: &[Case] = &[
    Case {
        name: "dotdot in files",
        archive: || {
            RawTar::new()
                .manifest()
                .file(b"files/../../x", b"pwned")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/../../x`", "leaves the package"],
    },
    Case {
        name: "dotdot at the top",
        archive: || RawTar::new().manifest().file(b"../x", b"pwned").zst(),
        limits: default_limits,
        expect: &["entry `../x`", "leaves the package"],
    },
    Case {
        name: "dotdot deep",
        archive: || {
            RawTar::new()
                .manifest()
                .file(b"files/a/../../../etc/passwd", b"root::0:0")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/a/../../../etc/passwd`", "leaves the package"],
    },
    Case {
        name: "absolute path",
        archive: || {
            RawTar::new()
                .manifest()
                .file(b"/tmp/pandora-pkg-test-absolute", b"pwned")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `/tmp/pandora-pkg-test-absolute`", "absolute path"],
    },
    Case {
        name: "double slash prefix",
        archive: || RawTar::new().manifest().file(b"//files/x", b"x").zst(),
        limits: default_limits,
        expect: &["entry `//files/x`", "absolute path"],
    },
    Case {
        name: "dot slash prefix",
        archive: || RawTar::new().manifest().file(b"./files/x", b"x").zst(),
        limits: default_limits,
        expect: &["entry `./files/x`", "`.` path component"],
    },
    Case {
        name: "dot component inside",
        archive: || RawTar::new().manifest().file(b"files/./x", b"x").zst(),
        limits: default_limits,
        expect: &["entry `files/./x`", "`.` path component"],
    },
    Case {
        name: "empty component",
        archive: || RawTar::new().manifest().file(b"files//x", b"x").zst(),
        limits: default_limits,
        expect: &["entry `files//x`", "empty path component"],
    },
    Case {
        name: "trailing slash on a file",
        archive: || RawTar::new().manifest().file(b"files/x/", b"x").zst(),
        limits: default_limits,
        expect: &["entry `files/x/`", "trailing `/`"],
    },
    Case {
        name: "symlink outside, then a file through it",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/")
                .symlink(b"files/evil", b"../../..")
                .file(b"files/evil/pwned", b"x")
                .zst()
        },
        limits: default_limits,
        expect: &[
            "entry `files/evil`",
            "symlink target `../../..` leaves `files/`",
        ],
    },
    Case {
        name: "file through an inside symlink",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/d/")
                .symlink(b"files/l", b"d")
                .file(b"files/l/x", b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/l/x`", "goes through the symlink `files/l`"],
    },
    Case {
        name: "symlink, then a directory of the same name",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/d/")
                .symlink(b"files/l", b"d")
                .dir(b"files/l/")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/l/`", "duplicate path"],
    },
    Case {
        name: "absolute symlink target",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/")
                .symlink(b"files/etc", b"/etc")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/etc`", "symlink target `/etc` is absolute"],
    },
    Case {
        name: "symlink from files into hooks",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/")
                .symlink(b"files/h", b"../hooks/x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/h`", "leaves `files/`"],
    },
    Case {
        name: "chain of symlinks that escapes only physically",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/x/")
                .symlink(b"files/x/y", b"..")
                .symlink(b"files/up", b"x/y/..")
                .zst()
        },
        limits: default_limits,
        expect: &[
            "entry `files/up`",
            "symlink target `x/y/..` leaves `files/`",
        ],
    },
    Case {
        name: "a/b/s -> ../.. then t -> a/b/s/../..",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/a/b/")
                .symlink(b"files/a/b/s", b"../..")
                .symlink(b"files/t", b"a/b/s/../..")
                .zst()
        },
        limits: default_limits,
        expect: &[
            "entry `files/t`",
            "symlink target `a/b/s/../..` leaves `files/`",
        ],
    },
    Case {
        name: "symlink loop",
        archive: || {
            RawTar::new()
                .manifest()
                .dir(b"files/")
                .symlink(b"files/a", b"b")
                .symlink(b"files/b", b"a")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/a`", "40 hops"],
    },
    Case {
        name: "hardlink out of the package",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(b"files/h", b'1', 0o644, b"../../etc/passwd", b"")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/h`", "hardlink (to `../../etc/passwd`)"],
    },
    Case {
        name: "hardlink inside the package",
        archive: || {
            RawTar::new()
                .manifest()
                .file(b"files/a", b"a")
                .entry(b"files/b", b'1', 0o644, b"files/a", b"")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/b`", "hardlink (to `files/a`)"],
    },
    Case {
        name: "character device",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(b"files/null", b'3', 0o666, b"", b"")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/null`", "character device"],
    },
    Case {
        name: "block device",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(b"files/sda", b'4', 0o660, b"", b"")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/sda`", "block device"],
    },
    Case {
        name: "fifo",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(b"files/pipe", b'6', 0o644, b"", b"")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/pipe`", "fifo"],
    },
    Case {
        name: "contiguous file",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(b"files/c", b'7', 0o644, b"", b"")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/c`", "contiguous file"],
    },
    Case {
        name: "setuid",
        archive: || {
            RawTar::new()
                .manifest()
                .file_mode(b"files/su", 0o4755, b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/su`", "mode 4755 has the setuid bit"],
    },
    Case {
        name: "setgid",
        archive: || {
            RawTar::new()
                .manifest()
                .file_mode(b"files/sg", 0o2755, b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/sg`", "setgid"],
    },
    Case {
        name: "sticky directory",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(b"files/tmp/", b'5', 0o1777, b"", b"")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/tmp/`", "sticky"],
    },
    Case {
        name: "world-writable file",
        archive: || {
            RawTar::new()
                .manifest()
                .file_mode(b"files/ww", 0o666, b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/ww`", "world-writable"],
    },
    Case {
        name: "duplicate path",
        archive: || {
            RawTar::new()
                .manifest()
                .file(b"files/a", b"one")
                .file(b"files/a", b"two")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/a`", "duplicate path"],
    },
    Case {
        name: "duplicate manifest",
        archive: || RawTar::new().manifest().manifest().zst(),
        limits: default_limits,
        expect: &["entry `manifest.acl`", "duplicate path"],
    },
    Case {
        name: "path below a file",
        archive: || {
            RawTar::new()
                .manifest()
                .file(b"files/a", b"one")
                .file(b"files/a/b", b"two")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/a/b`", "parent `files/a` is not a directory"],
    },
    Case {
        name: "size header larger than the data",
        archive: || {
            let tar = RawTar::new().manifest().push(Hdr {
                name: b"files/big".to_vec(),
                typeflag: b'0',
                mode: 0o644,
                size: 5000,
                link: Vec::new(),
                data: vec![b'x'; 100],
            });
            zst(&tar.tar())
        },
        limits: default_limits,
        expect: &["entry `files/big`", "header says 5000 bytes"],
    },
    Case {
        name: "directory with data",
        archive: || {
            let tar = RawTar::new().manifest().push(Hdr {
                name: b"files/d/".to_vec(),
                typeflag: b'5',
                mode: 0o755,
                size: 512,
                link: Vec::new(),
                data: vec![b'x'; 512],
            });
            zst(&tar.tar())
        },
        limits: default_limits,
        expect: &["entry `files/d/`", "carries 512 bytes"],
    },
    Case {
        name: "truncated zstd stream",
        archive: || {
            let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
            let full = RawTar::new().manifest().file(b"files/data", &data).zst();
            full[..full.len() / 2].to_vec()
        },
        limits: default_limits,
        expect: &["entry `files/data`", "cannot decompress"],
    },
    Case {
        name: "trailing garbage after the zstd frame",
        archive: || {
            let mut bytes = valid();
            bytes.extend_from_slice(b"garbage");
            bytes
        },
        limits: default_limits,
        expect: &[
            "archive (after entry `files/a`)",
            "data after the end of the zstd frame",
        ],
    },
    Case {
        name: "a second zstd frame",
        archive: || {
            let mut bytes = valid();
            bytes.extend_from_slice(&zst(&[0u8; 1024]));
            bytes
        },
        limits: default_limits,
        expect: &["data after the end of the zstd frame"],
    },
    Case {
        name: "non-zero bytes after the tar end",
        archive: || {
            zst(&RawTar::new()
                .manifest()
                .dir(b"files/")
                .raw(&[0u8; 1024])
                .raw(b"sneaky")
                .tar())
        },
        limits: default_limits,
        expect: &[
            "archive (after entry `files`)",
            "non-zero bytes after the end of the tar",
        ],
    },
    Case {
        name: "no end-of-archive marker",
        archive: || zst(&RawTar::new().manifest().dir(b"files/").out),
        limits: default_limits,
        expect: &["archive (after entry `files`)", "end-of-archive marker"],
    },
    Case {
        name: "zstd bomb past the ratio cap",
        archive: bomb,
        limits: default_limits,
        expect: &["entry `files/zeros`", "expands more than 250 times"],
    },
    Case {
        name: "total size cap",
        archive: || {
            let data: Vec<u8> = (0..600_000u32)
                .flat_map(|i| (i.wrapping_mul(2_654_435_761)).to_le_bytes())
                .collect();
            RawTar::new().manifest().file(b"files/big", &data).zst()
        },
        limits: || Limits {
            max_total_size: 1 << 20,
            ..Limits::default()
        },
        expect: &["entry `files/big`", "passes the limit of 1048576 bytes"],
    },
    Case {
        name: "entry-count bomb",
        archive: many_entries,
        limits: || Limits {
            max_entries: 50,
            ..Limits::default()
        },
        expect: &["entry `files/f048`", "more than 50 entries"],
    },
    Case {
        name: "overlong path",
        archive: || {
            let name = format!("files/{}", "d/".repeat(2500));
            RawTar::new()
                .manifest()
                .long_file(&name.as_bytes()[..name.len() - 1], b"x")
                .zst()
        },
        limits: default_limits,
        expect: &[
            "entry `files/d/d/d/d/d/d/",
            "is 5005 bytes long, the limit is 4096",
        ],
    },
    Case {
        name: "overlong component",
        archive: || {
            let name = format!("files/{}", "a".repeat(300));
            RawTar::new()
                .manifest()
                .long_file(name.as_bytes(), b"x")
                .zst()
        },
        limits: default_limits,
        expect: &[
            "entry `files/aaaaaaaa",
            "component is 300 bytes long, the limit is 255",
        ],
    },
    Case {
        name: "NUL inside a long name",
        archive: || {
            RawTar::new()
                .manifest()
                .long_file(b"files/a\0b", b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/a\\u{0}b`", "NUL"],
    },
    Case {
        name: "missing manifest",
        archive: || RawTar::new().dir(b"files/").file(b"files/x", b"x").zst(),
        limits: default_limits,
        expect: &["entry `files/`", "`manifest.acl` must be the first entry"],
    },
    Case {
        name: "empty archive",
        archive: || RawTar::new().zst(),
        limits: default_limits,
        expect: &["archive", "no `manifest.acl`"],
    },
    Case {
        name: "empty input",
        archive: Vec::new,
        limits: default_limits,
        expect: &["archive", "decompress"],
    },
    Case {
        name: "manifest not first",
        archive: || RawTar::new().file(b"files/x", b"x").manifest().zst(),
        limits: default_limits,
        expect: &["entry `files/x`", "`manifest.acl` must be the first entry"],
    },
    Case {
        name: "manifest is a directory",
        archive: || RawTar::new().dir(b"manifest.acl/").zst(),
        limits: default_limits,
        expect: &[
            "entry `manifest.acl/`",
            "`manifest.acl` must be the first entry",
        ],
    },
    Case {
        name: "invalid manifest",
        archive: || {
            RawTar::new()
                .file(b"manifest.acl", b"this is not a manifest")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `manifest.acl`", "invalid manifest"],
    },
    Case {
        name: "manifest too large",
        archive: || RawTar::new().file(b"manifest.acl", &[b' '; 4096]).zst(),
        limits: || Limits {
            max_manifest_size: 1024,
            ..Limits::default()
        },
        expect: &[
            "entry `manifest.acl`",
            "manifest is 4096 bytes, the limit is 1024",
        ],
    },
    Case {
        name: "unknown top-level entry",
        archive: || RawTar::new().manifest().file(b"etc/passwd", b"x").zst(),
        limits: default_limits,
        expect: &["entry `etc/passwd`", "not allowed at the top level"],
    },
    Case {
        name: "files as a regular file",
        archive: || RawTar::new().manifest().file(b"files", b"x").zst(),
        limits: default_limits,
        expect: &["entry `files`", "must be a directory"],
    },
    Case {
        name: "non-UTF-8 path",
        archive: || RawTar::new().manifest().file(b"files/\xff\xfe", b"x").zst(),
        limits: default_limits,
        expect: &["entry `files/\\xff\\xfe`", "not valid UTF-8"],
    },
    Case {
        name: "control characters are escaped",
        archive: || {
            RawTar::new()
                .manifest()
                .file(b"files/\x1b[2J/../x", b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/\\u{1b}[2J/../x`", "leaves the package"],
    },
    Case {
        name: "PAX global header",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(
                    b"pax_global_header",
                    b'g',
                    0o644,
                    b"",
                    b"18 comment=hello\n",
                )
                .zst()
        },
        limits: default_limits,
        expect: &["entry `pax_global_header`", "PAX global header"],
    },
    Case {
        name: "PAX path with dotdot",
        archive: || {
            RawTar::new()
                .manifest()
                .pax(&[("path", "files/../../x")])
                .file(b"files/innocent", b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/../../x`", "leaves the package"],
    },
    Case {
        name: "PAX size override",
        archive: || {
            RawTar::new()
                .manifest()
                .pax(&[("size", "99999")])
                .file(b"files/a", b"x")
                .zst()
        },
        limits: default_limits,
        expect: &["entry `files/a`", "unsupported PAX record `size`"],
    },
    Case {
        name: "long name without an entry",
        archive: || {
            RawTar::new()
                .manifest()
                .entry(b"././@LongLink", b'L', 0o644, b"", b"files/x\0")
                .zst()
        },
        limits: default_limits,
        expect: &[
            "archive (after entry `manifest.acl`)",
            "GNU long name header without an entry",
        ],
    },
    Case {
        name: "bad header checksum",
        archive: || {
            let mut tar = RawTar::new().manifest().file(b"files/a", b"x").tar();
            tar[1024] ^= 1;
            zst(&tar)
        },
        limits: default_limits,
        expect: &[
            "archive (after entry `manifest.acl`)",
            "cannot read a tar header",
        ],
    },
];

#[test]
fn malicious_archives_are_refused_and_leave_nothing() {
    assert!(CASES.len() >= 25);
    for case in CASES {
        let outer = tempfile::tempdir().expect("tempdir");
        let parent = outer.path().join("staging");
        fs::create_dir(&parent).expect("mkdir");
        let before = snapshot(outer.path());
        let bytes = (case.archive)();
        let limits = (case.limits)();

        let err = match unpack(&bytes[..], &parent, &limits) {
            Ok(_) => panic!("{}: unpack accepted the archive", case.name),
            Err(err) => err,
        };
        let shown = err.to_string();
        eprintln!("{}: {shown}", case.name);
        for want in case.expect {
            assert!(
                shown.contains(want),
                "{}: error `{shown}` does not contain `{want}`",
                case.name
            );
        }
        assert_eq!(
            before,
            snapshot(outer.path()),
            "{}: unpack left something behind",
            case.name
        );
        assert!(!Path::new("/tmp/pandora-pkg-test-absolute").exists());

        let inspected = inspect(&bytes[..], &limits)
            .expect_err(case.name)
            .to_string();
        assert_eq!(
            inspected, shown,
            "{}: inspect and unpack disagree",
            case.name
        );
    }
}

#[test]
fn errors_keep_their_cause() {
    let outer = tempfile::tempdir().expect("tempdir");
    let bytes = RawTar::new().file(b"manifest.acl", b"nonsense").zst();
    let err = unpack(&bytes[..], outer.path(), &Limits::default()).expect_err("invalid manifest");
    assert!(matches!(err, UnpackError::Manifest { .. }));
    let source = std::error::Error::source(&err).expect("the parser's error is the source");
    assert!(source.to_string().contains("manifest.acl"), "{source}");
}

// ---------------------------------------------------------------------------------------------
// Packing and round trips.
// ---------------------------------------------------------------------------------------------

const LONG_DIR: &str =
    "files/share/a-rather-long-directory-name-for-testing/another-quite-long-directory";

fn write(path: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, data).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A source tree exercising every kind of entry. `variant` changes everything that must not
/// matter: creation order, mtimes and non-exec permission bits.
fn make_tree(root: &Path, variant: bool) {
    let (plain, exec, mtime) = if variant {
        (0o600, 0o700, 1_000_000)
    } else {
        (0o644, 0o755, 2_000_000_000)
    };
    let long_file = format!("{LONG_DIR}/and-finally-a-file-with-a-long-name.txt");
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![
        ("manifest.acl".into(), MANIFEST.as_bytes().to_vec(), plain),
        (
            "files/bin/tool".into(),
            b"#!/bin/sh\necho hi\n".to_vec(),
            exec,
        ),
        ("files/lib/libx.so.1".into(), vec![7u8; 70_000], plain),
        (
            "files/share/doc/README".into(),
            b"read me\n".to_vec(),
            plain,
        ),
        (long_file, b"long\n".to_vec(), plain),
        ("files/setuid-in-source".into(), b"x".to_vec(), 0o4755),
        ("hooks/post.acl".into(), b"hook {}\n".to_vec(), plain),
        ("sbom.spdx.json".into(), b"{}\n".to_vec(), plain),
        ("provenance.acl".into(), b"provenance {}\n".to_vec(), plain),
    ];
    if variant {
        files.reverse();
    }
    for (rel, data, mode) in &files {
        write(&root.join(rel), data, *mode);
    }
    fs::create_dir_all(root.join("files/empty")).expect("mkdir");
    fs::hard_link(
        root.join("files/share/doc/README"),
        root.join("files/share/doc/README.hardlink"),
    )
    .expect("link");
    symlink("libx.so.1", root.join("files/lib/libx.so")).expect("symlink");
    symlink("../../lib/libx.so.1", root.join("files/share/doc/lib-link")).expect("symlink");
    let long_target = format!(
        "{}/and-finally-a-file-with-a-long-name.txt",
        &LONG_DIR["files/share/".len()..]
    );
    symlink(&long_target, root.join("files/share/long-link")).expect("symlink");
    for rel in [
        "files",
        "files/bin",
        "files/lib",
        "files/empty",
        "hooks",
        "manifest.acl",
        "files/bin/tool",
    ] {
        let path = root.join(rel);
        if variant {
            let exec = fs::metadata(&path).expect("stat").mode() & 0o100;
            let mode = if path.is_dir() { 0o700 } else { 0o600 | exec };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            // Another owner when the tests run as root; refused (and irrelevant) otherwise.
            let _ = std::os::unix::fs::lchown(&path, Some(4242), Some(4242));
        }
        let file = fs::File::open(&path).expect("open");
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime))
            .expect("set mtime");
    }
}

fn fast() -> PackOptions {
    PackOptions {
        source_date_epoch: 1_700_000_000,
        level: 3,
    }
}

fn pack_bytes(src: &Path, opts: &PackOptions) -> (Vec<u8>, pandora_common::pkg::PackReport) {
    let mut out = Vec::new();
    let report = pack(src, &mut out, opts).expect("pack");
    (out, report)
}

#[test]
fn pack_then_unpack_round_trips() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    make_tree(&src, false);
    let (bytes, report) = pack_bytes(&src, &fast());
    assert_eq!(report.file_name, "hello-1.0.0.pkg");
    assert_eq!(report.sha256, sha256_hex(&bytes));
    assert_eq!(report.compressed_size, bytes.len() as u64);

    let parent = tmp.path().join("staging");
    fs::create_dir(&parent).expect("mkdir");
    let unpacked = unpack(&bytes[..], &parent, &Limits::default()).expect("unpack");
    assert_eq!(unpacked.sha256, report.sha256);
    assert_eq!(unpacked.compressed_size, bytes.len() as u64);
    assert_eq!(unpacked.manifest.name, "hello");
    assert_eq!(unpacked.manifest_text, MANIFEST);
    assert_eq!(unpacked.entries.len(), report.entries);
    let root = unpacked.path().to_path_buf();
    assert_eq!(fs::metadata(&root).expect("stat").mode() & 0o7777, 0o755);

    let paths: Vec<&str> = unpacked.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths[0], "manifest.acl");
    let mut sorted = paths[1..].to_vec();
    sorted.sort();
    assert_eq!(paths[1..], sorted[..], "entries are sorted by path bytes");
    for expected in [
        "files",
        "files/empty",
        "hooks",
        "hooks/post.acl",
        "sbom.spdx.json",
        "provenance.acl",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }

    let by_path: BTreeMap<&str, &EntryInfo> = unpacked
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let check_file = |rel: &str, mode: u32| {
        let entry = by_path[rel];
        let on_disk = fs::read(root.join(rel)).expect("read");
        let source = fs::read(src.join(rel)).expect("read");
        assert_eq!(on_disk, source, "{rel}");
        assert_eq!(entry.kind, EntryKind::File);
        assert_eq!(entry.size, source.len() as u64);
        assert_eq!(
            entry.sha256.as_deref(),
            Some(sha256_hex(&source).as_str()),
            "{rel}"
        );
        assert_eq!(entry.mode, mode, "{rel}");
        assert_eq!(
            fs::metadata(root.join(rel)).expect("stat").mode() & 0o7777,
            mode,
            "{rel}"
        );
    };
    check_file("manifest.acl", 0o644);
    check_file("files/bin/tool", 0o755);
    check_file("files/lib/libx.so.1", 0o644);
    check_file("files/setuid-in-source", 0o755);
    check_file("files/share/doc/README.hardlink", 0o644);
    check_file(
        &format!("{LONG_DIR}/and-finally-a-file-with-a-long-name.txt"),
        0o644,
    );
    assert!(LONG_DIR.len() + "/and-finally-a-file-with-a-long-name.txt".len() > 100);

    for (link, target) in [
        ("files/lib/libx.so", "libx.so.1"),
        ("files/share/doc/lib-link", "../../lib/libx.so.1"),
    ] {
        assert_eq!(by_path[link].kind, EntryKind::Symlink);
        assert_eq!(by_path[link].link_target.as_deref(), Some(target));
        assert_eq!(
            fs::read_link(root.join(link)).expect("readlink"),
            Path::new(target)
        );
    }
    let long_link = by_path["files/share/long-link"]
        .link_target
        .as_deref()
        .expect("target");
    assert!(long_link.len() > 100);
    assert_eq!(
        fs::read(root.join("files/share/long-link")).expect("follow"),
        b"long\n"
    );
    let empty = by_path["files/empty"];
    assert_eq!(
        (empty.kind, empty.mode, empty.size),
        (EntryKind::Dir, 0o755, 0)
    );
    assert_eq!(
        fs::read_dir(root.join("files/empty"))
            .expect("read_dir")
            .count(),
        0
    );
    assert_eq!(
        fs::metadata(root.join("files/empty")).expect("stat").mode() & 0o7777,
        0o755
    );

    let inspection = inspect(&bytes[..], &Limits::default()).expect("inspect");
    assert_eq!(inspection.entries, unpacked.entries);
    assert_eq!(inspection.sha256, report.sha256);

    // Dropping keeps nothing; into_path keeps the directory.
    drop(unpacked);
    assert!(!root.exists());
    let kept = unpack(&bytes[..], &parent, &Limits::default())
        .expect("unpack")
        .into_path();
    assert!(kept.join("files/bin/tool").is_file());
}

#[test]
fn archive_headers_are_normalised() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(tmp.path(), true);
    let (bytes, _) = pack_bytes(tmp.path(), &fast());
    let tar = zstd::decode_all(&bytes[..]).expect("decompress");
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().expect("entries") {
        let entry = entry.expect("entry");
        let h = entry.header();
        let path = entry.path().expect("path").display().to_string();
        assert_eq!(h.mtime().expect("mtime"), 1_700_000_000, "{path}");
        assert_eq!(
            (h.uid().expect("uid"), h.gid().expect("gid")),
            (0, 0),
            "{path}"
        );
        assert_eq!(h.username_bytes(), Some(&b""[..]), "{path}");
        assert_eq!(h.groupname_bytes(), Some(&b""[..]), "{path}");
        let mode = h.mode().expect("mode");
        assert!([0o644, 0o755, 0o777].contains(&mode), "{path}: {mode:o}");
    }
}

#[test]
fn packing_is_deterministic() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    make_tree(&a.path().join("tree"), false);
    make_tree(&b.path().join("tree"), true);
    let opts = PackOptions {
        source_date_epoch: 1_234_567_890,
        level: 3,
    };
    let (bytes_a, report_a) = pack_bytes(&a.path().join("tree"), &opts);

    // Pack the other tree through a relative path from another working directory.
    let cwd = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(b.path()).expect("chdir");
    let packed = pack_bytes(Path::new("tree"), &opts);
    std::env::set_current_dir(cwd).expect("chdir back");
    let (bytes_b, report_b) = packed;

    assert!(bytes_a == bytes_b, "same content, different bytes");
    assert_eq!(report_a, report_b);
    assert_eq!(sha256_hex(&bytes_a), report_a.sha256);

    // pack_to_dir writes the same bytes under <name>-<version>.pkg, leaving no temp file.
    let out = tempfile::tempdir().expect("tempdir");
    let packed = pack_to_dir(&a.path().join("tree"), out.path(), &opts).expect("pack_to_dir");
    assert_eq!(packed.path, out.path().join("hello-1.0.0.pkg"));
    assert_eq!(fs::read(&packed.path).expect("read"), bytes_a);
    assert_eq!(fs::read_dir(out.path()).expect("read_dir").count(), 1);

    // The epoch is the only metadata that shows.
    let other = PackOptions {
        source_date_epoch: 1,
        ..opts
    };
    assert_ne!(pack_bytes(&a.path().join("tree"), &other).0, bytes_a);
}

fn pack_err(setup: impl FnOnce(&Path)) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    write(&src.join("manifest.acl"), MANIFEST.as_bytes(), 0o644);
    fs::create_dir_all(src.join("files")).expect("mkdir");
    setup(&src);
    let mut out = Vec::new();
    pack(&src, &mut out, &fast())
        .expect_err("pack must refuse")
        .to_string()
}

#[test]
fn pack_refuses_bad_trees() {
    let err = pack_err(|src| symlink("../../etc/passwd", src.join("files/evil")).expect("symlink"));
    assert!(
        err.contains("files/evil") && err.contains("leaves `files/`"),
        "{err}"
    );

    let err = pack_err(|src| {
        fs::create_dir_all(src.join("files/a/b")).expect("mkdir");
        symlink("../..", src.join("files/a/b/s")).expect("symlink");
        symlink("a/b/s/../..", src.join("files/t")).expect("symlink");
    });
    assert!(
        err.contains("files/t") && err.contains("leaves `files/`"),
        "{err}"
    );

    let err = pack_err(|src| write(&src.join("README"), b"x", 0o644));
    assert!(err.contains("README") && err.contains("top level"), "{err}");

    let err = pack_err(|src| {
        std::os::unix::net::UnixListener::bind(src.join("files/sock")).expect("bind");
    });
    assert!(
        err.contains("files/sock") && err.contains("socket"),
        "{err}"
    );

    let err = pack_err(|src| fs::remove_file(src.join("manifest.acl")).expect("rm"));
    assert!(err.contains("no manifest.acl"), "{err}");

    let err = pack_err(|src| fs::write(src.join("manifest.acl"), "nonsense").expect("write"));
    assert!(
        err.contains("manifest.acl") && err.contains("invalid manifest"),
        "{err}"
    );

    let err = pack_err(|src| fs::remove_dir(src.join("files")).expect("rm"));
    assert!(err.contains("no files/"), "{err}");

    let err = pack_err(|src| {
        fs::remove_dir(src.join("files")).expect("rm");
        symlink("/usr", src.join("files")).expect("symlink");
    });
    assert!(err.contains("must be a directory"), "{err}");
}

#[test]
fn install_hooks_must_be_in_the_package() {
    let manifest = MANIFEST.replace(
        r#"install_hooks = { }"#,
        r#"install_hooks = { "hooks/post.acl" }"#,
    );
    let parsed = pandora_common::files::Manifest::parse(&manifest, "manifest.acl").expect("parse");
    if parsed.install_hooks.is_empty() {
        // The placeholder manifest decoder does not read install_hooks yet.
        return;
    }
    let bytes = RawTar::new()
        .file(b"manifest.acl", manifest.as_bytes())
        .dir(b"files/")
        .zst();
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = unpack(&bytes[..], tmp.path(), &Limits::default())
        .expect_err("missing hook")
        .to_string();
    assert!(
        err.contains("entry `hooks/post.acl`") && err.contains("install_hooks"),
        "{err}"
    );
    assert_eq!(fs::read_dir(tmp.path()).expect("read_dir").count(), 0);

    let err = pack_err(|src| fs::write(src.join("manifest.acl"), &manifest).expect("write"));
    assert!(
        err.contains("hooks/post.acl") && err.contains("install_hooks"),
        "{err}"
    );
}

#[test]
fn archives_from_gnu_tar_unpack() {
    // The benchmark corpus is made with GNU tar's PAX format; make sure that shape is accepted.
    let tmp = tempfile::tempdir().expect("tempdir");
    let stage = tmp.path().join("stage");
    write(&stage.join("manifest.acl"), MANIFEST.as_bytes(), 0o644);
    write(&stage.join("files/bin/tool"), b"tool", 0o755);
    symlink("tool", stage.join("files/bin/alias")).expect("symlink");
    let long = format!("files/{}/file", "long-name-".repeat(15));
    write(&stage.join(&long), b"long", 0o644);
    let tar = std::process::Command::new("tar")
        .args([
            "--sort=name",
            "--format=posix",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mtime=@0",
        ])
        .args([
            "-C",
            stage.to_str().expect("utf-8"),
            "-cf",
            "-",
            "manifest.acl",
            "files",
        ])
        .output();
    let Some(tar) = tar.ok().filter(|o| o.status.success()) else {
        return; // no GNU tar here
    };
    let bytes = zst(&tar.stdout);
    let unpacked =
        unpack(&bytes[..], tmp.path(), &Limits::default()).expect("unpack GNU tar output");
    assert_eq!(
        fs::read(unpacked.path().join(&long)).expect("read"),
        b"long"
    );
    assert_eq!(
        fs::read_link(unpacked.path().join("files/bin/alias")).expect("readlink"),
        Path::new("tool")
    );
}

#[test]
fn unpack_reads_the_whole_input() {
    // The hash covers the whole file even when the reader hands out tiny pieces.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let bytes = valid();
    let tmp = tempfile::tempdir().expect("tempdir");
    let unpacked = unpack(Trickle(&bytes), tmp.path(), &Limits::default()).expect("unpack");
    assert_eq!(unpacked.sha256, sha256_hex(&bytes));
    assert_eq!(unpacked.compressed_size, bytes.len() as u64);
}
