//! Bounded fuzzing of every decoder of a file Pandora reads from outside: registry snapshots,
//! whole and per-package indices, manifests, hook files, `files.acl` and `registries.acl`.
//! Each case runs every decoder under a time limit and a memory limit (this binary counts
//! its allocations); a decoder may refuse a case, but must not panic, hang or balloon.
//!
//! Cases are valid files of each kind, known attacks (expression bombs, deep nesting, long
//! sums, reference chains), and random mutations of both. `PANDORA_FUZZ_CASES` sets how
//! many mutations run (default 3000).

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pandora_common::files::{
    FileList, HookFile, Index, Manifest, PackageEntry, RegistryList, Snapshot,
};

/// Counts live heap bytes and their peak, so each case's memory can be bounded.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged and only updates counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Largest heap growth one case may cause, on top of the input itself.
const MEMORY_LIMIT: usize = 256 << 20;
/// Longest one case may take (every decoder together), in a debug build.
const TIME_LIMIT: Duration = Duration::from_secs(5);

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn seeds() -> Vec<String> {
    let manifest = "manifest {\n  string name = \"tool\";\n  string version = \"1.0\";\n  string arch = \"any\";\n  string[] authors = { \"A <a@example.org>\" };\n  string license = \"MIT\";\n  string[] dependencies = { \"lib@1.0\" };\n  string[] install_hooks = { \"hooks/post.acl\" };\n  build_meta { builder = \"x\"; }\n}\n".to_string();
    let version = format!(
        "Version \"1.0\" {{ string sha256 = \"{SHA}\"; string pkg_url = \"blobs/sha256/{SHA}\"; string[] dependencies = {{ \"lib@1.0\" }}; int size = 10; bool deprecated = false; }}"
    );
    let package = format!(
        "Package \"tool\" {{ string[] versions = {{ \"1.0\" }}; string latest = \"1.0\"; string[] tags = {{ \"cli\" }}; string description = \"d\"; {version} }}\n"
    );
    let index = format!("Registry \"main\" {{ {package} }}\n");
    let snapshot = format!(
        "Snapshot {{ string registry = \"main\"; int serial = 3; int generated = 1; int expires = 99999999999; File \"index.acl\" {{ string sha256 = \"{SHA}\"; int size = 10; }} }}\n"
    );
    let hooks = "postinstall { string action = \"warn\"; string msg = \"hi\"; }\npreinstall { string action = \"run\"; string[] command = { \"bin/x\" }; }\n".to_string();
    let files = format!(
        "Files {{ File \"files/bin/x\" {{ string kind = \"file\"; int mode = 493; int size = 3; string sha256 = \"{SHA}\"; }} }}\n"
    );
    let registries = "Registry \"main\" { string url = \"https://example.org/r\"; int priority = 10; bool require_signatures = false; string cache_policy = \"ttl=3600\"; }\n".to_string();
    let mut doubling = String::from("R {\n  x0 = \"ab\";\n");
    for i in 1..=45 {
        doubling.push_str(&format!("  x{i} = x{} + x{};\n", i - 1, i - 1));
    }
    doubling.push_str("}\n");
    let long_sum = format!("R {{ x = 1{}; }}\n", "+1".repeat(30_000));
    let deep = format!(
        "R {{ x = {}1{}; }}\n",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let nested = format!("{}{}\n", "A { ".repeat(20_000), "}".repeat(20_000));
    let mut refs = String::from("R {\n  y = 1;\n");
    for i in 0..20_000 {
        refs.push_str(&format!("  x{i} = $.y;\n"));
    }
    refs.push_str("}\n");
    let mut chain = String::from("B0 { v = 1; }\n");
    for i in 1..5_000 {
        chain.push_str(&format!("B{i} {{ v = B{}.v; }}\n", i - 1));
    }
    vec![
        manifest, package, index, snapshot, hooks, files, registries, doubling, long_sum, deep,
        nested, refs, chain,
    ]
}

/// Runs every decoder on `text`; fails the test on a panic, on time or on memory.
fn decode_all(text: &str) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| {
        let _ = Manifest::parse(text, "manifest.acl");
        let _ = Index::parse(text, "index.acl");
        let _ = PackageEntry::parse(text, "index/tool.acl");
        let _ = Snapshot::parse(text, "snapshot.acl");
        let _ = HookFile::parse(text, "hooks/post.acl");
        let _ = FileList::parse(text, "files.acl");
        let _ = RegistryList::parse(text, "registries.acl");
    });
    let took = started.elapsed();
    let grew = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let shown: String = text.chars().take(200).collect();
    assert!(outcome.is_ok(), "a decoder panicked on {shown:?}");
    assert!(took < TIME_LIMIT, "{took:?} on {shown:?}");
    assert!(grew < MEMORY_LIMIT, "{grew} bytes on {shown:?}");
}

/// A small deterministic generator, so a failing case can be found again from its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "=",
    ";",
    "+",
    "-",
    "*",
    "/",
    "(",
    ")",
    "[",
    "]",
    "$.",
    "^.",
    ".",
    ",",
    "\"",
    "\\",
    "x0",
    "x0 + x0",
    "int",
    "string",
    "string[]",
    "bool",
    "true",
    "1e309",
    "-9223372036854775808",
    "Package",
    "Version",
    "Registry",
    "manifest",
    "\n",
    "#",
    "//",
    "/*",
    "\u{0}",
    "\u{1b}[2J",
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut s: Vec<char> = seed.chars().collect();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(s.len() + 1);
        match rng.below(4) {
            0 if !s.is_empty() => {
                let end = (at + rng.below(16)).min(s.len());
                s.drain(at.min(s.len())..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                for (k, c) in t.chars().enumerate() {
                    s.insert(at + k, c);
                }
            }
            2 if !s.is_empty() => {
                // Repeat a slice: growth through copies.
                let end = (at + rng.below(64)).min(s.len());
                let slice: Vec<char> = s[at.min(s.len())..end].to_vec();
                for _ in 0..rng.below(32) {
                    for (k, c) in slice.iter().enumerate() {
                        s.insert(at + k, *c);
                    }
                }
            }
            _ => {
                let c = char::from_u32(rng.below(0x3000) as u32).unwrap_or('?');
                s.insert(at, c);
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn known_attacks_and_valid_files_decode_within_limits() {
    for seed in seeds() {
        decode_all(&seed);
    }
}

#[test]
fn mutated_files_decode_within_limits() {
    let cases: usize = std::env::var("PANDORA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seeds = seeds();
    let small: Vec<&String> = seeds.iter().filter(|s| s.len() < 4096).collect();
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let deadline = Instant::now() + Duration::from_secs(120);
    for _ in 0..cases {
        let seed = small[rng.below(small.len())];
        let case = mutate(&mut rng, seed);
        decode_all(&case);
        if Instant::now() > deadline {
            break;
        }
    }
}
