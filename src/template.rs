//! Provider templates: what each identity provider wants, as data (`templates/*.toml`).
//!
//! A template supplies defaults at the template layer (flags, environment and profiles win), the
//! limits the provider enforces (checked before any request), and hints for its error codes.
//! Variables are substituted structurally: a host variable must be a host name, a path variable
//! one path segment, and every other value is placed as a whole JSON string or header value, so no
//! value can change the structure of the URL, the claims or the request.

use crate::alg::Alg;
use crate::config::{ConfigError, Key, Layer, Origin, Raw};
use serde::Deserialize;
use std::collections::BTreeMap;

// `BUILTIN`, one entry per file in templates/ (build.rs).
include!(concat!(env!("OUT_DIR"), "/builtin_templates.rs"));

/// How a variable may be used.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum VarKind {
    /// A host name with optional port.
    Host,
    /// One URL path segment.
    Segment,
    /// Any text, placed whole (claims, JSON body, header values).
    #[default]
    Value,
    /// An https:// or loopback http:// URL prefix (a base URL).
    Url,
}

/// A template variable.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Var {
    /// What it is, for `templates show` and errors.
    pub description: String,
    /// Whether it must be given.
    #[serde(default)]
    pub required: bool,
    /// How it may be used.
    #[serde(default)]
    pub kind: VarKind,
    /// Value when not given.
    pub default: Option<String>,
    /// Allowed values, when the set is closed.
    pub choices: Option<Vec<String>>,
}

/// A provider template.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Short name.
    pub name: String,
    /// One line.
    pub description: String,
    /// Documentation followed (URLs).
    pub docs: Vec<String>,
    /// Longer explanation for `templates show`.
    #[serde(default)]
    pub notes: Option<String>,
    /// How the provider is told to trust the key or certificate, as commands to run (JD Edwards:
    /// `keytool -importcert` into the HTML server's keystore), for `templates show`. A field of
    /// its own rather than part of `notes`: it is the step after `signet keygen`, and the one
    /// users look for.
    #[serde(default)]
    pub register: Option<String>,
    /// Grant.
    pub grant: String,
    /// Token URL pattern.
    pub token_url: Option<String>,
    /// Audience pattern; `{token_url}` follows the token URL.
    pub audience: Option<String>,
    /// The key file's `token_uri` (a Google service-account file) is the default token URL and
    /// the audience, whatever URL the request goes to (see [`crate::resolve`]).
    #[serde(default)]
    pub token_url_from_key: bool,
    /// `iss` pattern.
    pub issuer: Option<String>,
    /// `sub` pattern.
    pub subject: Option<String>,
    /// Omit `sub` when no subject is set (Google without delegation).
    #[serde(default)]
    pub omit_subject: bool,
    /// Leave `nbf` out of the assertion (a validator that refuses a fresh one); `--no-nbf` at the template layer.
    #[serde(default)]
    pub no_nbf: bool,
    /// Kid rule.
    pub kid_from: Option<String>,
    /// Headers to add: `x5t`, `x5t#S256`, `x5c`.
    #[serde(default)]
    pub send: Vec<String>,
    /// Headers to add instead of `send` when another algorithm is chosen (Entra: RS256 sends `x5t`).
    #[serde(default)]
    pub alg_send: BTreeMap<String, Vec<String>>,
    /// Default algorithm.
    pub alg: Option<String>,
    /// Algorithms the provider accepts (empty: any).
    #[serde(default)]
    pub algs: Vec<String>,
    /// Default lifetime.
    pub lifetime: Option<u64>,
    /// Longest lifetime the provider accepts.
    pub max_lifetime: Option<u64>,
    /// Token path.
    pub token_path: Option<String>,
    /// Lifetime when the answer gives none.
    pub default_ttl: Option<u64>,
    /// Output header name for `--format header`.
    pub header_name: Option<String>,
    /// DPoP (RFC 9449) for the provider's DPoP-bound clients: `on`/`off`, or a `{var}` that gives
    /// one (Okta's "Require DPoP header in token requests", Auth0's DPoP-bound applications);
    /// `--dpop` at the template layer.
    #[serde(default)]
    pub dpop: Option<String>,
    /// Where scopes go: `form` (default) or `claim`.
    #[serde(default)]
    pub scope_in: Option<String>,
    /// Whether a scope is required.
    #[serde(default)]
    pub scope_required: bool,
    /// Whether a client id is required.
    #[serde(default)]
    pub client_id_required: bool,
    /// Whether a subject is required.
    #[serde(default)]
    pub subject_required: bool,
    /// Extra request headers (values may hold `{var}`).
    #[serde(default)]
    pub request_headers: BTreeMap<String, String>,
    /// Extra form or JSON-body parameters.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Extra claims.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// Variables.
    #[serde(default)]
    pub vars: BTreeMap<String, Var>,
    /// Error code (or a substring of the description) → hint.
    #[serde(default)]
    pub hints: BTreeMap<String, String>,
}

