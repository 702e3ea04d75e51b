//! Typed access to the fields of one ACL block, with errors that name the field.

use super::FileError;
use crate::acl::{Block, Field, Item, Pos, Value};

/// Reads the fields of `block` in file `origin`.
pub(crate) struct Reader<'a> {
    pub(crate) origin: &'a str,
    pub(crate) block: &'a Block,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(origin: &'a str, block: &'a Block) -> Reader<'a> {
        Reader { origin, block }
    }

    /// How the block is named in messages: `Package "x"` or `manifest`.
    pub(crate) fn block_name(&self) -> String {
        match &self.block.label {
            Some(l) => format!("{} \"{}\"", self.block.name, l),
            None => self.block.name.clone(),
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

    /// An error about field `f`.
    pub(crate) fn field_error(&self, f: &Field, what: impl std::fmt::Display) -> FileError {
        self.error_at(f.pos, format!("{}: {what}", f.name))
    }

    fn missing(&self, name: &str, ty: &str) -> FileError {
        self.error_at(
            self.block.pos,
            format!(
                "{}: missing required field `{name}` ({ty}); add `{ty} {name} = ...;`",
                self.block_name()
            ),
        )
    }

    fn typed<T>(
        &self,
        name: &str,
        ty: &str,
        get: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, FileError> {
        let Some(f) = self.block.field(name) else {
            return Ok(None);
        };
        match get(&f.value) {
            Some(v) => Ok(Some(v)),
            None => Err(self.field_error(f, format!("expected {ty}, found {}", f.value.ty()))),
        }
    }

    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<String>, FileError> {
        self.typed(name, "string", |v| v.as_str().map(str::to_string))
    }

    pub(crate) fn req_str(&self, name: &str) -> Result<String, FileError> {
        self.opt_str(name)?
            .ok_or_else(|| self.missing(name, "string"))
    }

    pub(crate) fn opt_strs(&self, name: &str) -> Result<Option<Vec<String>>, FileError> {
        self.typed(name, "string[]", |v| {
            v.as_str_array().map(<[String]>::to_vec)
        })
    }

    pub(crate) fn req_strs(&self, name: &str) -> Result<Vec<String>, FileError> {
        self.opt_strs(name)?
            .ok_or_else(|| self.missing(name, "string[]"))
    }

    pub(crate) fn opt_int(&self, name: &str) -> Result<Option<i64>, FileError> {
        self.typed(name, "int", Value::as_int)
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, FileError> {
        self.typed(name, "bool", Value::as_bool)
    }

    pub(crate) fn field(&self, name: &str) -> Option<&'a Field> {
        self.block.field(name)
    }

    pub(crate) fn req_block(&self, name: &str) -> Result<&'a Block, FileError> {
        self.block.child(name).ok_or_else(|| {
            self.error_at(
                self.block.pos,
                format!(
                    "{}: missing required block `{name}`; add `{name} {{ ... }}`",
                    self.block_name()
                ),
            )
        })
    }

    /// The items whose names are not in `known`, kept for forward compatibility.
    pub(crate) fn unknown(&self, known: &[&str]) -> Vec<Item> {
        self.block
            .items
            .iter()
            .filter(|i| {
                let name = match i {
                    Item::Field(f) => &f.name,
                    Item::Block(b) => &b.name,
                };
                !known.contains(&name.as_str())
            })
            .cloned()
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
pub(crate) fn top_block<'d>(
    doc: &'d crate::acl::Document,
    origin: &str,
    names: &[&str],
) -> Result<&'d Block, FileError> {
    let found: Vec<&Block> = doc
        .blocks()
        .iter()
        .filter(|b| names.contains(&b.name.as_str()))
        .collect();
    match found.as_slice() {
        [b] => Ok(b),
        [] => Err(FileError {
            origin: origin.to_string(),
            line: 1,
            col: 1,
            what: format!("expected a top-level `{} {{ ... }}` block", names[0]),
            context: None,
        }),
        [_, second, ..] => Err(FileError {
            origin: origin.to_string(),
            line: second.pos.line,
            col: second.pos.col,
            what: format!("only one top-level `{}` block is allowed", names[0]),
            context: None,
        }),
    }
}
