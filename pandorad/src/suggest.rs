//! "Did you mean": names close to what the user typed, by edit distance.

/// Up to three of `names` within a small edit distance of `query` (by length: one edit for
/// short names, two from five characters), closest first, then by name.
pub(crate) fn close_names<'a>(
    query: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let budget = if query.chars().count() < 5 { 1 } else { 2 };
    let mut scored: Vec<(usize, &str)> = names
        .into_iter()
        .filter(|n| *n != query)
        .filter_map(|n| {
            let d = distance(query, n, budget)?;
            Some((d, n))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// Levenshtein distance of `a` and `b` if it is at most `max`.
fn distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["ripgrep", "ripgrap", "viewer", "view", "hello", "jq"];
        assert_eq!(close_names("ripgerp", names), ["ripgrap", "ripgrep"]);
        assert_eq!(close_names("veiwer", names), ["viewer"]);
        assert_eq!(close_names("jw", names), ["jq"]);
        assert!(close_names("zzzzzz", names).is_empty());
        assert!(
            close_names("hello", names).is_empty(),
            "the name itself is no suggestion"
        );
        assert_eq!(distance("kitten", "sitting", 3), Some(3));
        assert_eq!(distance("kitten", "sitting", 2), None);
    }
}
