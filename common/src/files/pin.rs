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
/// marks a pre-release (`1.0.0-rc1 < 1.0.0`, and below any other continuation). The order is
/// total, so versions sort without surprises.
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
    // Digit runs as numbers of any length (leading zeros dropped, then the longer is larger),
    // so that the order is total: parsing into a fixed width and falling back to text for
    // longer runs made cycles, and sorting with a cycle may panic.
    fn number(run: &str) -> Option<&str> {
        run.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| run.trim_start_matches('0'))
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(rb.iter()) {
        let pre = |r: &str| r.starts_with(['-', '~']);
        let ord = match (number(x), number(y)) {
            (Some(m), Some(n)) => m.len().cmp(&n.len()).then_with(|| m.cmp(n)),
            // A pre-release marker is below any other run, as it is below the end of a
            // version (`1.0~rc < 1.0 < 1.0a`); as plain text `~` sorted above letters and made
            // a cycle with the end-of-version rule.
            _ if pre(x) != pre(y) => {
                if pre(x) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
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

#[cfg(test)]
mod tests {
    use super::compare_versions;
    use std::cmp::Ordering;

    #[test]
    fn versions_order_as_people_read_them_and_the_order_is_total() {
        for (a, b) in [
            ("1.9.2", "1.10.0"),
            ("2.0.0-rc1", "2.0.0-rc2"),
            ("1.0", "1.0.1"),
            ("1.0.0-rc1", "1.0.0"),
            ("1.2", "1.10"),
            ("1.0~rc", "1.0.1"),
            ("1~x", "1a"),
        ] {
            assert_eq!(compare_versions(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare_versions(b, a), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(compare_versions("1.01", "1.1"), Ordering::Equal);
        // Runs too long for any integer type still compare as numbers: these three made a
        // cycle when long runs fell back to text.
        let long = format!("1{}", "0".repeat(40));
        let mut v = vec![long.clone(), "2".to_string(), "10".to_string()];
        assert_eq!(compare_versions(&long, "10"), Ordering::Greater);
        assert_eq!(compare_versions("2", &long), Ordering::Less);
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(v, ["2", "10", long.as_str()]);
        // Transitive over a mixed set, so sorting never sees a cycle.
        let set = [
            "1",
            "01",
            "9",
            "10",
            "1a",
            "a1",
            "1.0",
            "1.0-rc1",
            "1~x",
            &long,
            "99999999999999999999999999999999999999999",
        ];
        for a in set {
            for b in set {
                for c in set {
                    let (ab, bc) = (compare_versions(a, b), compare_versions(b, c));
                    if ab == bc && ab != Ordering::Equal {
                        assert_eq!(compare_versions(a, c), ab, "{a} {b} {c}");
                    }
                }
            }
        }
    }
}
