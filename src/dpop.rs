//! DPoP (RFC 9449): proofs of possession of a client key, which bind an ID-JAG and the access
//! token it buys to that key (draft §9.8). A stolen token is then useless without the key.
//!
//! ```
//! use id_jag::NumericDate;
//! use id_jag::dpop::{DpopProof, DpopVerifier};
//! use id_jag::jose::{Algorithm, SigningKey};
//! use id_jag::resource::MemoryReplayGuard;
//!
//! let client_key = SigningKey::generate(Algorithm::Es256)?;
//! let now = NumericDate::from_unix_seconds(1_764_000_000)?;
//! let proof = DpopProof::new("POST", "https://as.example/token").sign(&client_key, now)?;
//!
//! let replay = MemoryReplayGuard::new(10_000);
//! let verified = DpopVerifier::new()
//!     .verify(&proof, "POST", "https://as.example/token", None, now, &replay)?;
//! assert_eq!(verified.jkt(), client_key.verification_key().thumbprint());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::NumericDate;
use crate::error::WireError;
use crate::jose::{
    Algorithm, AlgorithmSet, CompactJws, JoseError, KeyError, ParseOptions, SigningKey,
    VerificationKey, Vetted, b64_encode, sign_compact_with, vet_metadata_and_material_text,
    vet_public_jwk,
};

use crate::resource::{ReplayError, ReplayGuard, ReplayVerdict};
use crate::response::random_jwt_id;
use crate::urn;

/// Why a DPoP proof was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a well-formed compact JWS, a header rule broken, or a bad signature.
    #[error("DPoP proof is not a valid JWS: {0}")]
    Jose(JoseError),
    /// `typ` is not `dpop+jwt` (RFC 9449 §4.2).
    #[error("DPoP proof typ is not dpop+jwt")]
    TypMismatch,
    /// No `jwk` header member.
    #[error("DPoP proof carries no jwk")]
    MissingJwk,
    /// The `jwk` is not an acceptable public key (private members, weak, wrong type).
    #[error("DPoP proof jwk is unacceptable: {0}")]
    InvalidJwk(KeyError),
    /// A claim is missing or of the wrong type; the name is the crate's own constant.
    #[error("DPoP proof claim `{0}` is missing or invalid")]
    InvalidClaim(&'static str),
    /// `htm` is not the request's method.
    #[error("DPoP proof htm does not match the request")]
    HtmMismatch,
    /// `htu` is not the request's URI (after normalisation, without query and fragment).
    #[error("DPoP proof htu does not match the request")]
    HtuMismatch,
    /// `iat` is outside the accepted window.
    #[error("DPoP proof iat is outside the accepted window")]
    IatOutOfWindow,
    /// `ath` is missing or is not the hash of the access token presented with the proof.
    #[error("DPoP proof ath does not match the access token")]
    AthMismatch,
    /// The server requires a nonce and the proof has none or another (RFC 9449 §8).
    #[error("DPoP proof nonce missing or stale")]
    NonceMismatch,
    /// The proof's `jti` was seen before.
    #[error("DPoP proof replayed")]
    Replayed,
    /// The replay store could not answer; the proof is refused.
    #[error("DPoP replay store unavailable")]
    ReplayStore,
}

impl DpopError {
    /// A stable, machine-readable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            DpopError::Jose(error) => error.reason(),
            DpopError::TypMismatch => "dpop_typ_mismatch",
            DpopError::MissingJwk => "dpop_jwk_missing",
            DpopError::InvalidJwk(_) => "dpop_jwk_invalid",
            DpopError::InvalidClaim(_) => "dpop_claim_invalid",
            DpopError::HtmMismatch => "dpop_htm_mismatch",
            DpopError::HtuMismatch => "dpop_htu_mismatch",
            DpopError::IatOutOfWindow => "dpop_iat_out_of_window",
            DpopError::AthMismatch => "dpop_ath_mismatch",
            DpopError::NonceMismatch => "dpop_nonce_mismatch",
            DpopError::Replayed => "dpop_replayed",
            DpopError::ReplayStore => "dpop_replay_store",
        }
    }

    /// The wire error: `use_dpop_nonce` for a missing or stale nonce, `invalid_dpop_proof`
    /// otherwise (RFC 9449 §5, §8).
    pub fn wire_error(self) -> WireError {
        match self {
            DpopError::NonceMismatch => WireError::UseDpopNonce,
            // The server's own trouble, not the proof's: fail closed, and say so.
            DpopError::ReplayStore => WireError::ServerError,
            _ => WireError::InvalidDpopProof,
        }
    }
}

