//! Generates the tonic service of the schema without a system `protoc`, as nanocalc-core does for
//! its prost types: protox compiles the `.proto` in pure Rust.
//!
//! The service is generated with tonic-build's manual builder and a raw-bytes codec, so requests
//! reach `nanocalc_core::process` exactly as they arrived (decoded once, by the engine) and domain
//! errors travel inside `CalculatorResponse`, as in-process. The encoded file descriptor set is
//! written beside it for the reflection service.

use prost::Message as _;
use tonic_build::manual::{Builder, Method, Service};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../../proto";
    let schema = "../../proto/nanocalc/v1/calculator.proto";
    println!("cargo:rerun-if-changed={schema}");
    let descriptors = protox::compile([schema], [proto_root])?;

    // The generated service must match the schema: fail the build if the schema's service changes.
    let file = descriptors.file.iter().find(|f| f.package() == "nanocalc.v1").ok_or("no nanocalc.v1 file")?;
    let service = file.service.iter().find(|s| s.name() == "CalculatorService").ok_or("no CalculatorService")?;
    let methods: Vec<(&str, bool, bool)> =
        service.method.iter().map(|m| (m.name(), m.client_streaming(), m.server_streaming())).collect();
    let expected = [("Calculate", false, false), ("CalculateStream", true, true)];
    if methods != expected {
        return Err(format!(
            "CalculatorService methods {methods:?} differ from those this server implements {expected:?}"
        )
        .into());
    }

    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("nanocalc_descriptor.bin"), descriptors.encode_to_vec())?;

    let raw = |name: &str, route: &str| {
        Method::builder()
            .name(name)
            .route_name(route)
            .input_type("::bytes::Bytes")
            .output_type("::bytes::Bytes")
            .codec_path("crate::codec::RawCodec")
    };
    let service = Service::builder()
        .name("CalculatorService")
        .package("nanocalc.v1")
        .method(raw("calculate", "Calculate").build())
        .method(raw("calculate_stream", "CalculateStream").client_streaming().server_streaming().build())
        .build();
    Builder::new().build_client(false).compile(&[service]);
    Ok(())
}
