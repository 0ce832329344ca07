//! Keys: vetted import from JWK and PEM, public JWK export, RFC 7638 thumbprints, and the one
//! low-level signature check that every verification in the crate goes through.

use josekit::jwk::Jwk as BackendJwk;
use josekit::jws::{JwsSigner as BackendSigner, JwsVerifier as BackendVerifier};
use openssl::bn::BigNum;
use openssl::pkey::Public;
use openssl::rsa::{Padding, Rsa};
use serde_json::{Map, Value};

use super::{Algorithm, JoseError, KeyError, b64_decode, b64_encode};
use crate::json::{self, JsonError};

/// The operation a key is imported for; `key_ops` must allow it when present (RFC 7517 §4.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyOperation {
    /// Producing signatures.
    Sign,
    /// Checking signatures.
    Verify,
}

impl KeyOperation {
    fn name(self) -> &'static str {
        match self {
            KeyOperation::Sign => "sign",
            KeyOperation::Verify => "verify",
        }
    }
}

/// Something that produces JWS signatures: a [`SigningKey`], a
/// [`SigningKeySet`](super::SigningKeySet), or a host's HSM or KMS client.
pub trait Signer: Send + Sync {
    /// The algorithm of the signatures it produces.
    fn algorithm(&self) -> Algorithm;
    /// The `kid` to put in the header, if any.
    fn key_id(&self) -> Option<&str>;
    /// Sign the JWS signing input (`BASE64URL(header) || '.' || BASE64URL(payload)`).
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError>;
}

/// JWK members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4,
/// RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// RSA moduli above this many bits are refused: verification cost grows with the modulus.
const MAX_RSA_BITS: usize = 16_384;
/// RSA moduli below this many bits are refused (RFC 7518 §3.3, §3.5).
const MIN_RSA_BITS: usize = 2_048;

/// The public part of a key, as vetted; kept as base64url text for export and thumbprints.
#[derive(Clone, PartialEq, Eq)]
enum PublicMaterial {
    Rsa { n: String, e: String },
    Ec { crv: &'static str, x: String, y: String },
    Okp { x: String },
}

impl PublicMaterial {
    /// The RFC 7638 §3.2 required members, in lexicographic order.
    fn thumbprint_members(&self) -> Vec<(&'static str, &str)> {
        match self {
            PublicMaterial::Rsa { n, e } => vec![("e", e), ("kty", "RSA"), ("n", n)],
            PublicMaterial::Ec { crv, x, y } => {
                vec![("crv", crv), ("kty", "EC"), ("x", x), ("y", y)]
            }
            PublicMaterial::Okp { x } => vec![("crv", "Ed25519"), ("kty", "OKP"), ("x", x)],
        }
    }

    fn to_map(&self) -> Map<String, Value> {
        self.thumbprint_members()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
            .collect()
    }

    /// RFC 7638 §3: SHA-256 over the required members, serialized with no whitespace and in
    /// lexicographic order, then base64url.
    fn thumbprint(&self) -> String {
        let mut canonical = String::from("{");
        for (position, (name, value)) in self.thumbprint_members().into_iter().enumerate() {
            if position > 0 {
                canonical.push(',');
            }
            // Names are constants and values are base64url: neither needs JSON escaping.
            canonical.push_str(&format!("\"{name}\":\"{value}\""));
        }
        canonical.push('}');
        b64_encode(openssl::sha::sha256(canonical.as_bytes()))
    }
}

/// What vetting a JWK yields: everything checked, the OpenSSL key not yet built.
pub(crate) struct Vetted {
    algorithm: Algorithm,
    kid: Option<String>,
    material: PublicMaterial,
    signature_len: usize,
}

/// A public key ready to verify signatures of one algorithm.
///
/// Built once per import: the OpenSSL key object inside is reused for every token.
pub struct VerificationKey {
    algorithm: Algorithm,
    kid: Option<String>,
    material: PublicMaterial,
    signature_len: usize,
    thumbprint: String,
    verifier: KeyVerifier,
}

/// What checks a key's signatures.
enum KeyVerifier {
    /// RS256 on OpenSSL's RSA primitive directly (see [`verify_rs256`]).
    Rs256(Rsa<Public>),
    /// Every other algorithm, through josekit.
    Backend(Box<dyn BackendVerifier>),
}

impl KeyVerifier {
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        match self {
            KeyVerifier::Rs256(rsa) => verify_rs256(rsa, message, signature),
            KeyVerifier::Backend(verifier) => {
                verifier.verify(message, signature).map_err(|_| JoseError::SignatureInvalid)
            }
        }
    }
}