/// A proof to create (client side): the request it is for, and optionally the access token it
/// accompanies and the server's nonce. `Debug` hides the access token.
#[derive(Clone)]
pub struct DpopProof<'a> {
    method: &'a str,
    uri: &'a str,
    access_token: Option<&'a str>,
    nonce: Option<&'a str>,
}

impl<'a> DpopProof<'a> {
    /// A proof for an HTTP `method` to `uri`.
    pub fn new(method: &'a str, uri: &'a str) -> Self {
        DpopProof { method, uri, access_token: None, nonce: None }
    }

    /// For a call to a resource server: bind the proof to the access token (`ath`).
    pub fn with_access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Echo the server's `DPoP-Nonce`.
    pub fn with_nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Sign the proof with the client's key: header `typ` `dpop+jwt`, `alg`, and the public
    /// `jwk`; claims `jti`, `htm`, `htu` (without query and fragment), `iat`, and `ath` and
    /// `nonce` when set (RFC 9449 §4.2).
    pub fn sign(&self, key: &SigningKey, now: NumericDate) -> Result<String, JoseError> {
        let mut claims = Map::new();
        claims.insert("jti".into(), Value::String(random_jwt_id()?));
        claims.insert("htm".into(), Value::String(self.method.to_owned()));
        claims.insert("htu".into(), Value::String(strip_query(self.uri).to_owned()));
        claims.insert("iat".into(), Value::from(now.as_unix_seconds()));
        if let Some(token) = self.access_token {
            claims.insert("ath".into(), Value::String(access_token_hash(token)));
        }
        if let Some(nonce) = self.nonce {
            claims.insert("nonce".into(), Value::String(nonce.to_owned()));
        }
        let mut jwk = key.verification_key().to_jwk();
        // The proof's key is identified by its thumbprint, never by a kid.
        jwk.remove("kid");
        // A proof names its key in `jwk`; it must not also carry the key's `kid`.
        let signer = UnnamedKey(key);
        let payload = Value::Object(claims).to_string();
        sign_compact_with(&signer, Some(urn::TYP_DPOP), Some(&jwk), payload.as_bytes())
    }
}

impl std::fmt::Debug for DpopProof<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopProof")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// A signing key presented without its `kid`.
struct UnnamedKey<'a>(&'a SigningKey);

impl crate::jose::Signer for UnnamedKey<'_> {
    fn algorithm(&self) -> crate::jose::Algorithm {
        self.0.verification_key().algorithm()
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        self.0.sign(signing_input)
    }
}

/// A proof that passed [`DpopVerifier::verify`]: its key's thumbprint is what tokens bind to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDpopProof {
    jkt: String,
    jwt_id: String,
    issued_at: NumericDate,
}

impl VerifiedDpopProof {
    /// The RFC 7638 thumbprint of the proof's key: the `cnf.jkt` to bind to.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof's `jti`.
    pub fn jwt_id(&self) -> &str {
        &self.jwt_id
    }

    /// The proof's `iat`.
    pub fn issued_at(&self) -> NumericDate {
        self.issued_at
    }
}

