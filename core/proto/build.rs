//! Compiles the Mesos schemas under proto/ (generated from Apache's jar by tools/protodump)
//! and remesos's internal master<->agent service, and keeps a FileDescriptorSet for the
//! descriptor-driven JSON codec.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment here.
    unsafe { std::env::set_var("PROTOC", protoc) };

    let root = PathBuf::from("proto");
    let files: Vec<PathBuf> = [
        "mesos/mesos.proto",
        "mesos/scheduler/scheduler.proto",
        "mesos/executor/executor.proto",
        "mesos/authorizer/acls.proto",
        "mesos/v1/mesos.proto",
        "mesos/v1/scheduler/scheduler.proto",
        "mesos/v1/executor/executor.proto",
        "mesos/v1/allocator/allocator.proto",
        "mesos/v1/maintenance/maintenance.proto",
        "mesos/v1/quota/quota.proto",
        "mesos/v1/master/master.proto",
        "mesos/v1/agent/agent.proto",
        "mesos/v1/resource_provider/resource_provider.proto",
        "remesos/internal.proto",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }

    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config
        .file_descriptor_set_path(out.join("descriptors.bin"))
        // `prost::Name` on every message: the JSON codec finds descriptors by full name.
        .enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &files, &[root])?;
    Ok(())
}
