//! Keys shared by the crate and by raw OpenSSL, so both sides of a comparison verify the same
//! signature with the same key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use id_jag::jose::{Algorithm, SigningKey};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;

/// One key pair, as OpenSSL holds it and as the crate imported it.
pub struct BenchKey {
    pub algorithm: Algorithm,
    pub raw: PKey<Private>,
    pub key: SigningKey,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh key for `algorithm` (RS256, ES256 or EdDSA) with `kid`.
pub fn bench_key(algorithm: Algorithm, kid: &str) -> BenchKey {
    let (raw, jwk) = match algorithm {
        Algorithm::Rs256 => {
            let rsa = Rsa::generate(2048).unwrap();
            let jwk = serde_json::json!({
                "kty": "RSA", "kid": kid,
                "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec()),
                "d": b64(&rsa.d().to_vec()),
                "p": b64(&rsa.p().unwrap().to_vec()), "q": b64(&rsa.q().unwrap().to_vec()),
                "dp": b64(&rsa.dmp1().unwrap().to_vec()), "dq": b64(&rsa.dmq1().unwrap().to_vec()),
                "qi": b64(&rsa.iqmp().unwrap().to_vec()),
            });
            (PKey::from_rsa(rsa).unwrap(), jwk)
        }
        Algorithm::Es256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            let ec = EcKey::generate(&group).unwrap();
            let mut ctx = BigNumContext::new().unwrap();
            let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
            ec.public_key().affine_coordinates(&group, &mut x, &mut y, &mut ctx).unwrap();
            let jwk = serde_json::json!({
                "kty": "EC", "crv": "P-256", "kid": kid,
                "x": b64(&x.to_vec_padded(32).unwrap()), "y": b64(&y.to_vec_padded(32).unwrap()),
                "d": b64(&ec.private_key().to_vec_padded(32).unwrap()),
            });
            (PKey::from_ec_key(ec).unwrap(), jwk)
        }
        Algorithm::EdDsa => {
            let raw = PKey::generate_ed25519().unwrap();
            let jwk = serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": b64(&raw.raw_public_key().unwrap()), "d": b64(&raw.raw_private_key().unwrap()),
            });
            (raw, jwk)
        }
        other => panic!("no bench key for {other}"),
    };
    let key = SigningKey::from_jwk(jwk.to_string().as_bytes(), Some(algorithm)).unwrap();
    BenchKey { algorithm, raw, key }
}

/// The raw OpenSSL verification of a JWS signature, nothing else: for ES256 that includes
/// turning the fixed-length R||S into the DER OpenSSL expects.
pub fn raw_verify(
    algorithm: Algorithm,
    raw: &PKey<Private>,
    message: &[u8],
    signature: &[u8],
) -> bool {
    match algorithm {
        Algorithm::Rs256 => {
            let mut verifier = Verifier::new(MessageDigest::sha256(), raw).unwrap();
            verifier.verify_oneshot(signature, message).unwrap()
        }
        Algorithm::Es256 => {
            let (r, s) = signature.split_at(32);
            let der = EcdsaSig::from_private_components(
                BigNum::from_slice(r).unwrap(),
                BigNum::from_slice(s).unwrap(),
            )
            .unwrap()
            .to_der()
            .unwrap();
            let mut verifier = Verifier::new(MessageDigest::sha256(), raw).unwrap();
            verifier.verify_oneshot(&der, message).unwrap()
        }
        Algorithm::EdDsa => {
            let mut verifier = Verifier::new_without_digest(raw).unwrap();
            verifier.verify_oneshot(signature, message).unwrap()
        }
        other => panic!("no raw verify for {other}"),
    }
}

/// The raw OpenSSL signature of a JWS signing input, nothing else: for ES256 that includes
/// turning OpenSSL's DER into the fixed-length R||S of JWS.
pub fn raw_sign(algorithm: Algorithm, raw: &PKey<Private>, message: &[u8]) -> Vec<u8> {
    use openssl::sign::Signer;
    match algorithm {
        Algorithm::Rs256 => {
            let mut signer = Signer::new(MessageDigest::sha256(), raw).unwrap();
            signer.sign_oneshot_to_vec(message).unwrap()
        }
        Algorithm::Es256 => {
            let mut signer = Signer::new(MessageDigest::sha256(), raw).unwrap();
            let der = signer.sign_oneshot_to_vec(message).unwrap();
            let signature = EcdsaSig::from_der(&der).unwrap();
            let mut fixed = signature.r().to_vec_padded(32).unwrap();
            fixed.extend(signature.s().to_vec_padded(32).unwrap());
            fixed
        }
        Algorithm::EdDsa => {
            let mut signer = Signer::new_without_digest(raw).unwrap();
            signer.sign_oneshot_to_vec(message).unwrap()
        }
        other => panic!("no raw sign for {other}"),
    }
}
