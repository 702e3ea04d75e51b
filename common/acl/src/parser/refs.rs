//! References (ACL.md §4): `$Block.field`, `$.field`, `^field`, `name`, with labels.

use super::{Build, Parser, syntax};
use crate::ast::*;
use crate::error::Error;
use crate::lexer::Tok;

impl<'a, B: Build<'a>> Parser<'a, '_, B> {
    pub(super) fn seg_name(&mut self) -> Result<&'a str, Box<Error>> {
        let t = self.next()?;
        match t.tok {
            Tok::Ident(s) => Ok(s),
            other => Err(syntax(
                t.pos,
                format!(
                    "expected a name in the reference, found {}",
                    other.describe()
                ),
            )),
        }
    }

    pub(super) fn ref_rest(
        &mut self,
        anchor: Anchor,
        first: &'a str,
    ) -> Result<RefPath<'a>, Box<Error>> {
        self.has_refs = true;
        let mut segs = vec![Seg {
            name: first,
            label: None,
        }];
        loop {
            match self.peek()?.tok {
                Tok::Dot => {
                    self.next()?;
                    let name = self.seg_name()?;
                    segs.push(Seg { name, label: None });
                }
                Tok::LBracket => {
                    let open = self.next()?;
                    let t = self.next()?;
                    let label = match t.tok {
                        Tok::Str(s) => s,
                        Tok::Int(_) => {
                            return Err(syntax(
                                t.pos,
                                "a reference cannot index with a number; use a label `[\"name\"]`",
                            ));
                        }
                        other => {
                            return Err(syntax(
                                t.pos,
                                format!("expected a label string, found {}", other.describe()),
                            ));
                        }
                    };
                    self.expect(Tok::RBracket, "`]`")?;
                    let last = segs.last_mut().expect("a reference has a first segment");
                    if last.label.is_some() {
                        return Err(syntax(
                            open.pos,
                            "a label must follow a name: write `name[\"label\"]`",
                        ));
                    }
                    last.label = Some(label);
                }
                _ => break,
            }
        }
        Ok(RefPath { anchor, segs })
    }
}