/// Finds a template by name (built in) or path (see [`is_path`]).
pub fn load(name_or_path: &str) -> Result<Template, ConfigError> {
    let (text, source) = if is_path(name_or_path) {
        let t = crate::files::read_text(name_or_path.as_ref(), crate::files::FileKind::Template).map_err(|e| {
            ConfigError::Template(format!(
                "cannot read template {name_or_path}: {}",
                crate::text::io_reason(&e)
            ))
        })?;
        (t, name_or_path.to_string())
    } else {
        // Names are case-insensitive: `1E` is how the provider writes its own name.
        let t = BUILTIN
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name_or_path.trim()))
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| {
                let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                ConfigError::Template(format!(
                    "unknown template '{name_or_path}': use one of {}, or a path to a .toml file",
                    names.join(", ")
                ))
            })?;
        (t, format!("built-in template {}", name_or_path.to_ascii_lowercase()))
    };
    parse(&text, &source)
}

/// Parses and checks a template's text.
pub fn parse(text: &str, source: &str) -> Result<Template, ConfigError> {
    let t: Template = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        ConfigError::Template(format!("{source}:{line}: {}", e.message()))
    })?;
    t.check().map_err(|e| ConfigError::Template(format!("{source}: {e}")))?;
    Ok(t)
}

impl Template {
    fn check(&self) -> Result<(), String> {
        self.grant.parse::<crate::grant::Grant>()?;
        if let Some(k) = self.kid_from.as_ref().filter(|k| !k.contains('{')) {
            k.parse::<crate::assertion::KidFrom>()?;
        }
        for (a, hs) in &self.alg_send {
            a.parse::<Alg>().map_err(|e| e.to_string())?;
            for h in hs {
                if !["x5t", "x5t#S256", "x5c"].contains(&h.as_str()) {
                    return Err(format!("alg_send: unknown header '{h}'"));
                }
            }
        }
        for a in self.algs.iter().chain(self.alg.iter()) {
            a.parse::<Alg>().map_err(|e| e.to_string())?;
        }
        for h in &self.send {
            if !["x5t", "x5t#S256", "x5c"].contains(&h.as_str()) {
                return Err(format!("send: unknown header '{h}' (x5t, x5t#S256, x5c)"));
            }
        }
        // Every placeholder must name a variable (or a built-in one).
        let mut patterns: Vec<&String> = vec![];
        patterns.extend(self.token_url.iter());
        patterns.extend(self.audience.iter());
        patterns.extend(self.issuer.iter());
        patterns.extend(self.subject.iter());
        patterns.extend(self.request_headers.values());
        patterns.extend(self.params.values());
        patterns.extend(self.claims.values());
        patterns.extend(self.kid_from.iter());
        for p in patterns {
            for name in placeholders(p)? {
                if !self.vars.contains_key(&name) && !BUILTIN_VARS.contains(&name.as_str()) {
                    return Err(format!("placeholder {{{name}}} names no variable"));
                }
            }
        }
        Ok(())
    }

