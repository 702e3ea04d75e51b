//! The ACL lexer (ACL.md §1): UTF-8 text in, tokens with 1-based line and column out.
//! Columns count characters, a tab counts 1. Comments are collected on the side so the
//! canonical printer can keep them.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Pos};
use crate::value::Scalar;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    Ident(&'a str),
    /// An integer literal; at most 2^63 so that `-9223372036854775808` can be written.
    Int(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Type(Scalar),
    Ref,
    True,
    False,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Semi,
    Assign,
    Comma,
    Dot,
    Dollar,
    Caret,
    Question,
    Colon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Bang,
    Lt,
    Gt,
    Le,
    Ge,
    EqEq,
    Ne,
    AndAnd,
    OrOr,
    Eof,
}

impl Tok<'_> {
    /// How the token is named in error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier `{s}`"),
            Tok::Int(n) => format!("number `{n}`"),
            Tok::Float(f) => format!("number `{f:?}`"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Type(t) => format!("keyword `{}`", t.keyword()),
            Tok::Ref => "keyword `ref`".to_string(),
            Tok::True => "keyword `true`".to_string(),
            Tok::False => "keyword `false`".to_string(),
            Tok::Eof => "end of file".to_string(),
            other => format!("`{}`", other.punct()),
        }
    }

    fn punct(&self) -> &'static str {
        match self {
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Semi => ";",
            Tok::Assign => "=",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Dollar => "$",
            Tok::Caret => "^",
            Tok::Question => "?",
            Tok::Colon => ":",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Bang => "!",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            _ => "?",
        }
    }
}

/// One token with where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    pub(crate) pos: Pos,
}

