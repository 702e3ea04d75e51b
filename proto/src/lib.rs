//! The `pandora.v1` protocol spoken between `pandora` and `pandorad` over the daemon's Unix
//! socket: generated messages, the tonic client and server, and the descriptor set that the
//! daemon's reflection service publishes so `grpcurl` and desktop tools can discover the API.

#![allow(unreachable_pub, missing_docs, clippy::all)]

/// Generated code for package `pandora.v1`.
pub mod v1 {
    tonic::include_proto!("pandora.v1");
}

/// The encoded `FileDescriptorSet` of `pandora.proto`, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/pandora_descriptor.bin"));

/// Metadata key of the stable error code in a failed call's status.
pub const CODE_KEY: &str = "pandora-code";
/// Metadata key of the suggested next command in a failed call's status.
pub const HINT_KEY: &str = "pandora-hint";
