//! ACL.md §6: duplicate fields and blocks.

use std::collections::HashMap;

use crate::ast::*;
use crate::document::{Block, Item};
use crate::error::{Error, ErrorKind, Pos};

pub(super) fn entry_of_doc_block(b: &Block) -> Entry<'_> {
    Entry {
        name: &b.name,
        label: b.label.as_deref(),
        is_field: false,
        pos: b.pos,
    }
}

pub(super) fn entry_of_doc_item(i: &Item) -> Entry<'_> {
    match i {
        Item::Field(f) => Entry {
            name: &f.name,
            label: None,
            is_field: true,
            pos: f.name_pos,
        },
        Item::Block(b) => entry_of_doc_block(b),
    }
}

/// What the duplicate rules need to know of one item; `pos` is where its name is, so an
/// error points at the repeated name.
#[derive(Clone, Copy)]
pub(super) struct Entry<'x> {
    name: &'x str,
    label: Option<&'x str>,
    is_field: bool,
    pos: Pos,
}

pub(super) fn entry_of_block<'x>(b: &'x BlockNode<'_>) -> Entry<'x> {
    Entry {
        name: b.name,
        label: b.label.as_deref(),
        is_field: false,
        pos: b.pos,
    }
}

pub(super) fn entry_of_item<'x>(i: &'x ItemNode<'_>) -> Entry<'x> {
    match i {
        ItemNode::Field(f) => Entry {
            name: f.name,
            label: None,
            is_field: true,
            pos: f.name_pos,
        },
        ItemNode::Block(b) => entry_of_block(b),
    }
}

pub(super) fn check_block_duplicates(b: &BlockNode<'_>, errors: &mut Vec<Error>) {
    check_duplicates(b.items.iter().map(entry_of_item), b.items.len(), errors);
    for item in &b.items {
        if let ItemNode::Block(c) = item {
            check_block_duplicates(c, errors);
        }
    }
}

/// ACL.md §6: a field name twice, a field and a block of one name, or two sibling blocks
/// with the same name and label. Small blocks are checked pairwise without allocating.
pub(super) fn check_duplicates<'x>(
    entries: impl Iterator<Item = Entry<'x>> + Clone,
    n: usize,
    errors: &mut Vec<Error>,
) {
    let clash = |first: &Entry<'_>, e: &Entry<'_>| -> Option<Error> {
        if first.name != e.name {
            return None;
        }
        if e.is_field || first.is_field {
            let what = if first.is_field { "field" } else { "block" };
            return Some(Error::new(
                ErrorKind::DuplicateField,
                e.pos,
                format!(
                    "`{}` is already defined as a {what} at line {}",
                    e.name, first.pos.line
                ),
            ));
        }
        match (first.label, e.label) {
            (Some(a), Some(b)) if a == b => Some(Error::new(
                ErrorKind::DuplicateBlock,
                e.pos,
                format!(
                    "block `{} \"{}\"` is already defined at line {}",
                    e.name, b, first.pos.line
                ),
            )),
            _ => None,
        }
    };
    if n <= 16 {
        for (i, e) in entries.clone().enumerate() {
            if let Some(err) = entries.clone().take(i).find_map(|first| clash(&first, &e)) {
                errors.push(err);
            }
        }
        return;
    }
    // name -> (first entry of that name, first field of that name)
    let mut by_name: HashMap<&str, Entry<'x>> = HashMap::with_capacity(n);
    let mut labeled: HashMap<(&str, &str), Entry<'x>> = HashMap::new();
    for e in entries {
        match by_name.get(e.name) {
            Some(first) if first.is_field || e.is_field => {
                if let Some(err) = clash(first, &e) {
                    errors.push(err);
                }
                continue;
            }
            Some(_) => {}
            None => {
                by_name.insert(e.name, e);
            }
        }
        if let Some(l) = e.label {
            match labeled.get(&(e.name, l)) {
                Some(first) => errors.extend(clash(first, &e)),
                None => {
                    labeled.insert((e.name, l), e);
                }
            }
        }
    }
}
