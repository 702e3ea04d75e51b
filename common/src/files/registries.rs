//! `registries.acl`: the registries a user has configured, with the trust settings that only
//! this local file may set (DESIGN.md §3).

use std::time::Duration;

use super::FileError;
use super::decode::Reader;
use super::pin::validate_name;
use crate::acl::{self, Block, Document, Item, Value};

/// All configured registries, in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegistryList {
    /// The registries.
    pub registries: Vec<RegistryConfig>,
}

/// One `Registry "<name>" { ... }` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryConfig {
    /// The registry's local name.
    pub name: String,
    /// `https://…`, `http://…` or `file:///…`.
    pub url: String,
    /// Higher is asked first.
    pub priority: i64,
    /// Refuse unsigned snapshots.
    pub require_signatures: bool,
    /// Whether `pandora publish` may upload here.
    pub allow_publish: bool,
    /// How long a fetched snapshot stays fresh.
    pub cache_ttl: Duration,
    /// Pinned minisign public keys (`RW…`).
    pub trusted_keys: Vec<String>,
    /// Tell the registry about each install from it (`POST /api/v1/installed`, the
    /// `name@version` and nothing else). Off unless the user turns it on.
    pub report_installs: bool,
    /// File holding the publish token.
    pub token_file: Option<String>,
    /// Unknown fields, kept for newer tools.
    pub extra: Vec<Item>,
}

/// Default snapshot freshness, `ttl=3600`.
const DEFAULT_TTL: Duration = Duration::from_secs(3600);

fn parse_cache_policy(s: &str) -> Option<Duration> {
    s.strip_prefix("ttl=")?
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl RegistryList {
    /// Parses `registries.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<RegistryList, FileError> {
        let doc = acl::parse(text, origin)?;
        let mut registries: Vec<RegistryConfig> = Vec::new();
        for block in doc.into_blocks() {
            if block.name != "Registry" {
                continue;
            }
            let mut r = Reader::new(origin, block);
            let Some(name) = r.label().map(str::to_string) else {
                return Err(r.block_error("needs a name label, `Registry \"main\" { ... }`"));
            };
            if validate_name(&name).is_err() {
                return Err(
                    r.block_error("use lowercase letters, digits and `._+-` in registry names")
                );
            }
            if registries.iter().any(|o| o.name == name) {
                return Err(r.block_error("is configured twice"));
            }
            // The URL itself is checked by whoever uses it, entry by entry: one bad URL must
            // not make the whole file (and the good registries in it) unusable.
            let url = r.req_str("url")?;
            let cache_ttl = match r.opt_str("cache_policy")? {
                None => DEFAULT_TTL,
                Some(p) => parse_cache_policy(&p).ok_or_else(|| {
                    r.field_error("cache_policy", format!("`{p}` is not `ttl=<seconds>`"))
                })?,
            };
            let priority = r.opt_int("priority")?.unwrap_or(0);
            let require_signatures = r.opt_bool("require_signatures")?.unwrap_or(false);
            let allow_publish = r.opt_bool("allow_publish")?.unwrap_or(false);
            let trusted_keys = r.opt_strs("trusted_keys")?.unwrap_or_default();
            let token_file = r.opt_str("token_file")?;
            let report_installs = r.opt_bool("report_installs")?.unwrap_or(false);
            registries.push(RegistryConfig {
                name,
                url,
                priority,
                require_signatures,
                allow_publish,
                cache_ttl,
                trusted_keys,
                token_file,
                report_installs,
                extra: r.rest(),
            });
        }
        Ok(RegistryList { registries })
    }

    /// The registries in the order they are asked: highest priority first, then file order.
    pub fn by_priority(&self) -> Vec<&RegistryConfig> {
        let mut v: Vec<&RegistryConfig> = self.registries.iter().collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.priority));
        v
    }

    /// The file as canonical ACL.
    pub fn to_source(&self) -> String {
        let blocks = self
            .registries
            .iter()
            .map(|r| {
                let mut b = Block::new("Registry", Some(r.name.clone()))
                    .with("url", Value::Str(r.url.clone()))
                    .with("priority", Value::Int(r.priority))
                    .with("require_signatures", Value::Bool(r.require_signatures))
                    .with("allow_publish", Value::Bool(r.allow_publish))
                    .with(
                        "cache_policy",
                        Value::Str(format!("ttl={}", r.cache_ttl.as_secs())),
                    )
                    .with("trusted_keys", Value::StrArray(r.trusted_keys.clone()));
                if let Some(t) = &r.token_file {
                    b.push_field("token_file", Value::Str(t.clone()));
                }
                if r.report_installs {
                    b.push_field("report_installs", Value::Bool(true));
                }
                b.items.extend(r.extra.iter().cloned());
                b
            })
            .collect();
        Document::new(blocks).to_source()
    }
}
