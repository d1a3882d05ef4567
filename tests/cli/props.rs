//! Property tests: random inputs, invariants that must hold for all of them.

use crate::common::*;
use proptest::prelude::*;
use serde_json::{Map, Value};
use signet::issuer::Client;

fn verify(jwt: &str, jwk: &signet::key::PublicJwk, alg: signet::Alg) -> bool {
    let (msg, sig) = jwt.rsplit_once('.').unwrap();
    let key = match jwk {
        signet::key::PublicJwk::Rsa { n, e } => {
            jsonwebtoken::DecodingKey::from_rsa_components(&signet::b64::encode(n), &signet::b64::encode(e))
        }
        signet::key::PublicJwk::Ec { x, y, .. } => {
            jsonwebtoken::DecodingKey::from_ec_components(&signet::b64::encode(x), &signet::b64::encode(y))
        }
        signet::key::PublicJwk::Okp { x } => jsonwebtoken::DecodingKey::from_ed_components(&signet::b64::encode(x)),
    }
    .unwrap();
    let jalg: jsonwebtoken::Algorithm = alg.as_str().parse().unwrap();
    jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &key, jalg).unwrap()
}

fn claim_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        ".*".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        proptest::collection::vec(".{0,8}", 0..4).prop_map(Value::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sign_then_verify_any_claims_every_algorithm(
        iss in ".{1,40}", aud in ".{1,60}", lifetime in 1u64..7200, now in 1_000_000_000i64..4_000_000_000,
        extra in proptest::collection::btree_map("[a-z_]{1,12}", claim_value(), 0..6),
    ) {
        for (key, alg) in [("rsa2048.pkcs8.pem", "RS256"), ("rsa2048.pkcs8.pem", "PS384"), ("p256.pkcs8.pem", "ES256"), ("p384.pkcs8.pem", "ES384"), ("ed25519.pkcs8.pem", "EdDSA")] {
            let alg: signet::Alg = alg.parse().unwrap();
            let b = load(key, None, None);
            let jwk = b.key.public_jwk();
            let signer = signet::Signer::new(b, Some(alg), &Default::default()).unwrap();
            let mut claims = signet::Claims::new(&iss, &aud);
            claims.lifetime = lifetime;
            claims.extra = extra.clone().into_iter().collect::<Map<String, Value>>();
            let jwt = signer.sign(&claims, now).unwrap();
            prop_assert!(verify(jwt.expose(), &jwk, alg));
            let d = decode(jwt.expose());
            for (k, v) in &extra {
                prop_assert_eq!(&d.claims[k], v);
            }
            if !extra.contains_key("exp") && !extra.contains_key("iat") {
                prop_assert_eq!(d.claims["exp"].as_i64().unwrap() - d.claims["iat"].as_i64().unwrap(), lifetime as i64);
            }
        }
    }

    #[test]
    fn a_value_variable_stays_one_plain_json_string(value in "[^\\p{Cc}]{1,80}") {
        let t = signet::template::load("jde-ais").unwrap();
        let given = vec![("host".to_string(), "ais.example.com".to_string()), ("user".to_string(), "JDE".to_string()), ("environment".to_string(), value.clone())];
        let vars = t.check_vars(&given).unwrap();
        let layer = t.layer(&vars).unwrap();
        let Some((signet::config::Raw::Map(params), _)) = layer.get(&signet::config::Key::Param) else { panic!() };
        let p = signet::grant::RequestParams { params: params.clone(), ..Default::default() };
        let r = signet::grant::Grant::BearerHeader.request("https://ais.example.com/jderest/v2/tokenrequest", "a.b.c", &p);
        let body: Value = serde_json::from_str(r.body.expose()).unwrap();
        // typed as JSON when it parses (the --param rule), else exactly the string
        let expected = signet::grant::json_value(&value);
        prop_assert_eq!(&body["environment"], &expected);
        prop_assert_eq!(body.as_object().unwrap().len(), 3);
        prop_assert_eq!(&body["role"], "*ALL");
    }

    #[test]
    fn a_host_variable_never_changes_more_than_the_host(value in ".{0,40}") {
        let t = signet::template::load("okta").unwrap();
        if let Ok(vars) = t.check_vars(&[("domain".to_string(), value.clone())]) {
            let url = t.render(t.token_url.as_ref().unwrap(), &vars).unwrap().unwrap();
            let u = url::Url::parse(&url).unwrap();
            prop_assert_eq!(u.path(), "/oauth2/v1/token");
            prop_assert!(u.query().is_none() && u.fragment().is_none() && u.username().is_empty());
            let host_port = match u.port() { Some(p) => format!("{}:{p}", u.host_str().unwrap()), None => u.host_str().unwrap().to_string() };
            prop_assert_eq!(host_port.to_lowercase(), value.to_lowercase());
        }
    }

    #[test]
    fn cache_entries_round_trip_through_the_file_store(
        token in "[A-Za-z0-9._-]{1,200}", tt in proptest::option::of("[A-Za-z]{1,10}"), scope in proptest::option::of(".{0,40}"),
        obtained in 0i64..4_000_000_000, life in 0i64..1_000_000, extra in proptest::collection::btree_map(".{1,10}", ".{0,20}", 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = signet::cache::FileStore::open(&dir.path().join("c")).unwrap();
        let t = signet::token::Token {
            access_token: signet::Secret::new(token.clone()), token_type: tt.clone(), scope: scope.clone(),
            obtained_at: obtained, expires_at: obtained + life, extra: extra.clone(),
        };
        let key = signet::cache::CacheKey::for_identity(&token);
        use signet::cache::TokenStore;
        store.put(&key, &signet::cache::Entry::new(&t, Some("https://x".into()), Some("c".into()), None)).unwrap();
        let back = store.get(&key).unwrap().unwrap().token();
        prop_assert_eq!(back.access_token.expose(), &token);
        prop_assert_eq!(back.token_type, tt);
        prop_assert_eq!(back.scope, scope);
        prop_assert_eq!(back.expires_at, obtained + life);
        prop_assert_eq!(back.extra, extra);
    }
}

#[test]
fn the_issuer_trusts_what_from_certificate_and_from_bundle_name_alike() {
    let b = load("rsa2048.pkcs8.pem", Some("rsa2048.crt.pem"), None);
    let a = Client::from_bundle("c", &b, None);
    let c = Client::from_certificate("c", b.leaf().unwrap()).unwrap();
    assert_eq!(a.jwk, c.jwk);
    assert!(c.kids.iter().all(|k| a.kids.contains(k)));
}