impl Clone for KeyVerifier {
    fn clone(&self) -> Self {
        match self {
            KeyVerifier::Rs256(rsa) => KeyVerifier::Rs256(rsa.clone()),
            KeyVerifier::Backend(verifier) => KeyVerifier::Backend(verifier.box_clone()),
        }
    }
}

/// The DER `DigestInfo` prefix of a SHA-256 hash (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017 §8.2.2): the math of RS256.
///
/// OpenSSL's `EVP_DigestVerify*` sets up a fresh context for every signature, fetching the
/// algorithms by name: about a tenth of an RS256 verification, for no security gain. This runs
/// the RSA primitive (RSAVP1, `RSA_public_decrypt`) on the key built at import instead. Its
/// padding check insists on `00 01 FF..FF 00` with at least eight `FF`; what follows must then
/// be exactly `DigestInfo(SHA-256) || SHA-256(message)`. The padding fixed and the rest compared
/// byte for byte, that is the whole-encoding comparison of §8.2.2 step 4: no BER leniency, no
/// missing `NULL`, no trailing bytes. The Wycheproof RSA suite runs through here.
fn verify_rs256(rsa: &Rsa<Public>, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
    let mut buffer = [0u8; MAX_RSA_BITS / 8];
    let size = usize::try_from(rsa.size()).map_err(|_| JoseError::SignatureInvalid)?;
    let recovered = buffer.get_mut(..size).ok_or(JoseError::SignatureInvalid)?;
    // The caller checked the signature is exactly the modulus length; OpenSSL refuses one that
    // is not below the modulus (RFC 8017 §5.2.2 step 1).
    let len = rsa
        .public_decrypt(signature, recovered, Padding::PKCS1)
        .map_err(|_| JoseError::SignatureInvalid)?;
    let digest = openssl::sha::sha256(message);
    let expected = SHA256_DIGEST_INFO.iter().chain(digest.iter());
    match recovered.get(..len) {
        Some(encoded)
            if encoded.len() == SHA256_DIGEST_INFO.len() + digest.len()
                && encoded.iter().eq(expected) =>
        {
            Ok(())
        }
        _ => Err(JoseError::SignatureInvalid),
    }
}

impl VerificationKey {
    /// Import a public JWK, vetted (see [`KeyError`] for every refusal).
    ///
    /// `algorithm` is the algorithm the key is for. When `None`, the JWK's `alg` decides, then
    /// the curve (`P-256` → ES256, `P-384` → ES384, `Ed25519` → EdDSA); an RSA key that names
    /// no algorithm is taken as RS256, the algorithm OpenID Connect mandates.
    pub fn from_jwk(jwk: &[u8], algorithm: Option<Algorithm>) -> Result<Self, KeyError> {
        Self::from_jwk_map(&parse_jwk(jwk)?, algorithm)
    }

    pub(crate) fn from_jwk_map(
        jwk: &Map<String, Value>,
        algorithm: Option<Algorithm>,
    ) -> Result<Self, KeyError> {
        let vetted = vet(jwk, algorithm, KeyOperation::Verify)?;
        Self::from_vetted(vetted)
    }

    pub(crate) fn from_vetted(vetted: Vetted) -> Result<Self, KeyError> {
        let verifier = match (&vetted.material, vetted.algorithm) {
            (PublicMaterial::Rsa { n, e }, Algorithm::Rs256) => {
                KeyVerifier::Rs256(rsa_public(n, e)?)
            }
            _ => KeyVerifier::Backend(backend_verifier(&vetted)?),
        };
        Ok(Self {
            algorithm: vetted.algorithm,
            kid: vetted.kid,
            thumbprint: vetted.material.thumbprint(),
            material: vetted.material,
            signature_len: vetted.signature_len,
            verifier,
        })
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The signature length this key's signatures must have.
    pub fn signature_len(&self) -> usize {
        self.signature_len
    }

    /// The public JWK: key members, `kid`, `alg` and `use`; never anything private.
    pub fn to_jwk(&self) -> Map<String, Value> {
        let mut jwk = self.material.to_map();
        if let Some(kid) = &self.kid {
            jwk.insert("kid".to_owned(), Value::String(kid.clone()));
        }
        jwk.insert("alg".to_owned(), Value::String(self.algorithm.name().to_owned()));
        jwk.insert("use".to_owned(), Value::String("sig".to_owned()));
        jwk
    }

    /// Check `signature` over `message` with this key and its algorithm.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        verify_signature(self, self.algorithm, message, signature)
    }

