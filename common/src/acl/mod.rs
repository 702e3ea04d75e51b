//! The ACL language.
