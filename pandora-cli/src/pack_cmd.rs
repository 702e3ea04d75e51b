//! `pandora pack`: build a deterministic .pkg from a package directory, or inspect one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pandora_common::pkg::{self, EntryKind, Limits, PackOptions};

use crate::args::PackArgs;
use crate::output::human_size;
use crate::{Failure, Outcome, print_out, with_causes};

pub(crate) fn run(args: PackArgs, quiet: bool) -> Outcome {
    match (args.inspect, args.dir) {
        (Some(file), _) => inspect(&file),
        (None, Some(dir)) => pack(&dir, args.out, quiet),
        (None, None) => unreachable!("clap requires a directory or --inspect"),
    }
}

fn source_date_epoch() -> Result<u64, Failure> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(0),
        Ok(s) => s.trim().parse().map_err(|_| {
            Failure::new(format!(
                "SOURCE_DATE_EPOCH=`{s}` is not a number of seconds"
            ))
            .hint("unset it, or set it to a Unix time such as 1704067200")
        }),
    }
}

fn pack(dir: &Path, out: Option<PathBuf>, quiet: bool) -> Outcome {
    let opts = PackOptions {
        source_date_epoch: source_date_epoch()?,
        ..PackOptions::default()
    };
    let out = out.unwrap_or_else(|| PathBuf::from("."));
    let fail = |e: pkg::PackError| {
        Failure::new(format!(
            "cannot pack {}: {}",
            dir.display(),
            with_causes(&e)
        ))
        .hint(format!(
            "fix the package directory, then run `pandora pack {}` again",
            dir.display()
        ))
    };
    // Pack into a staging directory next to the result, then rename: the result is whole or
    // absent, and a signal removes the staging directory.
    let (parent, explicit) = if out.is_dir() {
        (out.clone(), None)
    } else {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        (parent, Some(out.clone()))
    };
    let staging = Staging::new(&parent)?;
    let packed = pkg::pack_to_dir(dir, staging.path(), &opts).map_err(fail)?;
    let path = explicit.unwrap_or_else(|| parent.join(&packed.report.file_name));
    fs_err::rename(&packed.path, &path).map_err(|e| Failure::new(e.to_string()))?;
    let report = packed.report;
    if !quiet {
        eprintln!(
            "packed {}@{}: {} entries, {} of tar in {}",
            report.name,
            report.version,
            report.entries,
            human_size(report.tar_size),
            human_size(report.compressed_size)
        );
    }
    print_out(&format!("{}  {}\n", report.sha256, path.display()));
    Ok(ExitCode::SUCCESS)
}

fn inspect(file: &Path) -> Outcome {
    let found = pkg::inspect_file(file, &Limits::default()).map_err(|e| match e {
        pkg::InspectFileError::Open { .. } => Failure::new(with_causes(&e)),
        pkg::InspectFileError::Invalid { source, .. } => Failure::new(format!(
            "{} is not a valid package: {}",
            file.display(),
            with_causes(&source)
        ))
        .hint("do not install it; ask its publisher for a new build"),
    })?;
    let mut out = String::new();
    out.push_str(&format!("package  {}\n", found.manifest.pin()));
    out.push_str(&format!("sha256   {}\n", found.sha256));
    out.push_str(&format!(
        "size     {} ({} bytes)\n\n",
        human_size(found.compressed_size),
        found.compressed_size
    ));
    out.push_str("manifest.acl:\n");
    for line in found.manifest_text.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("\nentries ({}):\n", found.entries.len()));
    for e in &found.entries {
        let (kind, size) = match e.kind {
            EntryKind::File => ("file", e.size.to_string()),
            EntryKind::Dir => ("dir ", "-".to_string()),
            EntryKind::Symlink => ("link", "-".to_string()),
        };
        let target = e
            .link_target
            .as_deref()
            .map(|t| format!(" -> {t}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "    {kind} {:04o} {size:>10}  {}{target}\n",
            e.mode, e.path
        ));
    }
    print_out(&out);
    Ok(ExitCode::SUCCESS)
}

/// A staging directory next to the result, removed when dropped and on a signal. It is
/// watched before it is created, so no signal can fall between the two.
struct Staging {
    path: PathBuf,
    _guard: crate::interrupt::Guard,
}

impl Staging {
    fn new(parent: &Path) -> Result<Staging, Failure> {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!(".pack-{}-{nonce:08x}", std::process::id()));
        let guard = crate::interrupt::Guard::new(&path);
        fs_err::create_dir(&path)
            .map_err(|e| Failure::new(format!("cannot write into {}: {e}", parent.display())))?;
        Ok(Staging {
            path,
            _guard: guard,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.path);
    }
}