    fn same_public_key(&self, other: &VerificationKey) -> bool {
        self.algorithm == other.algorithm && self.material == other.material
    }
}

impl Clone for VerificationKey {
    fn clone(&self) -> Self {
        Self {
            algorithm: self.algorithm,
            kid: self.kid.clone(),
            material: self.material.clone(),
            signature_len: self.signature_len,
            thumbprint: self.thumbprint.clone(),
            verifier: self.verifier.clone(),
        }
    }
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

/// josekit's verifier for a vetted key. RS256 keys verify through [`verify_rs256`] instead;
/// their arm here keeps the match whole.
fn backend_verifier(vetted: &Vetted) -> Result<Box<dyn BackendVerifier>, KeyError> {
    let backend_jwk =
        BackendJwk::from_map(vetted.material.to_map()).map_err(|_| KeyError::BackendRejected)?;
    let built: Result<Box<dyn BackendVerifier>, _> = match vetted.algorithm {
        Algorithm::Rs256 => josekit::jws::RS256
            .verifier_from_jwk(&backend_jwk)
            .map(|v| Box::new(v) as Box<dyn BackendVerifier>),
        Algorithm::Ps256 => josekit::jws::PS256
            .verifier_from_jwk(&backend_jwk)
            .map(|v| Box::new(v) as Box<dyn BackendVerifier>),
        Algorithm::Es256 => josekit::jws::ES256
            .verifier_from_jwk(&backend_jwk)
            .map(|v| Box::new(v) as Box<dyn BackendVerifier>),
        Algorithm::Es384 => josekit::jws::ES384
            .verifier_from_jwk(&backend_jwk)
            .map(|v| Box::new(v) as Box<dyn BackendVerifier>),
        Algorithm::EdDsa => josekit::jws::EdDSA
            .verifier_from_jwk(&backend_jwk)
            .map(|v| Box::new(v) as Box<dyn BackendVerifier>),
    };
    built.map_err(|_| match vetted.material {
        // Lengths were checked above, so OpenSSL refusing the point means it is off-curve.
        PublicMaterial::Ec { .. } => KeyError::EcPointInvalid,
        _ => KeyError::BackendRejected,
    })
}

/// The OpenSSL RSA public key of vetted base64url `n` and `e`.
fn rsa_public(n: &str, e: &str) -> Result<Rsa<Public>, KeyError> {
    let number = |text: &str| {
        let bytes = b64_decode(text).ok_or(KeyError::BackendRejected)?;
        BigNum::from_slice(&bytes).map_err(|_| KeyError::BackendRejected)
    };
    Rsa::from_public_components(number(n)?, number(e)?).map_err(|_| KeyError::BackendRejected)
}

/// The signature check behind every verification in this crate, public so that reviewers can
/// run external vectors (Wycheproof, RFC examples) against exactly this code.
///
/// It refuses a key of another algorithm, then a signature of the wrong length (before any
/// big-number arithmetic), then asks OpenSSL.
pub fn verify_signature(
    key: &VerificationKey,
    algorithm: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), JoseError> {
    if key.algorithm != algorithm {
        return Err(JoseError::KeyAlgorithmMismatch);
    }
    if signature.len() != key.signature_len {
        return Err(JoseError::SignatureLength);
    }
    key.verifier.verify(message, signature)
}

/// A private key that signs with one algorithm. Its `Debug` output shows the algorithm and
/// `kid` only.
pub struct SigningKey {
    signer: Box<dyn BackendSigner>,
    public: VerificationKey,
}

impl SigningKey {
    /// Import a private JWK, vetted like a public one, and checked to sign what its public part
    /// verifies. `algorithm` is resolved as in [`VerificationKey::from_jwk`].
    pub fn from_jwk(jwk: &[u8], algorithm: Option<Algorithm>) -> Result<Self, KeyError> {
        Self::from_jwk_map(&parse_jwk(jwk)?, algorithm)
    }

