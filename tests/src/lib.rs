//! Shared helpers for Pandora's end-to-end tests: a temporary home and the real binaries.
