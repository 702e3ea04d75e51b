//! `pandorad`, the per-user Pandora daemon, as a library: the only writer of
//! `$PANDORA_HOME`. [`run`] serves the gRPC API on the home's socket; below the server, the
//! engine (one mutation queue), the store (its one writer), install, verify, prune, publish
//! and the registries' client know nothing of gRPC and fail with one error type
//! (`error::Error`, with stable codes), which the gRPC layer maps to a status in one place.

pub use server::{Options, run};

mod activate;
mod build;
mod engine;
mod error;
mod fetch;
mod graph;
mod hooks;
mod install;
mod journal;
mod metrics;
mod pkgfile;
mod prune;
mod publish;
mod reads;
mod registries;
pub mod sandbox;
mod server;
mod store;
mod suggest;
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod testutil;
mod verify;
