//! Compiles `proto/pandora/v1/pandora.proto` with protox (no system protoc) and generates the
//! tonic client and server, plus the encoded descriptor set for the reflection service.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/pandora/v1/pandora.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    fs_err::write(out.join("pandora_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