/// Checks DPoP proofs (RFC 9449 §4.3) for an IdP, a resource AS or a resource server.
///
/// A client proves with the same key request after request, so the verifier keeps, bounded,
/// the OpenSSL key object built from a proof's `jwk` (by the exact text of its key material),
/// and the `alg` and key of each header segment whose proof verified (by the segment's exact
/// text). A header seen before is not decoded, parsed and vetted again, since it is a pure
/// function of its text; the size cap, segments, base64url, this verifier's allow-list, the
/// signature and every claim are checked on every proof. Clones share the caches.
#[derive(Clone)]
pub struct DpopVerifier {
    algorithms: AlgorithmSet,
    max_age: u64,
    leeway: u64,
    nonce: Option<String>,
    max_len: usize,
    keys: std::sync::Arc<KeyCache>,
}

/// Built proof keys by algorithm and the exact text of their key material, and the proof
/// headers that carried them by their exact base64url text; each map is emptied when full, so
/// the cache stays bounded and a flood of fresh keys costs what it would cost without it.
#[derive(Default)]
struct KeyCache {
    keys: std::sync::Mutex<HashMap<(Algorithm, String), Arc<VerificationKey>>>,
    headers: std::sync::Mutex<HashMap<String, (Algorithm, Arc<VerificationKey>)>>,
}

impl KeyCache {
    /// Keys, and headers, kept at most.
    const CAPACITY: usize = 4096;
    /// Longer header segments are not kept (an RSA-8192 key's header is about 1.6 KiB), so the
    /// header map holds at most 8 MiB of text.
    const MAX_HEADER_LEN: usize = 2048;

    /// The key of a proof's `jwk` for `algorithm`. The rules on the JWK's other members run
    /// every time; key material seen before under the same text was vetted then and is not
    /// vetted again; anything else is vetted in full and built.
    fn key(
        &self,
        jwk: &Map<String, Value>,
        algorithm: Algorithm,
    ) -> Result<Arc<VerificationKey>, KeyError> {
        let material = vet_metadata_and_material_text(jwk, algorithm)?;
        if let Some(material) = &material {
            if let Some(key) = lock(&self.keys).get(&(algorithm, material.clone())) {
                return Ok(Arc::clone(key));
            }
        }
        let vetted: Vetted = vet_public_jwk(jwk, Some(algorithm))?;
        let key = Arc::new(VerificationKey::from_vetted(vetted)?);
        if let Some(material) = material {
            let mut keys = lock(&self.keys);
            if keys.len() >= Self::CAPACITY {
                keys.clear();
            }
            keys.insert((algorithm, material), Arc::clone(&key));
        }
        Ok(key)
    }

    /// The `alg` and key of a proof header segment that passed every header rule before
    /// (`typ`, `alg` known, `jwk` vetted and built) and whose proof then verified. The header
    /// is a pure function of its text, so the same text needs no second parse.
    fn known_header(&self, header_b64: &str) -> Option<(Algorithm, Arc<VerificationKey>)> {
        lock(&self.headers).get(header_b64).cloned()
    }

    /// Remember a header segment whose proof verified with `key`.
    fn remember_header(&self, header_b64: &str, algorithm: Algorithm, key: &Arc<VerificationKey>) {
        if header_b64.len() > Self::MAX_HEADER_LEN {
            return;
        }
        let mut headers = lock(&self.headers);
        if headers.len() >= Self::CAPACITY {
            headers.clear();
        }
        headers.insert(header_b64.to_owned(), (algorithm, Arc::clone(key)));
    }
}

