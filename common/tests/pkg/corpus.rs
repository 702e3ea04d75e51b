//! The malicious corpus.

use super::*;

// ---------------------------------------------------------------------------------------------
// The malicious corpus.
// ---------------------------------------------------------------------------------------------

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) archive: fn() -> Vec<u8>,
    pub(crate) limits: fn() -> Limits,
    /// Substrings the error's Display must contain: the entry and the rule.
    pub(crate) expect: &'static [&'static str],
}

pub(crate) fn default_limits() -> Limits {
    Limits::default()
}

pub(crate) fn bomb() -> Vec<u8> {
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

pub(crate) fn many_entries() -> Vec<u8> {
    let mut tar = RawTar::new().manifest().dir(b"files/");
    for i in 0..100 {
        tar = tar.file(format!("files/f{i:03}").as_bytes(), b"x");
    }
    tar.zst()
}

pub(crate) fn valid() -> Vec<u8> {
    RawTar::new()
        .manifest()
        .dir(b"files/")
        .file(b"files/a", b"hello\n")
        .zst()
}

pub(crate) const CASES: &[Case] = &[
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
            "is 5005 bytes long, the limit is 2048",
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
