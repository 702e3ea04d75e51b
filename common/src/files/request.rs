//! How a user names a package on the command line, with one rule for every command:
//! a path (anything with a `/`, or ending in `.pkg`) is a local package file, `name@version`
//! is that exact pin, and a bare `name` means "the version the context picks": a registry's
//! [`PackageEntry::newest`](super::PackageEntry::newest) for install, the installed versions
//! for commands about the store.

use std::path::PathBuf;

use super::pin::validate_name;
use super::{Pin, PinError};

/// A package argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageArg {
    /// A local `.pkg` file.
    File(PathBuf),
    /// An exact `name@version`.
    Pin(Pin),
    /// A bare name.
    Name(String),
}

impl PackageArg {
    /// Whether `arg` names a local file rather than a package.
    pub fn is_file(arg: &str) -> bool {
        arg.ends_with(".pkg") || arg.contains('/')
    }

    /// Parses one argument.
    pub fn parse(arg: &str) -> Result<PackageArg, PinError> {
        if PackageArg::is_file(arg) {
            return Ok(PackageArg::File(PathBuf::from(arg)));
        }
        if arg.contains('@') {
            return Pin::parse(arg).map(PackageArg::Pin);
        }
        validate_name(arg)?;
        Ok(PackageArg::Name(arg.to_string()))
    }

    /// The package name, when the argument is not a file.
    pub fn name(&self) -> Option<&str> {
        match self {
            PackageArg::File(_) => None,
            PackageArg::Pin(p) => Some(&p.name),
            PackageArg::Name(n) => Some(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_package_arguments() {
        let pin = |s: &str| PackageArg::Pin(Pin::parse(s).unwrap());
        assert_eq!(
            PackageArg::parse("./x.pkg").unwrap(),
            PackageArg::File("./x.pkg".into())
        );
        assert_eq!(
            PackageArg::parse("x.pkg").unwrap(),
            PackageArg::File("x.pkg".into())
        );
        assert_eq!(
            PackageArg::parse("dir/x").unwrap(),
            PackageArg::File("dir/x".into())
        );
        assert_eq!(PackageArg::parse("tool@1.2").unwrap(), pin("tool@1.2"));
        assert_eq!(
            PackageArg::parse("tool").unwrap(),
            PackageArg::Name("tool".into())
        );
        assert!(PackageArg::parse("Tool").is_err());
        assert!(PackageArg::parse("tool@").is_err());
        assert!(PackageArg::parse("tool@>=1").is_err());
    }
}
