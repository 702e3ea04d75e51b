//! Exact `name@version` pins, the only kind of dependency Pandora knows.

use std::fmt;

/// An exact `name@version` pin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pin {
    /// Package name, `[a-z0-9][a-z0-9._+-]*`.
    pub name: String,
    /// Exact version.
    pub version: String,
}

/// Why a string is not an exact pin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// No `@` separates name and version.
    #[error("`{0}` is not a pin: expected `name@version`")]
    NoAt(String),
    /// The name breaks the naming rule.
    #[error(
        "`{0}` is not a valid package name: use lowercase letters, digits and `._+-`, starting with a letter or digit"
    )]
    BadName(String),
    /// The version is a range or holds forbidden characters.
    #[error(
        "`{0}` is not an exact version: dependencies are exact pins like `libfoo@1.2.3`, not ranges"
    )]
    BadVersion(String),
}

impl Pin {
    /// Parses `name@version`, refusing ranges and malformed names.
    pub fn parse(s: &str) -> Result<Pin, PinError> {
        let (name, version) = s
            .split_once('@')
            .ok_or_else(|| PinError::NoAt(s.to_string()))?;
        validate_name(name)?;
        validate_version(version)?;
        Ok(Pin {
            name: name.to_string(),
            version: version.to_string(),
        })
    }
}

/// Checks a package name against `[a-z0-9][a-z0-9._+-]*`.
pub fn validate_name(name: &str) -> Result<(), PinError> {
    let mut chars = name.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._+-".contains(c));
    if ok_first && ok_rest && name.len() <= 128 {
        Ok(())
    } else {
        Err(PinError::BadName(name.to_string()))
    }
}

/// Checks that a version is one exact version: it starts with a letter or digit and holds only
/// `[A-Za-z0-9._+~-]`, so `>=1.0`, `^1.2`, `~1`, `*` and `1.0 - 2.0` are refused.
pub fn validate_version(version: &str) -> Result<(), PinError> {
    let mut chars = version.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c));
    if ok_first && ok_rest && version.len() <= 128 {
        Ok(())
    } else {
        Err(PinError::BadVersion(version.to_string()))
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// Orders two versions the way people read them: runs of digits compare as numbers, other
/// runs as text, so `1.10.0 > 1.9.2` and `2.0.0-rc1 < 2.0.0-rc2`. A version that is a
/// prefix of another comes first (`1.0 < 1.0.1`), except before a `-` or `~` suffix, which
/// marks a pre-release (`1.0.0-rc1 < 1.0.0`).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn runs(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                out.push(&s[start..i]);
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(rb.iter()) {
        let ord = match (x.parse::<u128>(), y.parse::<u128>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let pre = |rest: &[&str]| rest.first().is_some_and(|r| r.starts_with(['-', '~']));
    match ra.len().cmp(&rb.len()) {
        Ordering::Less if pre(&rb[ra.len()..]) => Ordering::Greater,
        Ordering::Greater if pre(&ra[rb.len()..]) => Ordering::Less,
        other => other,
    }
}