    fn from_jwk_map(
        jwk: &Map<String, Value>,
        algorithm: Option<Algorithm>,
    ) -> Result<Self, KeyError> {
        let vetted = vet(jwk, algorithm, KeyOperation::Sign)?;
        if !jwk.contains_key("d") {
            return Err(KeyError::MissingPrivateKey);
        }
        let algorithm = vetted.algorithm;
        let public = VerificationKey::from_vetted(vetted)?;

        // Hand josekit the key members only: our vetting already decided use, key_ops and alg.
        let mut members = public.material.to_map();
        for name in PRIVATE_MEMBERS {
            if let Some(value) = jwk.get(name) {
                members.insert(name.to_owned(), value.clone());
            }
        }
        let backend_jwk = BackendJwk::from_map(members).map_err(|_| KeyError::BackendRejected)?;
        let built: Result<Box<dyn BackendSigner>, _> = match algorithm {
            Algorithm::Rs256 => josekit::jws::RS256
                .signer_from_jwk(&backend_jwk)
                .map(|s| Box::new(s) as Box<dyn BackendSigner>),
            Algorithm::Ps256 => josekit::jws::PS256
                .signer_from_jwk(&backend_jwk)
                .map(|s| Box::new(s) as Box<dyn BackendSigner>),
            Algorithm::Es256 => josekit::jws::ES256
                .signer_from_jwk(&backend_jwk)
                .map(|s| Box::new(s) as Box<dyn BackendSigner>),
            Algorithm::Es384 => josekit::jws::ES384
                .signer_from_jwk(&backend_jwk)
                .map(|s| Box::new(s) as Box<dyn BackendSigner>),
            Algorithm::EdDsa => josekit::jws::EdDSA
                .signer_from_jwk(&backend_jwk)
                .map(|s| Box::new(s) as Box<dyn BackendSigner>),
        };
        let key = Self { signer: built.map_err(|_| KeyError::BackendRejected)?, public };

        // A private part that does not match the published public part would sign tokens
        // nobody can verify: test the pair once, at import.
        let probe = b"id-jag key pair consistency check";
        let signature = key.signer.sign(probe).map_err(|_| KeyError::BackendRejected)?;
        key.public.verify(probe, &signature).map_err(|_| KeyError::PairMismatch)?;
        Ok(key)
    }

    /// Import a PEM private key (PKCS#8, or PKCS#1/SEC1 traditional forms) for `algorithm`.
    /// The key is converted to a JWK and goes through the same vetting as
    /// [`SigningKey::from_jwk`]; `kid` defaults to the RFC 7638 thumbprint.
    pub fn from_pem(pem: &[u8], algorithm: Algorithm, kid: Option<&str>) -> Result<Self, KeyError> {
        use josekit::jwk::KeyPair as _;
        let backend_jwk = match algorithm {
            Algorithm::Rs256 | Algorithm::Ps256 => {
                josekit::jwk::alg::rsa::RsaKeyPair::from_pem(pem).map(|p| p.to_jwk_key_pair())
            }
            Algorithm::Es256 => josekit::jwk::alg::ec::EcKeyPair::from_pem(
                pem,
                Some(josekit::jwk::alg::ec::EcCurve::P256),
            )
            .map(|p| p.to_jwk_key_pair()),
            Algorithm::Es384 => josekit::jwk::alg::ec::EcKeyPair::from_pem(
                pem,
                Some(josekit::jwk::alg::ec::EcCurve::P384),
            )
            .map(|p| p.to_jwk_key_pair()),
            Algorithm::EdDsa => {
                josekit::jwk::alg::ed::EdKeyPair::from_pem(pem).map(|p| p.to_jwk_key_pair())
            }
        }
        .map_err(|_| KeyError::Malformed)?;
        let mut jwk: Map<String, Value> = backend_jwk.as_ref().clone();
        // Keep only key members: josekit may add its own alg or use.
        jwk.retain(|name, _| {
            matches!(name.as_str(), "kty" | "crv" | "x" | "y" | "n" | "e")
                || PRIVATE_MEMBERS.contains(&name.as_str())
        });
        with_kid(&mut jwk, kid)?;
        Self::from_jwk_map(&jwk, Some(algorithm))
    }

    /// A fresh key pair (RSA keys are 2048 bits); `kid` is its RFC 7638 thumbprint.
    pub fn generate(algorithm: Algorithm) -> Result<Self, KeyError> {
        let jwk = generate_private_jwk(algorithm, None)?;
        Self::from_jwk_map(&jwk, Some(algorithm))
    }

    /// The public half, as a verification key.
    pub fn verification_key(&self) -> &VerificationKey {
        &self.public
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.public.kid()
    }

    /// Sign raw bytes: the low-level operation under [`Signer::sign`].
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        self.signer.sign(message).map_err(|_| JoseError::SigningFailed)
    }

