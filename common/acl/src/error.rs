//! ACL errors: a stable keyword (ACL.md §7.4), a position, a message, and the source line so
//! the error can show itself with a caret.

use std::fmt;

/// A 1-based position in a source file; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

/// The kinds of ACL errors, one per keyword of ACL.md §7.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Any other parse failure.
    Syntax,
    /// A field value not followed by `;`.
    MissingSemicolon,
    /// A character that starts no token.
    UnexpectedChar,
    /// A string not closed on its line.
    UnterminatedString,
    /// A `/*` without `*/`.
    UnterminatedComment,
    /// An unknown `\` escape.
    BadEscape,
    /// A malformed number.
    BadNumber,
    /// An integer outside i64.
    IntOverflow,
    /// A float result that is not finite.
    FloatOverflow,
    /// Division or remainder by zero.
    DivisionByZero,
    /// A cast whose operand cannot be converted.
    BadCast,
    /// A value of the wrong type.
    TypeMismatch,
    /// An inferred `{}`.
    EmptyArrayType,
    /// A field name used twice in one block.
    DuplicateField,
    /// Two sibling blocks with the same name and label.
    DuplicateBlock,
    /// A reference that names nothing.
    UnresolvedReference,
    /// References that depend on each other.
    ReferenceCycle,
    /// An expression whose operators nest deeper than the parser allows.
    TooDeep,
    /// A computed value larger than one value may be.
    ValueTooLarge,
    /// A document whose evaluation computes more bytes than one document may.
    BudgetExceeded,
    /// An expression or reference in a file read with [`parse_data`](crate::parse_data),
    /// which takes literal values only.
    ExpressionNotAllowed,
}

impl ErrorKind {
    /// The stable keyword of ACL.md §7.4.
    pub fn keyword(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::MissingSemicolon => "missing-semicolon",
            ErrorKind::UnexpectedChar => "unexpected-char",
            ErrorKind::UnterminatedString => "unterminated-string",
            ErrorKind::UnterminatedComment => "unterminated-comment",
            ErrorKind::BadEscape => "bad-escape",
            ErrorKind::BadNumber => "bad-number",
            ErrorKind::IntOverflow => "int-overflow",
            ErrorKind::FloatOverflow => "float-overflow",
            ErrorKind::DivisionByZero => "division-by-zero",
            ErrorKind::BadCast => "bad-cast",
            ErrorKind::TypeMismatch => "type-mismatch",
            ErrorKind::EmptyArrayType => "empty-array-type",
            ErrorKind::DuplicateField => "duplicate-field",
            ErrorKind::DuplicateBlock => "duplicate-block",
            ErrorKind::UnresolvedReference => "unresolved-reference",
            ErrorKind::ReferenceCycle => "reference-cycle",
            ErrorKind::TooDeep => "too-deep",
            ErrorKind::ValueTooLarge => "value-too-large",
            ErrorKind::BudgetExceeded => "budget-exceeded",
            ErrorKind::ExpressionNotAllowed => "expression-not-allowed",
        }
    }
}

/// An error in an ACL document. `Display` gives `FILE:line:col: keyword: message`, then the
/// source line and a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where.
    pub pos: Pos,
    /// A sentence for the user.
    pub message: String,
    /// The file name given to the parser.
    pub origin: String,
    /// The text of the offending line (empty at end of file), or the part of it around the
    /// column when the line is longer than 160 characters.
    pub line_text: String,
    /// The caret's column within `line_text`, counted from 1.
    caret: usize,
}

/// The most characters of a source line an error shows: a one-line 50 MB file is not echoed.
pub(crate) const MAX_SHOWN: usize = 160;

/// The part of `line` around column `col` (from 1) and the column within that part: the
/// whole line when it is short, else [`MAX_SHOWN`] characters with `…` where it was cut.
fn excerpt(line: &str, col: usize) -> (String, usize) {
    let len = line.chars().count();
    if len <= MAX_SHOWN {
        return (line.to_string(), col);
    }
    let start = col.saturating_sub(MAX_SHOWN / 2).min(len - MAX_SHOWN);
    let mut text = String::new();
    if start > 0 {
        text.push('…');
    }
    text.extend(line.chars().skip(start).take(MAX_SHOWN));
    if start + MAX_SHOWN < len {
        text.push('…');
    }
    let caret = col - start + usize::from(start > 0);
    (text, caret)
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, pos: Pos, message: impl Into<String>) -> Error {
        Error {
            kind,
            pos,
            message: message.into(),
            origin: String::new(),
            line_text: String::new(),
            caret: pos.col as usize,
        }
    }

    /// [`Error::new`], boxed: the parser's results stay small on the hot path.
    pub(crate) fn boxed(kind: ErrorKind, pos: Pos, message: impl Into<String>) -> Box<Error> {
        Box::new(Error::new(kind, pos, message))
    }

    /// Fills in the file name and the source line.
    pub(crate) fn located(mut self, origin: &str, source: &str) -> Error {
        self.origin = origin.to_string();
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        let line = source
            .split('\n')
            .nth(self.pos.line.saturating_sub(1) as usize)
            .unwrap_or("")
            .trim_end_matches('\r');
        let (text, caret) = excerpt(line, self.pos.col as usize);
        self.line_text = text;
        self.caret = caret;
        self
    }

    /// The first line only: `FILE:line:col: keyword: message`.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}: {}",
            self.origin,
            self.pos.line,
            self.pos.col,
            self.kind.keyword(),
            self.message
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline())?;
        writeln!(f, "{}", self.line_text)?;
        // Keep tabs in the caret line so the caret lines up under a tab-indented source line.
        let pad: String = self
            .line_text
            .chars()
            .take(self.caret.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad}^")
    }
}

impl std::error::Error for Error {}