    /// The certificate and key ids this template sends in an assertion's header, each with when
    /// it is sent: `kid`, `kid with --var kid_format=x5t` (a variable's other choice),
    /// `x5t#S256 header`, `x5t header with RS256` (`alg_send`). `signet thumbprint --format all`
    /// names a template beside an id only when it is listed here, so no label says a template
    /// uses an id that it never sends.
    pub fn header_ids(&self) -> Vec<(crate::assertion::KidFrom, String)> {
        use crate::assertion::KidFrom;
        let mut out = vec![];
        let rule = |k: &str| k.parse::<KidFrom>().ok().filter(|r| *r != KidFrom::None);
        if let Some(k) = &self.kid_from {
            let names = placeholders(k).unwrap_or_default();
            match names.as_slice() {
                [] => out.extend(rule(k).map(|r| (r, "kid".to_string()))),
                // The whole rule is a variable (1E's kid_format): each value it may take.
                [name] if *k == format!("{{{name}}}") => {
                    if let Some(v) = self.vars.get(name) {
                        let mut values: Vec<&String> = v.default.iter().collect();
                        values.extend(v.choices.iter().flatten().filter(|c| v.default.as_ref() != Some(*c)));
                        for c in values {
                            let when = if v.default.as_ref() == Some(c) {
                                "kid".to_string()
                            } else {
                                format!("kid with --var {name}={c}")
                            };
                            out.extend(rule(c).map(|r| (r, when)));
                        }
                    }
                }
                _ => {}
            }
        }
        let header = |h: &str| match h {
            "x5t" => Some(KidFrom::X5t),
            "x5t#S256" => Some(KidFrom::X5tS256),
            _ => None,
        };
        for h in &self.send {
            out.extend(header(h).map(|r| (r, format!("{h} header"))));
        }
        for (alg, hs) in &self.alg_send {
            for h in hs {
                out.extend(header(h).map(|r| (r, format!("{h} header with {alg}"))));
            }
        }
        out
    }

    /// The accepted algorithms.
    pub fn accepted_algs(&self) -> Vec<Alg> {
        self.algs.iter().filter_map(|a| a.parse().ok()).collect()
    }

