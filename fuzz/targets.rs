//! The bodies of the fuzz targets: one function per parser that sees untrusted bytes, each
//! asserting what must hold for every input, not only that nothing panics.
//!
//! The fuzz binaries (`fuzz_targets/*.rs`) and the stable replay test (`tests/fuzz_corpus.rs`)
//! both include this file by path, so the corpora are checked by `cargo test` with exactly the
//! assertions the fuzzer runs. It depends on `id_jag` and `serde_json` only.

// Each fuzz binary calls one of these functions; the rest are dead code there.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::IdJagClaims;
use id_jag::client::{
    AuthorizationServerMetadata, ClientAuthentication, ClientError, JwtBearerGrantRequest,
    ProtectedResourceMetadata, SubjectToken, TokenExchangeRequest, read_exchange_response,
    read_jwt_bearer_response, read_refresh_token_exchange_response,
};
use id_jag::idp::{ExchangeRequest, SubjectTokenType};
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, JoseError, KeySet, ParseOptions, SigningKey,
    VerificationKey,
};
use id_jag::resource::{
    JwtBearerRequest, MemoryReplayGuard, Rejection, ResourceServer, ResourceServerConfig,
    TrustedIssuer, VerifiedIdJag,
};
use id_jag::scope::Scope;
use serde_json::Value;

/// The issuer the `verify_untrusted` resource AS trusts.
pub const TRUSTED_ISSUER: &str = "https://idp.fuzz.example";
/// The `verify_untrusted` resource AS's own issuer identifier: the audience it accepts.
pub const RESOURCE_AS: &str = "https://as.fuzz.example";
/// The client that presents assertions to the `verify_untrusted` resource AS.
pub const CLIENT_ID: &str = "fuzz-client";
/// The fixed time at which `verify_untrusted` judges assertions.
pub const NOW: u64 = 1_764_000_000;

/// The trusted issuer's Ed25519 key, generated once for the fuzzers and pasted here. Only its
/// public half is trusted at run time; the private half is kept so seeds and the stable test
/// can mint tokens it signed. A test key: it protects nothing.
pub const TRUSTED_PRIVATE_JWK: &str = concat!(
    r#"{"kty":"OKP","use":"sig","crv":"Ed25519","#,
    r#""d":"DVpmcdW9189VChrkiPaK04bBUtBsoEAnfVELWODBYOQ","#,
    r#""x":"TlHs6nHQ_v6Z-te_EEsYsuAvP1mczC9plidDrBqgLzs","alg":"EdDSA","kid":"fuzz-idp-1"}"#,
);

/// The audience, resource and scope the `client_responses` exchange request asks for.
pub const EXCHANGE_AUDIENCE: &str = "https://as.example";
/// See [`EXCHANGE_AUDIENCE`].
pub const EXCHANGE_RESOURCE: &str = "https://api.example";
/// See [`EXCHANGE_AUDIENCE`].
pub const EXCHANGE_SCOPE: &str = "read write";

/// RFC 7515 Appendix A.2.1 and A.3.1 public keys, so that `compact_jws` also runs RSA and
/// ECDSA verification on what it parses.
const RFC7515_A2_PUBLIC_JWK: &str = concat!(
    r#"{"kty":"RSA","#,
    r#""n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"#,
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_",
    "YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5",
    "z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uD",
    "Zlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9i",
    "aGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    r#"","e":"AQAB"}"#,
);
const RFC7515_A3_PUBLIC_JWK: &str = concat!(
    r#"{"kty":"EC","crv":"P-256","#,
    r#""x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","#,
    r#""y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
);

