//! Typed access to the fields of one ACL block, with errors that name the field. The reader
//! owns the block and moves values out of it, so decoding a large index copies no strings.

use super::FileError;
use crate::acl::{Block, Item, Pos, Value};

/// Takes the fields of one block of file `origin`.
pub(crate) struct Reader<'o> {
    pub(crate) origin: &'o str,
    block: Block,
    taken: Taken,
}

/// Which items were taken: a bit mask for the first 64 (every real block), a vector beyond.
struct Taken {
    low: u64,
    high: Vec<bool>,
}

impl Taken {
    fn new(n: usize) -> Taken {
        Taken {
            low: 0,
            high: vec![false; n.saturating_sub(64)],
        }
    }

    fn set(&mut self, i: usize) {
        if i < 64 {
            self.low |= 1 << i;
        } else {
            self.high[i - 64] = true;
        }
    }

    fn get(&self, i: usize) -> bool {
        if i < 64 {
            self.low & (1 << i) != 0
        } else {
            self.high[i - 64]
        }
    }
}

impl<'o> Reader<'o> {
    pub(crate) fn new(origin: &'o str, block: Block) -> Reader<'o> {
        let taken = Taken::new(block.items.len());
        Reader {
            origin,
            block,
            taken,
        }
    }

    pub(crate) fn label(&self) -> Option<&str> {
        self.block.label.as_deref()
    }

    /// How the block is named in messages: `Package "x"` or `manifest`.
    pub(crate) fn block_name(&self) -> String {
        match &self.block.label {
            Some(l) => format!("{} \"{}\"", self.block.name, l),
            None => self.block.name.to_string(),
        }
    }

    pub(crate) fn error_at(&self, pos: Pos, what: impl Into<String>) -> FileError {
        FileError {
            origin: self.origin.to_string(),
            line: pos.line,
            col: pos.col,
            what: what.into(),
            context: None,
        }
    }

    /// An error about the block itself.
    pub(crate) fn block_error(&self, what: impl std::fmt::Display) -> FileError {
        self.error_at(self.block.pos, format!("{}: {what}", self.block_name()))
    }

    /// An error about field `name` (at the block when the field is absent).
    pub(crate) fn field_error(&self, name: &str, what: impl std::fmt::Display) -> FileError {
        let pos = self
            .find(name)
            .map_or(self.block.pos, |i| match &self.block.items[i] {
                Item::Field(f) => f.pos,
                Item::Block(b) => b.pos,
            });
        self.error_at(pos, format!("{name}: {what}"))
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.block
            .items
            .iter()
            .position(|i| matches!(i, Item::Field(f) if f.name == name))
    }

    /// Checks that every one of `required` is present, `(name, Some(type))` as a field and
    /// `(name, None)` as a child block, and names all the missing ones in one error.
    pub(crate) fn require_all(&self, required: &[(&str, Option<&str>)]) -> Result<(), FileError> {
        let missing: Vec<(&str, Option<&str>)> = required
            .iter()
            .copied()
            .filter(|(name, ty)| match ty {
                Some(_) => self.find(name).is_none(),
                None => !self
                    .block
                    .items
                    .iter()
                    .any(|i| matches!(i, Item::Block(b) if b.name == *name)),
            })
            .collect();
        match missing[..] {
            [] => Ok(()),
            [(name, Some(ty))] => Err(self.missing(name, ty)),
            [(name, None)] => Err(self.missing_block(name)),
            _ => {
                let what: Vec<String> = missing
                    .iter()
                    .map(|(name, ty)| format!("`{name}` ({})", ty.unwrap_or("block")))
                    .collect();
                let add: Vec<String> = missing
                    .iter()
                    .map(|(name, ty)| match ty {
                        Some(ty) => format!("`{ty} {name} = ...;`"),
                        None => format!("`{name} {{ ... }}`"),
                    })
                    .collect();
                Err(self.block_error(format!(
                    "missing {} required fields: {}; add {}",
                    missing.len(),
                    what.join(", "),
                    add.join(", ")
                )))
            }
        }
    }

    fn missing_block(&self, name: &str) -> FileError {
        self.block_error(format!(
            "missing required block `{name}`; add `{name} {{ ... }}`"
        ))
    }

    fn missing(&self, name: &str, ty: &str) -> FileError {
        self.block_error(format!(
            "missing required field `{name}` ({ty}); add `{ty} {name} = ...;`"
        ))
    }

    /// Moves field `name` out if `get` accepts its value; a type error names the field.
    fn take<T>(
        &mut self,
        name: &str,
        ty: &str,
        get: impl Fn(Value) -> Result<T, Value>,
    ) -> Result<Option<T>, FileError> {
        let Some(i) = self.find(name) else {
            return Ok(None);
        };
        self.taken.set(i);
        let Item::Field(f) = &mut self.block.items[i] else {
            unreachable!("find returns fields")
        };
        let value = std::mem::replace(&mut f.value, Value::Bool(false));
        match get(value) {
            Ok(v) => Ok(Some(v)),
            Err(v) => {
                let what = format!("expected {ty}, found {}", v.ty());
                f.value = v;
                Err(self.field_error(name, what))
            }
        }
    }

    pub(crate) fn opt_str(&mut self, name: &str) -> Result<Option<String>, FileError> {
        self.take(name, "string", |v| match v {
            Value::Str(s) => Ok(s),
            other => Err(other),
        })
    }

    pub(crate) fn req_str(&mut self, name: &str) -> Result<String, FileError> {
        self.opt_str(name)?
            .ok_or_else(|| self.missing(name, "string"))
    }

    pub(crate) fn opt_strs(&mut self, name: &str) -> Result<Option<Vec<String>>, FileError> {
        self.take(name, "string[]", |v| match v {
            Value::StrArray(s) => Ok(s),
            other => Err(other),
        })
    }

    pub(crate) fn req_strs(&mut self, name: &str) -> Result<Vec<String>, FileError> {
        self.opt_strs(name)?
            .ok_or_else(|| self.missing(name, "string[]"))
    }

    pub(crate) fn opt_int(&mut self, name: &str) -> Result<Option<i64>, FileError> {
        self.take(name, "int", |v| match v {
            Value::Int(n) => Ok(n),
            other => Err(other),
        })
    }

    pub(crate) fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, FileError> {
        self.take(name, "bool", |v| match v {
            Value::Bool(b) => Ok(b),
            other => Err(other),
        })
    }

    /// Moves out the child blocks called `name`, in order.
    pub(crate) fn take_blocks(&mut self, name: &str) -> Vec<Block> {
        let mut out = Vec::new();
        for (i, item) in self.block.items.iter_mut().enumerate() {
            if let Item::Block(b) = item
                && b.name == name
                && !self.taken.get(i)
            {
                self.taken.set(i);
                out.push(std::mem::replace(b, Block::new("", None)));
            }
        }
        out
    }

    pub(crate) fn req_block(&mut self, name: &str) -> Result<Block, FileError> {
        let mut blocks = self.take_blocks(name);
        if blocks.is_empty() {
            return Err(self.missing_block(name));
        }
        Ok(blocks.swap_remove(0))
    }

    /// Everything not taken: fields and blocks this version of Pandora does not know, kept
    /// for forward compatibility.
    pub(crate) fn rest(self) -> Vec<Item> {
        let taken = self.taken;
        self.block
            .items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !taken.get(*i))
            .map(|(_, item)| item)
            .collect()
    }
}

/// Whether `s` is 64 lowercase hex digits.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The single top-level block called one of `names`, or an error naming what was expected.
pub(crate) fn top_block(
    doc: crate::acl::Document,
    origin: &str,
    names: &[&str],
) -> Result<Block, FileError> {
    let err = |pos: Pos, what: String| FileError {
        origin: origin.to_string(),
        line: pos.line,
        col: pos.col,
        what,
        context: None,
    };
    let mut found = doc
        .into_blocks()
        .into_iter()
        .filter(|b| names.contains(&b.name.as_str()));
    let Some(first) = found.next() else {
        return Err(err(
            Pos { line: 1, col: 1 },
            format!("expected a top-level `{} {{ ... }}` block", names[0]),
        ));
    };
    if let Some(second) = found.next() {
        return Err(err(
            second.pos,
            format!("only one top-level `{}` block is allowed", names[0]),
        ));
    }
    Ok(first)
}
