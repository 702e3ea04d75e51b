//! A raw tar writer for the corpus.

use super::*;

// ---------------------------------------------------------------------------------------------
// A raw tar writer: 512-byte headers built by hand, so names, types and sizes can be anything.
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
pub(crate) struct Hdr {
    pub(crate) name: Vec<u8>,
    pub(crate) typeflag: u8,
    pub(crate) mode: u32,
    /// Size written into the header.
    pub(crate) size: u64,
    pub(crate) link: Vec<u8>,
    pub(crate) data: Vec<u8>,
}

pub(crate) fn octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}", width = field.len() - 1);
    let last = field.len() - 1;
    field[..last].copy_from_slice(text.as_bytes());
    field[last] = 0;
}

pub(crate) fn header_block(h: &Hdr) -> [u8; 512] {
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

pub(crate) fn fix_checksum(b: &mut [u8]) {
    b[148..156].fill(b' ');
    let sum: u32 = b[..512].iter().map(|&x| u32::from(x)).sum();
    let text = format!("{sum:06o}\0 ");
    b[148..156].copy_from_slice(text.as_bytes());
}

#[derive(Clone, Default)]
pub(crate) struct RawTar {
    pub(crate) out: Vec<u8>,
}

impl RawTar {
    pub(crate) fn new() -> Self {
        RawTar::default()
    }

    pub(crate) fn push(mut self, h: Hdr) -> Self {
        self.out.extend_from_slice(&header_block(&h));
        self.out.extend_from_slice(&h.data);
        let pad = (512 - h.data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0, pad));
        self
    }

    pub(crate) fn entry(
        self,
        name: &[u8],
        typeflag: u8,
        mode: u32,
        link: &[u8],
        data: &[u8],
    ) -> Self {
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

    pub(crate) fn manifest(self) -> Self {
        self.file(b"manifest.acl", MANIFEST.as_bytes())
    }

    pub(crate) fn file(self, name: &[u8], data: &[u8]) -> Self {
        self.entry(name, b'0', 0o644, b"", data)
    }

    pub(crate) fn file_mode(self, name: &[u8], mode: u32, data: &[u8]) -> Self {
        self.entry(name, b'0', mode, b"", data)
    }

    pub(crate) fn dir(self, name: &[u8]) -> Self {
        self.entry(name, b'5', 0o755, b"", b"")
    }

    pub(crate) fn symlink(self, name: &[u8], target: &[u8]) -> Self {
        self.entry(name, b'2', 0o777, target, b"")
    }

    /// A GNU long-name header, then the entry itself with its name cut to 100 bytes.
    pub(crate) fn long_file(self, name: &[u8], data: &[u8]) -> Self {
        let mut long = name.to_vec();
        long.push(0);
        self.entry(b"././@LongLink", b'L', 0o644, b"", &long)
            .file(name, data)
    }

    pub(crate) fn pax(self, records: &[(&str, &str)]) -> Self {
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

    pub(crate) fn raw(mut self, bytes: &[u8]) -> Self {
        self.out.extend_from_slice(bytes);
        self
    }

    pub(crate) fn tar(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }

    pub(crate) fn zst(self) -> Vec<u8> {
        zstd::encode_all(&self.tar()[..], 3).expect("compress")
    }
}

pub(crate) fn zst(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).expect("compress")
}

/// Every path under `dir` (not following symlinks) with its kind and size.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, u64)> {
    pub(crate) fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (String, u64)>) {
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