/// A comment, kept for the canonical printer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comment<'a> {
    pub(crate) pos: Pos,
    /// The comment's full text, `//` or `/* */` included, without the line end.
    pub(crate) text: &'a str,
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    i: usize,
    line: u32,
    col: u32,
    pub(crate) comments: Vec<Comment<'a>>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str) -> Lexer<'a> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Lexer {
            src: text.as_bytes(),
            text,
            i: 0,
            line: 1,
            col: 1,
            comments: Vec::new(),
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn peek_byte(&self, k: usize) -> Option<u8> {
        self.src.get(self.i + k).copied()
    }

    /// Advances one byte, keeping line and column (columns count UTF-8 lead bytes only).
    fn bump(&mut self) {
        let b = self.src[self.i];
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            self.col += 1;
        }
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn skip_trivia(&mut self) -> Result<(), Box<Error>> {
        loop {
            match self.peek_byte(0) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.bump(),
                Some(b'/') if self.peek_byte(1) == Some(b'/') => {
                    let pos = self.pos();
                    let start = self.i;
                    while let Some(b) = self.peek_byte(0) {
                        if b == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                    let text = self.text[start..self.i].trim_end_matches('\r');
                    self.comments.push(Comment { pos, text });
                }
                Some(b'/') if self.peek_byte(1) == Some(b'*') => {
                    let pos = self.pos();
                    let start = self.i;
                    self.bump_n(2);
                    loop {
                        match self.peek_byte(0) {
                            None => {
                                return Err(Error::boxed(
                                    ErrorKind::UnterminatedComment,
                                    pos,
                                    "`/*` comment is never closed: add `*/`",
                                ));
                            }
                            Some(b'*') if self.peek_byte(1) == Some(b'/') => {
                                self.bump_n(2);
                                break;
                            }
                            Some(_) => self.bump(),
                        }
                    }
                    let text = &self.text[start..self.i];
                    self.comments.push(Comment { pos, text });
                }
                _ => return Ok(()),
            }
        }
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, Box<Error>> {
        self.skip_trivia()?;
        let pos = self.pos();
        let Some(b) = self.peek_byte(0) else {
            return Ok(Token { tok: Tok::Eof, pos });
        };
        let two = |s: &Self, c: u8| s.peek_byte(1) == Some(c);
        let (tok, len) = match b {
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b'[' => (Tok::LBracket, 1),
            b']' => (Tok::RBracket, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b';' => (Tok::Semi, 1),
            b',' => (Tok::Comma, 1),
            b'.' => (Tok::Dot, 1),
            b'$' => (Tok::Dollar, 1),
            b'^' => (Tok::Caret, 1),
            b'?' => (Tok::Question, 1),
            b':' => (Tok::Colon, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'*' => (Tok::Star, 1),
            b'/' => (Tok::Slash, 1),
            b'%' => (Tok::Percent, 1),
            b'=' if two(self, b'=') => (Tok::EqEq, 2),
            b'=' => (Tok::Assign, 1),
            b'!' if two(self, b'=') => (Tok::Ne, 2),
            b'!' => (Tok::Bang, 1),
            b'<' if two(self, b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if two(self, b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'&' if two(self, b'&') => (Tok::AndAnd, 2),
            b'|' if two(self, b'|') => (Tok::OrOr, 2),
            b'"' => return self.string(pos),
            b'0'..=b'9' => return self.number(pos),
            b if is_ident_start(b) => return Ok(self.ident(pos)),
            _ => {
                let ch = self.text[self.i..].chars().next().unwrap_or('?');
                let hint = match ch {
                    '\'' => ": ACL has no character literals, use a \"string\"",
                    '&' => ": did you mean `&&`?",
                    '|' => ": did you mean `||`?",
                    _ => "",
                };
                return Err(Error::boxed(
                    ErrorKind::UnexpectedChar,
                    pos,
                    format!("unexpected character `{}`{hint}", ch.escape_debug()),
                ));
            }
        };
        self.bump_n(len);
        Ok(Token { tok, pos })
    }

    fn ident(&mut self, pos: Pos) -> Token<'a> {
        let start = self.i;
        while self.peek_byte(0).is_some_and(is_ident_char) {
            self.i += 1;
            self.col += 1;
        }
        let word = &self.text[start..self.i];
        let tok = match word {
            "int" => Tok::Type(Scalar::Int),
            "float" => Tok::Type(Scalar::Float),
            "bool" => Tok::Type(Scalar::Bool),
            "string" => Tok::Type(Scalar::String),
            "ref" => Tok::Ref,
            "true" => Tok::True,
            "false" => Tok::False,
            _ => Tok::Ident(word),
        };
        Token { tok, pos }
    }

    fn number(&mut self, pos: Pos) -> Result<Token<'a>, Box<Error>> {
        let start = self.i;
        let digits = |s: &mut Self| {
            while s.peek_byte(0).is_some_and(|b| b.is_ascii_digit()) {
                s.i += 1;
                s.col += 1;
            }
        };
        digits(self);
        let mut is_float = false;
        if self.peek_byte(0) == Some(b'.') && self.peek_byte(1).is_some_and(|b| b.is_ascii_digit())
        {
            is_float = true;
            self.i += 1;
            self.col += 1;
            digits(self);
        }
        if self
            .peek_byte(0)
            .is_some_and(|b| is_ident_char(b) || b == b'.')
        {
            return Err(Error::boxed(
                ErrorKind::BadNumber,
                pos,
                "malformed number: write integers as `42` and floats as `4.2` (no exponent, hex, `.5` or `1.`)",
            ));
        }
        let text = &self.text[start..self.i];
        if is_float {
            let f: f64 = text.parse().unwrap_or(f64::INFINITY);
            if !f.is_finite() {
                return Err(Error::boxed(
                    ErrorKind::FloatOverflow,
                    pos,
                    "float literal is too large",
                ));
            }
            return Ok(Token {
                tok: Tok::Float(f),
                pos,
            });
        }
        match text.parse::<u64>() {
            Ok(n) if n <= 1u64 << 63 => Ok(Token {
                tok: Tok::Int(n),
                pos,
            }),
            _ => Err(Error::boxed(
                ErrorKind::IntOverflow,
                pos,
                format!("integer `{text}` does not fit in a 64-bit signed int"),
            )),
        }
    }

    fn string(&mut self, pos: Pos) -> Result<Token<'a>, Box<Error>> {
        self.bump(); // opening quote
        let mut out: Option<String> = None;
        loop {
            // A run of plain bytes on one line: columns advance by its characters.
            let start = self.i;
            let run = self.src[start..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b == b'\n')
                .unwrap_or(self.src.len() - start);
            self.i += run;
            self.col += self.src[start..self.i]
                .iter()
                .filter(|&&b| b & 0xC0 != 0x80)
                .count() as u32;
            let chunk = &self.text[start..self.i];
            match self.peek_byte(0) {
                Some(b'"') => {
                    self.bump();
                    let value = match out {
                        None => Cow::Borrowed(chunk),
                        Some(mut s) => {
                            s.push_str(chunk);
                            Cow::Owned(s)
                        }
                    };
                    return Ok(Token {
                        tok: Tok::Str(value),
                        pos,
                    });
                }
                Some(b'\\') => {
                    let esc_pos = self.pos();
                    let c = match self.peek_byte(1) {
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'\'') => '\'',
                        Some(b'0') => '\0',
                        _ => {
                            return Err(Error::boxed(
                                ErrorKind::BadEscape,
                                esc_pos,
                                "unknown escape: use one of \\n \\t \\r \\\\ \\\" \\' \\0",
                            ));
                        }
                    };
                    self.bump_n(2);
                    let s = out.get_or_insert_with(String::new);
                    s.push_str(chunk);
                    s.push(c);
                }
                _ => {
                    return Err(Error::boxed(
                        ErrorKind::UnterminatedString,
                        pos,
                        "string is not closed on its line: add the closing `\"`",
                    ));
                }
            }
        }
    }
}
