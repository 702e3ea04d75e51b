//! Reading tar headers: entry types, modes, GNU long names and PAX records.

use tar::EntryType;

use super::entry::EntryKind;
use super::error::Violation;
use super::path_rules::display_path;

/// Largest PAX header honoured.
pub(crate) const MAX_PAX: u64 = 64 << 10;

/// Long-name and PAX headers read so far, which apply to the next entry.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) long_name: Option<Vec<u8>>,
    pub(crate) long_link: Option<Vec<u8>>,
    pub(crate) pax: Option<Vec<u8>>,
}

/// Why an entry type other than file, directory or symlink is refused.
pub(crate) fn refused_type(entry_type: EntryType, link: Option<&[u8]>) -> Violation {
    let kind = match entry_type {
        EntryType::Link => {
            return Violation::Hardlink {
                target: link.map(display_path).unwrap_or_default(),
            };
        }
        EntryType::XGlobalHeader => return Violation::PaxGlobalHeader,
        EntryType::Char => "character device".to_string(),
        EntryType::Block => "block device".to_string(),
        EntryType::Fifo => "fifo".to_string(),
        EntryType::Continuous => "contiguous file".to_string(),
        EntryType::GNUSparse => "sparse file".to_string(),
        other => format!("unknown entry type `{}`", display_path(&[other.as_byte()])),
    };
    Violation::Special { kind }
}

/// Refuses setuid, setgid, sticky and world-writable bits, and returns the mode the entry
/// gets on disk: 0755 for directories and files with any exec bit, 0644 for other files,
/// 0777 (the only mode Linux gives them) for symlinks.
pub(crate) fn normalise_mode(kind: EntryKind, header_mode: u32) -> Result<u32, Violation> {
    let mode = header_mode & 0o7777;
    if kind == EntryKind::Symlink {
        return Ok(0o777);
    }
    let forbidden = [
        (0o4000, "setuid"),
        (0o2000, "setgid"),
        (0o1000, "sticky"),
        (0o002, "world-writable"),
    ];
    if let Some((_, bit)) = forbidden.iter().find(|(b, _)| mode & b != 0) {
        return Err(Violation::ForbiddenMode { mode, bit });
    }
    Ok(if kind == EntryKind::Dir || mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    })
}

/// Drops the NUL that ends a GNU long name.
pub(crate) fn strip_nul(mut name: Vec<u8>) -> Vec<u8> {
    if name.last() == Some(&0) {
        name.pop();
    }
    name
}

/// The paths a PAX header overrides.
pub(crate) struct PaxPaths {
    pub(crate) path: Option<Vec<u8>>,
    pub(crate) link: Option<Vec<u8>>,
}

/// Takes `path` and `linkpath` from a PAX header; refuses records that would change how the
/// entry's data is read.
pub(crate) fn parse_pax(data: &[u8], header_size: u64) -> Result<PaxPaths, Violation> {
    let mut found = PaxPaths {
        path: None,
        link: None,
    };
    for ext in tar::PaxExtensions::new(data) {
        let ext = ext.map_err(|_| Violation::MalformedPax)?;
        let key = ext.key().map_err(|_| Violation::MalformedPax)?;
        match key {
            "path" => found.path = Some(ext.value_bytes().to_vec()),
            "linkpath" => found.link = Some(ext.value_bytes().to_vec()),
            "size" if ext.value().ok().and_then(|v| v.parse::<u64>().ok()) == Some(header_size) => {
            }
            "size" => {
                return Err(Violation::UnsupportedPax {
                    key: key.to_string(),
                });
            }
            k if k.starts_with("GNU.sparse") => {
                return Err(Violation::UnsupportedPax { key: k.to_string() });
            }
            _ => {}
        }
    }
    Ok(found)
}
