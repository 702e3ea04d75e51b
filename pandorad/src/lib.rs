//! pandorad, the per-user daemon that owns `$PANDORA_HOME` and serializes every mutation.
//! Its server, engine, store and activation arrive with the daemon work; until then the crate
//! only reserves its place in the workspace and exports nothing.
