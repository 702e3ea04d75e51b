//! The plan of the last generation built in each profile, so the next one
//! knows which links it can share without reading them back. A plan is used only while
//! every real directory of its generation has the times it had when the generation was
//! placed (one `stat` per directory): a link made, removed or replaced by hand changes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::forest::{self, Node};

/// A generation's directory -> its plan and the stamps of its directories.
type Plans = HashMap<PathBuf, (Vec<[i64; 5]>, Arc<Node>)>;

static PLANS: Mutex<Option<Plans>> = Mutex::new(None);

/// Remembers the plan of the generation just placed at `dir`, in place of any other
/// generation of its profile.
pub(crate) fn keep_plan(dir: &Path, plan: Node) {
    let Some(stamps) = forest::stamps(&plan, dir) else {
        return;
    };
    let mut plans = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    let plans = plans.get_or_insert_with(HashMap::new);
    plans.retain(|d, _| d.parent() != dir.parent());
    plans.insert(dir.to_path_buf(), (stamps, Arc::new(plan)));
}

/// The plan of the generation at `dir`, if it was kept and the generation is unchanged.
pub(crate) fn plan_of(dir: &Path) -> Option<Arc<Node>> {
    let (stamps, plan) = PLANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .get(dir)
        .cloned()?;
    (forest::stamps(&plan, dir)? == stamps).then_some(plan)
}
