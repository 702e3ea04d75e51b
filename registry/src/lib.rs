//! pandora-registry, the tooling and HTTP server for Pandora registries. Its commands arrive
//! with the registry work; until then the crate only reserves its place in the workspace and
//! exports nothing.