/// A cache map, even if another thread panicked while holding it: every entry is complete.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl std::fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("nonce", &self.nonce.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl Default for DpopVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopVerifier {
    /// Every asymmetric algorithm, proofs at most 60 seconds old and 5 seconds early, no
    /// nonce, proofs up to 8 KiB.
    pub fn new() -> Self {
        DpopVerifier {
            algorithms: AlgorithmSet::all(),
            max_age: 60,
            leeway: 5,
            nonce: None,
            max_len: 8 * 1024,
            keys: std::sync::Arc::default(),
        }
    }

    /// Allow only these algorithms.
    pub fn with_algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// The `iat` window: at most `max_age` seconds old, at most `leeway` seconds ahead.
    pub fn with_window(mut self, max_age: u64, leeway: u64) -> Self {
        self.max_age = max_age;
        self.leeway = leeway;
        self
    }

    /// Require this server-provided nonce (RFC 9449 §8).
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// The nonce this verifier requires, if any.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The `DPoP-Nonce` header that tells the client the nonce (RFC 9449 §8): send it with a
    /// `use_dpop_nonce` error, or with any response when the nonce changes (§8.2).
    pub fn nonce_header(&self) -> Option<(&'static str, &str)> {
        self.nonce().map(|nonce| ("DPoP-Nonce", nonce))
    }

    /// Verify `proof` for a request with `method` to `uri`, accompanying `access_token` when
    /// presented to a resource server, at `now`; its `jti` is recorded in `replay` (keyed by
    /// the proof key) until the proof leaves the window.
    pub fn verify(
        &self,
        proof: &str,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        now: NumericDate,
        replay: &dyn ReplayGuard,
    ) -> Result<VerifiedDpopProof, DpopError> {
        // §4.3 items 1-5: one compact JWS, typed dpop+jwt, asymmetric alg, a public jwk. A
        // header segment seen before in a verified proof passed all of them then; the rules
        // that depend on this verifier's settings (size, alg allow-list) run every time.
        let options =
            ParseOptions::new(self.algorithms).with_max_len(self.max_len).with_header_jwk();
        let header_b64 = proof.split('.').next().unwrap_or_default();
        let (body, key, known) = match self.keys.known_header(header_b64) {
            Some((algorithm, key)) => {
                let body = CompactJws::parse_after_known_header(proof, &options, algorithm)
                    .map_err(DpopError::Jose)?;
                (body, key, true)
            }
            None => {
                let jws = CompactJws::parse(proof, &options).map_err(DpopError::Jose)?;
                if !jws.header().typ_is(urn::TYP_DPOP) {
                    return Err(DpopError::TypMismatch);
                }
                let jwk = jws.header().jwk().ok_or(DpopError::MissingJwk)?;
                let algorithm = jws.header().algorithm();
                let key = self.keys.key(jwk, algorithm).map_err(DpopError::InvalidJwk)?;
                (jws.into_body(), key, false)
            }
        };

        // §4.3 item 6: the signature, with that key.
        body.verify_with(&key).map_err(DpopError::Jose)?;
        if !known {
            self.keys.remember_header(header_b64, key.algorithm(), &key);
        }

        let claims = crate::json::parse_members(body.unverified_payload())
            .map_err(|_| DpopError::InvalidClaim("payload"))?;
        let claim = |name: &str| claims.iter().find(|(n, _)| n == name).map(|(_, value)| value);
        let text = |name: &'static str| match claim(name) {
            Some(Value::String(value)) if !value.is_empty() => Ok(value.as_str()),
            _ => Err(DpopError::InvalidClaim(name)),
        };
        let jwt_id = text("jti")?;

        // §4.3 items 8-9: method and URI of this request.
        if text("htm")? != method {
            return Err(DpopError::HtmMismatch);
        }
        if !same_target_uri(text("htu")?, uri) {
            return Err(DpopError::HtuMismatch);
        }

        // §4.3 item 10: a nonce, when the server gave one.
        if let Some(expected) = &self.nonce {
            if claim("nonce").and_then(Value::as_str) != Some(expected.as_str()) {
                return Err(DpopError::NonceMismatch);
            }
        }

        // §4.3 item 11: created recently.
        let issued_at = claim("iat").ok_or(DpopError::InvalidClaim("iat")).and_then(|iat| {
            NumericDate::from_json(iat).map_err(|_| DpopError::InvalidClaim("iat"))
        })?;
        let too_old = now.seconds_since(issued_at).is_some_and(|age| age > self.max_age);
        if too_old || issued_at > now.saturating_add_seconds(self.leeway) {
            return Err(DpopError::IatOutOfWindow);
        }

        // §4.3 item 12: bound to the access token it accompanies.
        match access_token {
            Some(token) if text("ath").ok() != Some(access_token_hash(token).as_str()) => {
                return Err(DpopError::AthMismatch);
            }
            _ => {}
        }

        // §11.1: each proof once. Keyed by the proof key, kept until it leaves the window.
        let jkt = key.thumbprint().to_owned();
        // A proof is acceptable through iat + max_age inclusive, and a record is gone once now
        // reaches keep_until: keep it one second past the last acceptable moment.
        let window = self.max_age.saturating_add(self.leeway).saturating_add(1);
        let keep_until = issued_at.saturating_add_seconds(window);
        let scope = format!("dpop:{jkt}");
        match replay.check_and_record(&scope, jwt_id, keep_until, now) {
            Ok(ReplayVerdict::Fresh) => {}
            Ok(ReplayVerdict::Replayed) => return Err(DpopError::Replayed),
            Err(ReplayError::Full | ReplayError::Unavailable) => {
                return Err(DpopError::ReplayStore);
            }
        }
        Ok(VerifiedDpopProof { jkt, jwt_id: jwt_id.to_owned(), issued_at })
    }
}

