//! The issuer's rules ([`IssuerConfig`]) and the keys it trusts ([`Client`]).

use super::AnswerFormat;
use crate::alg::Alg;
use crate::grant::Grant;
use crate::key::KidFrom;
use crate::key::{KeyBundle, PublicJwk};
use crate::template::Template;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A client (or user key) the issuer trusts.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client id (`iss`/`sub` for client credentials).
    pub client_id: String,
    /// Its public key.
    pub jwk: PublicJwk,
    /// `kid` values that name this key.
    pub kids: Vec<String>,
    /// base64url SHA-1 of its certificate.
    pub x5t: Option<String>,
    /// base64url SHA-256 of its certificate.
    pub x5t_s256: Option<String>,
    /// Its id under each kid rule that gives one, for a provider that knows the key by one
    /// rule's id only ([`IssuerConfig::kid_rule`]).
    pub rule_ids: Vec<(KidFrom, String)>,
}

impl Client {
    /// Registers a key under every id a provider may use for it: certificate SHA-1 hex, x5t,
    /// x5t#S256, SPKI SHA-256, the JWK thumbprint, and `extra_kid`.
    pub fn from_bundle(client_id: &str, bundle: &KeyBundle, extra_kid: Option<&str>) -> Client {
        let jwk = bundle.key.public_jwk();
        let mut kids = vec![jwk.thumbprint(), bundle.key.spki_s256()];
        if let Some(c) = bundle.leaf() {
            kids.extend(certificate_ids(c));
        }
        if let Some(sa) = &bundle.service_account {
            kids.push(sa.private_key_id.clone());
        }
        kids.extend(extra_kid.map(String::from));
        let mut rule_ids = vec![
            (KidFrom::Jwk, jwk.thumbprint()),
            (KidFrom::SpkiS256, bundle.key.spki_s256()),
        ];
        if let Some(c) = bundle.leaf() {
            rule_ids.extend(
                [KidFrom::HexSha1, KidFrom::X5t, KidFrom::X5tS256]
                    .into_iter()
                    .filter_map(|r| c.id(r).map(|id| (r, id))),
            );
        }
        Client {
            client_id: client_id.into(),
            jwk,
            kids,
            x5t: bundle.leaf().and_then(|c| c.id(KidFrom::X5t)),
            x5t_s256: bundle.leaf().and_then(|c| c.id(KidFrom::X5tS256)),
            rule_ids,
        }
    }

    /// Trusts the key of a certificate (ids: SHA-1 hex, x5t, x5t#S256, SPKI SHA-256, JWK thumbprint).
    pub fn from_certificate(client_id: &str, cert: &crate::key::Certificate) -> Option<Client> {
        let jwk = cert.public_jwk()?;
        let rule_ids: Vec<(KidFrom, String)> = KidFrom::ALL
            .iter()
            .filter_map(|(r, _)| cert.id(*r).map(|id| (*r, id)))
            .collect();
        Some(Client {
            client_id: client_id.into(),
            // Every id a kid rule gives for this certificate (the JWK and SPKI ones among them).
            kids: rule_ids.iter().map(|(_, id)| id.clone()).collect(),
            jwk,
            x5t: cert.id(KidFrom::X5t),
            x5t_s256: cert.id(KidFrom::X5tS256),
            rule_ids,
        })
    }
}

