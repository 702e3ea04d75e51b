//! `pandora-bench`: the Pandora side of the benchmarks in `bench/`. Each subcommand does one
//! job in one process so that shell scripts can time it next to its baseline (hyperfine) and
//! read its peak memory.
//!
//! ```text
//! pandora-bench gen-index FILE [PACKAGES] [VERSIONS]   write a synthetic index.acl
//! pandora-bench parse-index FILE [RUNS]                parse + decode it, report MB/s and peak RSS
//! pandora-bench unpack FILE.pkg DIR                    verify and unpack into a staging dir in DIR
//! pandora-bench pack DIR OUT_DIR [LEVEL]               pack a package directory
//! pandora-bench gen-tree DIR MEGABYTES                 write a package directory of that size
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use pandora_common::{acl, files, pkg};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(0), arg(1)) {
        (Some("gen-index"), Some(out)) => {
            let packages = arg(2).map_or(Ok(20_000), str::parse)?;
            let versions = arg(3).map_or(Ok(5), str::parse)?;
            let text = gen_index(packages, versions);
            fs_err::write(out, &text).with_context(|| format!("writing {out}"))?;
            println!(
                "{out}: {packages} packages x {versions} versions, {:.1} MB",
                text.len() as f64 / 1e6
            );
        }
        (Some("parse-index"), Some(file)) => parse_index(file, arg(2).map_or(Ok(5), str::parse)?)?,
        (Some("unpack"), Some(file)) => {
            let dir = arg(2).context("unpack FILE.pkg DIR")?;
            let f = fs_err::File::open(file).with_context(|| format!("opening {file}"))?;
            let unpacked = pkg::unpack(
                std::io::BufReader::with_capacity(1 << 20, f),
                Path::new(dir),
                &pkg::Limits::default(),
            )?;
            let path = unpacked.path().to_path_buf();
            let n = unpacked.entries.len();
            let _ = unpacked.into_path();
            println!("{} entries -> {}", n, path.display());
        }
        (Some("pack"), Some(dir)) => {
            let out = arg(2).context("pack DIR OUT_DIR [LEVEL]")?;
            let level = arg(3).map_or(Ok(pkg::ARCHIVE_ZSTD_LEVEL), str::parse)?;
            let opts = pkg::PackOptions {
                level,
                ..pkg::PackOptions::default()
            };
            let packed = pkg::pack_to_dir(Path::new(dir), Path::new(out), &opts)?;
            println!("{}  {}", packed.report.sha256, packed.path.display());
        }
        (Some("gen-tree"), Some(dir)) => {
            gen_tree(Path::new(dir), arg(2).map_or(Ok(100), str::parse)?)?
        }
        _ => bail!("usage: see the header of bench/src/main.rs"),
    }
    Ok(())
}

/// A registry index shaped like AtlasLinux's, with every field a real index carries.
fn gen_index(packages: usize, versions: usize) -> String {
    let mut s = String::with_capacity(packages * versions * 420);
    s.push_str("Registry \"bench\" {\n");
    for p in 0..packages {
        let vs: Vec<String> = (0..versions)
            .map(|v| format!("{}.{}.{}", 1 + v / 3, v % 3, p % 7))
            .collect();
        let listed: Vec<String> = vs.iter().map(|v| format!("\"{v}\"")).collect();
        let _ = write!(
            s,
            "    Package \"pkg{p:05}\" {{\n        string[] versions = {{{}}};\n        string latest = \"{}\";\n        string[] tags = {{\"tag{}\", \"bench\"}};\n        string description = \"synthetic package number {p} for the index benchmark\";\n",
            listed.join(", "),
            vs[vs.len() - 1],
            p % 37
        );
        for (i, v) in vs.iter().enumerate() {
            let h = format!("{:016x}", (p * 131 + i) as u64 * 0x9E37_79B9_7F4A_7C15);
            let hash = h.repeat(4);
            let _ = write!(
                s,
                "        Version \"{v}\" {{\n            string sha256 = \"{hash}\";\n            string pkg_url = \"blobs/sha256/{hash}\";\n            string manifest_url = \"manifests/pkg{p:05}-{v}.acl\";\n            string[] dependencies = {{\"pkg{:05}@1.0.0\", \"pkg{:05}@1.1.1\"}};\n            int size = {};\n            bool deprecated = {};\n        }}\n",
                (p + 1) % packages,
                (p + 2) % packages,
                10_000 + p * 3 + i,
                i == 0
            );
        }
        s.push_str("    }\n");
    }
    s.push_str("}\n");
    s
}

