//! `cache/store-index`: the read snapshot of the store saved between daemon runs, so that a
//! daemon that starts on a store of thousands of entries checks one `stat` per directory
//! instead of reading and parsing every entry's `manifest.acl` and `files.acl`.
//!
//! It is a cache: written without sync by a rename, rebuilt whenever it is missing, damaged
//! or from another format, and never trusted beyond the directory stamps it records (an
//! entry whose directory changed is read again). The format is private to this file: a
//! magic line, then little-endian integers and length-prefixed UTF-8 strings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pandora_common::acl::{Block, Field, Item, Name, Pos, Value};
use pandora_common::files::{Manifest, Pin};
use pandora_common::layout::Layout;

use super::view::{DirStamp, Installed, StoreView};

const MAGIC: &[u8] = b"pandora store index 2\n";
/// More entries than any store holds: a count above it is a damaged file.
const MAX_COUNT: u64 = 1 << 24;
/// Blocks nested deeper than ACL documents may nest them.
const MAX_DEPTH: usize = 100;

/// Where the index lives.
pub(crate) fn path(layout: &Layout) -> PathBuf {
    layout.home().join("cache/store-index")
}

/// The view the index holds, or `None` when there is none or it cannot be read.
pub(crate) fn read(layout: &Layout) -> Option<StoreView> {
    let bytes = fs_err::read(path(layout)).ok()?;
    let view = decode(&bytes);
    if view.is_none() {
        tracing::warn!(path = %path(layout).display(), "the store index is damaged; rebuilding it");
    }
    view
}

/// Saves `view` (its readable entries and the directory listings behind it).
pub(crate) fn write(layout: &Layout, view: &StoreView) {
    let file = path(layout);
    let bytes = encode(view);
    let result = fs_err::create_dir_all(file.parent().unwrap_or(Path::new(".")))
        .and_then(|()| pandora_common::replace_unsynced(&file, &bytes));
    if let Err(e) = result {
        tracing::warn!(path = %file.display(), error = %e, "cannot save the store index");
    }
}

fn encode(view: &StoreView) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256 * view.entries.len() + 64));
    w.0.extend_from_slice(MAGIC);
    w.len(view.names.len());
    let mut names: Vec<_> = view.names.iter().collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    for (name, (stamp, versions)) in names {
        w.str(name);
        w.stamp(stamp);
        w.strs(versions);
    }
    // Each entry is prefixed by its length, so that decoding can be split between threads.
    w.len(view.entries.len());
    for e in &view.entries {
        let at = w.0.len();
        w.u64(0);
        w.stamp(&e.stamp);
        w.u64(e.size);
        w.u64(e.files);
        w.opt(e.origin.as_deref());
        w.manifest(&e.manifest);
        let len = (w.0.len() - at - 8) as u64;
        w.0[at..at + 8].copy_from_slice(&len.to_le_bytes());
    }
    w.0
}

fn decode(bytes: &[u8]) -> Option<StoreView> {
    let mut r = Reader(bytes.strip_prefix(MAGIC)?);
    // Skip over the listings to find the entries, then decode both at once.
    let listings = r.0;
    for _ in 0..r.len()? {
        r.str()?;
        r.stamp()?;
        r.strs()?;
    }
    let listings = &listings[..listings.len() - r.0.len()];
    let count = r.len()?;
    let mut records = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let n = r.len()?;
        records.push(r.take(n)?);
    }
    if !r.0.is_empty() {
        return None;
    }
    let half = records.len().div_ceil(2);
    let (names, first, second) = std::thread::scope(|s| {
        let (a, b) = records.split_at(half);
        // A thread that cannot be started leaves its half to this one.
        let second = std::thread::Builder::new().spawn_scoped(s, move || entries(b));
        let first = entries(a);
        let names = names(listings);
        let second = match second {
            Ok(h) => h.join().ok().flatten(),
            Err(_) => entries(b),
        };
        (names, first, second)
    });
    let mut all = first?;
    all.extend(second?);
    Some(StoreView::from_parts(all, Vec::new(), names?))
}

