//! Shell completions (clap_complete, plus package names for the commands that take one),
//! the package names themselves (read from disk: no daemon is started for a key press), and
//! the man pages `build.rs` made.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use pandora_common::layout::Layout;

use crate::args::{Cli, CompletionShell};
use crate::{Failure, Outcome};

/// Largest cached `index.acl` scanned for names on a key press.
const MAX_SCANNED: u64 = 8 << 20;

/// The commands whose arguments are package names.
const TAKES_PACKAGES: &str = "install activate remove info graph";

/// The man pages, as `build.rs` generated them: (file name, troff text).
const MAN_PAGES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/man_pages.rs"));

/// The completion script for `shell`.
pub(crate) fn script(shell: CompletionShell) -> String {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let generator = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "pandora", &mut buf);
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    let alternatives = TAKES_PACKAGES.replace(' ', "|");
    text.push_str(&match shell {
        CompletionShell::Bash => format!(
            r#"
# Package names (the store's and the cached indices') for {TAKES_PACKAGES}. The names are
# compared as plain text, never expanded by the shell.
_pandora_with_packages() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" i sub="" word
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            --color|--log|--profile|--strategy) ((i++)) ;;
            -*) ;;
            *) sub="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    case "$prev" in
        --color|--log|--profile|--strategy|--registry|--sig|--keep|-o|--out) sub="" ;;
    esac
    case "$sub" in
        {alternatives})
            if [[ $cur != -* && $cur != */* ]]; then
                COMPREPLY=()
                while IFS= read -r word; do
                    [[ $word == "$cur"* ]] && COMPREPLY+=("$word")
                done < <(pandora complete-packages 2>/dev/null)
                [[ ${{#COMPREPLY[@]}} -gt 0 ]] && return 0
            fi
            ;;
    esac
    _pandora "$@"
}}
complete -F _pandora_with_packages -o bashdefault -o default pandora
"#
        ),
        CompletionShell::Zsh => format!(
            r#"
# Package names (the store's and the cached indices') for {TAKES_PACKAGES}.
_pandora_with_packages() {{
    if (( CURRENT > 2 )) && [[ ${{words[2]}} == ({alternatives}) && ${{words[CURRENT]}} != -* ]]; then
        local -a packages
        packages=(${{(f)"$(pandora complete-packages 2>/dev/null)"}})
        compadd -a packages && return 0
    fi
    _pandora "$@"
}}
compdef _pandora_with_packages pandora
"#
        ),
        CompletionShell::Fish => format!(
            r#"
# Package names (the store's and the cached indices') for {TAKES_PACKAGES}.
complete -c pandora -n "__fish_seen_subcommand_from {TAKES_PACKAGES}; and not __fish_seen_subcommand_from registry" -a "(pandora complete-packages 2>/dev/null)"
"#
        ),
    });
    text
}

/// Every package name and `name@version` in the store, and every name in the cached
/// indices, one per line, sorted.
pub(crate) fn package_names() -> String {
    let Ok(layout) = Layout::from_env() else {
        return String::new();
    };
    let mut names = BTreeSet::new();
    for (name, dir) in subdirs(&layout.store()) {
        for (version, _) in subdirs(&dir) {
            names.insert(format!("{name}@{version}"));
        }
        names.insert(name);
    }
    for (_, cache) in subdirs(&layout.index_caches()) {
        for (file, _) in entries(&cache.join("index")) {
            if let Some(name) = file.strip_suffix(".acl") {
                names.insert(name.to_string());
            }
        }
        // The whole index, when a search cached it and it is not huge: its `Package "name"`
        // lines.
        let whole = cache.join("index.acl");
        if fs_err::metadata(&whole).is_ok_and(|m| m.len() <= MAX_SCANNED)
            && let Ok(text) = fs_err::read_to_string(&whole)
        {
            for line in text.lines() {
                if let Some(rest) = line.trim_start().strip_prefix("Package \"")
                    && let Some((name, _)) = rest.split_once('"')
                {
                    names.insert(name.to_string());
                }
            }
        }
    }
    // Only names and pins as Pandora spells them: anything a registry wrote that is not
    // one never reaches a shell.
    names
        .into_iter()
        .filter(|n| match n.split_once('@') {
            Some(_) => pandora_common::files::Pin::parse(n).is_ok(),
            None => pandora_common::files::validate_name(n).is_ok(),
        })
        .map(|n| n + "\n")
        .collect()
}

fn entries(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let Ok(read) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect()
}

fn subdirs(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    entries(dir)
        .into_iter()
        .filter(|(_, p)| p.is_dir())
        .collect()
}

/// Writes the man pages into `dir`.
pub(crate) fn man(dir: &Path) -> Outcome {
    let fail = |e: std::io::Error| Failure::new(e.to_string());
    fs_err::create_dir_all(dir).map_err(fail)?;
    for (name, text) in MAN_PAGES {
        fs_err::write(dir.join(name), text).map_err(fail)?;
    }
    println!("wrote {} man pages to {}", MAN_PAGES.len(), dir.display());
    Ok(ExitCode::SUCCESS)
}
