//! `pandora acl`: check, dump, get and fmt, with no daemon involved.

use std::path::Path;
use std::process::ExitCode;

use pandora_common::acl::{self, Value};
use pandora_common::files;

use crate::args::AclCommand;
use crate::{Failure, Outcome, print_out};

pub(crate) fn run(cmd: AclCommand) -> Outcome {
    match cmd {
        AclCommand::Check { files, kind } => check(&files, kind),
        AclCommand::Dump { file } => {
            let doc = load(&file)?;
            print_out(&doc.dump());
            Ok(ExitCode::SUCCESS)
        }
        AclCommand::Get { file, path, typed } => get(&file, &path, typed),
        AclCommand::Fmt { file, write, check } => fmt(&file, write, check),
    }
}

fn read(file: &Path) -> Result<String, Failure> {
    let bytes = fs_err::read(file).map_err(|e| Failure::new(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        Failure::new(format!(
            "{}: not UTF-8 (invalid byte at offset {})",
            file.display(),
            e.utf8_error().valid_up_to()
        ))
        .hint("ACL files are UTF-8 text; re-save the file as UTF-8")
    })
}

fn load(file: &Path) -> Result<acl::Document, Failure> {
    let text = read(file)?;
    acl::parse(&text, &file.display().to_string()).map_err(|e| Failure::new(e.to_string()))
}

pub(crate) use crate::args::Kind;

impl Kind {
    /// The kind a file's name says, if Pandora knows it.
    fn of(path: &Path) -> Option<Kind> {
        let name = path.file_name()?.to_str()?;
        let in_dir = |dir: &str| {
            path.parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == dir)
        };
        Some(match name {
            "manifest.acl" => Kind::Manifest,
            "index.acl" => Kind::Index,
            "snapshot.acl" => Kind::Snapshot,
            "config.acl" => Kind::Config,
            "registries.acl" => Kind::Registries,
            "profile.acl" => Kind::Profile,
            "files.acl" => Kind::Files,
            n if n.ends_with(".lock") => Kind::Lockfile,
            n if n.ends_with(".acl") && in_dir("index") => Kind::PackageIndex,
            n if n.ends_with(".acl") && in_dir("hooks") => Kind::Hooks,
            _ => return None,
        })
    }

    /// Decodes `text` as this kind, for its errors.
    fn check(self, text: &str, origin: &str) -> Result<(), files::FileError> {
        match self {
            Kind::Manifest => files::Manifest::parse(text, origin).map(drop),
            Kind::Index => files::Index::parse(text, origin).map(drop),
            Kind::PackageIndex => files::PackageEntry::parse(text, origin).map(drop),
            Kind::Snapshot => files::Snapshot::parse(text, origin).map(drop),
            Kind::Config => files::RegistryMeta::parse(text, origin).map(drop),
            Kind::Registries => files::RegistryList::parse(text, origin).map(drop),
            Kind::Profile => files::Profile::parse(text, origin).map(drop),
            Kind::Files => files::FileList::parse(text, origin).map(drop),
            Kind::Lockfile => files::Lockfile::parse(text, origin).map(drop),
            Kind::Hooks => files::HookFile::parse(text, origin).map(drop),
        }
    }
}

fn check(files: &[std::path::PathBuf], kind: Option<Kind>) -> Outcome {
    let mut bad = 0;
    for file in files {
        let origin = file.display().to_string();
        let kind = kind.or_else(|| Kind::of(file));
        let outcome = read(file).and_then(|text| {
            acl::parse(&text, &origin).map_err(|e| Failure::new(e.to_string()))?;
            match kind {
                Some(k) => k
                    .check(&text, &origin)
                    .map_err(|e| Failure::new(crate::with_causes(&e))),
                None => Ok(()),
            }
        });
        match outcome {
            Ok(()) => match kind {
                Some(k) => print_out(&format!(
                    "{}: ok ({})\n",
                    file.display(),
                    format!("{k:?}").to_lowercase()
                )),
                None => print_out(&format!("{}: ok\n", file.display())),
            },
            Err(f) => {
                bad += 1;
                eprintln!("{}", f.message);
            }
        }
    }
    if bad == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{bad} of {} file{} invalid",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::FAILURE)
}

/// The value as a script wants it: strings raw, arrays one element per line.
fn plain(v: &Value) -> String {
    let join = |items: Vec<String>| items.into_iter().map(|s| s + "\n").collect::<String>();
    match v {
        Value::Str(s) => format!("{s}\n"),
        Value::Int(n) => format!("{n}\n"),
        Value::Float(_) | Value::Bool(_) => {
            let typed = v.to_string();
            format!(
                "{}\n",
                typed
                    .split_once(':')
                    .map_or(typed.as_str(), |(_, rest)| rest)
            )
        }
        Value::StrArray(a) => join(a.clone()),
        Value::IntArray(a) => join(a.iter().map(i64::to_string).collect()),
        Value::FloatArray(_) | Value::BoolArray(_) => {
            let n = match v {
                Value::FloatArray(a) => a.len(),
                Value::BoolArray(a) => a.len(),
                _ => 0,
            };
            join(
                (0..n)
                    .filter_map(|i| v.index(i))
                    .map(|x| plain(&x).trim_end().to_string())
                    .collect(),
            )
        }
    }
}

fn get(file: &Path, path: &str, typed: bool) -> Outcome {
    let doc = load(file)?;
    match doc.get(path) {
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        Ok(None) => Err(
            Failure::new(format!("`{path}` is not in {}", file.display())).hint(format!(
                "pandora acl dump {} lists every path",
                file.display()
            )),
        ),
        Ok(Some(v)) => {
            print_out(&if typed { format!("{v}\n") } else { plain(&v) });
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn fmt(file: &Path, write: bool, check: bool) -> Outcome {
    let text = read(file)?;
    let formatted =
        acl::format(&text, &file.display().to_string()).map_err(|e| Failure::new(e.to_string()))?;
    if check {
        if formatted == text {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{} is not in canonical form", file.display());
        return Err(Failure::new(format!("{} needs formatting", file.display()))
            .hint(format!("pandora acl fmt --write {}", file.display())));
    }
    if !write {
        print_out(&formatted);
        return Ok(ExitCode::SUCCESS);
    }
    if formatted != text {
        write_atomically(file, &formatted)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Replaces `file` atomically, keeping its permissions: a crash leaves the old or the new.
/// A symbolic link stays a link: the file it points to is what gets replaced.
fn write_atomically(file: &Path, text: &str) -> Result<(), Failure> {
    let target = fs_err::canonicalize(file).map_err(|e| Failure::new(e.to_string()))?;
    pandora_common::write_atomic(&target, text.as_bytes()).map_err(|e| Failure::new(e.to_string()))
}