/// A DPoP proof that came with a token request (the `DPoP` header), with what it takes to check
/// it there: the token endpoint's URL (`htu`, with `htm` POST), the verifier and the replay
/// store for proof `jti`s.
#[derive(Clone, Copy)]
pub struct DpopContext<'a> {
    /// The `DPoP` header's value.
    pub proof: &'a str,
    /// This token endpoint's URL, as the client addressed it.
    pub token_endpoint: &'a str,
    /// The proof rules.
    pub verifier: &'a DpopVerifier,
    /// Where proof `jti`s are recorded.
    pub replay: &'a dyn ReplayGuard,
}

impl DpopContext<'_> {
    /// Check the proof for a POST to the token endpoint.
    pub fn verify(&self, now: NumericDate) -> Result<VerifiedDpopProof, DpopError> {
        self.verifier.verify(self.proof, "POST", self.token_endpoint, None, now, self.replay)
    }
}

impl std::fmt::Debug for DpopContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopContext")
            .field("token_endpoint", &self.token_endpoint)
            .finish_non_exhaustive()
    }
}

/// `ath`: base64url of the SHA-256 of the access token (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    b64_encode(openssl::sha::sha256(access_token.as_bytes()))
}

fn strip_query(uri: &str) -> &str {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    uri.get(..end).unwrap_or(uri)
}

/// RFC 9449 §4.3 item 9: compare after RFC 3986 syntax- and scheme-based normalisation
/// (case of scheme and host, default port, dot segments, empty path), ignoring query and
/// fragment.
fn same_target_uri(htu: &str, request_uri: &str) -> bool {
    // The usual case: the client copied the endpoint exactly. One parse says whether it is a
    // URI at all; normalising two equal strings cannot make them differ.
    if htu == request_uri {
        return url::Url::parse(htu).is_ok();
    }
    let normalise = |text: &str| {
        url::Url::parse(text).ok().map(|mut url| {
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        })
    };
    match (normalise(htu), normalise(request_uri)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_uri_normalisation() {
        let same = |a, b| same_target_uri(a, b);
        assert!(same("https://AS.Example:443/token", "https://as.example/token"));
        assert!(same("https://as.example/a/../token", "https://as.example/token?x=1#f"));
        assert!(same("https://as.example", "https://as.example/"));
        assert!(!same("https://as.example/token", "http://as.example/token"));
        assert!(!same("https://as.example/token", "https://as.example:8443/token"));
        assert!(!same("https://as.example/token/", "https://as.example/token"));
        assert!(!same("not a uri", "not a uri"));
        assert!(same("https://as.example/token", "https://as.example/token"));
        assert_eq!(strip_query("https://a.example/p?q=1#f"), "https://a.example/p");
    }
}