/// Peak resident memory of this process, from /proc (kB).
fn peak_rss_kb() -> u64 {
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn parse_index(file: &str, runs: usize) -> Result<()> {
    let text = fs_err::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let mb = text.len() as f64 / 1e6;
    let base = peak_rss_kb();
    let mut parse = Vec::new();
    let mut decode = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let doc = acl::parse(&text, file)?;
        parse.push(t.elapsed().as_secs_f64());
        drop(doc);
        let t = Instant::now();
        let index = files::Index::parse(&text, file)?;
        decode.push(t.elapsed().as_secs_f64());
        assert!(!index.packages.is_empty());
    }
    parse.sort_by(f64::total_cmp);
    decode.sort_by(f64::total_cmp);
    let (p, d) = (parse[parse.len() / 2], decode[decode.len() / 2]);
    let mut out = std::io::stdout().lock();
    writeln!(out, "index: {mb:.1} MB")?;
    writeln!(
        out,
        "acl::parse           median {:.3} s  {:.0} MB/s",
        p,
        mb / p
    )?;
    writeln!(
        out,
        "files::Index::parse  median {:.3} s  {:.0} MB/s (parse + typed decode)",
        d,
        mb / d
    )?;
    writeln!(
        out,
        "peak RSS             {} MB (file text {} MB before parsing)",
        peak_rss_kb() / 1024,
        base / 1024
    )?;
    Ok(())
}

/// A package directory of about `mb` megabytes: many files of mixed sizes, compressible like
/// real binaries and text (a per-file vocabulary mixed with pseudo-random bytes).
fn gen_tree(dir: &Path, mb: u64) -> Result<()> {
    let files_dir = dir.join("files");
    fs_err::create_dir_all(&files_dir)?;
    fs_err::write(
        dir.join("manifest.acl"),
        "manifest {\n    string name = \"bigpkg\";\n    string version = \"1.0.0\";\n    string arch = \"x86_64\";\n    string[] authors = { \"Bench <bench@example.org>\" };\n    string license = \"MIT\";\n    string[] dependencies = {};\n    string[] install_hooks = {};\n    build_meta { builder = \"pandora-bench\"; }\n}\n",
    )?;
    let target = mb << 20;
    let mut written = 0u64;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut i = 0u64;
    while written < target {
        // Log-uniform sizes from 512 B to 1.5 MB, as in a real package (median ~28 KB).
        let unit = (next() % 1_000_000) as f64 / 1_000_000.0;
        let size = (512.0 * (1_500_000.0f64 / 512.0).powf(unit)) as u64;
        let sub = files_dir.join(format!("d{:02}/s{}", i % 23, i % 5));
        fs_err::create_dir_all(&sub)?;
        let words: Vec<u64> = (0..64).map(|_| next()).collect();
        let mut buf = Vec::with_capacity(size as usize);
        while (buf.len() as u64) < size {
            let r = next();
            if r % 3 == 0 {
                buf.extend_from_slice(&r.to_le_bytes());
            } else {
                buf.extend_from_slice(&words[(r % 64) as usize].to_le_bytes());
            }
        }
        fs_err::write(sub.join(format!("f{i:05}.bin")), &buf)?;
        written += size;
        i += 1;
    }
    println!(
        "{}: {i} files, {:.0} MB",
        dir.display(),
        written as f64 / 1e6
    );
    Ok(())
}
