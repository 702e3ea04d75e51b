//! The entry points from source text: to a resolved [`Document`], or to canonical text.

use crate::document::Document;
use crate::error::Error;
use crate::{eval, parser, print};

/// Parses, resolves and type-checks `source`; `origin` names the file in errors.
pub fn parse(source: &str, origin: &str) -> Result<Document, Error> {
    match eval::parse_direct(source, false) {
        Ok(Some(doc)) => return Ok(doc),
        Ok(None) => {}
        Err(e) => return Err(e.located(origin, source)),
    }
    let tree = parser::parse(source).map_err(|e| e.located(origin, source))?;
    eval::evaluate(&tree).map_err(|e| e.located(origin, source))
}

/// Parses `source` as data: like [`parse`], but every field value must be a literal or an
/// array of literals, and anything else is an `expression-not-allowed` error. For files read
/// from registries and packages (indices, snapshots, manifests, hooks, file lists), where
/// nothing needs computing and an expression could only make reading them expensive.
pub fn parse_data(source: &str, origin: &str) -> Result<Document, Error> {
    match eval::parse_direct(source, true) {
        Ok(Some(doc)) => Ok(doc),
        Ok(None) => unreachable!("literal-only parsing never needs the syntax tree"),
        Err(e) => Err(e.located(origin, source)),
    }
}

/// Checks `source` like [`parse`] and returns it in canonical form, comments kept.
pub fn format(source: &str, origin: &str) -> Result<String, Error> {
    let tree = parser::parse(source).map_err(|e| e.located(origin, source))?;
    eval::evaluate(&tree).map_err(|e| e.located(origin, source))?;
    Ok(print::print_tree(&tree))
}

/// Returns `source` in canonical form after checking its syntax only, so that documents with
/// semantic errors can be printed too (used by property tests).
#[doc(hidden)]
pub fn format_syntax(source: &str, origin: &str) -> Result<String, Error> {
    let tree = parser::parse(source).map_err(|e| e.located(origin, source))?;
    Ok(print::print_tree(&tree))
}

/// [`parse`] through the syntax tree even when the document has no references, so tests can
/// check that both paths agree.
#[doc(hidden)]
pub fn parse_with_tree(source: &str, origin: &str) -> Result<Document, Error> {
    let tree = parser::parse(source).map_err(|e| e.located(origin, source))?;
    eval::evaluate(&tree).map_err(|e| e.located(origin, source))
}
