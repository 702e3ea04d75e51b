//! The resolved document: blocks and fields whose values are computed and type-checked.

use crate::error::Pos;
use crate::name::Name;
use crate::value::Value;

/// A parsed, resolved and type-checked ACL document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    pub(crate) blocks: Vec<Block>,
}

/// A block `Name ["label"] { ... }`. Equality ignores positions.
#[derive(Debug, Clone)]
pub struct Block {
    /// The block's name.
    pub name: Name,
    /// Its label, if any.
    pub label: Option<Name>,
    /// Where its name starts.
    pub pos: Pos,
    /// Fields and child blocks in source order.
    pub items: Vec<Item>,
}

/// One item of a block.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A field.
    Field(Field),
    /// A child block.
    Block(Block),
}

/// A field with its final value. Equality ignores positions.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field's name.
    pub name: Name,
    /// Where the field starts (its type keyword, or its name when inferred).
    pub pos: Pos,
    /// Where its name is.
    pub name_pos: Pos,
    /// Where its value starts.
    pub value_pos: Pos,
    /// The final value, after evaluation and the declared type's conversion.
    pub value: Value,
}

impl Document {
    /// A document made of `blocks`, for writing files.
    pub fn new(blocks: Vec<Block>) -> Document {
        Document { blocks }
    }

    /// The top-level blocks in source order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The top-level blocks, moved out.
    pub fn into_blocks(self) -> Vec<Block> {
        self.blocks
    }

    /// The first top-level block called `name`.
    pub fn block(&self, name: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

impl Block {
    /// An empty block, for writing files.
    pub fn new(name: impl Into<Name>, label: Option<String>) -> Block {
        Block {
            name: name.into(),
            label: label.map(Name::from),
            pos: Pos::default(),
            items: Vec::new(),
        }
    }

    /// Appends a field (builder style, for writing files).
    pub fn with(mut self, name: impl Into<Name>, value: Value) -> Block {
        self.push_field(name, value);
        self
    }

    /// Appends a field.
    pub fn push_field(&mut self, name: impl Into<Name>, value: Value) {
        self.items.push(Item::Field(Field {
            name: name.into(),
            pos: Pos::default(),
            name_pos: Pos::default(),
            value_pos: Pos::default(),
            value,
        }));
    }

    /// Appends a child block.
    pub fn push_block(&mut self, block: Block) {
        self.items.push(Item::Block(block));
    }

    /// The fields in source order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.items.iter().filter_map(|i| match i {
            Item::Field(f) => Some(f),
            Item::Block(_) => None,
        })
    }

    /// The child blocks in source order.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> + Clone {
        self.items.iter().filter_map(|i| match i {
            Item::Block(b) => Some(b),
            Item::Field(_) => None,
        })
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields().find(|f| f.name == name)
    }

    /// The first child block called `name`, labeled or not.
    pub fn child(&self, name: &str) -> Option<&Block> {
        self.blocks().find(|b| b.name == name)
    }

    /// The child blocks called `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks().filter(move |b| b.name == name)
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Block) -> bool {
        self.name == other.name && self.label == other.label && self.items == other.items
    }
}

impl PartialEq for Field {
    fn eq(&self, other: &Field) -> bool {
        self.name == other.name && self.value == other.value
    }
}
