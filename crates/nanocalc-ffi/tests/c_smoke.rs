//! Compiles tests/c/smoke.c with the system C compiler (`cc`, or `$CC`) against
//! include/nanocalc.h and this crate's shared library, runs it, and checks its report.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared library cargo built for this test run (target/<profile>/, beside deps/).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf()
}

#[test]
fn the_c_smoke_program_passes() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = library_dir();
    let library = lib_dir.join(format!("{}nanocalc_ffi{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    // `cargo test` builds this crate's rlib for the tests, not its cdylib: build that now, with
    // the same profile and target directory, so the program links against the current code.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "nanocalc-ffi", "--lib", "--manifest-path"]).arg(crate_dir.join("Cargo.toml"));
    if lib_dir.file_name().is_some_and(|profile| profile == "release") {
        build.arg("--release");
    }
    if let Some(target_dir) = lib_dir.parent() {
        build.arg("--target-dir").arg(target_dir);
    }
    assert!(build.status().is_ok_and(|status| status.success()), "cargo build -p nanocalc-ffi failed");
    assert!(library.exists(), "{} was not built", library.display());
    let program = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nanocalc-smoke");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let compiled = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(crate_dir.join("../../include"))
        .arg(crate_dir.join("tests/c/smoke.c"))
        .arg("-o")
        .arg(&program)
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lnanocalc_ffi")
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(compiled.success(), "compiling tests/c/smoke.c failed");
    let run = Command::new(&program).output().expect("the smoke program runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "smoke.c failed:\n{stdout}{stderr}");
    let report = stdout.lines().last().unwrap_or_default();
    assert!(report.ends_with(" passed, 0 failed") && !report.starts_with("0 "), "smoke.c reported: {stdout}{stderr}");
    println!("smoke.c: {report}");
}
