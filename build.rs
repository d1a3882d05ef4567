//! Generates the table of built-in provider templates from `templates/*.toml`, so that adding a
//! provider is adding its file.

use std::fmt::Write;

// A build script is not the library: cargo hands it OUT_DIR through the environment.
#[allow(clippy::disallowed_methods)]
fn main() {
    println!("cargo:rerun-if-changed=templates");
    let mut names: Vec<String> = std::fs::read_dir("templates")
        .expect("templates/ is part of the source tree")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".toml").map(String::from)
        })
        .collect();
    // Alphabetical, with the catch-all `generic` last, as `signet templates list` shows them.
    names.sort_by_key(|n| (n == "generic", n.clone()));
    let mut out = String::from(
        "/// The templates compiled into the binary: (name, TOML text).\npub const BUILTIN: &[(&str, &str)] = &[\n",
    );
    for n in &names {
        writeln!(
            out,
            "    ({n:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/templates/{n}.toml\"))),"
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_templates.rs");
    std::fs::write(dest, out).unwrap();
}