/// The issuer's rules. Defaults are the strict generic rules.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// Trusted keys.
    pub clients: Vec<Client>,
    /// Required `aud` (default: the token URL).
    pub audience: Option<String>,
    /// Accepted algorithms (empty: all).
    pub algs: Vec<Alg>,
    /// Longest `exp - iat`.
    pub max_lifetime: u64,
    /// Reject a `jti` seen before.
    pub single_use_jti: bool,
    /// Accept an assertion without `kid`/`x5t` when exactly one key could match (JD Edwards,
    /// Salesforce: the key is configured, not named).
    pub allow_unnamed_key: bool,
    /// Refuse a `kid` header (Entra identifies the key by `x5t#S256`).
    pub require_x5t: bool,
    /// For bearer-header: the user `sub` must name.
    pub user: Option<String>,
    /// `expires_in` of issued tokens; `None` answers without it.
    pub expires_in: Option<u64>,
    /// How answers look.
    pub answer_format: AnswerFormat,
    /// Seconds added to the system clock (to test clock skew).
    pub clock_offset: i64,
    /// Extra string fields in answers (e.g. Salesforce's `instance_url`).
    pub extra: Map<String, Value>,
    /// Leeway for `iat`/`nbf` in the future and `exp` in the past.
    pub leeway: i64,
    /// Audiences accepted besides the required one.
    pub also_audiences: Vec<String>,
    /// Label for messages (`generic`, a provider name).
    pub mode: String,
    /// Issue opaque tokens instead of JWTs (Salesforce session ids, JD Edwards AIS tokens), so
    /// that a client cannot learn their lifetime from them.
    pub opaque_tokens: bool,
    /// Workload identity federation: client assertions are tokens of this issuer (`iss`) for this
    /// subject (`sub`), signed by one of `clients`' keys, and the app is named by `client_id`.
    pub federated: Option<(String, String)>,
    /// The URL clients use when the issuer sits behind a TLS terminator (stunnel in the
    /// benchmarks): discovery advertises it and `<public_url>/token` is accepted as `aud`.
    pub public_url: Option<String>,
    /// A provider that knows the key by one id only (1E maps the certificate's thumbprint in the
    /// form its template sends; Keycloak computes the kid of an imported certificate): a `kid`
    /// is required and must be the key's id under this rule; another id of the same key is refused.
    pub kid_rule: Option<KidFrom>,
    /// Headers every token request must carry with exactly these values (lower-case names):
    /// 1E refuses a request without the `X-Tachyon-Consumer` it has registered.
    pub required_headers: Vec<(String, String)>,
    /// DPoP (RFC 9449): every token request must carry a valid proof; tokens are bound to its key
    /// (`cnf.jkt`) and answered as `token_type: DPoP`.
    pub dpop: bool,
    /// With `dpop`: the nonce a proof must carry; without it, `400 use_dpop_nonce` with this
    /// value in `DPoP-Nonce`.
    pub dpop_nonce: Option<String>,
    /// With `dpop_nonce`: a new nonce for every request, so that no proof ever carries the
    /// current one (a server whose nonces expire at once).
    pub dpop_nonce_rotates: bool,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        IssuerConfig {
            clients: vec![],
            audience: None,
            algs: vec![],
            max_lifetime: 600,
            single_use_jti: true,
            allow_unnamed_key: false,
            require_x5t: false,
            user: None,
            expires_in: Some(300),
            answer_format: AnswerFormat::OAuth,
            clock_offset: 0,
            extra: Map::new(),
            leeway: 5,
            also_audiences: vec![],
            mode: "generic".into(),
            opaque_tokens: false,
            federated: None,
            public_url: None,
            kid_rule: None,
            required_headers: vec![],
            dpop: false,
            dpop_nonce: None,
            dpop_nonce_rotates: false,
        }
    }
}

impl IssuerConfig {
    /// The rules of a provider, from its template (the audience form, accepted algorithms,
    /// longest lifetime, how the key is named, the answer's format) and from the provider-mode
    /// table (single-use `jti`, `expires_in` in answers), which knows the built-in templates by name.
    /// `vars` are the template variables (as `Template::check_vars` returns them).
    pub fn for_template(t: &Template, vars: &BTreeMap<String, String>, clients: Vec<Client>) -> IssuerConfig {
        let grant = t.grant.parse::<Grant>().unwrap_or(Grant::ClientCredentials);
        let mode = provider_mode(&t.name);
        // An audience that follows the token URL is the issuer's own token URL (its default).
        let audience = t
            .audience
            .as_ref()
            .filter(|a| !a.contains("{token_url}"))
            .and_then(|a| t.render(a, vars).ok().flatten());
        let kid_rule = t
            .kid_from
            .as_deref()
            .and_then(|k| t.render(k, vars).ok().flatten())
            .and_then(|k| k.parse::<KidFrom>().ok());
        let kid_none = kid_rule == Some(KidFrom::None);
        // The headers the template sends are the ones the provider checks (1E's consumer name).
        let required_headers = t
            .request_headers
            .iter()
            .filter_map(|(k, p)| Some((k.to_ascii_lowercase(), t.render(p, vars).ok().flatten()?)))
            .collect();
        IssuerConfig {
            clients,
            audience,
            algs: t.accepted_algs(),
            max_lifetime: t.max_lifetime.unwrap_or(600),
            single_use_jti: mode.single_use_jti,
            allow_unnamed_key: kid_none && t.send.is_empty()
                || t.kid_from.is_none() && grant != Grant::ClientCredentials,
            require_x5t: kid_none && !t.send.is_empty(),
            user: t.subject.as_ref().and_then(|p| t.render(p, vars).ok().flatten()),
            expires_in: mode.answer_has_expires_in.then_some(3599),
            answer_format: AnswerFormat::for_grant(grant),
            mode: t.description_name(),
            opaque_tokens: !mode.answer_has_expires_in,
            kid_rule: kid_rule.filter(|r| mode.kid_by_rule && *r != KidFrom::None),
            required_headers,
            ..IssuerConfig::default()
        }
    }
}

/// What the issuer does in a provider's mode that a client has no use for, so it is not in the
/// provider's template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProviderMode {
    /// The provider refuses a `jti` it has seen.
    single_use_jti: bool,
    /// Its answers carry `expires_in`; those that do not issue opaque tokens, so that a client
    /// cannot learn their lifetime from an `exp` either.
    answer_has_expires_in: bool,
    /// It knows the key by the one id its template's kid rule gives, not by a kid registered
    /// with the key: 1E maps the thumbprint Get-1ECertificateThumbprint shows, Keycloak computes
    /// the kid of an imported certificate. (Okta and Auth0 take the kid of the JWKS the user
    /// registers, which can be any of them.)
    kid_by_rule: bool,
}

