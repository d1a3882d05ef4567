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
    // The assets cargo-deb packs besides the binary. Cargo.toml's [package.metadata.deb] names them
    // as target/man and target/completions, and cargo-deb maps only build outputs
    // (target/release/...) to another target folder, so they cannot be written elsewhere. Each is
    // written to a temporary file in its folder and renamed into place: a `make man`,
    // `make completions` or `make package` at the same time never reads a half-written one
    // (`signet manpage --dir` writes its pages that way itself).
    let run = |args: &[&str]| Command::new(&bin).args(args).output().unwrap().stdout;
    let man = root.join("target/man");
    let o = Command::new(&bin)
        .arg("manpage")
        .arg("--dir")
        .arg(&man)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut perm = std::fs::metadata(root).unwrap().permissions();
    for (file, args) in [
        ("completions/signet.bash", &["completions", "bash"][..]),
        ("completions/_signet", &["completions", "zsh"]),
        ("completions/signet.fish", &["completions", "fish"]),
    ] {
        let to = root.join("target").join(file);
        let dir = to.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let mut tmp = tempfile::NamedTempFile::new_in(dir).unwrap();
        std::io::Write::write_all(&mut tmp, &run(args)).unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
        tmp.as_file().set_permissions(perm.clone()).unwrap();
        tmp.persist(&to).unwrap();
    }
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
    // r20 item 10: a page per command, as the top page's COMMANDS section names them.
    for page in ["signet-token.1.gz", "signet-assert.1.gz", "signet-cache-list.1.gz"] {
        assert!(inst.join("usr/share/man/man1").join(page).exists(), "{page}");
    }
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
