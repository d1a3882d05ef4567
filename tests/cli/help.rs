//! `--help` and the man pages (issue 20, item 10): options grouped under headings, each command
//! showing only the flags it uses, and a man page for every page the others refer to.

use crate::common::*;
use std::collections::BTreeMap;

/// `signet ARGS --help`, split into its sections: heading → the long flags listed under it.
fn help_sections(args: &[&str]) -> BTreeMap<String, Vec<String>> {
    let sb = Sandbox::new();
    let o = sb.signet().args(args).arg("--help").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut heading = String::new();
    for line in stdout(&o).lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            heading = line.trim_end_matches(':').to_string();
            sections.entry(heading.clone()).or_default();
        } else if let Some(flag) = line
            .split_whitespace()
            .find(|w| w.starts_with("--"))
            // An option's own line ("  -v, --verbose", "      --key <PATH>"), not its help text.
            .filter(|_| line.len() - line.trim_start().len() <= 6 && line.trim_start().starts_with('-'))
        {
            let flag = flag
                .split(['=', ' '])
                .next()
                .unwrap()
                .trim_end_matches(',')
                .trim_end_matches("...");
            sections.entry(heading.clone()).or_default().push(flag.to_string());
        }
    }
    sections
}

const CACHE_FLAGS: [&str; 6] = [
    "--cache-dir",
    "--cache-url",
    "--cache-key-file",
    "--no-cache",
    "--force-refresh",
    "--min-ttl",
];

#[test]
fn token_help_groups_options_under_headings() {
    let s = help_sections(&["token"]);
    for h in ["Key", "Assertion", "Exchange", "Cache", "Output", "Global options"] {
        assert!(s.get(h).is_some_and(|f| !f.is_empty()), "no {h} section: {s:?}");
    }
    let has = |h: &str, f: &str| s[h].iter().any(|x| x == f);
    for f in CACHE_FLAGS {
        assert!(has("Cache", f), "{f}: {s:?}");
        assert!(!has("Assertion", f) && !has("Exchange", f), "{f}: {s:?}");
    }
    assert!(has("Key", "--key") && has("Key", "--kid-from"), "{s:?}");
    assert!(
        has("Assertion", "--client-id") && has("Assertion", "--template"),
        "{s:?}"
    );
    assert!(has("Exchange", "--token-url") && has("Exchange", "--scope"), "{s:?}");
    assert!(has("Output", "--format") && has("Output", "--header-name"), "{s:?}");
    // The global flags are in their own section, not mixed in with the command's.
    for f in ["--verbose", "--quiet", "--config", "--profile"] {
        assert!(has("Global options", f), "{f}: {s:?}");
        assert_eq!(
            s.values().filter(|fl| fl.iter().any(|x| x == f)).count(),
            1,
            "{f}: {s:?}"
        );
    }
}

#[test]
fn assert_help_lists_no_flag_that_assert_does_not_use() {
    let s = help_sections(&["assert"]);
    let all: Vec<&String> = s.values().flatten().collect();
    for f in CACHE_FLAGS
        .iter()
        .chain(&["--grant", "--param", "--timeout", "--token-path", "--assertion-file"])
    {
        assert!(!all.iter().any(|x| x == f), "{f}: {s:?}");
    }
    // --token-url is the audience's default, and a template may put --scope in the assertion.
    for f in ["--token-url", "--scope", "--key", "--audience"] {
        assert!(all.iter().any(|x| *x == f), "{f}: {s:?}");
    }
    // Still accepted, so a flag set kept for `token` works with `assert` as before.
    let sb = Sandbox::new();
    let o = sb
        .signet()
        .args(["assert", "--key", &fixture_str("rsa2048.pkcs8.pem"), "--client-id", "c"])
        .args([
            "--audience",
            "https://idp.example/token",
            "--no-cache",
            "--min-ttl",
            "5",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn every_man_page_referred_to_exists() {
    let sb = Sandbox::new();
    let dir = sb.path().join("man");
    let o = sb
        .signet()
        .args(["manpage", "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for p in [
        "signet.1",
        "signet-token.1",
        "signet-assert.1",
        "signet-cache.1",
        "signet-cache-list.1",
    ] {
        assert!(pages.iter().any(|x| x == p), "{p}: {pages:?}");
    }
    assert!(
        !pages.iter().any(|p| p.contains("manpage") || p.ends_with("-help.1")),
        "{pages:?}"
    );
    let mut refs = 0;
    for p in &pages {
        // roff writes a hyphen as \-.
        let text = std::fs::read_to_string(dir.join(p)).unwrap().replace("\\-", "-");
        for (i, _) in text.match_indices("(1)") {
            let name: String = text[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if name.starts_with("signet") {
                refs += 1;
                assert!(dir.join(format!("{name}.1")).exists(), "{p} refers to {name}(1)");
            }
        }
    }
    assert!(refs >= 10, "{refs} references");
    // A subcommand's page has its own options, under its synopsis name.
    let token = std::fs::read_to_string(dir.join("signet-token.1"))
        .unwrap()
        .replace("\\-", "-");
    assert!(
        token.contains("signet-token") && token.contains("--token-url"),
        "{token}"
    );
    let assert_page = std::fs::read_to_string(dir.join("signet-assert.1"))
        .unwrap()
        .replace("\\-", "-");
    assert!(!assert_page.contains("--cache-dir"), "{assert_page}");
}
