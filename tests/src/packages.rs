//! Packages made with the real `pandora pack`, registries made with the real
//! `pandora-registry`, and what a test reads back from a registry or a store.

use std::path::{Path, PathBuf};
use std::process::Command;

use pandora_common::files::{Index, Manifest};

use crate::context::{Context, Run, bin, dir_names};
use crate::http;

/// A package for [`Context::pack`]: one executable `files/bin/<name>` that echoes its pin,
/// followed by `payload` (which makes two packages of one pin differ).
#[derive(Debug, Clone, Copy)]
pub struct PkgSpec<'a> {
    /// Package name.
    pub name: &'a str,
    /// Version.
    pub version: &'a str,
    /// Exact `name@version` pins.
    pub deps: &'a [&'a str],
    /// Tags.
    pub tags: &'a [&'a str],
    /// Description (default `package <name>`).
    pub description: Option<&'a str>,
    /// Extra text after the script.
    pub payload: &'a str,
    /// The text of one install hook, `hooks/install.acl`.
    pub hook: Option<&'a str>,
    /// More files of the payload: paths below `files/`, and their text.
    pub files: &'a [(&'a str, &'a str)],
}

impl<'a> PkgSpec<'a> {
    /// `name@version`, no dependencies, no tags, no payload, no hook.
    pub fn new(name: &'a str, version: &'a str) -> PkgSpec<'a> {
        PkgSpec {
            name,
            version,
            deps: &[],
            tags: &[],
            description: None,
            payload: "",
            hook: None,
            files: &[],
        }
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `pandora-registry ARGS` and asserts that it succeeds.
pub fn registry_tool<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let run = Run::of(Command::new(bin("pandora-registry")).args(args));
    assert_eq!(
        run.code,
        0,
        "pandora-registry {:?}: {run:?}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
    );
    run
}

/// `n` bytes of text (and a newline) that zstd cannot shrink much: hex of a hash chain.
pub fn noise(seed: &str, n: usize) -> String {
    let mut out = String::with_capacity(n + 64);
    let mut h = pandora_common::hash::sha256_hex(seed.as_bytes());
    while out.len() < n {
        out.push_str(&h);
        h = pandora_common::hash::sha256_hex(h.as_bytes());
    }
    out.truncate(n);
    out.push('\n');
    out
}

/// The lowercase hex sha256 of the file at `path`.
pub fn sha256_file(path: &Path) -> String {
    pandora_common::hash::hash_file(path)
        .unwrap_or_else(|e| panic!("cannot hash {}: {e}", path.display()))
        .sha256
}

/// The sha256 the registry in `reg` gives `name@version` in its `index.acl`.
pub fn indexed_sha(reg: &Path, name: &str, version: &str) -> String {
    let text = std::fs::read_to_string(reg.join("index.acl")).expect("read index.acl");
    let index = Index::parse(&text, "index.acl").expect("index.acl parses");
    index
        .package(name)
        .and_then(|p| p.version(version))
        .unwrap_or_else(|| panic!("{name}@{version} is not in {}", reg.display()))
        .sha256
        .clone()
}

/// `file://DIR`, a registry URL for a directory.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