    pub(crate) fn same_public_key(&self, other: &VerificationKey) -> bool {
        self.public.same_public_key(other)
    }
}

impl Signer for SigningKey {
    fn algorithm(&self) -> Algorithm {
        self.public.algorithm
    }

    fn key_id(&self) -> Option<&str> {
        self.public.kid()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        SigningKey::sign(self, signing_input)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key: algorithm and kid are all a log needs.
        f.debug_struct("SigningKey")
            .field("algorithm", &self.public.algorithm)
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

/// Generate a private JWK for `algorithm` with `alg`, `use: sig` and `kid` (the RFC 7638
/// thumbprint unless given). RSA keys are 2048 bits.
///
/// This is for provisioning a key to store, for example in a secret manager; a key that only
/// lives in memory is simpler to make with [`SigningKey::generate`]. The result holds private
/// key material: never log it.
///
/// ```
/// use id_jag::jose::{Algorithm, SigningKey, generate_private_jwk};
///
/// let jwk = generate_private_jwk(Algorithm::EdDsa, None)?;
/// let text = serde_json::Value::Object(jwk).to_string();
/// let key = SigningKey::from_jwk(text.as_bytes(), None)?;
/// assert_eq!(key.kid(), Some(key.verification_key().thumbprint()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn generate_private_jwk(
    algorithm: Algorithm,
    kid: Option<&str>,
) -> Result<Map<String, Value>, KeyError> {
    use josekit::jwk::alg::{ec::EcCurve, ed::EdCurve};
    let generated = match algorithm {
        Algorithm::Rs256 | Algorithm::Ps256 => BackendJwk::generate_rsa_key(2048),
        Algorithm::Es256 => BackendJwk::generate_ec_key(EcCurve::P256),
        Algorithm::Es384 => BackendJwk::generate_ec_key(EcCurve::P384),
        Algorithm::EdDsa => BackendJwk::generate_ed_key(EdCurve::Ed25519),
    }
    .map_err(|_| KeyError::BackendRejected)?;
    let mut jwk: Map<String, Value> = generated.as_ref().clone();
    jwk.insert("alg".to_owned(), Value::String(algorithm.name().to_owned()));
    jwk.insert("use".to_owned(), Value::String("sig".to_owned()));
    with_kid(&mut jwk, kid)?;
    Ok(jwk)
}

/// Set `kid`, defaulting to the thumbprint of the key's public members.
fn with_kid(jwk: &mut Map<String, Value>, kid: Option<&str>) -> Result<(), KeyError> {
    let kid = match kid {
        Some(kid) => kid.to_owned(),
        None => vet_material(jwk, None)?.1.thumbprint(),
    };
    jwk.insert("kid".to_owned(), Value::String(kid));
    Ok(())
}

fn parse_jwk(bytes: &[u8]) -> Result<Map<String, Value>, KeyError> {
    json::parse_object(bytes).map_err(|error| match error {
        JsonError::DuplicateMember => KeyError::DuplicateMember,
        JsonError::Syntax | JsonError::NotAnObject => KeyError::Malformed,
    })
}

/// Vet a public JWK for verification with every import rule, without building the OpenSSL key
/// (which [`VerificationKey::from_vetted`] does, and a cache can skip).
pub(crate) fn vet_public_jwk(
    jwk: &Map<String, Value>,
    algorithm: Option<Algorithm>,
) -> Result<Vetted, KeyError> {
    vet(jwk, algorithm, KeyOperation::Verify)
}

/// Every import rule, in one place: key type, algorithm, `use`, `key_ops`, private members,
/// then the key material itself.
fn vet(
    jwk: &Map<String, Value>,
    requested: Option<Algorithm>,
    operation: KeyOperation,
) -> Result<Vetted, KeyError> {
    let (jwk_alg, kid) = vet_metadata(jwk, requested, operation)?;
    let (implied, material, signature_len) = vet_material(jwk, requested.or(jwk_alg))?;
    let algorithm = requested.or(jwk_alg).unwrap_or(implied);
    Ok(Vetted { algorithm, kid, material, signature_len })
}

/// The rules on a JWK's members other than its key material: key type, algorithm, `use`,
/// `key_ops`, `kid`, and no private members where a public key is expected. Returns the JWK's
/// `alg` and `kid`.
fn vet_metadata(
    jwk: &Map<String, Value>,
    requested: Option<Algorithm>,
    operation: KeyOperation,
) -> Result<(Option<Algorithm>, Option<String>), KeyError> {
    // RFC 7517 §4.1: kty is required; symmetric keys never verify an ID-JAG.
    let kty = required_str(jwk, "kty")?;
    if kty == "oct" {
        return Err(KeyError::SymmetricKey);
    }
    if !matches!(kty, "RSA" | "EC" | "OKP") {
        return Err(KeyError::UnsupportedKeyType);
    }

    // RFC 7517 §4.4: the JWK alg, when present, must be ours and agree with the caller's.
    let jwk_alg = match optional_str(jwk, "alg")? {
        Some(name) => Some(Algorithm::from_name(name).ok_or(KeyError::UnsupportedAlgorithm)?),
        None => None,
    };
    if let (Some(requested), Some(declared)) = (requested, jwk_alg) {
        if requested != declared {
            return Err(KeyError::AlgorithmMismatch);
        }
    }

    // RFC 7517 §4.2, §4.3: a key meant for encryption, or not for this operation, is refused.
    if let Some(key_use) = optional_str(jwk, "use")? {
        if key_use != "sig" {
            return Err(KeyError::UseNotSig);
        }
    }
    if let Some(key_ops) = jwk.get("key_ops") {
        let Value::Array(ops) = key_ops else {
            return Err(KeyError::InvalidMember("key_ops"));
        };
        let mut allowed = false;
        for op in ops {
            let Value::String(op) = op else {
                return Err(KeyError::InvalidMember("key_ops"));
            };
            allowed |= op == operation.name();
        }
        if !allowed {
            return Err(KeyError::KeyOpsForbid);
        }
    }

    let kid = optional_str(jwk, "kid")?.map(str::to_owned);

    // A public key must be only that: a stray `d` means someone published a private key.
    if operation == KeyOperation::Verify && PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(KeyError::PrivateMembers);
    }
    Ok((jwk_alg, kid))
}