/// `CompactJws::parse` on any text, then the invariants of a successful parse.
pub fn compact_jws(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let options = ParseOptions::new(AlgorithmSet::all());
    let Ok(jws) = CompactJws::parse(token, &options) else { return };

    // The signing input is the token up to its second and last dot.
    let last_dot = token.rfind('.').expect("a parsed token has dots");
    assert_eq!(token.matches('.').count(), 2);
    assert_eq!(jws.signing_input(), &token.as_bytes()[..last_dot]);
    assert!(token.as_bytes().starts_with(jws.signing_input()));

    // Each decoded segment is exactly what its canonical base64url text holds.
    let mut segments = token.split('.');
    let (header_b64, payload_b64, signature_b64) = (
        segments.next().unwrap_or(""),
        segments.next().unwrap_or(""),
        segments.next().unwrap_or(""),
    );
    assert!(!header_b64.is_empty());
    assert_eq!(base64url_len(jws.unverified_payload().len()), payload_b64.len());
    assert_eq!(base64url_len(jws.signature().len()), signature_b64.len());

    // The algorithm is one the caller allowed, and the allow-list alone decides it.
    let algorithm = jws.header().algorithm();
    assert!(options.allowed().contains(algorithm));
    if let Some(expected) = algorithm.fixed_signature_len() {
        assert_eq!(jws.signature().len(), expected);
    }
    let only = ParseOptions::new(AlgorithmSet::only(&[algorithm]));
    assert!(CompactJws::parse(token, &only).is_ok());
    let others: Vec<Algorithm> = Algorithm::ALL.into_iter().filter(|a| *a != algorithm).collect();
    let refused = CompactJws::parse(token, &ParseOptions::new(AlgorithmSet::only(&others)));
    assert_eq!(refused.err(), Some(JoseError::AlgorithmNotAllowed));

    // The size cap is exact.
    assert!(CompactJws::parse(token, &options.with_max_len(token.len())).is_ok());
    let capped = CompactJws::parse(token, &options.with_max_len(token.len() - 1));
    assert_eq!(capped.err(), Some(JoseError::TooLarge));

    // Key selection and the signature check run on whatever parsed; a success proves only that
    // the selected key is of the header's algorithm.
    if let Ok(key) = jws.verify_with_key_set(reference_keys()) {
        assert_eq!(key.algorithm(), algorithm);
    }
}

/// A resource AS that trusts one issuer: whatever the bytes, as an assertion they are refused.
/// An acceptable one needs the trusted issuer's signature, which the fuzzer cannot forge; the
/// seeds that carry it each fail on a claim, so every mutation of them must fail too.
pub fn verify_untrusted(data: &[u8]) {
    let assertion = String::from_utf8_lossy(data);
    if let Ok(verified) = redeem_untrusted(&assertion) {
        panic!("an assertion not signed by the trusted issuer was accepted: {verified:?}");
    }
}

/// The `verify_untrusted` pipeline, its outcome returned: parse, verify for [`CLIENT_ID`] at
/// [`NOW`], then the replay check against a fresh guard (so every input is judged alone).
pub fn redeem_untrusted(assertion: &str) -> Result<VerifiedIdJag, Rejection> {
    let server = resource_server();
    let now = NumericDate::from_unix_seconds(NOW).expect("NOW is a valid date");
    let issuer = Arc::new(TrustedIssuer::new(TRUSTED_ISSUER, trusted_keys().clone()));
    let client = AuthenticatedClient::confidential(CLIENT_ID);

    let unverified = server.parse(assertion)?;
    let checked = server.verify(unverified, Some(issuer), &client, now)?;
    checked.finish_with(&MemoryReplayGuard::new(16), now)
}

/// `IdJagClaims::from_json`; what parses serializes to JSON that parses back to the same
/// claims, and serializes again to the same text.
pub fn claims_round_trip(data: &[u8]) {
    let claims = match IdJagClaims::from_json(data) {
        Ok(claims) => claims,
        Err(error) => {
            // Reason codes and claim names are constants, never text from the input.
            assert!(!error.reason().is_empty());
            return;
        }
    };
    let json = claims.to_json();
    let reparsed = match IdJagClaims::from_json(json.as_bytes()) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!("to_json output does not parse back ({error}): {json}"),
    };
    assert_eq!(reparsed, claims, "round trip changed the claims: {json}");
    assert_eq!(reparsed.to_json(), json);
}

/// `KeySet::from_jwks`; every entry is kept or reported, and the exported set re-imports to
/// the same keys with nothing refused and nothing private in it.
pub fn jwks_import(data: &[u8]) {
    let Ok(import) = KeySet::from_jwks(data) else { return };

    let entries = serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|document| document.get("keys").and_then(Value::as_array).map(Vec::len))
        .expect("an imported JWKS has a keys array");
    assert_eq!(import.keys.len() + import.rejected.len(), entries);
    let indexes: Vec<usize> = import.rejected.iter().map(|rejected| rejected.index).collect();
    assert!(indexes.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(indexes.iter().all(|index| *index < entries));

    let exported = import.keys.to_jwks();
    for jwk in exported["keys"].as_array().into_iter().flatten() {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(jwk.get(private).is_none(), "exported JWKS carries `{private}`");
        }
    }
    let again = KeySet::from_jwks(exported.to_string().as_bytes()).expect("exported JWKS imports");
    assert!(again.rejected.is_empty(), "re-import refused {:?}", again.rejected);
    assert_eq!(again.keys.len(), import.keys.len());
    for (first, second) in import.keys.iter().zip(again.keys.iter()) {
        assert_eq!(first.algorithm(), second.algorithm());
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.thumbprint(), second.thumbprint());
    }
}