impl Context {
    /// Packs `spec` with the real `pandora pack` into `pkgs/<name>-<version>-<n>.pkg`.
    pub fn pack(&self, spec: &PkgSpec<'_>) -> PathBuf {
        let n = dir_names(&self.path().join("pkgs")).len();
        let stem = format!("{}-{}-{n}", spec.name, spec.version);
        let src = self.path().join("pkg-src").join(&stem);
        let script = src.join("files/bin").join(spec.name);
        std::fs::create_dir_all(script.parent().expect("a parent")).expect("mkdir");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho {} {}\n{}",
                spec.name, spec.version, spec.payload
            ),
        )
        .expect("write the script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for (rel, text) in spec.files {
            let path = src.join("files").join(rel);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write a payload file");
        }
        let hooks = match spec.hook {
            Some(text) => {
                std::fs::create_dir_all(src.join("hooks")).expect("mkdir hooks");
                std::fs::write(src.join("hooks/install.acl"), text).expect("write the hook");
                "\"hooks/install.acl\""
            }
            None => "",
        };
        let description = spec
            .description
            .map_or_else(|| format!("package {}", spec.name), str::to_string);
        std::fs::write(
            src.join("manifest.acl"),
            format!(
                "manifest {{\n    string name = \"{}\";\n    string version = \"{}\";\n    \
                 string arch = \"x86_64\";\n    string[] authors = {{ \"T <t@example.org>\" }};\n    \
                 string license = \"MIT\";\n    string description = \"{description}\";\n    \
                 string[] tags = {{ {} }};\n    string[] dependencies = {{ {} }};\n    \
                 string[] install_hooks = {{{hooks}}};\n    build_meta {{ builder = \"test\"; }}\n}}\n",
                spec.name,
                spec.version,
                quoted_list(spec.tags),
                quoted_list(spec.deps),
            ),
        )
        .expect("write the manifest");
        std::fs::create_dir_all(self.path().join("pkgs")).expect("mkdir");
        let out = self.path().join("pkgs").join(format!("{stem}.pkg"));
        let r = self.run(&[
            "pack",
            src.to_str().expect("UTF-8 path"),
            "-o",
            out.to_str().expect("UTF-8 path"),
        ]);
        assert_eq!(r.code, 0, "pandora pack: {r:?}");
        out
    }

    /// `pandora-registry init <home>/<dir> --name <dir>`, then `add` of `specs`, packed.
    pub fn registry_of(&self, dir: &str, specs: &[PkgSpec<'_>]) -> PathBuf {
        let reg = self.path().join(dir);
        registry_tool(&[
            "init".as_ref(),
            reg.as_os_str(),
            "--name".as_ref(),
            dir.as_ref(),
        ]);
        let files: Vec<PathBuf> = specs.iter().map(|s| self.pack(s)).collect();
        if !files.is_empty() {
            let mut args = vec!["add".as_ref(), reg.as_os_str()];
            args.extend(files.iter().map(|f| f.as_os_str()));
            registry_tool(&args);
        }
        reg
    }

    /// `pandora-registry serve DIR --listen 127.0.0.1:0 EXTRA...`, killed when dropped.
    pub fn serve_registry(&self, dir: &Path, extra: &[&str]) -> http::Server {
        let mut cmd = Command::new(bin("pandora-registry"));
        cmd.arg("serve")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        http::Server::spawn(cmd, &self.log_file("pandora-registry-serve"))
    }

    /// Writes `registries.acl` with one registry, before a daemon starts; with a `token`
    /// file, the registry allows publishing.
    pub fn write_registry(&self, name: &str, url: &str, token: Option<&Path>) {
        let mut text = format!(
            "Registry \"{name}\" {{\n    string url = \"{url}\";\n    int priority = 0;\n    \
             bool allow_publish = {};\n    string cache_policy = \"ttl=3600\";\n",
            token.is_some()
        );
        if let Some(t) = token {
            text.push_str(&format!("    string token_file = \"{}\";\n", t.display()));
        }
        text.push_str("}\n");
        std::fs::create_dir_all(self.pandora_home()).expect("mkdir");
        std::fs::write(self.pandora_home().join("registries.acl"), text).expect("write");
    }

    /// `pandora registry add NAME URL --priority N`, which must succeed.
    pub fn add_registry(&self, name: &str, url: &str, priority: i64) {
        let r = self.client(&[
            "registry",
            "add",
            name,
            url,
            "--priority",
            &priority.to_string(),
        ]);
        assert_eq!(r.code, 0, "{r:?}");
    }

    /// Every `name@version` in the store, sorted.
    pub fn store_entries(&self) -> Vec<String> {
        let store = self.pandora_home().join("store");
        let mut out = Vec::new();
        for name in dir_names(&store) {
            for version in dir_names(&store.join(&name)) {
                out.push(format!("{name}@{version}"));
            }
        }
        out
    }

    /// The archive sha256 recorded in the store's manifest of `name@version`.
    pub fn stored_sha(&self, name: &str, version: &str) -> String {
        let path = self
            .pandora_home()
            .join("store")
            .join(name)
            .join(version)
            .join("manifest.acl");
        let text = std::fs::read_to_string(&path).expect("read the stored manifest");
        Manifest::parse(&text, "manifest.acl")
            .expect("the stored manifest parses")
            .archive_sha256
            .unwrap_or_else(|| panic!("{} has no archive_sha256", path.display()))
    }

    /// The blobs in `cache/blobs/sha256/`.
    pub fn cached_blobs(&self) -> Vec<String> {
        dir_names(&self.pandora_home().join("cache/blobs/sha256"))
    }

    /// What is left in `tmp/`.
    pub fn tmp_entries(&self) -> Vec<String> {
        dir_names(&self.pandora_home().join("tmp"))
    }
}

/// `ranged@1.0.0`, depending on `libfoo@>=1.0`: a package every tool must refuse. `pack`
/// refuses a range as a dependency, so the range is patched into a packed archive (same
/// length, so the tar headers stay valid). Written to `ranged.pkg` in the home.
pub fn ranged_package(ctx: &Context) -> PathBuf {
    let pkg = ctx.pack(&PkgSpec {
        deps: &["libfoo@1.0.0"],
        ..PkgSpec::new("ranged", "1.0.0")
    });
    let packed = std::fs::read(&pkg).expect("read the package");
    let mut tar = zstd::decode_all(packed.as_slice()).expect("a zstd archive");
    let (from, to) = (b"libfoo@1.0.0", b"libfoo@>=1.0");
    let at = tar
        .windows(from.len())
        .position(|w| w == from)
        .expect("the pin is in the manifest");
    tar[at..at + from.len()].copy_from_slice(to);
    let out = ctx.path().join("ranged.pkg");
    std::fs::write(&out, zstd::encode_all(tar.as_slice(), 3).expect("compress"))
        .expect("write ranged.pkg");
    out
}
