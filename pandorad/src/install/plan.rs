//! Plan: what applying a request would do, as data. The plan's id is a hash of every item,
//! so an apply that names a plan id proceeds only if nothing changed since it was shown.

use pandora_proto::v1::{Plan, PlanActivation, PlanItem};

use super::resolve::{Closure, Source};
use crate::fetch::RegistryClient;

/// The plan of `closure`; `clients` are the registries its sources index into.
pub(crate) fn describe(closure: &Closure, clients: &[RegistryClient]) -> Plan {
    let mut items = Vec::with_capacity(closure.len());
    let mut download_bytes = 0;
    for (pin, node) in closure {
        let mut item = PlanItem {
            name: pin.name.clone(),
            version: pin.version.clone(),
            needed_by: node
                .needed_by
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            deprecated: node.deprecated,
            hooks: node.hooks().to_vec(),
            ..Default::default()
        };
        match &node.source {
            Source::Store => item.in_store = true,
            Source::Registry(i, v) => {
                item.registry = clients[*i].config.name.clone();
                item.size = v.size.unwrap_or(0);
                item.sha256 = v.sha256.clone();
                download_bytes += item.size;
            }
            Source::File(path, sha, size, _) => {
                item.file = path.display().to_string();
                item.size = *size;
                item.sha256 = sha.clone();
            }
        }
        items.push(item);
    }
    let id = plan_id(&items);
    Plan {
        id,
        items,
        download_bytes,
        activation: None,
    }
}

/// A short hash of everything the plan would do.
fn plan_id(items: &[PlanItem]) -> String {
    let mut text = String::new();
    for i in items.iter().filter(|i| !i.in_store) {
        text.push_str(&format!(
            "{}@{} {} {} {} {} {} {} {}\n",
            i.name,
            i.version,
            i.registry,
            i.file,
            i.size,
            i.sha256,
            i.needed_by,
            i.deprecated,
            i.hooks.join("|")
        ));
    }
    pandora_common::hash::sha256_hex(text.as_bytes())[..16].to_string()
}

/// Adds the activation that follows the install to `plan`; the id then covers it too, so a
/// profile changed since the plan was shown makes the plan stale.
pub(crate) fn add_activation(plan: &mut Plan, activation: Option<PlanActivation>) {
    let Some(a) = activation else {
        return;
    };
    let text = format!(
        "{} activate {} in {} at {} replacing {}",
        plan.id,
        a.packages.join(","),
        a.profile,
        a.generation,
        a.replaces.join(",")
    );
    plan.id = pandora_common::hash::sha256_hex(text.as_bytes())[..16].to_string();
    plan.activation = Some(a);
}

/// Items with work to do (not in the store yet).
pub(crate) fn pending(plan: &Plan) -> usize {
    plan.items.iter().filter(|i| !i.in_store).count()
}

#[cfg(test)]
mod tests {
    use super::super::resolve::Node;
    use super::*;
    use pandora_common::files::{Pin, VersionEntry};

    fn version(sha: &str, size: u64) -> VersionEntry {
        VersionEntry {
            version: "1.0".into(),
            sha256: sha.into(),
            pkg_url: "blobs/x".into(),
            manifest_url: None,
            dependencies: vec![],
            size: Some(size),
            deprecated: false,
            hooks: vec![],
            signature: None,
            extra: vec![],
        }
    }

    fn closure(sha: &str) -> Closure {
        let mut c = Closure::new();
        c.insert(
            Pin::parse("app@1.0").unwrap(),
            Node {
                source: Source::File("/tmp/app.pkg".into(), "aa".repeat(32), 10, vec![]),
                needed_by: None,
                deprecated: false,
            },
        );
        c.insert(
            Pin::parse("lib@1.0").unwrap(),
            Node {
                source: Source::Registry(0, version(sha, 100)),
                needed_by: Some(Pin::parse("app@1.0").unwrap()),
                deprecated: true,
            },
        );
        c.insert(
            Pin::parse("old@2").unwrap(),
            Node {
                source: Source::Store,
                needed_by: Some(Pin::parse("lib@1.0").unwrap()),
                deprecated: false,
            },
        );
        c
    }

    #[test]
    fn a_plan_is_data_and_its_id_follows_its_content() {
        let layout = pandora_common::layout::Layout::new("/nonexistent");
        let config = pandora_common::files::RegistryList::parse(
            "Registry \"main\" { string url = \"http://127.0.0.1:1\"; }",
            "registries.acl",
        )
        .unwrap()
        .registries
        .remove(0);
        let clients = [RegistryClient::new(&layout, config, false)];
        let plan = describe(&closure(&"bb".repeat(32)), &clients);
        assert_eq!(plan.items.len(), 3);
        assert_eq!(pending(&plan), 2);
        assert_eq!(plan.download_bytes, 100, "local files are not downloads");
        let lib = &plan.items[1];
        assert_eq!((lib.name.as_str(), lib.registry.as_str()), ("lib", "main"));
        assert_eq!((lib.needed_by.as_str(), lib.deprecated), ("app@1.0", true));
        assert_eq!(plan.items[0].file, "/tmp/app.pkg");
        assert!(plan.items[2].in_store);

        let same = describe(&closure(&"bb".repeat(32)), &clients);
        assert_eq!(plan.id, same.id);
        let other = describe(&closure(&"cc".repeat(32)), &clients);
        assert_ne!(plan.id, other.id, "another blob is another plan");
    }
}
