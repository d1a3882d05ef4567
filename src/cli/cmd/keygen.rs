//! `signet keygen`: a private key and a self-signed certificate, from nothing to a registered key.

use crate::cli::args::KeygenArgs;
use crate::cli::{output, CmdResult, Ctx};
use aws_lc_rs::rand::SecureRandom;
use signet::config::ConfigError;
use signet::key::{self, KeyError};
use signet::Alg;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

fn usage(msg: String) -> signet::Error {
    ConfigError::Usage(msg).into()
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), signet::Error> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    o.open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .map_err(|e| {
            usage(format!(
                "cannot write {}: {}",
                path.display(),
                signet::text::io_reason(&e)
            ))
        })
}

fn distinguished_name(subject: &str) -> Result<rcgen::DistinguishedName, signet::Error> {
    let mut dn = rcgen::DistinguishedName::new();
    for part in subject.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| usage(format!("--subject part '{part}' is not NAME=VALUE")))?;
        let t = match k.trim().to_ascii_uppercase().as_str() {
            "CN" => rcgen::DnType::CommonName,
            "O" => rcgen::DnType::OrganizationName,
            "OU" => rcgen::DnType::OrganizationalUnitName,
            "C" => rcgen::DnType::CountryName,
            "L" => rcgen::DnType::LocalityName,
            "ST" => rcgen::DnType::StateOrProvinceName,
            other => {
                return Err(usage(format!(
                    "--subject: unknown attribute {other} (CN, O, OU, C, L, ST)"
                )))
            }
        };
        dn.push(t, v.trim());
    }
    Ok(dn)
}