/// `ExchangeRequest::from_form`; what parses, written out again by the client's own request
/// builder, parses to the same request.
pub fn token_exchange_form(data: &[u8]) {
    let request = match ExchangeRequest::from_form(data) {
        Ok(request) => request,
        Err(denial) => {
            assert!(!denial.reason().code().is_empty());
            return;
        }
    };
    let auth = client_auth();
    let now = NumericDate::from_unix_seconds(NOW).expect("NOW is a valid date");
    match request {
        ExchangeRequest::IdJag(request) => {
            assert!(!request.audience().is_empty());
            // RFC 8707 §2: no fragment.
            assert!(request.resources().iter().all(|r| !r.is_empty() && !r.contains('#')));

            let subject = match request.subject_token_type() {
                SubjectTokenType::IdToken => SubjectToken::IdToken,
                SubjectTokenType::RefreshToken => SubjectToken::RefreshToken,
                SubjectTokenType::Saml2 => SubjectToken::Saml2,
            }(request.subject_token().to_owned());
            let mut rebuilt = TokenExchangeRequest::new(subject, request.audience());
            for resource in request.resources() {
                rebuilt = rebuilt.resource(resource.as_str());
            }
            if let Some(scope) = request.scope() {
                rebuilt = rebuilt.scope(scope.clone());
            }
            if let Some(details) = request.authorization_details() {
                rebuilt = rebuilt.authorization_details(details.to_vec());
            }
            if let Some(actor) = request.actor_token() {
                rebuilt = rebuilt.actor_token(actor.token(), actor.token_type());
            }
            let body = rebuilt.to_http(&auth, now).expect("the client writes the request").body;
            let Ok(ExchangeRequest::IdJag(again)) = ExchangeRequest::from_form(body.as_bytes())
            else {
                panic!("the client's own token exchange body does not parse back");
            };
            assert_eq!(again.audience(), request.audience());
            assert_eq!(again.resources(), request.resources());
            assert_eq!(again.scope(), request.scope());
            assert_eq!(again.authorization_details(), request.authorization_details());
            assert_eq!(again.subject_token(), request.subject_token());
            assert_eq!(again.subject_token_type(), request.subject_token_type());
            let actor = |r: &id_jag::idp::IdJagRequest| {
                r.actor_token().map(|a| (a.token().to_owned(), a.token_type().to_owned()))
            };
            assert_eq!(actor(&again), actor(&request));
        }
        ExchangeRequest::SamlRefresh(request) => {
            assert!(!request.assertion().is_empty());
        }
    }
}

/// `JwtBearerRequest::from_form`; what parses, written out again by the client, parses to the
/// same assertion and scope.
pub fn jwt_bearer_form(data: &[u8]) {
    let request = match JwtBearerRequest::from_form(data) {
        Ok(request) => request,
        Err(rejection) => {
            assert!(!rejection.reason().code().is_empty());
            assert!(rejection.claims().is_none());
            return;
        }
    };
    assert!(!request.assertion().is_empty());

    let mut rebuilt = JwtBearerGrantRequest::new(request.assertion());
    if let Some(scope) = request.scope() {
        rebuilt = rebuilt.scope(scope.clone());
    }
    let now = NumericDate::from_unix_seconds(NOW).expect("NOW is a valid date");
    let body = rebuilt.to_http(&client_auth(), now).expect("the client writes the request").body;
    let again = JwtBearerRequest::from_form(body.as_bytes())
        .expect("the client's own jwt-bearer body parses back");
    assert_eq!(again.assertion(), request.assertion());
    assert_eq!(again.scope(), request.scope());
}

