//! Lookup paths (ACL.md §7.1) and the dump format (§7.3).

use std::collections::HashMap;

use crate::document::{Block, Document, Item};
use crate::value::{Value, quoted};

/// A malformed lookup path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid lookup path `{path}` at character {at}: {reason}; write e.g. `Registry.Package[\"mytool\"].latest`"
)]
pub struct PathError {
    /// The path as given.
    pub path: String,
    /// 1-based character position of the problem.
    pub at: usize,
    /// What is wrong.
    pub reason: &'static str,
}

#[derive(Debug, PartialEq)]
enum Sel {
    First,
    Label(String),
    Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<(String, Sel)>, PathError> {
    let chars: Vec<char> = path.chars().collect();
    let err = |at: usize, reason| PathError {
        path: path.to_string(),
        at: at + 1,
        reason,
    };
    let mut i = 0;
    let mut segs = Vec::new();
    loop {
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i == start || chars[start].is_ascii_digit() {
            return Err(err(start, "expected a name"));
        }
        let name: String = chars[start..i].iter().collect();
        let mut sel = Sel::First;
        if chars.get(i) == Some(&'[') {
            i += 1;
            if chars.get(i) == Some(&'"') {
                i += 1;
                let mut label = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err(i, "unterminated label")),
                        Some('"') => break,
                        Some('\\') => {
                            let c = match chars.get(i + 1) {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some('r') => '\r',
                                Some('0') => '\0',
                                Some(c @ ('\\' | '"' | '\'')) => *c,
                                _ => return Err(err(i, "unknown escape in label")),
                            };
                            label.push(c);
                            i += 2;
                        }
                        Some(c) => {
                            label.push(*c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                sel = Sel::Label(label);
            } else {
                let ds = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let digits: String = chars[ds..i].iter().collect();
                sel = Sel::Index(
                    digits
                        .parse()
                        .map_err(|_| err(ds, "expected a label or an index"))?,
                );
            }
            if chars.get(i) != Some(&']') {
                return Err(err(i, "expected `]`"));
            }
            i += 1;
        }
        segs.push((name, sel));
        match chars.get(i) {
            None => return Ok(segs),
            Some('.') => i += 1,
            Some(_) => return Err(err(i, "expected `.` or the end of the path")),
        }
    }
}

fn select<'a>(blocks: impl Iterator<Item = &'a Block>, name: &str, sel: &Sel) -> Option<&'a Block> {
    let mut named = blocks.filter(|b| b.name == name);
    match sel {
        Sel::First => named.next(),
        Sel::Label(l) => named.find(|b| b.label.as_deref() == Some(l)),
        Sel::Index(n) => named.nth(*n),
    }
}

impl Document {
    /// Looks up `path` (ACL.md §7.1), e.g. `Registry.Package["mytool"].Version["1.0.0"].sha256`
    /// or `manifest.authors[0]`. `Ok(None)` when nothing is there.
    pub fn get(&self, path: &str) -> Result<Option<Value>, PathError> {
        let segs = parse_path(path)?;
        let Some(((field, fsel), blocks)) = segs.split_last() else {
            return Ok(None);
        };
        let Some(((first, first_sel), rest)) = blocks.split_first() else {
            return Ok(None);
        };
        let Some(mut cur) = select(self.blocks.iter(), first, first_sel) else {
            return Ok(None);
        };
        for (name, sel) in rest {
            match select(cur.blocks(), name, sel) {
                Some(b) => cur = b,
                None => return Ok(None),
            }
        }
        let Some(f) = cur.field(field) else {
            return Ok(None);
        };
        Ok(match fsel {
            Sel::First => Some(f.value.clone()),
            Sel::Index(i) => f.value.index(*i),
            Sel::Label(_) => None,
        })
    }

    /// The dump form of ACL.md §7.3: one `path = type:value` line per field, in source order.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        let segs = block_segments(self.blocks.iter());
        for (b, seg) in self.blocks.iter().zip(segs) {
            dump_block(b, seg, &mut out);
        }
        out
    }
}

/// The path segment of each block among its siblings: `name["label"]`, `name[i]` when an
/// unlabeled name repeats among them, or plain `name`.
fn block_segments<'a>(blocks: impl Iterator<Item = &'a Block> + Clone) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for b in blocks.clone() {
        *counts.entry(&b.name).or_default() += 1;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    blocks
        .map(|b| {
            let idx = seen.entry(&b.name).or_default();
            let seg = match &b.label {
                Some(l) => format!("{}[{}]", b.name, quoted(l)),
                None if counts[b.name.as_str()] > 1 => format!("{}[{}]", b.name, idx),
                None => b.name.to_string(),
            };
            *idx += 1;
            seg
        })
        .collect()
}

fn dump_block(b: &Block, path: String, out: &mut String) {
    if b.items.is_empty() {
        out.push_str(&path);
        out.push_str(" = block:{}\n");
        return;
    }
    let mut segs = block_segments(b.blocks()).into_iter();
    for item in &b.items {
        match item {
            Item::Field(f) => {
                out.push_str(&path);
                out.push('.');
                out.push_str(&f.name);
                out.push_str(" = ");
                out.push_str(&f.value.to_string());
                out.push('\n');
            }
            Item::Block(c) => {
                let seg = segs.next().expect("one segment per child block");
                dump_block(c, format!("{path}.{seg}"), out);
            }
        }
    }
}
