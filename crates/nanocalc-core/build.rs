//! Generates the prost types of the schema without a system `protoc`: protox compiles the `.proto`
//! in pure Rust and hands prost-build the file descriptors.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../../proto";
    let schema = "../../proto/nanocalc/v1/calculator.proto";
    println!("cargo:rerun-if-changed={schema}");
    let descriptors = protox::compile([schema], [proto_root])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
