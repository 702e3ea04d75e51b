//! The document, blocks and field declarations (ACL.md §2): `Name ["label"] { ... }`,
//! `type name = value;`, `type[] name = value;`, `ref name = $path;` and `name = value;`.

use super::{BlockHead, Build, Class, Parsed, Parser, syntax};
use crate::ast::*;
use crate::error::{Error, ErrorKind, Pos};
use crate::lexer::Tok;

impl<'a, B: Build<'a>> Parser<'a, '_, B> {
    pub(super) fn document(&mut self) -> Result<Parsed<'a, B>, Box<Error>> {
        let mut items = Vec::new();
        loop {
            let (pos, class) = self.class(0)?;
            match class {
                Class::Eof => break,
                Class::Ident => {
                    if self.class(1)?.1 == Class::Assign {
                        return Err(syntax(
                            pos,
                            "a field at the top level: fields belong inside a block, `Name { ... }`",
                        ));
                    }
                    let notes = self.leading_notes(pos);
                    let b = self.block(notes)?;
                    items.push(b);
                }
                Class::Type => {
                    return Err(syntax(
                        pos,
                        "a field at the top level: fields belong inside a block, `Name { ... }`",
                    ));
                }
                _ => {
                    return Err(syntax(
                        pos,
                        format!("expected a block, found {}", self.describe(0)?),
                    ));
                }
            }
        }
        let end = self.peek()?.pos;
        let trailing = self.comments_before(Pos {
            line: end.line,
            col: end.col + 1,
        });
        Ok(Parsed {
            items,
            trailing,
            has_refs: self.has_refs,
        })
    }

    /// `Name ["label"] { items }`; the next token is the name.
    pub(super) fn block(&mut self, mut notes: Attached<'a>) -> Result<B::Item, Box<Error>> {
        let name_tok = self.next()?;
        let Tok::Ident(name) = name_tok.tok else {
            return Err(syntax(name_tok.pos, "expected a block name"));
        };
        self.enter(name_tok.pos)?;
        let label = if self.class(0)?.1 == Class::Str {
            match self.next()?.tok {
                Tok::Str(s) => Some(s),
                _ => unreachable!("class said string"),
            }
        } else {
            None
        };
        let open = self.next()?;
        if open.tok != Tok::LBrace {
            let what = if matches!(open.tok, Tok::Str(_)) {
                "a block has at most one label; expected `{`".to_string()
            } else {
                format!(
                    "expected `{{` to open block `{name}`, found {}",
                    open.tok.describe()
                )
            };
            return Err(syntax(open.pos, what));
        }
        let mut items = Vec::new();
        loop {
            let (pos, class) = self.class(0)?;
            match class {
                Class::RBrace => break,
                Class::Eof => {
                    return Err(syntax(
                        pos,
                        format!(
                            "block `{name}` opened at line {} is not closed: add `}}`",
                            name_tok.pos.line
                        ),
                    ));
                }
                Class::Type => {
                    let notes = self.leading_notes(pos);
                    items.push(self.typed_field(notes)?);
                }
                Class::Ident => {
                    let notes = self.leading_notes(pos);
                    match self.class(1)? {
                        (_, Class::Assign) => items.push(self.inferred_field(notes)?),
                        (_, Class::LBrace | Class::Str) => items.push(self.block(notes)?),
                        (npos, _) => {
                            let what = format!(
                                "expected `=` or `{{` after `{}`, found {}",
                                ident_text(&self.peek_at(0)?.tok),
                                self.describe(1)?
                            );
                            return Err(syntax(npos, what));
                        }
                    }
                }
                _ => {
                    let what = format!(
                        "expected a field, a block or `}}`, found {}",
                        self.describe(0)?
                    );
                    return Err(syntax(pos, what));
                }
            }
        }
        let close = self.peek()?.pos;
        let inner_trailing = self.comments_before(close);
        notes.set_inner_trailing(inner_trailing);
        self.next()?; // `}`
        notes.set_trailing(self.trailing_comment()?);
        self.depth -= 1;
        let head = BlockHead {
            name,
            label,
            pos: name_tok.pos,
            notes,
        };
        Ok(self.build.block(head, items))
    }

    pub(super) fn typed_field(&mut self, mut notes: Attached<'a>) -> Result<B::Item, Box<Error>> {
        let ty = self.next()?;
        let mut decl = match ty.tok {
            Tok::Type(s) => Decl::Scalar(s),
            _ => Decl::Ref,
        };
        if self.peek()?.tok == Tok::LBracket {
            let open = self.next()?;
            decl = match decl {
                Decl::Scalar(s) => Decl::Array(s),
                _ => {
                    return Err(syntax(
                        open.pos,
                        "`ref[]` is not a type: a ref aliases one field",
                    ));
                }
            };
            self.expect(Tok::RBracket, "`]`")?;
        }
        let name_tok = self.next()?;
        let name = match name_tok.tok {
            Tok::Ident(s) => s,
            other => {
                return Err(syntax(
                    name_tok.pos,
                    format!("expected a field name, found {}", other.describe()),
                ));
            }
        };
        self.expect(Tok::Assign, "`=`")?;
        let value = self.value()?;
        self.semicolon(name)?;
        notes.set_trailing(self.trailing_comment()?);
        self.build.field(FieldNode {
            name,
            pos: ty.pos,
            name_pos: name_tok.pos,
            decl: Some(decl),
            value,
            notes,
        })
    }

    pub(super) fn inferred_field(
        &mut self,
        mut notes: Attached<'a>,
    ) -> Result<B::Item, Box<Error>> {
        let name_tok = self.next()?;
        let Tok::Ident(name) = name_tok.tok else {
            unreachable!("the caller saw an identifier")
        };
        self.next()?; // `=`
        let value = self.value()?;
        self.semicolon(name)?;
        notes.set_trailing(self.trailing_comment()?);
        self.build.field(FieldNode {
            name,
            pos: name_tok.pos,
            name_pos: name_tok.pos,
            decl: None,
            value,
            notes,
        })
    }

    pub(super) fn semicolon(&mut self, field: &str) -> Result<(), Box<Error>> {
        let t = self.next()?;
        if t.tok == Tok::Semi {
            return Ok(());
        }
        Err(Error::boxed(
            ErrorKind::MissingSemicolon,
            t.pos,
            format!(
                "expected `;` after the value of `{field}`, found {}",
                t.tok.describe()
            ),
        ))
    }
}

fn ident_text(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.to_string(),
        other => other.describe(),
    }
}
