//! The daemon's use of the sandbox (the `pandora-sandbox` crate): [`run`] a [`Job`] in the
//! helper and stream its output. `pandorad sandbox` runs the helper's code in-process.

mod spawn;

pub use pandora_sandbox::{Args, Bind, Job, Limits, PREFIX, SETUP_FAILED, TIMED_OUT, main};
pub(crate) use spawn::{Ended, run};