/// The client's readers of both legs' responses and of discovery documents.
pub fn client_responses(data: &[u8]) {
    if let Ok(response) = read_jwt_bearer_response(200, data) {
        assert!(!response.access_token.is_empty());
        let token_type = response.token_type.to_ascii_lowercase();
        assert!(token_type == "bearer" || token_type == "dpop", "{token_type}");
    }

    // An error status is never a success, whatever the body says.
    match read_jwt_bearer_response(400, data) {
        Ok(_) => panic!("a 400 response was read as a success"),
        Err(ClientError::Refused(error)) => {
            assert_eq!(error.status, 400);
            assert!(!error.error.is_empty());
        }
        Err(_) => {}
    }

    // draft §4.5: whatever is read as a refresh token answer says exactly that.
    if let Ok(response) = read_refresh_token_exchange_response(200, data) {
        let parsed: serde_json::Value = serde_json::from_slice(data).expect("it was read as JSON");
        assert_eq!(parsed["issued_token_type"], id_jag::urn::TOKEN_TYPE_REFRESH_TOKEN);
        assert_eq!(parsed["access_token"], response.refresh_token());
    }
    assert!(read_refresh_token_exchange_response(401, data).is_err());

    let request = exchange_request();
    if let Ok(response) = read_exchange_response(request, 200, data) {
        let claims = response.claims();
        assert_eq!(claims.audience().single(), Some(EXCHANGE_AUDIENCE));
        let requested = Scope::parse(EXCHANGE_SCOPE).expect("a valid scope");
        if let Some(granted) = response.scope() {
            assert!(granted.is_subset(&requested), "scope widened to {granted}");
        }
        if let Some(resources) = claims.resource() {
            assert!(resources.iter().all(|resource| resource == EXCHANGE_RESOURCE));
        }
        // The claims are those of the token handed over, read the same way again.
        let jws = CompactJws::parse(response.id_jag(), &ParseOptions::new(AlgorithmSet::all()))
            .expect("the ID-JAG parses again");
        let again = IdJagClaims::from_json(jws.unverified_payload()).expect("its claims parse");
        assert_eq!(&again, claims);
    }
    assert!(read_exchange_response(request, 401, data).is_err());

    if let Ok(metadata) = AuthorizationServerMetadata::parse(data, EXCHANGE_AUDIENCE) {
        assert_eq!(metadata.issuer(), EXCHANGE_AUDIENCE);
        assert!(!metadata.grant_types().is_empty());
    }
    if let Ok(metadata) = ProtectedResourceMetadata::parse(data, EXCHANGE_RESOURCE) {
        assert_eq!(metadata.resource(), EXCHANGE_RESOURCE);
    }
}

/// The trusted issuer's private key, imported once.
pub fn trusted_signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::from_jwk(TRUSTED_PRIVATE_JWK.as_bytes(), None).expect("the fixed key imports")
    })
}

/// The trusted issuer's public key set.
fn trusted_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        KeySet::new(vec![trusted_signing_key().verification_key().clone()])
            .expect("one key is a key set")
    })
}

/// The trusted Ed25519 key and the RFC 7515 RS256 and ES256 example keys.
fn reference_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rfc = |jwk: &str| {
            VerificationKey::from_jwk(jwk.as_bytes(), None).expect("the RFC 7515 keys import")
        };
        let keys = vec![
            trusted_signing_key().verification_key().clone(),
            rfc(RFC7515_A2_PUBLIC_JWK),
            rfc(RFC7515_A3_PUBLIC_JWK),
        ];
        KeySet::new(keys).expect("distinct kids")
    })
}

fn resource_server() -> &'static ResourceServer {
    static SERVER: OnceLock<ResourceServer> = OnceLock::new();
    SERVER.get_or_init(|| ResourceServer::new(ResourceServerConfig::new(RESOURCE_AS)))
}

fn exchange_request() -> &'static TokenExchangeRequest {
    static REQUEST: OnceLock<TokenExchangeRequest> = OnceLock::new();
    REQUEST.get_or_init(|| {
        TokenExchangeRequest::new(SubjectToken::IdToken("fuzz-id-token".into()), EXCHANGE_AUDIENCE)
            .resource(EXCHANGE_RESOURCE)
            .scope(Scope::parse(EXCHANGE_SCOPE).expect("a valid scope"))
    })
}

/// Client authentication that keeps the body to the request's own parameters.
fn client_auth() -> ClientAuthentication {
    ClientAuthentication::SecretBasic {
        client_id: CLIENT_ID.to_owned(),
        client_secret: "fuzz-secret".to_owned(),
    }
}

/// The length of the unpadded base64url text of `bytes` bytes.
fn base64url_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// A DPoP proof from arbitrary bytes, checked as a resource AS checks one for a POST to its
/// token endpoint at [`NOW`]. Whatever is accepted carries a real thumbprint and is refused as
/// a replay the second time.
pub fn dpop_proof(data: &[u8]) {
    use id_jag::dpop::{DpopError, DpopVerifier};
    let Ok(proof) = std::str::from_utf8(data) else { return };
    let Ok(now) = NumericDate::from_unix_seconds(NOW) else { return };
    let replay = MemoryReplayGuard::new(16);
    let verifier = DpopVerifier::new();
    let uri = "https://as.fuzz.example/token";
    if let Ok(verified) = verifier.verify(proof, "POST", uri, None, now, &replay) {
        assert_eq!(verified.jkt().len(), 43, "a SHA-256 thumbprint in base64url");
        let again = verifier.verify(proof, "POST", uri, None, now, &replay);
        assert_eq!(again, Err(DpopError::Replayed));
    }
}
