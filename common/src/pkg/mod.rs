//! The .pkg format.
