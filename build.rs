//! Generates the dnstap protobuf types (proto/dnstap.proto) with prost-build,
//! parsing the schema with protox (pure Rust) so no `protoc` is needed.

fn main() {
    println!("cargo:rerun-if-changed=proto/dnstap.proto");
    let fds = match protox::compile(["dnstap.proto"], ["proto"]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("proto/dnstap.proto does not compile: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = prost_build::Config::new().compile_fds(fds) {
        eprintln!("generating the dnstap types failed: {e}");
        std::process::exit(1);
    }
}