    /// Checks the variables given: required ones present, choices respected, kinds valid. Every
    /// missing variable is named in one error, so that a new template takes one run to fill in.
    pub fn check_vars(&self, given: &[(String, String)]) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut out = BTreeMap::new();
        for (k, _) in given {
            if !self.vars.contains_key(k) {
                let known: Vec<&str> = self.vars.keys().map(String::as_str).collect();
                return Err(ConfigError::Template(format!(
                    "template {} has no variable '{k}' (its variables: {})",
                    self.name,
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        let mut missing: Vec<(&String, &Var)> = vec![];
        for (name, var) in &self.vars {
            let value = given
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| var.default.clone());
            let Some(value) = value else {
                if var.required {
                    missing.push((name, var));
                }
                continue;
            };
            check_var_value(&self.name, name, var, &value)?;
            out.insert(name.clone(), value);
        }
        match missing.as_slice() {
            [] => Ok(out),
            [(name, var)] => Err(ConfigError::Template(format!(
                "template {} needs --var {name}=… ({})",
                self.name, var.description
            ))),
            several => Err(ConfigError::Template(format!(
                "template {} lacks {} variables: {}",
                self.name,
                several.len(),
                several
                    .iter()
                    .map(|(name, var)| format!("--var {name}=… ({})", var.description))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Substitutes `{var}` placeholders in a pattern. Unset optional variables make the whole
    /// pattern unset (`None`).
    pub fn render(&self, pattern: &str, vars: &BTreeMap<String, String>) -> Result<Option<String>, ConfigError> {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let j = rest[i..]
                .find('}')
                .ok_or_else(|| ConfigError::Template(format!("unclosed '{{' in {pattern}")))?
                + i;
            let name = &rest[i + 1..j];
            // {/name} is an optional path segment (RFC 6570 path expansion): "/value" or nothing.
            if let Some(opt) = name.strip_prefix('/') {
                if let Some(v) = vars.get(opt) {
                    out.push('/');
                    out.push_str(v);
                }
            } else {
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => return Ok(None),
                }
            }
            rest = &rest[j + 1..];
        }
        out.push_str(rest);
        Ok(Some(out))
    }

    /// The template's values as a settings layer, with variables substituted.
    /// `vars` must come from [`Template::check_vars`]; built-in placeholders (`client_id`, `token_url`)
    /// are filled from `builtins` when known.
    pub fn layer(&self, vars: &BTreeMap<String, String>) -> Result<Layer, ConfigError> {
        let origin = Origin::Template(self.name.clone());
        let mut l = Layer::new();
        let mut put = |k: Key, raw: Raw| {
            l.insert(k, (raw, origin.clone()));
        };
        put(Key::Grant, Raw::Str(self.grant.clone()));
        if let Some(u) = &self.token_url {
            if let Some(u) = self.render(u, vars)? {
                put(Key::TokenUrl, Raw::Str(u));
            }
        }
        for (k, p) in [
            (Key::Audience, &self.audience),
            (Key::Issuer, &self.issuer),
            (Key::Subject, &self.subject),
        ] {
            if let Some(p) = p {
                // Patterns that use built-in placeholders are resolved later, from the final settings.
                if placeholders(p)
                    .map(|v| v.iter().any(|n| BUILTIN_VARS.contains(&n.as_str())))
                    .unwrap_or(false)
                {
                    continue;
                }
                if let Some(v) = self.render(p, vars)? {
                    put(k, Raw::Str(v));
                }
            }
        }
        if let Some(k) = &self.kid_from {
            if let Some(k) = self.render(k, vars)? {
                put(Key::KidFrom, Raw::Str(k));
            }
        }
        for h in &self.send {
            match h.as_str() {
                "x5t" => put(Key::X5t, Raw::Bool(true)),
                "x5t#S256" => put(Key::X5tS256, Raw::Bool(true)),
                _ => put(Key::X5c, Raw::Bool(true)),
            }
        }
        if let Some(a) = &self.alg {
            put(Key::Alg, Raw::Str(a.clone()));
        }
        if self.no_nbf {
            put(Key::NoNbf, Raw::Bool(true));
        }
        if let Some(n) = self.lifetime {
            put(Key::Lifetime, Raw::Str(n.to_string()));
        }
        if let Some(p) = &self.token_path {
            put(Key::TokenPath, Raw::Str(p.clone()));
        }
        if let Some(n) = self.default_ttl {
            put(Key::DefaultTtl, Raw::Str(n.to_string()));
        }
        if let Some(h) = &self.header_name {
            put(Key::HeaderName, Raw::Str(h.clone()));
        }
        if let Some(d) = &self.dpop {
            match self.render(d, vars)?.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("on" | "true" | "yes") => put(Key::Dpop, Raw::Bool(true)),
                None | Some("off" | "false" | "no" | "") => {}
                Some(other) => {
                    return Err(ConfigError::Template(format!(
                        "the {} template's dpop is '{}': use on or off",
                        self.name,
                        crate::text::sanitize(other, 40)
                    )))
                }
            }
        }
        let render_map = |m: &BTreeMap<String, String>| -> Result<Vec<(String, String)>, ConfigError> {
            let mut out = vec![];
            for (k, p) in m {
                if let Some(v) = self.render(p, vars)? {
                    out.push((k.clone(), v));
                }
            }
            Ok(out)
        };
        let headers = render_map(&self.request_headers)?;
        if !headers.is_empty() {
            put(Key::RequestHeader, Raw::Map(headers));
        }
        let params = render_map(&self.params)?;
        if !params.is_empty() {
            put(Key::Param, Raw::Map(params));
        }
        let claims = render_map(&self.claims)?;
        if !claims.is_empty() {
            put(Key::Claim, Raw::Map(claims));
        }
        Ok(l)
    }

    /// A hint for an error code or description, with `{name}` filled from `facts`.
    pub fn hint_for(&self, code: &str, description: &str, facts: &BTreeMap<&str, String>) -> Option<String> {
        let (_, text) = self
            .hints
            .iter()
            .find(|(k, _)| k.as_str() == code)
            .or_else(|| self.hints.iter().find(|(k, _)| description.contains(k.as_str())))?;
        let mut out = text.clone();
        for (k, v) in facts {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        Some(out)
    }
}

/// Placeholders every template may use without declaring them.
pub const BUILTIN_VARS: &[&str] = &["client_id", "token_url"];

fn placeholders(p: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    let mut rest = p;
    while let Some(i) = rest.find('{') {
        let j = rest[i..].find('}').ok_or_else(|| format!("unclosed '{{' in {p}"))? + i;
        out.push(rest[i + 1..j].trim_start_matches('/').to_string());
        rest = &rest[j + 1..];
    }
    Ok(out)
}

fn check_var_value(template: &str, name: &str, var: &Var, value: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| {
        ConfigError::Template(format!(
            "--var {name}='{}' is not valid for template {template}: {why}",
            crate::text::sanitize(value, 60)
        ))
    };
    if let Some(choices) = &var.choices {
        if !choices.iter().any(|c| c == value) {
            return Err(bad(&format!("use one of {}", choices.join(", "))));
        }
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(bad("it contains control characters"));
    }
    match var.kind {
        VarKind::Host => {
            let (host, port) = match value.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (value, None),
            };
            let host_ok = !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                });
            let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
            // A URL parser reads some names as IPv4 addresses (`0` is 0.0.0.0, `0x7f.1` is
            // 127.0.0.1): a host must come out of the URL as it went in.
            let same_host = url::Url::parse(&format!("https://{host}/"))
                .ok()
                .is_some_and(|u| u.host_str() == Some(host.to_ascii_lowercase().as_str()));
            if !host_ok || !port_ok || !same_host {
                return Err(bad("it must be a host name (with an optional :port)"));
            }
        }
        VarKind::Segment => {
            if value.is_empty()
                || value == "."
                || value == ".."
                || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            {
                return Err(bad("it must be one URL path segment (letters, digits, - . _ ~)"));
            }
        }
        VarKind::Url => {
            if let Some(reason) = crate::exchange::missing_scheme(value) {
                return Err(bad(&reason));
            }
            let u = reqwest::Url::parse(value).map_err(|_| bad("it must be an absolute URL"))?;
            if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
                return Err(bad("it must be a base URL without query, fragment or credentials"));
            }
            if u.scheme() != "https" && !(u.scheme() == "http" && crate::exchange::is_loopback(&u)) {
                return Err(bad("it must be https (http only for loopback)"));
            }
        }
        VarKind::Value => {}
    }
    Ok(())
}

pub use crate::config::is_template_path as is_path;

/// A loaded template, its checked variables, and its values as a settings layer.
pub type TemplateLayer = (Template, BTreeMap<String, String>, Layer);

/// Builds the template layer for the template the settings name (if any), so the caller can
/// resolve again with it in place. Returns the template and its checked variables.
pub fn template_layer(s: &crate::config::Settings) -> Result<Option<TemplateLayer>, ConfigError> {
    let Some(name) = s.str(Key::Template) else {
        return Ok(None);
    };
    let t = load(name)?;
    let vars = t.check_vars(&s.map(Key::Var))?;
    let layer = t.layer(&vars)?;
    Ok(Some((t, vars, layer)))
}

impl Template {
    /// The provider's name for messages.
    pub fn description_name(&self) -> String {
        self.description
            .split(':')
            .next()
            .unwrap_or(&self.name)
            .trim()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_ids_are_what_each_template_sends() {
        use crate::assertion::KidFrom;
        let ids = |n: &str| load(n).unwrap().header_ids();
        // AIS checks the JWT against its keystore: no kid, no x5t (issue 20, item 9).
        assert!(ids("jde-ais").is_empty());
        assert_eq!(
            ids("1e"),
            [
                (KidFrom::HexSha1, "kid".to_string()),
                (KidFrom::X5t, "kid with --var kid_format=x5t".to_string())
            ]
        );
        assert_eq!(
            ids("entra-id"),
            [
                (KidFrom::X5tS256, "x5t#S256 header".to_string()),
                (KidFrom::X5t, "x5t header with RS256".to_string())
            ]
        );
        assert_eq!(ids("keycloak"), [(KidFrom::SpkiS256, "kid".to_string())]);
    }

    fn sample(v: &Var) -> String {
        match v.kind {
            VarKind::Host => "idp.example.com".into(),
            VarKind::Segment => "seg".into(),
            VarKind::Url => "https://idp.example.com/base".into(),
            VarKind::Value => v
                .choices
                .as_ref()
                .map(|c| c[0].clone())
                .unwrap_or_else(|| "value".into()),
        }
    }

    /// Found by the property test: a URL parser reads `0` as 0.0.0.0 and `0x7f.1` as 127.0.0.1,
    /// so such a "host" would change more than the host.
    #[test]
    fn a_host_variable_the_url_parser_would_rewrite_is_refused() {
        let t = load("okta").unwrap();
        for bad in ["0", "0x7f.1", "1.2", "017700000001"] {
            let e = t.check_vars(&[("domain".into(), bad.into())]);
            assert!(e.is_err(), "{bad} accepted");
        }
        assert!(t.check_vars(&[("domain".into(), "dev-1.okta.com".into())]).is_ok());
    }

    #[test]
    fn every_builtin_template_parses_and_renders_with_sample_variables() {
        for (name, _) in BUILTIN {
            let t = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&t.name, name);
            assert!(!t.docs.is_empty(), "{name} cites its documentation");
            let given: Vec<(String, String)> = t.vars.iter().map(|(k, v)| (k.clone(), sample(v))).collect();
            let vars = t.check_vars(&given).unwrap();
            let layer = t.layer(&vars).unwrap();
            if let Some((Raw::Str(u), _)) = layer.get(&Key::TokenUrl) {
                assert!(u.starts_with("https://"), "{name}: {u}");
                assert!(!u.contains('{'), "{name}: {u}");
            }
        }
    }

    #[test]
    fn optional_segment_and_structural_checks() {
        let t = load("okta").unwrap();
        let v = t.check_vars(&[("domain".into(), "dev-1.okta.com".into())]).unwrap();
        assert_eq!(
            t.render(t.token_url.as_ref().unwrap(), &v).unwrap().unwrap(),
            "https://dev-1.okta.com/oauth2/v1/token"
        );
        let v = t
            .check_vars(&[
                ("domain".into(), "dev-1.okta.com".into()),
                ("server".into(), "default".into()),
            ])
            .unwrap();
        assert_eq!(
            t.render(t.token_url.as_ref().unwrap(), &v).unwrap().unwrap(),
            "https://dev-1.okta.com/oauth2/default/v1/token"
        );
        for hostile in [
            "evil.com/x",
            "a.com?x=1",
            "a.com#f",
            "user@a.com",
            "a..com",
            "a.com:99999",
            "",
        ] {
            assert!(t.check_vars(&[("domain".into(), hostile.into())]).is_err(), "{hostile}");
        }
        let e = load("entra-id").unwrap();
        for hostile in ["..", "a/b", "a?b", "%2e%2e", "a b"] {
            assert!(e.check_vars(&[("tenant".into(), hostile.into())]).is_err(), "{hostile}");
        }
        assert!(e.check_vars(&[]).unwrap_err().to_string().contains("tenant"));
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(load("1E").unwrap().name, "1e");
        assert_eq!(load("Entra-ID").unwrap().name, "entra-id");
        let e = load("nope").unwrap_err().to_string();
        assert!(e.contains("unknown template 'nope'") && e.contains("1e"), "{e}");
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let t = load("jde-ais").unwrap();
        let required: Vec<&String> = t
            .vars
            .iter()
            .filter(|(_, v)| v.required && v.default.is_none())
            .map(|(k, _)| k)
            .collect();
        assert!(required.len() > 1, "jde-ais needs several variables: {required:?}");
        let e = t.check_vars(&[]).unwrap_err().to_string();
        for name in &required {
            assert!(e.contains(&format!("--var {name}=…")), "{name}: {e}");
        }
        assert!(e.contains(&format!("lacks {} variables: ", required.len())), "{e}");
        // One missing keeps the one-variable wording.
        let given: Vec<(String, String)> = required[1..]
            .iter()
            .map(|k| (k.to_string(), sample(&t.vars[*k])))
            .collect();
        let e = t.check_vars(&given).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("template jde-ais needs --var {}=… (", required[0])),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = parse(
            "name = \"x\"\ndescription = \"d\"\ndocs = []\ngrant = \"client-credentials\"\ntoken_uri = \"x\"\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("token_uri"), "{e}");
    }
}
