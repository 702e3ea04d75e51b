//! ACL, AtlasLinux's configuration language, as `shared/ACL.md` specifies it: a lexer and
//! parser that stop at the first syntax error, evaluation of expressions, casts and
//! references with type checking, lookup paths, the dump format and a canonical printer.
//!
//! ```
//! let doc = pandora_acl::parse("Tool { string name = \"x\"; n = 1 + 2; }", "t.acl").unwrap();
//! assert_eq!(doc.get("Tool.n").unwrap().unwrap().as_int(), Some(3));
//! ```

pub use document::{Block, Document, Field, Item};
pub use error::{Error, ErrorKind, Pos};
pub use lookup::PathError;
pub use name::Name;
pub use parse::{format, format_syntax, parse, parse_data, parse_with_tree};
pub use value::{Scalar, Type, Value};

mod ast;
mod document;
mod error;
mod eval;
mod lexer;
mod lookup;
mod name;
mod parse;
mod parser;
mod print;
mod value;