/// For a cache of built keys: every rule but the key material's, and the material's members
/// exactly as written. A key whose material was vetted once under these exact strings needs no
/// second look at them; any other spelling of the same key misses and is vetted in full.
pub(crate) fn vet_metadata_and_material_text(
    jwk: &Map<String, Value>,
    algorithm: Algorithm,
) -> Result<Option<String>, KeyError> {
    vet_metadata(jwk, Some(algorithm), KeyOperation::Verify)?;
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let members = match text("kty") {
        Some("RSA") => [text("n"), text("e"), Some("")],
        Some("EC") => [text("crv"), text("x"), text("y")],
        Some("OKP") => [text("crv"), text("x"), Some("")],
        _ => return Ok(None),
    };
    let mut joined = String::new();
    for member in members {
        let Some(member) = member else { return Ok(None) };
        joined.push_str(member);
        joined.push('\u{0}');
    }
    Ok(Some(joined))
}

/// Vet the key members; return the algorithm they imply (RS256 for RSA), the material and the
/// signature length. With `algorithm`, the key type and curve must fit it.
fn vet_material(
    jwk: &Map<String, Value>,
    algorithm: Option<Algorithm>,
) -> Result<(Algorithm, PublicMaterial, usize), KeyError> {
    let kty = required_str(jwk, "kty")?;
    let (implied, material, signature_len) = match kty {
        "RSA" => {
            let (n, e, modulus_len) = vet_rsa(jwk)?;
            (Algorithm::Rs256, PublicMaterial::Rsa { n, e }, modulus_len)
        }
        "EC" => {
            let (algorithm, crv, length) = match required_str(jwk, "crv")? {
                "P-256" => (Algorithm::Es256, "P-256", 32),
                "P-384" => (Algorithm::Es384, "P-384", 48),
                _ => return Err(KeyError::UnsupportedCurve),
            };
            // RFC 7518 §6.2.1.2: coordinates are exactly the field length, no more, no less.
            let x = base64_member(jwk, "x")?;
            let y = base64_member(jwk, "y")?;
            if x.1.len() != length || y.1.len() != length {
                return Err(KeyError::EcCoordinateLength);
            }
            (algorithm, PublicMaterial::Ec { crv, x: x.0, y: y.0 }, 2 * length)
        }
        "OKP" => {
            // RFC 8037 §2: only Ed25519 signs here (no Ed448, and X25519 never signs).
            if required_str(jwk, "crv")? != "Ed25519" {
                return Err(KeyError::UnsupportedCurve);
            }
            let x = base64_member(jwk, "x")?;
            if x.1.len() != 32 {
                return Err(KeyError::OkpKeyLength);
            }
            (Algorithm::EdDsa, PublicMaterial::Okp { x: x.0 }, 64)
        }
        "oct" => return Err(KeyError::SymmetricKey),
        _ => return Err(KeyError::UnsupportedKeyType),
    };
    if let Some(algorithm) = algorithm {
        let fits = match material {
            PublicMaterial::Rsa { .. } => matches!(algorithm, Algorithm::Rs256 | Algorithm::Ps256),
            _ => algorithm == implied,
        };
        if !fits {
            return Err(KeyError::AlgorithmMismatch);
        }
    }
    Ok((implied, material, signature_len))
}