/// A provider that accepts a `jti` again (Entra ID does) and announces `expires_in`.
const USUAL: ProviderMode = ProviderMode {
    single_use_jti: false,
    answer_has_expires_in: true,
    kid_by_rule: false,
};

/// 1E: the kid must be the certificate thumbprint mapped with Add-1EJWTPrincipalMapping.
const ONE_E: ProviderMode = ProviderMode {
    kid_by_rule: true,
    ..USUAL
};

/// Keycloak: single-use `jti`, and the kid it computed for the imported certificate.
const KEYCLOAK: ProviderMode = ProviderMode {
    single_use_jti: true,
    kid_by_rule: true,
    ..USUAL
};

/// A provider that accepts each client assertion once (Okta, Auth0 and Keycloak document it).
const SINGLE_USE_JTI: ProviderMode = ProviderMode {
    single_use_jti: true,
    ..USUAL
};

/// A provider whose tokens come without a lifetime (Salesforce session ids, AIS tokens).
const NO_EXPIRES_IN: ProviderMode = ProviderMode {
    answer_has_expires_in: false,
    ..USUAL
};

/// The providers that differ from [`USUAL`], by template name.
const PROVIDER_MODES: &[(&str, ProviderMode)] = &[
    ("okta", SINGLE_USE_JTI),
    ("auth0", SINGLE_USE_JTI),
    ("keycloak", KEYCLOAK),
    ("1e", ONE_E),
    ("salesforce", NO_EXPIRES_IN),
    ("jde-ais", NO_EXPIRES_IN),
];

/// The mode of the provider a template is for. A template the table does not know (one of the
/// user's own, say) gets [`USUAL`].
fn provider_mode(template: &str) -> ProviderMode {
    PROVIDER_MODES
        .iter()
        .find(|(name, _)| *name == template)
        .map_or(USUAL, |(_, mode)| *mode)
}

/// The ids a certificate's own kid rules give (hex SHA-1, x5t, x5t#S256); the key's own ids
/// (JWK thumbprint, SPKI) are added by the caller from the key.
fn certificate_ids(c: &crate::key::Certificate) -> impl Iterator<Item = String> + '_ {
    [KidFrom::HexSha1, KidFrom::X5t, KidFrom::X5tS256]
        .into_iter()
        .filter_map(|r| c.id(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_mode_table_names_only_built_in_templates() {
        for (name, _) in PROVIDER_MODES {
            assert!(
                crate::template::BUILTIN.iter().any(|(b, _)| b == name),
                "{name} is not a built-in template: its mode would never apply"
            );
        }
    }

    #[test]
    fn the_1e_mode_knows_the_key_by_its_template_kid_form_and_requires_the_consumer() {
        let t = crate::template::load("1e").unwrap();
        let given = |kid: Option<&str>| {
            let mut v: Vec<(String, String)> = [
                ("api_root", "https://h/api"),
                ("audience", "a"),
                ("consumer", "nightly"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            v.extend(kid.map(|k| ("kid_format".to_string(), k.to_string())));
            t.check_vars(&v).unwrap()
        };
        let c = IssuerConfig::for_template(&t, &given(None), vec![]);
        assert_eq!(c.kid_rule, Some(KidFrom::HexSha1));
        assert_eq!(
            c.required_headers,
            vec![("x-tachyon-consumer".to_string(), "nightly".to_string())]
        );
        let c = IssuerConfig::for_template(&t, &given(Some("x5t")), vec![]);
        assert_eq!(c.kid_rule, Some(KidFrom::X5t));
        // Okta takes the kid of the JWKS the user registers: any id of the key.
        let t = crate::template::load("okta").unwrap();
        let vars = t.check_vars(&[("domain".into(), "dev-1.okta.com".into())]).unwrap();
        assert_eq!(IssuerConfig::for_template(&t, &vars, vec![]).kid_rule, None);
    }

    #[test]
    fn providers_without_expires_in_issue_opaque_tokens() {
        let t = crate::template::load("salesforce").unwrap();
        let vars = t.check_vars(&[]).unwrap();
        let c = IssuerConfig::for_template(&t, &vars, vec![]);
        assert_eq!((c.expires_in, c.opaque_tokens, c.single_use_jti), (None, true, false));
        let t = crate::template::load("okta").unwrap();
        let vars = t.check_vars(&[("domain".into(), "dev-1.okta.com".into())]).unwrap();
        let c = IssuerConfig::for_template(&t, &vars, vec![]);
        assert_eq!(
            (c.expires_in, c.opaque_tokens, c.single_use_jti),
            (Some(3599), false, true)
        );
        assert_eq!(provider_mode("mine"), USUAL);
    }
}
