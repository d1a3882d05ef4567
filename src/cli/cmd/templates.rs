//! `signet templates list|show`.

use crate::cli::args::TemplatesCommand;
use crate::cli::{output, CmdResult, Ctx};

pub fn run(_ctx: &Ctx, c: TemplatesCommand) -> CmdResult {
    match c {
        TemplatesCommand::List => {
            let mut out = String::new();
            for (name, _) in signet::template::BUILTIN {
                let t = signet::template::load(name)?;
                out.push_str(&format!("{name:<24} {}\n", t.description));
            }
            output::stdout(&out);
            Ok(0)
        }
        TemplatesCommand::Show { name } => {
            let t = signet::template::load(&name)?;
            output::stdout(&render(&t));
            Ok(0)
        }
    }
}

fn render(t: &signet::template::Template) -> String {
    let mut o = format!("{} — {}\n\n", t.name, t.description);
    let mut rule = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            o.push_str(&format!("  {k:<16} {v}\n"));
        }
    };
    rule("grant", Some(t.grant.clone()));
    if t.token_url_from_key {
        let fallback = t
            .token_url
            .as_deref()
            .map(|u| format!(", else {u}"))
            .unwrap_or_default();
        rule("token URL", Some(format!("the key file's token_uri{fallback}")));
        rule(
            "audience",
            Some("the key file's token_uri, whatever --token-url says (else the token URL)".into()),
        );
    } else {
        rule("token URL", t.token_url.clone());
        rule(
            "audience",
            t.audience
                .clone()
                .map(|a| if a == "{token_url}" { "the token URL".into() } else { a }),
        );
    }
    rule("issuer", t.issuer.clone());
    rule(
        "subject",
        t.subject
            .clone()
            .or(t.omit_subject.then(|| "(omitted unless given)".into())),
    );
    rule("kid", t.kid_from.clone());
    rule("headers", (!t.send.is_empty()).then(|| t.send.join(", ")));
    rule("algorithm", t.alg.clone());
    rule("accepted", (!t.algs.is_empty()).then(|| t.algs.join(", ")));
    rule("lifetime", t.lifetime.map(|l| format!("{l} s")));
    rule("max lifetime", t.max_lifetime.map(|l| format!("{l} s")));
    rule("scope", t.scope_in.clone().map(|s| format!("sent as a {s}")));
    rule("token path", t.token_path.clone());
    rule(
        "default TTL",
        t.default_ttl.map(|l| format!("{l} s (the answer gives no lifetime)")),
    );
    rule("output header", t.header_name.clone());
    rule("DPoP", t.dpop.clone());
    for (k, v) in &t.request_headers {
        rule("request header", Some(format!("{k}: {v}")));
    }
    for (k, v) in &t.params {
        rule("parameter", Some(format!("{k} = {v}")));
    }
    if !t.vars.is_empty() {
        o.push_str("\nvariables (--var NAME=VALUE):\n");
        for (name, v) in &t.vars {
            let req = if v.required { "required" } else { "optional" };
            let def = v.default.as_ref().map(|d| format!(", default {d}")).unwrap_or_default();
            o.push_str(&format!("  {name:<16} {req}{def}: {}\n", v.description));
        }
    }
    if let Some(n) = &t.notes {
        o.push_str(&format!("\n{}\n", n.trim()));
    }
    if let Some(r) = &t.register {
        o.push_str(&format!("\nregistering the key:\n{}\n", r.trim_matches('\n')));
    }
    if !t.hints.is_empty() {
        o.push_str("\nerror hints for: ");
        o.push_str(&t.hints.keys().cloned().collect::<Vec<_>>().join(", "));
        o.push('\n');
    }
    o.push_str("\ndocumentation:\n");
    for d in &t.docs {
        o.push_str(&format!("  {d}\n"));
    }
    o
}