/// RFC 7518 §6.3.1 plus the vetting josekit lacks: modulus 2048 to 16384 bits, odd, and free of
/// the ROCA fingerprint; exponent odd, at least 3, at most 32 bits; both minimally encoded.
fn vet_rsa(jwk: &Map<String, Value>) -> Result<(String, String, usize), KeyError> {
    let (n_text, n) = base64_member(jwk, "n")?;
    let (e_text, e) = base64_member(jwk, "e")?;
    let (Some(&n_first), Some(&n_last)) = (n.first(), n.last()) else {
        return Err(KeyError::InvalidMember("n"));
    };
    let (Some(&e_first), Some(&e_last)) = (e.first(), e.last()) else {
        return Err(KeyError::InvalidMember("e"));
    };
    if n_first == 0 || e_first == 0 {
        return Err(KeyError::NonMinimalInteger);
    }
    let bits = n.len().saturating_sub(1).saturating_mul(8) + (8 - n_first.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err(KeyError::RsaModulusTooSmall);
    }
    if bits > MAX_RSA_BITS {
        return Err(KeyError::RsaModulusTooLarge);
    }
    if n_last & 1 == 0 {
        return Err(KeyError::RsaModulusEven);
    }
    if has_roca_fingerprint(&n) {
        return Err(KeyError::RsaRocaWeak);
    }
    let exponent_too_small = e.len() == 1 && e_first < 3;
    if e.len() > 4 || exponent_too_small || e_last & 1 == 0 {
        return Err(KeyError::RsaExponent);
    }
    Ok((n_text, e_text, n.len()))
}

/// Small primes of the ROCA fingerprint (CVE-2017-15361, Nemec et al., CCS 2017).
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// Whether `modulus` came from the flawed Infineon generator: such a modulus is, modulo each
/// of [`ROCA_PRIMES`], a power of 65537, and can be factored. An honest modulus matches by
/// chance with probability about 4e-9.
fn has_roca_fingerprint(modulus: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&prime| {
        // The accumulator stays below prime * 256 + 256: no overflow for any input.
        let residue = modulus.iter().fold(0u32, |acc, &byte| (acc * 256 + u32::from(byte)) % prime);
        let generator = 65_537 % prime;
        let mut power = 1;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % prime;
            if power == 1 {
                return false;
            }
        }
    })
}

fn required_str<'a>(jwk: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, KeyError> {
    optional_str(jwk, name)?.ok_or(KeyError::MissingMember(name))
}

fn optional_str<'a>(
    jwk: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, KeyError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(KeyError::InvalidMember(name)),
    }
}

