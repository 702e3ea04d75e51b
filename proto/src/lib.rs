//! The `pandora.v1` protocol spoken between `pandora` and `pandorad` over the daemon's Unix
//! socket. The service definition and its generated tonic code arrive with the daemon; until
//! then this crate only reserves its place in the workspace and exports nothing.
