//! Ranked search over an index: what `pandora search` and a registry's search endpoint share.

use super::index::Index;

/// How a package matched a query, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SearchRank {
    /// The name is the query.
    Exact,
    /// The name starts with the query.
    Prefix,
    /// The name or the description contains the query.
    Substring,
    /// A tag is the query.
    Tag,
}

impl SearchRank {
    /// A small number for wire formats: 0 is best.
    pub fn as_int(self) -> i64 {
        self as i64
    }
}

/// One search result: a package and its latest version.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Package name.
    pub name: String,
    /// The version a bare `install NAME` gets (the newest when `latest` is unset).
    pub version: String,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether that version is deprecated.
    pub deprecated: bool,
    /// How it matched.
    pub rank: SearchRank,
}

impl Index {
    /// Packages matching `query` (case-insensitive), best first: exact name, name prefix, name
    /// or description substring, then exact tag; ties by name. An empty query matches nothing.
    pub fn search(&self, query: &str) -> Vec<SearchHit> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Vec::new();
        }
        let mut hits: Vec<SearchHit> = self
            .packages
            .iter()
            .filter_map(|p| {
                let name = p.name.to_lowercase();
                let rank = if name == q {
                    SearchRank::Exact
                } else if name.starts_with(&q) {
                    SearchRank::Prefix
                } else if name.contains(&q)
                    || p.description
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(&q))
                {
                    SearchRank::Substring
                } else if p.tags.iter().any(|t| t.to_lowercase() == q) {
                    SearchRank::Tag
                } else {
                    return None;
                };
                let v = p
                    .latest
                    .as_deref()
                    .and_then(|l| p.version(l))
                    .or(p.versions.last())?;
                Some(SearchHit {
                    name: p.name.clone(),
                    version: v.version.clone(),
                    description: p.description.clone(),
                    tags: p.tags.clone(),
                    deprecated: v.deprecated,
                    rank,
                })
            })
            .collect();
        hits.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.name.cmp(&b.name)));
        hits
    }
}