/// A required base64url member, as its canonical text and its decoded bytes.
fn base64_member(
    jwk: &Map<String, Value>,
    name: &'static str,
) -> Result<(String, Vec<u8>), KeyError> {
    let text = required_str(jwk, name)?;
    let bytes = b64_decode(text).ok_or(KeyError::InvalidMember(name))?;
    Ok((text.to_owned(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RSASSA-PKCS1-v1_5 encodings crafted with the private key: the direct RS256 path must
    /// accept exactly the RFC 8017 §9.2 encoding, and agree with OpenSSL's EVP verifier on
    /// every one.
    #[test]
    fn rs256_accepts_exactly_the_pkcs1_v1_5_encoding() {
        use openssl::hash::MessageDigest;
        use openssl::sign::Verifier;

        let private = Rsa::generate(2048).unwrap();
        let public = Rsa::from_public_components(
            private.n().to_owned().unwrap(),
            private.e().to_owned().unwrap(),
        )
        .unwrap();
        let pkey = openssl::pkey::PKey::from_rsa(public.clone()).unwrap();
        let message = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0";
        let digest = openssl::sha::sha256(message);
        let k = 256;
        // 00 01 FF.. 00 || t, padded to k bytes, then signed raw.
        let sign = |t: &[u8], ff: usize| {
            let mut em = vec![0x00, 0x01];
            em.extend(std::iter::repeat_n(0xff, ff));
            em.push(0x00);
            em.extend_from_slice(t);
            let mut signature = vec![0; k];
            private.private_encrypt(&em, &mut signature, Padding::NONE).unwrap();
            signature
        };
        let t = |prefix: &[u8], hash: &[u8], extra: &[u8]| [prefix, hash, extra].concat();
        let ff = |t_len: usize| k - 3 - t_len;

        let honest = t(&SHA256_DIGEST_INFO, &digest, &[]);
        let mut missing_null = SHA256_DIGEST_INFO.to_vec();
        missing_null.drain(15..17);
        missing_null[1] -= 2;
        missing_null[3] -= 2;
        let mut other_hash = digest;
        other_hash[31] ^= 1;
        let mut sha384_oid = SHA256_DIGEST_INFO;
        sha384_oid[14] = 0x02;
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("honest", sign(&honest, ff(honest.len())), true),
            (
                "missing NULL",
                {
                    let t = t(&missing_null, &digest, &[]);
                    sign(&t, ff(t.len()))
                },
                false,
            ),
            (
                "other hash",
                {
                    let t = t(&SHA256_DIGEST_INFO, &other_hash, &[]);
                    sign(&t, ff(t.len()))
                },
                false,
            ),
            (
                "other algorithm",
                {
                    let t = t(&sha384_oid, &digest, &[]);
                    sign(&t, ff(t.len()))
                },
                false,
            ),
            (
                "trailing byte",
                {
                    let t = t(&SHA256_DIGEST_INFO, &digest, &[0]);
                    sign(&t, ff(t.len()))
                },
                false,
            ),
            ("hash alone", sign(&digest, ff(digest.len())), false),
            (
                "short padding",
                {
                    let t = [vec![0; ff(honest.len()) - 7], honest.clone()].concat();
                    sign(&t, 7)
                },
                false,
            ),
        ];
        for (name, signature, valid) in cases {
            let mut evp = Verifier::new(MessageDigest::sha256(), &pkey).unwrap();
            let evp = evp.verify_oneshot(&signature, message).unwrap_or(false);
            let direct = verify_rs256(&public, message, &signature).is_ok();
            assert_eq!((direct, evp), (valid, valid), "{name}");
        }

        // Not below the modulus: refused before any arithmetic on it.
        let modulus = public.n().to_vec();
        assert_eq!(verify_rs256(&public, message, &modulus), Err(JoseError::SignatureInvalid));
    }

    #[test]
    fn honest_moduli_lack_the_roca_fingerprint() {
        for _ in 0..8 {
            let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
            assert!(!has_roca_fingerprint(&rsa.n().to_vec()));
        }
    }

    #[test]
    fn roca_fingerprint_detected() {
        // A product of two primes built as the flawed generator builds them: k * M + (65537^a
        // mod M), with M the primorial of the fingerprint primes, is a power of 65537 modulo
        // each of them, and so is the product of two such numbers.
        let m = openssl::bn::BigNum::from_dec_str(
            "481473710367991963528473107950567214598209565303106537707981745635",
        )
        .unwrap();
        let mut ctx = openssl::bn::BigNumContext::new().unwrap();
        let generator = openssl::bn::BigNum::from_u32(65_537).unwrap();
        let mut factors = Vec::new();
        for (k, a) in [(1_000_003u32, 91u32), (2_000_029, 17)] {
            let mut power = openssl::bn::BigNum::new().unwrap();
            let exponent = openssl::bn::BigNum::from_u32(a).unwrap();
            power.mod_exp(&generator, &exponent, &m, &mut ctx).unwrap();
            let mut factor = openssl::bn::BigNum::new().unwrap();
            factor.checked_mul(&m, &openssl::bn::BigNum::from_u32(k).unwrap(), &mut ctx).unwrap();
            let mut sum = openssl::bn::BigNum::new().unwrap();
            sum.checked_add(&factor, &power).unwrap();
            factors.push(sum);
        }
        let mut n = openssl::bn::BigNum::new().unwrap();
        n.checked_mul(&factors[0], &factors[1], &mut ctx).unwrap();
        assert!(has_roca_fingerprint(&n.to_vec()));
    }
}