pub fn run(ctx: &Ctx, a: KeygenArgs) -> CmdResult {
    let alg: Alg = a
        .alg
        .parse()
        .map_err(|e: signet::alg::UnknownAlg| usage(e.to_string()))?;
    let pass = ctx.passphrase(a.key_passphrase_file.as_deref())?;
    let files: Vec<PathBuf> = ["key.pem", "cert.pem", "cert.cer"]
        .iter()
        .chain(a.pfx.then_some(&"key.pfx"))
        .map(|f| a.out.join(f))
        .collect();
    if let Some(existing) = files.iter().find(|f| f.exists()) {
        return Err(usage(format!(
            "{} exists: signet keygen never overwrites a key; choose another --out",
            existing.display()
        ))
        .into());
    }
    // 1. the key, as PKCS#8
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let fail = || usage("key generation failed".into());
    let (pkcs8, sig_alg): (Zeroizing<Vec<u8>>, &'static rcgen::SignatureAlgorithm) = match alg {
        Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
            use aws_lc_rs::encoding::AsDer;
            let size = match a.bits {
                2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
                b => return Err(usage(format!("--bits {b}: use 2048, 3072 or 4096")).into()),
            };
            let k = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| fail())?;
            let der = k.as_der().map_err(|_| fail())?;
            (Zeroizing::new(der.as_ref().to_vec()), &rcgen::PKCS_RSA_SHA256)
        }
        Alg::ES256 => {
            let d = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &rng,
            )
            .map_err(|_| fail())?;
            (Zeroizing::new(d.as_ref().to_vec()), &rcgen::PKCS_ECDSA_P256_SHA256)
        }
        Alg::ES384 => {
            let d = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
                &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                &rng,
            )
            .map_err(|_| fail())?;
            (Zeroizing::new(d.as_ref().to_vec()), &rcgen::PKCS_ECDSA_P384_SHA384)
        }
        Alg::EdDSA => {
            // PKCS#8 v1 (no public key member): OpenSSL 3.0 does not read v2 Ed25519 keys.
            let d = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(|_| fail())?;
            (Zeroizing::new(d.as_ref().to_vec()), &rcgen::PKCS_ED25519)
        }
    };
    // 2. the self-signed certificate
    let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
        sig_alg,
    )
    .map_err(|e| usage(format!("certificate key: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = distinguished_name(&a.subject)?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(a.days.max(1) as i64);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params
        .self_signed(&kp)
        .map_err(|e| usage(format!("certificate: {e}")))?;
    // 3. the files
    std::fs::create_dir_all(&a.out).map_err(|e| {
        usage(format!(
            "cannot create {}: {}",
            a.out.display(),
            signet::text::io_reason(&e)
        ))
    })?;
    let key_pem = match &pass {
        Some(p) => {
            use pkcs8::der::Decode;
            let mut salt = [0u8; 16];
            let mut iv = [0u8; 16];
            rng.fill(&mut salt).map_err(|_| fail())?;
            rng.fill(&mut iv).map_err(|_| fail())?;
            let params =
                pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(600_000, &salt, iv).map_err(|_| fail())?;
            let info = pkcs8::PrivateKeyInfoRef::from_der(&pkcs8).map_err(|_| fail())?;
            let enc = info
                .encrypt_with_params(params, p.expose().as_bytes())
                .map_err(|_| fail())?;
            Zeroizing::new(pem::encode(&pem::Pem::new(
                "ENCRYPTED PRIVATE KEY",
                enc.as_bytes().to_vec(),
            )))
        }
        None => Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.to_vec()))),
    };
    write_new(&files[0], key_pem.as_bytes(), 0o600)?;
    write_new(&files[1], cert.pem().as_bytes(), 0o644)?;
    write_new(&files[2], cert.der(), 0o644)?;
    if a.pfx {
        let mut store = p12_keystore::KeyStore::new();
        let pk = p12_keystore::PrivateKey::from_der(&pkcs8).map_err(|_| fail())?;
        let c = p12_keystore::Certificate::from_der(cert.der()).map_err(|_| fail())?;
        let local_id = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der())
            .as_ref()
            .to_vec();
        store.add_entry(
            "signet",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(local_id, pk, vec![c])),
        );
        let pw = pass.as_ref().map(|p| p.expose().as_str()).unwrap_or("");
        let mut w = store.writer(pw);
        if a.legacy {
            w = w
                .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
                .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha1);
        }
        let bytes = Zeroizing::new(w.write().map_err(|e| usage(format!("PKCS#12: {e}")))?);
        write_new(&files[3], &bytes, 0o600)?;
        if pass.is_none() {
            // A PFX is made to be copied (to Windows, to a key vault): without a password anyone
            // who gets the file has the key, and nothing in the file says so.
            ctx.warn(&format!(
                "{} has an empty password: anyone with the file has the key; to set one, run keygen again with --key-passphrase-file PATH or SIGNET_KEY_PASSPHRASE (it encrypts key.pem too)",
                files[3].display()
            ));
        }
    }
    let parsed =
        key::Certificate::from_der(cert.der()).map_err(|_| KeyError::BadCertificate { path: files[1].clone() })?;
    let mut out = String::new();
    for f in &files {
        out.push_str(&format!("wrote {}\n", f.display()));
    }
    out.push_str(&format!(
        "key: {} for {alg}{}; certificate valid until {}\n\n",
        if matches!(alg, Alg::ES256) {
            "EC P-256".to_string()
        } else if matches!(alg, Alg::ES384) {
            "EC P-384".into()
        } else if alg == Alg::EdDSA {
            "Ed25519".into()
        } else {
            format!("RSA-{}", a.bits)
        },
        if pass.is_some() { ", encrypted" } else { "" },
        signet::clock::rfc3339(parsed.not_after())
    ));
    out.push_str(&crate::cli::cmd::thumbprint::all_ids(&parsed));
    out.push_str(
        "\nregister cert.cer (or the JWK from `signet jwk --key key.pem --cert cert.pem`) with your provider\n",
    );
    // Templates whose provider takes the certificate another way (JD Edwards: a Java keystore on
    // the HTML server) say how; name them, so nobody looks for a registration page that AIS lacks.
    for (name, _) in signet::template::BUILTIN {
        if signet::template::load(name).is_ok_and(|t| t.register.is_some()) {
            out.push_str(&format!(
                "for {name}, see `signet templates show {name}` (how it trusts the certificate)\n"
            ));
        }
    }
    output::stdout(&out);
    Ok(0)
}
