//! Pandora's shared core: the ACL configuration language ([`acl`]), the typed files Pandora
//! reads and writes ([`files`]), where they live ([`layout`]), and the deterministic `.pkg`
//! archive format ([`pkg`]). It does
//! no I/O beyond the files and streams it is handed, and it never prints.

pub mod acl;
pub mod files;
pub mod layout;
pub mod pkg;
