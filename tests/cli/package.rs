//! The Debian package: built with cargo-deb from the test binary, unpacked into a temporary root
//! with `dpkg -x`, and run from there.

use crate::common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn deb_package_installs_and_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        Command::new("cargo-deb")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "cargo-deb is not installed: run `make test` (its test-deps install it)"
    );
    let bin = assert_cmd::cargo::cargo_bin("signet");
    // the assets cargo-deb packs besides the binary
    std::fs::create_dir_all(root.join("target/man")).unwrap();
    std::fs::create_dir_all(root.join("target/completions")).unwrap();
    let run = |args: &[&str]| Command::new(&bin).args(args).output().unwrap().stdout;
    std::fs::write(root.join("target/man/signet.1"), run(&["manpage"])).unwrap();
    std::fs::write(
        root.join("target/completions/signet.bash"),
        run(&["completions", "bash"]),
    )
    .unwrap();
    std::fs::write(root.join("target/completions/_signet"), run(&["completions", "zsh"])).unwrap();
    std::fs::write(
        root.join("target/completions/signet.fish"),
        run(&["completions", "fish"]),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("cargo")
        .args(["deb", "--no-build", "--profile", "dev", "--no-strip", "--output"])
        .arg(out.path())
        .current_dir(root)
        .output()
        .unwrap();
    assert!(o.status.success(), "cargo deb: {}", String::from_utf8_lossy(&o.stderr));
    let deb = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap();
    assert!(deb.file_name().unwrap().to_string_lossy().starts_with("signet_"));
    let inst = out.path().join("root");
    let o = Command::new("dpkg").args(["-x"]).arg(&deb).arg(&inst).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(inst.join("usr/bin/signet"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), format!("signet {}", env!("CARGO_PKG_VERSION")));
    assert!(inst.join("usr/share/man/man1/signet.1.gz").exists());
    assert!(inst.join("usr/share/bash-completion/completions/signet").exists());
    assert!(inst.join("usr/share/fish/vendor_completions.d/signet.fish").exists());
    let info = Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Package")
        .output()
        .unwrap();
    assert_eq!(stdout(&info).trim(), "signet");
}
