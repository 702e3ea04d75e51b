//! Makes the man pages (one per command and subcommand) from the command line's own
//! definition, `src/args.rs`, so they always match `--help`; `pandora man --dir DIR` writes
//! them out.

#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;

#[allow(dead_code, unreachable_pub)]
mod args {
    include!("src/args.rs");
}

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=src/args.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("man");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let cmd = <args::Cli as clap::CommandFactory>::command();
    clap_mangen::generate_to(cmd, &dir)?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    pages.sort();
    let mut list = String::from("&[\n");
    for p in &pages {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        list.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}).as_slice()),\n",
            p.display().to_string()
        ));
    }
    list.push_str("]\n");
    std::fs::write(out.join("man_pages.rs"), list)
}