type Listings = HashMap<String, (DirStamp, Vec<String>)>;

fn names(bytes: &[u8]) -> Option<Listings> {
    let mut r = Reader(bytes);
    let n = r.len()?;
    let mut names = HashMap::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?;
        let stamp = r.stamp()?;
        let versions = r.strs()?;
        names.insert(name, (stamp, versions));
    }
    Some(names)
}

fn entries(records: &[&[u8]]) -> Option<Vec<Arc<Installed>>> {
    records
        .iter()
        .map(|bytes| {
            let mut r = Reader(bytes);
            let e = Installed {
                stamp: r.stamp()?,
                size: r.u64()?,
                files: r.u64()?,
                origin: r.opt()?,
                manifest: r.manifest()?,
            };
            r.0.is_empty().then(|| Arc::new(e))
        })
        .collect()
}

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }
    fn strs(&mut self, v: &[String]) {
        self.len(v.len());
        for s in v {
            self.str(s);
        }
    }
    fn stamp(&mut self, s: &DirStamp) {
        for v in s.0 {
            self.i64(v);
        }
    }
    fn pos(&mut self, p: Pos) {
        self.u64((u64::from(p.line) << 32) | u64::from(p.col));
    }
    fn manifest(&mut self, m: &Manifest) {
        self.str(&m.name);
        self.str(&m.version);
        self.str(&m.arch);
        self.strs(&m.authors);
        self.str(&m.license);
        self.len(m.dependencies.len());
        for d in &m.dependencies {
            self.str(&d.name);
            self.str(&d.version);
        }
        self.strs(&m.install_hooks);
        self.block(&m.build_meta);
        self.opt(m.description.as_deref());
        self.strs(&m.tags);
        self.0.push(u8::from(m.deprecated));
        self.opt(m.archive_sha256.as_deref());
        self.items(&m.extra);
    }
    fn block(&mut self, b: &Block) {
        self.str(&b.name);
        self.opt(b.label.as_deref());
        self.pos(b.pos);
        self.items(&b.items);
    }
    fn items(&mut self, items: &[Item]) {
        self.len(items.len());
        for i in items {
            match i {
                Item::Field(f) => {
                    self.0.push(0);
                    self.str(&f.name);
                    self.pos(f.pos);
                    self.pos(f.name_pos);
                    self.pos(f.value_pos);
                    self.value(&f.value);
                }
                Item::Block(b) => {
                    self.0.push(1);
                    self.block(b);
                }
            }
        }
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Int(n) => {
                self.0.push(0);
                self.i64(*n);
            }
            Value::Float(x) => {
                self.0.push(1);
                self.u64(x.to_bits());
            }
            Value::Bool(b) => {
                self.0.push(2);
                self.0.push(u8::from(*b));
            }
            Value::Str(s) => {
                self.0.push(3);
                self.str(s);
            }
            Value::IntArray(v) => {
                self.0.push(4);
                self.len(v.len());
                v.iter().for_each(|n| self.i64(*n));
            }
            Value::FloatArray(v) => {
                self.0.push(5);
                self.len(v.len());
                v.iter().for_each(|x| self.u64(x.to_bits()));
            }
            Value::BoolArray(v) => {
                self.0.push(6);
                self.len(v.len());
                v.iter().for_each(|b| self.0.push(u8::from(*b)));
            }
            Value::StrArray(v) => {
                self.0.push(7);
                self.strs(v);
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn len(&mut self) -> Option<usize> {
        let n = self.u64()?;
        // Every counted thing takes at least a byte: a count beyond the bytes left is damage.
        (n <= MAX_COUNT && n <= self.0.len() as u64).then_some(n as usize)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn opt(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
    fn strs(&mut self) -> Option<Vec<String>> {
        (0..self.len()?).map(|_| self.str()).collect()
    }
    fn stamp(&mut self) -> Option<DirStamp> {
        let mut s = [0i64; 5];
        for v in &mut s {
            *v = self.i64()?;
        }
        Some(DirStamp(s))
    }
    fn pos(&mut self) -> Option<Pos> {
        let v = self.u64()?;
        Some(Pos {
            line: (v >> 32) as u32,
            col: v as u32,
        })
    }
    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn manifest(&mut self) -> Option<Manifest> {
        Some(Manifest {
            name: self.str()?,
            version: self.str()?,
            arch: self.str()?,
            authors: self.strs()?,
            license: self.str()?,
            dependencies: (0..self.len()?)
                .map(|_| {
                    Some(Pin {
                        name: self.str()?,
                        version: self.str()?,
                    })
                })
                .collect::<Option<_>>()?,
            install_hooks: self.strs()?,
            build_meta: self.block(0)?,
            description: self.opt()?,
            tags: self.strs()?,
            deprecated: self.bool()?,
            archive_sha256: self.opt()?,
            extra: self.items(0)?,
        })
    }
    /// A block `depth` blocks deep: deeper than ACL allows is a damaged file (and recursion
    /// without a bound would let a crafted file overflow the stack).
    fn block(&mut self, depth: usize) -> Option<Block> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let name = Name::from(self.str()?);
        let label = self.opt()?.map(Name::from);
        let pos = self.pos()?;
        let items = self.items(depth + 1)?;
        Some(Block {
            name,
            label,
            pos,
            items,
        })
    }
    fn items(&mut self, depth: usize) -> Option<Vec<Item>> {
        (0..self.len()?)
            .map(|_| {
                Some(match self.byte()? {
                    0 => Item::Field(Field {
                        name: Name::from(self.str()?),
                        pos: self.pos()?,
                        name_pos: self.pos()?,
                        value_pos: self.pos()?,
                        value: self.value()?,
                    }),
                    1 => Item::Block(self.block(depth)?),
                    _ => return None,
                })
            })
            .collect()
    }
    fn value(&mut self) -> Option<Value> {
        Some(match self.byte()? {
            0 => Value::Int(self.i64()?),
            1 => Value::Float(f64::from_bits(self.u64()?)),
            2 => Value::Bool(self.bool()?),
            3 => Value::Str(self.str()?),
            4 => Value::IntArray(
                (0..self.len()?)
                    .map(|_| self.i64())
                    .collect::<Option<_>>()?,
            ),
            5 => Value::FloatArray(
                (0..self.len()?)
                    .map(|_| self.u64().map(f64::from_bits))
                    .collect::<Option<_>>()?,
            ),
            6 => Value::BoolArray(
                (0..self.len()?)
                    .map(|_| self.bool())
                    .collect::<Option<_>>()?,
            ),
            7 => Value::StrArray(self.strs()?),
            _ => return None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::testutil::home;

    fn manifest(name: &str, version: &str) -> Manifest {
        let mut build_meta = Block::new("build_meta", None);
        build_meta.push_field("builder", Value::Str("bench".into()));
        build_meta.push_field("jobs", Value::Int(-3));
        build_meta.push_field("ratio", Value::Float(0.25));
        build_meta.push_field("flags", Value::BoolArray(vec![true, false]));
        build_meta.push_field("sizes", Value::IntArray(vec![1, i64::MAX]));
        build_meta.push_field("weights", Value::FloatArray(vec![1.5]));
        let mut extra = Block::new("x", Some("label".into()));
        extra.push_field("origin", Value::Str("main".into()));
        extra.push_field("more", Value::StrArray(vec!["a".into(), "ü".into()]));
        let mut m = Manifest {
            name: name.into(),
            version: version.into(),
            arch: "any".into(),
            authors: vec!["A <a@example.org>".into()],
            license: "MIT".into(),
            dependencies: vec![Pin::parse("lib@1.0.0").unwrap()],
            install_hooks: vec!["hooks/h.acl".into()],
            build_meta,
            description: Some("a package".into()),
            tags: vec!["t".into()],
            deprecated: true,
            archive_sha256: Some("ab".repeat(32)),
            extra: vec![Item::Block(extra)],
        };
        m.extra.push(Item::Field(Field {
            name: Name::from("top"),
            pos: Pos { line: 3, col: 7 },
            name_pos: Pos { line: 3, col: 12 },
            value_pos: Pos { line: 3, col: 18 },
            value: Value::Bool(true),
        }));
        m
    }

    fn view() -> StoreView {
        let stamp = DirStamp([1, 2, 3, 4, 5]);
        let entries = [("app", "1.0.0"), ("app", "2.0.0"), ("lib", "1.0.0")]
            .iter()
            .map(|(n, v)| {
                Arc::new(Installed {
                    manifest: manifest(n, v),
                    size: 42,
                    files: 3,
                    origin: Some("main".into()),
                    stamp,
                })
            })
            .collect();
        let names = HashMap::from([
            (
                "app".to_string(),
                (stamp, vec!["1.0.0".into(), "2.0.0".into()]),
            ),
            (
                "lib".to_string(),
                (DirStamp([0, 0, 0, 0, -1]), vec!["1.0.0".into()]),
            ),
        ]);
        StoreView::from_parts(entries, Vec::new(), names)
    }

    #[test]
    fn a_view_comes_back_as_it_was_saved() {
        let (_t, layout) = home();
        let view = view();
        write(&layout, &view);
        let back = read(&layout).expect("the index reads back");
        assert_eq!(back.entries.len(), 3);
        for (a, b) in view.entries.iter().zip(&back.entries) {
            assert_eq!(a.manifest, b.manifest);
            assert_eq!(
                (a.size, a.files, &a.origin, a.stamp),
                (b.size, b.files, &b.origin, b.stamp)
            );
        }
        assert_eq!(back.names, view.names);
        assert_eq!(back.get("app", "2.0.0").unwrap().manifest.version, "2.0.0");
        assert_eq!(back.versions("app").len(), 2);
    }

    #[test]
    fn blocks_nested_deeper_than_acl_allows_are_damage_not_a_stack_overflow() {
        let nest = |depth: usize| {
            let mut b = Block::new("leaf", None);
            for _ in 1..depth {
                let mut outer = Block::new("b", None);
                outer.items.push(Item::Block(b));
                b = outer;
            }
            let mut v = view();
            let mut e = (*v.entries[0]).clone();
            e.manifest.extra = vec![Item::Block(b)];
            v.entries[0] = Arc::new(e);
            encode(&v)
        };
        assert!(decode(&nest(MAX_DEPTH)).is_some());
        assert!(decode(&nest(MAX_DEPTH + 1)).is_none());
        // Far deeper (a crafted file could nest thousands of levels): refused at the limit,
        // before the recursion goes on.
        assert!(decode(&nest(1_000)).is_none());
    }

    #[test]
    fn a_damaged_or_foreign_index_is_not_used() {
        let (_t, layout) = home();
        let bytes = encode(&view());
        assert!(decode(&bytes).is_some());
        // Cut anywhere, or one byte more, or another format: no view at all.
        for cut in [
            0,
            MAGIC.len(),
            MAGIC.len() + 3,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        let mut other = bytes.clone();
        other[MAGIC.len() - 2] = b'9';
        assert!(decode(&other).is_none());
        // A count far beyond the file is refused before anything is allocated for it.
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge).is_none());
        fs_err::create_dir_all(path(&layout).parent().unwrap()).unwrap();
        fs_err::write(path(&layout), b"garbage").unwrap();
        assert!(read(&layout).is_none());
    }
}
