//! Integration tests of DPoP (RFC 9449) and the sender-constrained ID-JAGs and access tokens it
//! gives (draft §9.8): proofs made and checked (header, key, signature, `htm`, `htu`, the `iat`
//! window, replay, `ath`, nonce, claims), the IdP binding an ID-JAG to the proof key (SPEC leg 1
//! step 6), the four cases of the resource AS (SPEC leg 2 step 9), the resource server's check of
//! a bound access token, the client's downgrade detection, and a full round trip with stolen
//! tokens.
//!
//! Every refusal asserts the exact reason and, where there is one, the wire error, so a check
//! that silently stops firing fails here.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use id_jag::NumericDate;
use id_jag::audit::AuditEvent;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{IdJagClaims, IdJagClaimsBuilder, RequiredClaims};
use id_jag::client::{
    ClientAuthentication, ClientError, FormRequest, JwtBearerGrantRequest, SubjectToken,
    TokenExchangeRequest, read_exchange_response, read_jwt_bearer_response,
};
use id_jag::dpop::{
    DpopContext, DpopError, DpopProof, DpopVerifier, VerifiedDpopProof, access_token_hash,
};
use id_jag::error::WireError;
use id_jag::idp::{
    Agent, Denial, DenyReason, DirectoryUser, Exchange, ExchangeHosts, HostTokens, IdTokensOnly,
    IdentityProvider, IdpConfig, IssuedIdJag, ManagedConnection, MemoryConnections,
    MemoryDirectory, MintedRefreshToken, ValidatedSubject,
};
use id_jag::jose::{
    Algorithm, AlgorithmSet, JoseError, KeyError, KeySet, SigningKey, SigningKeySet,
    generate_private_jwk, sign_compact,
};
use id_jag::resource::{
    AccessTokenError, AccessTokenIssuer, AccessTokenVerifier, AllowAll, Grant, MemoryReplayGuard,
    MemorySubjects, RedeemHosts, Redemption, RejectReason, Rejection, ReplayError, ReplayGuard,
    ReplayVerdict, ResourceServer, ResourceServerConfig, SubjectKey, TrustedIssuer,
    TrustedIssuerStore, TrustedIssuers, VerifiedAccessToken,
};
use id_jag::scope::Scope;
use id_jag::urn;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

const IDP: &str = "https://idp.example.com";
const IDP_TOKEN_ENDPOINT: &str = "https://idp.example.com/oauth2/v1/token";
const AS_ISSUER: &str = "https://as.expenses.example";
const AS_TOKEN_ENDPOINT: &str = "https://as.expenses.example/oauth2/token";
const API: &str = "https://api.expenses.example";
const API_URL: &str = "https://api.expenses.example/v1/reports";
const CLIENT_AT_IDP: &str = "aria";
const CLIENT_AT_AS: &str = "aria-at-expenses";
const USER: &str = "user-b";
const ACCOUNT: &str = "account-42";
const SCOPE: &str = "expenses.read expenses.write";
const NOW: u64 = 1_764_000_000;

/// RFC 9449 §4.1: the example proof, its key's thumbprint (§6.1) and its `iat`.
const RFC_PROOF: &str = concat!(
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0",
    "VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10",
    "NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.",
    "eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1w",
    "bGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.",
    "2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg",
);
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const RFC_IAT: u64 = 1_562_262_616;
/// RFC 9449 §7.1: the example proof for a protected resource, with `ath` of `RFC_TOKEN`.
const RFC_RESOURCE_PROOF: &str = concat!(
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0",
    "VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10",
    "NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.",
    "eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFt",
    "cGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNF",
    "c05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.",
    "2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA",
);
const RFC_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const RFC_ATH: &str = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";

fn now() -> NumericDate {
    NumericDate::from_unix_seconds(NOW).unwrap()
}

/// `NOW` shifted by `offset` seconds.
fn at(offset: i64) -> NumericDate {
    NumericDate::from_unix_seconds(NOW.checked_add_signed(offset).unwrap()).unwrap()
}

fn fresh_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("proof-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap()
}

fn new_key(algorithm: Algorithm) -> SigningKey {
    SigningKey::generate(algorithm).unwrap()
}

fn es256() -> SigningKey {
    new_key(Algorithm::Es256)
}

fn thumbprint(key: &SigningKey) -> String {
    key.verification_key().thumbprint().to_owned()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The decoded JSON of segment `index` (0 header, 1 payload) of a compact JWS.
fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A proof made by the library for `method` and `uri` at `when`.
fn proof(key: &SigningKey, method: &str, uri: &str, when: NumericDate) -> String {
    DpopProof::new(method, uri).sign(key, when).unwrap()
}

/// A proof for an API call with `token`.
fn api_proof(key: &SigningKey, token: &str, when: NumericDate) -> String {
    DpopProof::new("GET", API_URL).with_access_token(token).sign(key, when).unwrap()
}

/// Check with the default verifier and a fresh replay guard.
fn check(
    proof: &str,
    method: &str,
    uri: &str,
    access_token: Option<&str>,
    when: NumericDate,
) -> Result<VerifiedDpopProof, DpopError> {
    let guard = MemoryReplayGuard::new(1_000);
    DpopVerifier::new().verify(proof, method, uri, access_token, when, &guard)
}

/// The public JWK a proof carries: no `kid`.
fn public_jwk(key: &SigningKey) -> Value {
    let mut jwk = key.verification_key().to_jwk();
    jwk.remove("kid");
    Value::Object(jwk)
}

/// The header the library writes for `key`.
fn proof_header(key: &SigningKey) -> Value {
    json!({
        "typ": "dpop+jwt",
        "alg": key.verification_key().algorithm().name(),
        "jwk": public_jwk(key),
    })
}

/// The claims of a proof for `method` and `uri`, issued at `NOW`, with a fresh `jti`.
fn proof_claims(method: &str, uri: &str) -> Value {
    json!({ "jti": fresh_jti(), "htm": method, "htu": uri, "iat": NOW })
}

/// Sign `claims` under exactly `header` with `key`.
fn hand_proof(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature))
}

/// `value` with member `name` set (or, with `Value::Null`, removed).
fn edit(mut value: Value, name: &str, member: Value) -> Value {
    let object = value.as_object_mut().unwrap();
    if member.is_null() {
        object.remove(name);
    } else {
        object.insert(name.to_owned(), member);
    }
    value
}

#[track_caller]
fn assert_proof_refused(outcome: Result<VerifiedDpopProof, DpopError>, expected: DpopError) {
    match outcome {
        Ok(proof) => panic!("expected {expected:?}, got a valid proof {proof:?}"),
        Err(error) => {
            assert_eq!(error, expected, "reason");
            let wire = match expected {
                DpopError::NonceMismatch => WireError::UseDpopNonce,
                DpopError::ReplayStore => WireError::ServerError,
                _ => WireError::InvalidDpopProof,
            };
            assert_eq!(error.wire_error(), wire, "wire error of {error:?}");
        }
    }
}

#[track_caller]
fn assert_proof_ok(outcome: Result<VerifiedDpopProof, DpopError>) -> VerifiedDpopProof {
    outcome.unwrap_or_else(|error| panic!("expected a valid proof, got {error:?}"))
}

/// A replay store that always fails.
struct FailingGuard(ReplayError);

impl ReplayGuard for FailingGuard {
    fn check_and_record(
        &self,
        _issuer: &str,
        _jwt_id: &str,
        _keep_until: NumericDate,
        _now: NumericDate,
    ) -> Result<ReplayVerdict, ReplayError> {
        Err(self.0)
    }
}

/// A replay store that remembers what it was asked to record.
#[derive(Default)]
struct RecordingGuard {
    calls: Mutex<Vec<(String, String, u64)>>,
}

impl ReplayGuard for RecordingGuard {
    fn check_and_record(
        &self,
        issuer: &str,
        jwt_id: &str,
        keep_until: NumericDate,
        _now: NumericDate,
    ) -> Result<ReplayVerdict, ReplayError> {
        let record = (issuer.to_owned(), jwt_id.to_owned(), keep_until.as_unix_seconds());
        self.calls.lock().unwrap().push(record);
        Ok(ReplayVerdict::Fresh)
    }
}

/// One IdP, one resource AS (with its API) that trusts it, and the client's credentials.
struct World {
    idp_keys: SigningKeySet,
    idp: IdentityProvider,
    registry: MemoryConnections,
    directory: MemoryDirectory,
    idp_proofs: MemoryReplayGuard,
    idp_dpop: DpopVerifier,
    issuers: TrustedIssuers,
    subjects: MemorySubjects,
    replay: MemoryReplayGuard,
    as_proofs: MemoryReplayGuard,
    as_dpop: DpopVerifier,
    server: ResourceServer,
    as_key: Arc<SigningKey>,
    tokens: AccessTokenIssuer,
    api: AccessTokenVerifier,
    api_proofs: MemoryReplayGuard,
    api_dpop: DpopVerifier,
}

impl World {
    fn new() -> Self {
        Self::with_config(|config| config)
    }

    fn with_config(config: impl FnOnce(ResourceServerConfig) -> ResourceServerConfig) -> Self {
        let idp_keys = SigningKeySet::new(es256(), vec![]).unwrap();
        let idp = IdentityProvider::new(IdpConfig::new(IDP), idp_keys.verification_keys().clone());
        let registry = MemoryConnections::new();
        registry.put_agent(Agent::new(CLIENT_AT_IDP));
        let mut connection = ManagedConnection::new(
            "aria-expenses",
            CLIENT_AT_IDP,
            AS_ISSUER,
            CLIENT_AT_AS,
            scope(SCOPE),
        );
        connection.allowed_resources = vec![API.to_owned()];
        registry.put_connection(connection);
        let directory = MemoryDirectory::new();
        directory.put(AS_ISSUER, DirectoryUser::new(USER));

        let issuers = TrustedIssuers::new();
        issuers.insert(TrustedIssuer::new(IDP, idp_keys.verification_keys().clone()));
        let subjects = MemorySubjects::new();
        let user = SubjectKey { issuer: IDP.into(), tenant: None, subject: USER.into() };
        subjects.link(user, ACCOUNT);
        let as_key = Arc::new(es256());
        let as_keys = KeySet::new(vec![as_key.verification_key().clone()]).unwrap();
        World {
            idp_keys,
            idp,
            registry,
            directory,
            idp_proofs: MemoryReplayGuard::new(10_000),
            idp_dpop: DpopVerifier::new(),
            issuers,
            subjects,
            replay: MemoryReplayGuard::new(10_000),
            as_proofs: MemoryReplayGuard::new(10_000),
            as_dpop: DpopVerifier::new(),
            server: ResourceServer::new(config(
                ResourceServerConfig::new(AS_ISSUER).with_served_resources([API]),
            )),
            tokens: AccessTokenIssuer::new(AS_ISSUER, as_key.clone(), 3600),
            as_key,
            api: AccessTokenVerifier::new(AS_ISSUER, API, as_keys),
            api_proofs: MemoryReplayGuard::new(10_000),
            api_dpop: DpopVerifier::new(),
        }
    }

    // --- the IdP ---------------------------------------------------------------------------

    fn idp_hosts<'a>(&'a self, tokens: &'a dyn HostTokens) -> ExchangeHosts<'a> {
        ExchangeHosts {
            registry: &self.registry,
            directory: &self.directory,
            tokens,
            signer: &self.idp_keys,
        }
    }

    /// User B's ID token, issued to Aria.
    fn id_token(&self) -> String {
        let claims = json!({
            "iss": IDP, "sub": USER, "aud": CLIENT_AT_IDP, "iat": NOW - 10, "exp": NOW + 600,
        });
        sign_compact(&self.idp_keys, Some("JWT"), claims.to_string().as_bytes()).unwrap()
    }

    fn exchange_request(&self) -> TokenExchangeRequest {
        TokenExchangeRequest::new(SubjectToken::IdToken(self.id_token()), AS_ISSUER)
            .resource(API)
            .scope(scope("expenses.read"))
    }

    fn idp_context<'a>(&'a self, proof: &'a str) -> DpopContext<'a> {
        DpopContext {
            proof,
            token_endpoint: IDP_TOKEN_ENDPOINT,
            verifier: &self.idp_dpop,
            replay: &self.idp_proofs,
        }
    }

    /// The token exchange at `when`, with the DPoP header `proof` when given.
    fn exchange_body_at(&self, body: &str, proof: Option<&str>, when: NumericDate) -> Exchange {
        let context = proof.map(|proof| self.idp_context(proof));
        let client = AuthenticatedClient::confidential(CLIENT_AT_IDP);
        self.idp.exchange_with_dpop(
            &self.idp_hosts(&IdTokensOnly),
            body.as_bytes(),
            context,
            &client,
            when,
        )
    }

    fn exchange_at(&self, proof: Option<&str>, when: NumericDate) -> Exchange {
        let body =
            self.exchange_request().to_http(&secret_basic(CLIENT_AT_IDP), when).unwrap().body;
        self.exchange_body_at(&body, proof, when)
    }

    fn exchange(&self, proof: Option<&str>) -> Exchange {
        self.exchange_at(proof, now())
    }

    #[track_caller]
    fn issue(&self, proof: Option<&str>) -> IssuedIdJag {
        match self.exchange(proof).outcome {
            Ok(exchanged) => exchanged.into_id_jag().expect("an ID-JAG"),
            Err(denial) => panic!("expected an ID-JAG, got {denial:?}"),
        }
    }

    // --- the resource AS ---------------------------------------------------------------------

    fn redeem_hosts(&self) -> RedeemHosts<'_> {
        RedeemHosts {
            issuers: &self.issuers,
            replay: &self.replay,
            subjects: &self.subjects,
            policy: &AllowAll,
        }
    }

    /// Claims of an ID-JAG for Aria at the resource AS, issued now for five minutes.
    fn claims(&self) -> IdJagClaimsBuilder {
        IdJagClaims::builder(RequiredClaims {
            issuer: IDP.into(),
            subject: USER.into(),
            audience: AS_ISSUER.into(),
            client_id: CLIENT_AT_AS.into(),
            jwt_id: fresh_jti(),
            issued_at: now(),
            expires_at: at(300),
        })
        .scope(scope(SCOPE))
    }

    /// Sign claims as the IdP does.
    fn mint(&self, claims: &IdJagClaims) -> String {
        sign_compact(&self.idp_keys, Some(urn::TYP_ID_JAG), claims.to_json().as_bytes()).unwrap()
    }

    fn mint_map(&self, claims: &Map<String, Value>) -> String {
        let payload = Value::Object(claims.clone()).to_string();
        sign_compact(&self.idp_keys, Some(urn::TYP_ID_JAG), payload.as_bytes()).unwrap()
    }

    /// An ID-JAG bound to `jkt`, or unbound.
    fn id_jag(&self, jkt: Option<&str>) -> String {
        let claims = match jkt {
            Some(jkt) => self.claims().cnf_jkt(jkt),
            None => self.claims(),
        };
        self.mint(&claims.build().unwrap())
    }

    fn as_context<'a>(&'a self, proof: &'a str) -> DpopContext<'a> {
        DpopContext {
            proof,
            token_endpoint: AS_TOKEN_ENDPOINT,
            verifier: &self.as_dpop,
            replay: &self.as_proofs,
        }
    }

    /// The jwt-bearer grant for `id_jag` with the DPoP header `proof`, at `when`.
    fn redeem_body_at(&self, body: &str, proof: Option<&str>, when: NumericDate) -> Redemption {
        let context = proof.map(|proof| self.as_context(proof));
        let client = AuthenticatedClient::confidential(CLIENT_AT_AS);
        self.server.redeem_with_dpop(&self.redeem_hosts(), body.as_bytes(), context, &client, when)
    }

    fn redeem_at(&self, id_jag: &str, proof: Option<&str>, when: NumericDate) -> Redemption {
        self.redeem_body_at(&bearer_body(id_jag), proof, when)
    }

    fn redeem(&self, id_jag: &str, proof: Option<&str>) -> Redemption {
        self.redeem_at(id_jag, proof, now())
    }

    /// Check the API call with `token` and the DPoP header `proof`.
    fn call_api(
        &self,
        token: &str,
        proof: Option<&str>,
    ) -> Result<VerifiedAccessToken, AccessTokenError> {
        self.call_api_with(token, proof, "GET", API_URL)
    }

    fn call_api_with(
        &self,
        token: &str,
        proof: Option<&str>,
        method: &str,
        uri: &str,
    ) -> Result<VerifiedAccessToken, AccessTokenError> {
        let needed = scope("expenses.read");
        self.api.verify_with_proof(
            token,
            Some(&needed),
            proof,
            method,
            uri,
            &self.api_dpop,
            &self.api_proofs,
            now(),
        )
    }
}

fn secret_basic(client_id: &str) -> ClientAuthentication {
    ClientAuthentication::SecretBasic {
        client_id: client_id.into(),
        client_secret: "s3cret".into(),
    }
}

/// A jwt-bearer form body as the client writes it.
fn bearer_body(id_jag: &str) -> String {
    JwtBearerGrantRequest::new(id_jag).to_http(&secret_basic(CLIENT_AT_AS), now()).unwrap().body
}

/// A jwt-dpop form body as the client writes it.
fn dpop_grant_body(id_jag: &str) -> String {
    JwtBearerGrantRequest::new(id_jag)
        .with_dpop_grant_type()
        .to_http(&secret_basic(CLIENT_AT_AS), now())
        .unwrap()
        .body
}

#[track_caller]
fn assert_denied(exchange: Exchange, reason: DenyReason, wire: WireError) -> Denial {
    let denial = match exchange.outcome {
        Ok(exchanged) => panic!("expected {reason:?}, got {:?}", exchanged.token_response()),
        Err(denial) => denial,
    };
    assert_eq!(denial.reason(), reason, "reason");
    assert_eq!(denial.wire_error(), wire, "wire error");
    assert_eq!(exchange.audit.event, AuditEvent::ExchangeDenied);
    assert_eq!(exchange.audit.reason, Some(reason.code()));
    assert_eq!(exchange.audit.wire_error, Some(wire.code()));
    denial
}

/// The IdP refusing a proof: `dpop_proof_invalid`, the proof's own reason as detail, and
/// `invalid_dpop_proof` on the wire.
#[track_caller]
fn assert_idp_proof_refused(exchange: Exchange, error: DpopError) {
    let denial = assert_denied(exchange, DenyReason::DpopProofInvalid(error), error.wire_error());
    assert_eq!(denial.reason().code(), "dpop_proof_invalid");
    assert_eq!(denial.reason().detail(), Some(error.reason()));
}

#[track_caller]
fn assert_rejected(redemption: Redemption, reason: RejectReason, wire: WireError) -> Rejection {
    let rejection = match redemption.outcome {
        Ok(grant) => panic!("expected {reason:?}, got a grant {grant:?}"),
        Err(rejection) => rejection,
    };
    assert_eq!(rejection.reason(), reason, "reason");
    assert_eq!(rejection.wire_error(), wire, "wire error");
    assert_eq!(redemption.audit.event, AuditEvent::IdJagRejected);
    assert_eq!(redemption.audit.reason, Some(reason.code()));
    assert_eq!(redemption.audit.wire_error, Some(wire.code()));
    rejection
}

#[track_caller]
fn assert_invalid_grant(redemption: Redemption, reason: RejectReason) -> Rejection {
    assert_rejected(redemption, reason, WireError::InvalidGrant)
}

#[track_caller]
fn assert_as_proof_refused(redemption: Redemption, error: DpopError) {
    assert_rejected(redemption, RejectReason::DpopProofInvalid(error), error.wire_error());
}

#[track_caller]
fn assert_granted(redemption: Redemption) -> Grant {
    assert_eq!(redemption.audit.event, AuditEvent::IdJagRedeemed);
    match redemption.outcome {
        Ok(grant) => grant,
        Err(rejection) => panic!("expected a grant, got {rejection} ({:?})", rejection.reason()),
    }
}

#[track_caller]
fn assert_api_refused(
    outcome: Result<VerifiedAccessToken, AccessTokenError>,
    expected: AccessTokenError,
) {
    match outcome {
        Ok(verified) => panic!("expected {expected:?}, got {verified:?}"),
        Err(error) => assert_eq!(error, expected),
    }
}

// ---------------------------------------------------------------------------------------------
// Proofs: what the library writes
// ---------------------------------------------------------------------------------------------

#[test]
fn proofs_of_every_algorithm_verify_and_name_their_key() {
    for algorithm in
        [Algorithm::Es256, Algorithm::Es384, Algorithm::Rs256, Algorithm::Ps256, Algorithm::EdDsa]
    {
        let key = new_key(algorithm);
        let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
        let verified = assert_proof_ok(check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()));
        assert_eq!(verified.jkt(), key.verification_key().thumbprint(), "{algorithm:?}");
        assert_eq!(verified.jwt_id(), segment(&made, 1)["jti"].as_str().unwrap());
        assert_eq!(verified.issued_at(), now());
    }
}

#[test]
fn the_header_is_typed_and_carries_the_public_key_only() {
    // A key with a kid: the proof still names its key by the jwk alone.
    let jwk = generate_private_jwk(Algorithm::Es256, Some("client-key-1")).unwrap();
    let key = SigningKey::from_jwk(Value::Object(jwk).to_string().as_bytes(), None).unwrap();
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());

    let header = segment(&made, 0);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header.get("kid").is_none(), "no kid in the header: {header}");
    let jwk = header["jwk"].as_object().expect("a jwk object");
    assert!(jwk.get("kid").is_none(), "no kid in the jwk: {header}");
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(jwk.get(private).is_none(), "{private} in the jwk");
    }
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    for member in ["jku", "x5c", "x5u"] {
        assert!(header.get(member).is_none());
    }

    // An RSA and an Ed25519 key too.
    for algorithm in [Algorithm::Rs256, Algorithm::EdDsa] {
        let header = segment(&proof(&new_key(algorithm), "POST", AS_TOKEN_ENDPOINT, now()), 0);
        let jwk = header["jwk"].as_object().unwrap();
        assert!(jwk.get("d").is_none() && jwk.get("kid").is_none(), "{algorithm:?}: {header}");
    }
}

#[test]
fn the_claims_are_those_of_rfc_9449() {
    let key = es256();
    let made = proof(&key, "POST", "https://as.example/token?x=1#frag", now());
    let claims = segment(&made, 1);
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "https://as.example/token", "htu without query and fragment");
    assert_eq!(claims["iat"], NOW);
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16), "{claims}");
    assert!(claims.get("ath").is_none() && claims.get("nonce").is_none());

    // A fresh jti for each proof.
    let again = proof(&key, "POST", "https://as.example/token", now());
    assert_ne!(segment(&again, 1)["jti"], claims["jti"]);

    // ath and nonce when asked for.
    let with_both = DpopProof::new("GET", API_URL)
        .with_access_token("an-access-token")
        .with_nonce("server-nonce-1")
        .sign(&key, now())
        .unwrap();
    let claims = segment(&with_both, 1);
    assert_eq!(claims["ath"], access_token_hash("an-access-token"));
    assert_eq!(claims["nonce"], "server-nonce-1");
}

#[test]
fn rfc_9449_examples_verify() {
    // §4.1: the proof of a token request, and its key's thumbprint (§6.1).
    let when = NumericDate::from_unix_seconds(RFC_IAT).unwrap();
    let verified =
        assert_proof_ok(check(RFC_PROOF, "POST", "https://server.example.com/token", None, when));
    assert_eq!(verified.jkt(), RFC_JKT);
    assert_eq!(verified.jwt_id(), "-BwC3ESc6acc2lTc");

    // §7.1: the proof of a resource request, with ath of the access token.
    assert_eq!(access_token_hash(RFC_TOKEN), RFC_ATH);
    let when = NumericDate::from_unix_seconds(RFC_IAT + 2).unwrap();
    let resource = "https://resource.example.org/protectedresource";
    let verified =
        assert_proof_ok(check(RFC_RESOURCE_PROOF, "GET", resource, Some(RFC_TOKEN), when));
    assert_eq!(verified.jkt(), RFC_JKT);
    assert_proof_refused(
        check(RFC_RESOURCE_PROOF, "GET", resource, Some("another-token"), when),
        DpopError::AthMismatch,
    );
}

// ---------------------------------------------------------------------------------------------
// Proofs: the header
// ---------------------------------------------------------------------------------------------

#[test]
fn a_proof_of_another_type_is_refused() {
    let key = es256();
    let claims = proof_claims("POST", AS_TOKEN_ENDPOINT);
    for typ in [json!("JWT"), json!("at+jwt"), json!("oauth-id-jag+jwt"), Value::Null] {
        let made = hand_proof(&key, &edit(proof_header(&key), "typ", typ.clone()), &claims);
        assert_proof_refused(
            check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
            DpopError::TypMismatch,
        );
    }
    // The media type's full form names the same type (RFC 7515 §4.1.9).
    let made = hand_proof(
        &key,
        &edit(proof_header(&key), "typ", json!("application/dpop+jwt")),
        &proof_claims("POST", AS_TOKEN_ENDPOINT),
    );
    assert_proof_ok(check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()));
}

#[test]
fn a_proof_without_its_key_is_refused() {
    let key = es256();
    let made = hand_proof(
        &key,
        &edit(proof_header(&key), "jwk", Value::Null),
        &proof_claims("POST", AS_TOKEN_ENDPOINT),
    );
    assert_proof_refused(
        check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
        DpopError::MissingJwk,
    );

    // A jwk that is not an object.
    let made = hand_proof(
        &key,
        &edit(proof_header(&key), "jwk", json!("not-a-key")),
        &proof_claims("POST", AS_TOKEN_ENDPOINT),
    );
    assert_proof_refused(
        check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
        DpopError::Jose(JoseError::HeaderMemberType("jwk")),
    );
}

#[test]
fn a_proof_carrying_a_private_key_is_refused() {
    let private = generate_private_jwk(Algorithm::Es256, None).unwrap();
    let key =
        SigningKey::from_jwk(Value::Object(private.clone()).to_string().as_bytes(), None).unwrap();
    let header = edit(proof_header(&key), "jwk", Value::Object(private));
    let made = hand_proof(&key, &header, &proof_claims("POST", AS_TOKEN_ENDPOINT));
    assert_proof_refused(
        check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
        DpopError::InvalidJwk(KeyError::PrivateMembers),
    );
}

#[test]
fn an_unacceptable_jwk_is_refused() {
    let key = es256();
    let claims = proof_claims("POST", AS_TOKEN_ENDPOINT);
    // A symmetric key.
    let header = edit(proof_header(&key), "jwk", json!({"kty": "oct", "k": "c2VjcmV0"}));
    assert_proof_refused(
        check(&hand_proof(&key, &header, &claims), "POST", AS_TOKEN_ENDPOINT, None, now()),
        DpopError::InvalidJwk(KeyError::SymmetricKey),
    );
    // A P-256 key under an ES384 header: the key does not fit the algorithm.
    let es384 = new_key(Algorithm::Es384);
    let header = edit(proof_header(&es384), "jwk", public_jwk(&key));
    let made = hand_proof(&es384, &header, &proof_claims("POST", AS_TOKEN_ENDPOINT));
    let refused = check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()).unwrap_err();
    assert!(matches!(refused, DpopError::InvalidJwk(_)), "{refused:?}");
    assert_eq!(refused.reason(), "dpop_jwk_invalid");
}

#[test]
fn keys_named_by_reference_are_refused() {
    let key = es256();
    for (member, value) in [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIBszCCAVmgAwIBAgIUQ"])),
    ] {
        let header = edit(proof_header(&key), member, value);
        let made = hand_proof(&key, &header, &proof_claims("POST", AS_TOKEN_ENDPOINT));
        assert_proof_refused(
            check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
            DpopError::Jose(JoseError::EmbeddedKey),
        );
    }
}

#[test]
fn symmetric_and_unsigned_algorithms_are_refused() {
    let key = es256();
    let claims = proof_claims("POST", AS_TOKEN_ENDPOINT);
    for alg in ["none", "HS256", "ES256K", "RS1"] {
        let header = edit(proof_header(&key), "alg", json!(alg));
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        for signature in ["", "c2lnbmF0dXJl"] {
            let made = format!("{input}.{signature}");
            assert_proof_refused(
                check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
                DpopError::Jose(JoseError::AlgorithmUnsupported),
            );
        }
    }
}

#[test]
fn an_algorithm_outside_the_allow_list_is_refused() {
    let verifier = DpopVerifier::new().with_algorithms(AlgorithmSet::only(&[Algorithm::Es256]));
    let guard = MemoryReplayGuard::new(100);
    for algorithm in [Algorithm::Rs256, Algorithm::EdDsa, Algorithm::Es384] {
        let made = proof(&new_key(algorithm), "POST", AS_TOKEN_ENDPOINT, now());
        assert_proof_refused(
            verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard),
            DpopError::Jose(JoseError::AlgorithmNotAllowed),
        );
    }
    let made = proof(&es256(), "POST", AS_TOKEN_ENDPOINT, now());
    assert_proof_ok(verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard));
}

#[test]
fn a_signature_by_another_key_than_the_jwk_is_refused() {
    for algorithm in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let named = new_key(algorithm);
        let signer = new_key(algorithm);
        let made =
            hand_proof(&signer, &proof_header(&named), &proof_claims("POST", AS_TOKEN_ENDPOINT));
        assert_proof_refused(
            check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
            DpopError::Jose(JoseError::SignatureInvalid),
        );
    }

    // A valid proof with its payload swapped: the signature no longer covers it.
    let key = es256();
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    let other = proof(&key, "POST", IDP_TOKEN_ENDPOINT, now());
    let parts: Vec<&str> = made.split('.').collect();
    let swapped = format!("{}.{}.{}", parts[0], other.split('.').nth(1).unwrap(), parts[2]);
    assert_proof_refused(
        check(&swapped, "POST", IDP_TOKEN_ENDPOINT, None, now()),
        DpopError::Jose(JoseError::SignatureInvalid),
    );
}

#[test]
fn malformed_proofs_are_refused_as_jose_errors() {
    for (text, error) in [
        ("", JoseError::SegmentCount),
        ("a.b", JoseError::SegmentCount),
        ("a.b.c.d", JoseError::SegmentCount),
        ("e30=.e30.e30", JoseError::Base64),
    ] {
        let refused = check(text, "POST", AS_TOKEN_ENDPOINT, None, now()).unwrap_err();
        assert_eq!(refused, DpopError::Jose(error), "{text:?}");
        assert_eq!(refused.wire_error(), WireError::InvalidDpopProof);
    }
    // Over the 8 KiB cap.
    let long = format!("{}.e30.e30", "a".repeat(9_000));
    assert_proof_refused(
        check(&long, "POST", AS_TOKEN_ENDPOINT, None, now()),
        DpopError::Jose(JoseError::TooLarge),
    );
}

/// The verifier remembers the header of a verified proof by its exact text; a later proof with
/// that header skips the header parse, and every other rule must still hold on that path.
#[test]
fn a_header_seen_before_still_gets_every_other_check() {
    for algorithm in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let verifier = DpopVerifier::new();
        let guard = MemoryReplayGuard::new(100);
        let key = new_key(algorithm);
        let verify =
            |proof: &str, uri: &str| verifier.verify(proof, "POST", uri, None, now(), &guard);
        let first = assert_proof_ok(verify(
            &proof(&key, "POST", AS_TOKEN_ENDPOINT, now()),
            AS_TOKEN_ENDPOINT,
        ));
        let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
        let header = made.split('.').next().unwrap().to_owned();
        assert_eq!(header, first_header(&key), "the library writes one header per key");
        let second = assert_proof_ok(verify(&made, AS_TOKEN_ENDPOINT));
        assert_eq!(second.jkt(), first.jkt());
        assert_eq!(second.jkt(), thumbprint(&key));

        // Replayed, other method, other URI: the claims are checked as ever.
        assert_proof_refused(verify(&made, AS_TOKEN_ENDPOINT), DpopError::Replayed);
        let other_uri = proof(&key, "POST", IDP_TOKEN_ENDPOINT, now());
        assert_proof_refused(verify(&other_uri, AS_TOKEN_ENDPOINT), DpopError::HtuMismatch);

        // The signature is checked: another key's signature under this header, and a payload
        // the signature does not cover.
        let intruder = new_key(algorithm);
        let input =
            format!("{header}.{}", b64(proof_claims("POST", AS_TOKEN_ENDPOINT).to_string()));
        let forged = format!("{input}.{}", b64(intruder.sign(input.as_bytes()).unwrap()));
        assert_proof_refused(
            verify(&forged, AS_TOKEN_ENDPOINT),
            DpopError::Jose(JoseError::SignatureInvalid),
        );
        let fresh = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
        let parts: Vec<&str> = fresh.split('.').collect();
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            b64(proof_claims("POST", AS_TOKEN_ENDPOINT).to_string()),
            parts[2]
        );
        assert_proof_refused(
            verify(&swapped, AS_TOKEN_ENDPOINT),
            DpopError::Jose(JoseError::SignatureInvalid),
        );

        // Structure, size and signature length, in the order of a full parse.
        let cases = [
            (format!("{header}.{}", parts[1]), JoseError::SegmentCount),
            (format!("{header}.{}.{}.x", parts[1], parts[2]), JoseError::SegmentCount),
            (format!("{header}.e30=.{}", parts[2]), JoseError::Base64),
            (format!("{header}.{}.{}=", parts[1], parts[2]), JoseError::Base64),
            (format!("{header}.{}.{}", "a".repeat(9_000), parts[2]), JoseError::TooLarge),
        ];
        for (text, error) in cases {
            assert_proof_refused(verify(&text, AS_TOKEN_ENDPOINT), DpopError::Jose(error));
        }
        let short = format!("{}.{}.{}", parts[0], parts[1], b64([7u8; 10]));
        // RS256 has no fixed length, but the key's modulus fixes it.
        assert_proof_refused(
            verify(&short, AS_TOKEN_ENDPOINT),
            DpopError::Jose(JoseError::SignatureLength),
        );

        // A clone shares what it has seen, but its own allow-list still decides.
        let others: Vec<Algorithm> = [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa]
            .into_iter()
            .filter(|other| *other != algorithm)
            .collect();
        let narrow = verifier.clone().with_algorithms(AlgorithmSet::only(&others));
        let again = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
        assert_proof_refused(
            narrow.verify(&again, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard),
            DpopError::Jose(JoseError::AlgorithmNotAllowed),
        );
        assert_proof_ok(verify(&again, AS_TOKEN_ENDPOINT));
    }
}

/// The header segment the library writes for `key`'s proofs.
fn first_header(key: &SigningKey) -> String {
    proof(key, "POST", AS_TOKEN_ENDPOINT, now()).split('.').next().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Proofs: the request (htm, htu)
// ---------------------------------------------------------------------------------------------

#[test]
fn the_method_must_match() {
    let key = es256();
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    for method in ["GET", "PUT", "post", "POST "] {
        assert_proof_refused(
            check(&made, method, AS_TOKEN_ENDPOINT, None, now()),
            DpopError::HtmMismatch,
        );
    }
    assert_proof_ok(check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()));
}

#[test]
fn the_target_uri_must_match() {
    let key = es256();
    let made = proof(&key, "POST", "https://as.expenses.example/oauth2/token", now());
    for other in [
        "https://as.other.example/oauth2/token",
        "https://evil.as.expenses.example/oauth2/token",
        "https://as.expenses.example/oauth2/authorize",
        "https://as.expenses.example/oauth2/token/",
        "https://as.expenses.example/OAUTH2/token",
        "http://as.expenses.example/oauth2/token",
        "https://as.expenses.example:8443/oauth2/token",
        "https://user@as.expenses.example/oauth2/token",
        "/oauth2/token",
        "not a uri",
    ] {
        assert_proof_refused(check(&made, "POST", other, None, now()), DpopError::HtuMismatch);
    }
}

#[test]
fn the_target_uri_is_compared_after_normalisation() {
    let key = es256();
    let made = proof(&key, "POST", "https://as.expenses.example/oauth2/token", now());
    for same in [
        "https://as.expenses.example/oauth2/token",
        "https://AS.Expenses.Example/oauth2/token",
        "HTTPS://as.expenses.example/oauth2/token",
        "https://as.expenses.example:443/oauth2/token",
        "https://as.expenses.example/oauth2/./token",
        "https://as.expenses.example/oauth2/token?client=aria",
        "https://as.expenses.example/oauth2/token#fragment",
        "https://as.expenses.example/oauth2/token?a=1&b=2#f",
    ] {
        // A fresh guard each time: the same proof, checked once per request form.
        assert_proof_ok(check(&made, "POST", same, None, now()));
    }

    // And the proof's own htu, written in another form.
    for htu in [
        "https://AS.EXPENSES.EXAMPLE:443/oauth2/token",
        "https://as.expenses.example/oauth2/token?ignored=1",
        "https://as.expenses.example/oauth2/token#ignored",
    ] {
        let made = hand_proof(&key, &proof_header(&key), &proof_claims("POST", htu));
        assert_proof_ok(check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()));
    }

    // An http URI's default port is 80.
    let plain = proof(&key, "GET", "http://localhost/api", now());
    assert_proof_ok(check(&plain, "GET", "http://localhost:80/api", None, now()));
}

// ---------------------------------------------------------------------------------------------
// Proofs: time and replay
// ---------------------------------------------------------------------------------------------

#[test]
fn a_proof_is_good_for_60_seconds_and_5_seconds_early() {
    let key = es256();
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    // Boundaries: 60 seconds old is still fresh, 61 is stale.
    assert_proof_ok(check(&made, "POST", AS_TOKEN_ENDPOINT, None, at(60)));
    assert_proof_refused(
        check(&made, "POST", AS_TOKEN_ENDPOINT, None, at(61)),
        DpopError::IatOutOfWindow,
    );
    assert_proof_refused(
        check(&made, "POST", AS_TOKEN_ENDPOINT, None, at(3_600)),
        DpopError::IatOutOfWindow,
    );
    // 5 seconds ahead of the server's clock is tolerated, 6 is not.
    assert_proof_ok(check(&made, "POST", AS_TOKEN_ENDPOINT, None, at(-5)));
    assert_proof_refused(
        check(&made, "POST", AS_TOKEN_ENDPOINT, None, at(-6)),
        DpopError::IatOutOfWindow,
    );
    assert_proof_refused(
        check(&made, "POST", AS_TOKEN_ENDPOINT, None, at(-3_600)),
        DpopError::IatOutOfWindow,
    );
}

#[test]
fn the_window_is_configurable() {
    let verifier = DpopVerifier::new().with_window(10, 0);
    let made = proof(&es256(), "POST", AS_TOKEN_ENDPOINT, now());
    let verify = |when| {
        let guard = MemoryReplayGuard::new(10);
        verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, when, &guard)
    };
    assert_proof_ok(verify(at(10)));
    assert_proof_refused(verify(at(11)), DpopError::IatOutOfWindow);
    assert_proof_ok(verify(now()));
    assert_proof_refused(verify(at(-1)), DpopError::IatOutOfWindow);
}

#[test]
fn a_proof_is_used_once() {
    let key = es256();
    let guard = MemoryReplayGuard::new(1_000);
    let verifier = DpopVerifier::new();
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_proof_ok(verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard));
    assert_proof_refused(
        verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard),
        DpopError::Replayed,
    );
    // Still a replay at the edge of the window, and stale after it.
    assert_proof_refused(
        verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, at(60), &guard),
        DpopError::Replayed,
    );
    assert_proof_refused(
        verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, at(61), &guard),
        DpopError::IatOutOfWindow,
    );

    // Another proof with the same jti by the same key, for another request: the jti is spent.
    let jti = segment(&made, 1)["jti"].clone();
    let claims = edit(proof_claims("POST", IDP_TOKEN_ENDPOINT), "jti", jti.clone());
    let same_jti = hand_proof(&key, &proof_header(&key), &claims);
    assert_proof_refused(
        verifier.verify(&same_jti, "POST", IDP_TOKEN_ENDPOINT, None, now(), &guard),
        DpopError::Replayed,
    );

    // The same jti from another key is another proof.
    let other = es256();
    let claims = edit(proof_claims("POST", AS_TOKEN_ENDPOINT), "jti", jti);
    let theirs = hand_proof(&other, &proof_header(&other), &claims);
    let verified =
        assert_proof_ok(verifier.verify(&theirs, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard));
    assert_eq!(verified.jkt(), other.verification_key().thumbprint());
}

#[test]
fn a_proof_refused_before_the_replay_check_does_not_spend_its_jti() {
    let key = es256();
    let guard = MemoryReplayGuard::new(1_000);
    let verifier = DpopVerifier::new();
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_proof_refused(
        verifier.verify(&made, "POST", IDP_TOKEN_ENDPOINT, None, now(), &guard),
        DpopError::HtuMismatch,
    );
    assert!(guard.is_empty());
    assert_proof_ok(verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard));
}

/// A proof is accepted until `iat + max_age` inclusive, so its replay record must outlive that
/// second: with no leeway, a replay at exactly `iat + max_age` must still be refused.
#[test]
fn a_replay_at_the_last_second_of_the_window_is_refused_without_leeway() {
    let key = es256();
    let guard = MemoryReplayGuard::new(1_000);
    let verifier = DpopVerifier::new().with_window(60, 0);
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_proof_ok(verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard));
    assert_proof_refused(
        verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, at(59), &guard),
        DpopError::Replayed,
    );
    assert_proof_refused(
        verifier.verify(&made, "POST", AS_TOKEN_ENDPOINT, None, at(60), &guard),
        DpopError::Replayed,
    );
}

#[test]
fn the_replay_record_is_kept_while_the_proof_is_acceptable() {
    let key = es256();
    let guard = RecordingGuard::default();
    let made = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    let verified = assert_proof_ok(DpopVerifier::new().verify(
        &made,
        "POST",
        AS_TOKEN_ENDPOINT,
        None,
        now(),
        &guard,
    ));
    let calls = guard.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (scope, jti, keep_until) = &calls[0];
    // Keyed by the proof key, so that another key's jti is another record.
    assert!(scope.contains(verified.jkt()), "{scope}");
    assert_eq!(jti, verified.jwt_id());
    // Accepted up to iat + 60 (inclusive): the record must live beyond that second.
    assert!(*keep_until > NOW + 60, "{keep_until}");
}

#[test]
fn a_failing_replay_store_refuses_the_proof() {
    for failure in [ReplayError::Unavailable, ReplayError::Full] {
        let made = proof(&es256(), "POST", AS_TOKEN_ENDPOINT, now());
        assert_proof_refused(
            DpopVerifier::new().verify(
                &made,
                "POST",
                AS_TOKEN_ENDPOINT,
                None,
                now(),
                &FailingGuard(failure),
            ),
            DpopError::ReplayStore,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Proofs: ath, nonce, claims
// ---------------------------------------------------------------------------------------------

#[test]
fn ath_binds_the_proof_to_the_access_token() {
    let key = es256();
    let token = "access-token-1";
    let with_ath = api_proof(&key, token, now());
    assert_proof_ok(check(&with_ath, "GET", API_URL, Some(token), now()));
    assert_proof_refused(
        check(&with_ath, "GET", API_URL, Some("access-token-2"), now()),
        DpopError::AthMismatch,
    );

    // No ath, an empty one, or a hash of something else.
    let without = proof(&key, "GET", API_URL, now());
    assert_proof_refused(
        check(&without, "GET", API_URL, Some(token), now()),
        DpopError::AthMismatch,
    );
    for ath in [json!(""), json!(access_token_hash("other")), json!(token), json!(42)] {
        let claims = edit(proof_claims("GET", API_URL), "ath", ath);
        let made = hand_proof(&key, &proof_header(&key), &claims);
        assert_proof_refused(
            check(&made, "GET", API_URL, Some(token), now()),
            DpopError::AthMismatch,
        );
    }

    // At a token endpoint no access token is presented, and ath is not looked at.
    assert_proof_ok(check(&with_ath, "GET", API_URL, None, now()));
}

#[test]
fn a_required_nonce_must_be_echoed() {
    let key = es256();
    let verifier = DpopVerifier::new().with_nonce("nonce-2026");
    let guard = MemoryReplayGuard::new(100);
    let verify = |made: &str| verifier.verify(made, "POST", AS_TOKEN_ENDPOINT, None, now(), &guard);

    // RFC 9449 §8: the header that tells the client which nonce to use.
    assert_eq!(verifier.nonce(), Some("nonce-2026"));
    assert_eq!(verifier.nonce_header(), Some(("DPoP-Nonce", "nonce-2026")));
    assert_eq!(DpopVerifier::new().nonce_header(), None);

    let missing = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_proof_refused(verify(&missing), DpopError::NonceMismatch);
    assert_eq!(DpopError::NonceMismatch.wire_error(), WireError::UseDpopNonce);
    assert_eq!(DpopError::NonceMismatch.wire_error().code(), "use_dpop_nonce");

    for wrong in ["nonce-2025", "", "NONCE-2026"] {
        let made =
            DpopProof::new("POST", AS_TOKEN_ENDPOINT).with_nonce(wrong).sign(&key, now()).unwrap();
        assert_proof_refused(verify(&made), DpopError::NonceMismatch);
    }
    let claims = edit(proof_claims("POST", AS_TOKEN_ENDPOINT), "nonce", json!(2026));
    assert_proof_refused(
        verify(&hand_proof(&key, &proof_header(&key), &claims)),
        DpopError::NonceMismatch,
    );

    let right = DpopProof::new("POST", AS_TOKEN_ENDPOINT)
        .with_nonce("nonce-2026")
        .sign(&key, now())
        .unwrap();
    assert_proof_ok(verify(&right));

    // Without a required nonce, one sent anyway is harmless.
    let extra =
        DpopProof::new("POST", AS_TOKEN_ENDPOINT).with_nonce("x").sign(&key, now()).unwrap();
    assert_proof_ok(check(&extra, "POST", AS_TOKEN_ENDPOINT, None, now()));
}

#[test]
fn required_claims_are_named_when_missing_or_invalid() {
    let key = es256();
    for name in ["jti", "htm", "htu", "iat"] {
        let claims = edit(proof_claims("POST", AS_TOKEN_ENDPOINT), name, Value::Null);
        let made = hand_proof(&key, &proof_header(&key), &claims);
        assert_proof_refused(
            check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
            DpopError::InvalidClaim(name),
        );
    }
    for (name, bad) in [
        ("jti", json!("")),
        ("jti", json!(17)),
        ("htm", json!(["POST"])),
        ("htu", json!("")),
        ("htu", json!({"uri": AS_TOKEN_ENDPOINT})),
        ("iat", json!("1764000000")),
        ("iat", json!(-1)),
        ("iat", json!(null)),
    ] {
        let mut claims = proof_claims("POST", AS_TOKEN_ENDPOINT);
        claims[name] = bad.clone();
        let made = hand_proof(&key, &proof_header(&key), &claims);
        assert_proof_refused(
            check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
            DpopError::InvalidClaim(name),
        );
    }
    // A payload that is not a JSON object.
    for payload in ["[]", "\"POST\"", "{\"jti\":\"a\",\"jti\":\"b\"}", "not json"] {
        let input = format!("{}.{}", b64(proof_header(&key).to_string()), b64(payload));
        let made = format!("{input}.{}", b64(key.sign(input.as_bytes()).unwrap()));
        assert_proof_refused(
            check(&made, "POST", AS_TOKEN_ENDPOINT, None, now()),
            DpopError::InvalidClaim("payload"),
        );
    }
}

#[test]
fn reasons_and_wire_errors() {
    let cases = [
        (DpopError::Jose(JoseError::SignatureInvalid), "jws_signature_invalid"),
        (DpopError::TypMismatch, "dpop_typ_mismatch"),
        (DpopError::MissingJwk, "dpop_jwk_missing"),
        (DpopError::InvalidJwk(KeyError::PrivateMembers), "dpop_jwk_invalid"),
        (DpopError::InvalidClaim("jti"), "dpop_claim_invalid"),
        (DpopError::HtmMismatch, "dpop_htm_mismatch"),
        (DpopError::HtuMismatch, "dpop_htu_mismatch"),
        (DpopError::IatOutOfWindow, "dpop_iat_out_of_window"),
        (DpopError::AthMismatch, "dpop_ath_mismatch"),
        (DpopError::NonceMismatch, "dpop_nonce_mismatch"),
        (DpopError::Replayed, "dpop_replayed"),
        (DpopError::ReplayStore, "dpop_replay_store"),
    ];
    for (error, reason) in cases {
        assert_eq!(error.reason(), reason);
        // The store failing is the server's trouble: server_error, failing closed.
        let wire = match error {
            DpopError::NonceMismatch => "use_dpop_nonce",
            DpopError::ReplayStore => "server_error",
            _ => "invalid_dpop_proof",
        };
        assert_eq!(error.wire_error().code(), wire, "{error:?}");
        // Through the IdP's and the resource AS's reasons, the same wire error.
        assert_eq!(DenyReason::DpopProofInvalid(error).wire_error().code(), wire);
        assert_eq!(RejectReason::DpopProofInvalid(error).wire_error().code(), wire);
        assert_eq!(RejectReason::DpopProofInvalid(error).code(), reason);
    }
    assert_eq!(RejectReason::DpopProofMissing.code(), "dpop_proof_missing");
    assert_eq!(RejectReason::DpopKeyMismatch.code(), "dpop_key_mismatch");
    assert_eq!(RejectReason::SenderConstraintRequired.code(), "sender_constraint_required");
    assert_eq!(RejectReason::ConfirmationUnsupported.code(), "cnf_unsupported");
    for reason in [
        RejectReason::DpopProofMissing,
        RejectReason::DpopKeyMismatch,
        RejectReason::SenderConstraintRequired,
        RejectReason::ConfirmationUnsupported,
    ] {
        assert_eq!(reason.wire_error(), WireError::InvalidGrant, "{reason:?}");
    }
    assert_eq!(AccessTokenError::DpopProofMissing.reason(), "at_dpop_proof_missing");
    assert_eq!(AccessTokenError::DpopKeyMismatch.reason(), "at_dpop_key_mismatch");
    assert_eq!(
        AccessTokenError::DpopProofInvalid(DpopError::AthMismatch).reason(),
        "dpop_ath_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// The IdP (SPEC leg 1 step 6)
// ---------------------------------------------------------------------------------------------

#[test]
fn idp_binds_the_id_jag_to_the_proof_key() {
    let world = World::new();
    let client_key = es256();
    let made = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now());
    let exchange = world.exchange(Some(&made));
    assert_eq!(exchange.audit.event, AuditEvent::IdJagIssued);
    let issued = exchange.outcome.unwrap().into_id_jag().unwrap();

    let cnf = issued.claims().confirmation().expect("cnf");
    assert_eq!(cnf.jkt.as_deref(), Some(thumbprint(&client_key).as_str()));
    // On the wire: the signed ID-JAG says so, and its response is still the RFC 8693 one.
    let payload = segment(issued.token(), 1);
    assert_eq!(payload["cnf"], json!({ "jkt": thumbprint(&client_key) }));
    let response: Value = serde_json::from_str(&issued.token_response().to_json()).unwrap();
    assert_eq!(response["token_type"], "N_A");
    assert_eq!(response["issued_token_type"], urn::TOKEN_TYPE_ID_JAG);

    // Each key gets its own binding.
    for algorithm in [Algorithm::Rs256, Algorithm::EdDsa] {
        let other = new_key(algorithm);
        let issued = world.issue(Some(&proof(&other, "POST", IDP_TOKEN_ENDPOINT, now())));
        let jkt = issued.claims().confirmation().and_then(|cnf| cnf.jkt.clone());
        assert_eq!(jkt.as_deref(), Some(other.verification_key().thumbprint()));
    }
}

#[test]
fn idp_without_a_proof_issues_no_cnf() {
    let world = World::new();
    let issued = world.issue(None);
    assert!(issued.claims().confirmation().is_none());
    assert!(segment(issued.token(), 1).get("cnf").is_none());

    // The plain exchange is the same as exchange_with_dpop without a proof.
    let body = world.exchange_request().to_http(&secret_basic(CLIENT_AT_IDP), now()).unwrap().body;
    let plain = world.idp.exchange(
        &world.idp_hosts(&IdTokensOnly),
        body.as_bytes(),
        &AuthenticatedClient::confidential(CLIENT_AT_IDP),
        now(),
    );
    let issued = plain.outcome.unwrap().into_id_jag().unwrap();
    assert!(issued.claims().confirmation().is_none());
}

#[test]
fn idp_refuses_an_invalid_proof() {
    let world = World::new();
    let client_key = es256();

    // A proof for another endpoint (the resource AS's), another method, another key's signature.
    let for_as = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_idp_proof_refused(world.exchange(Some(&for_as)), DpopError::HtuMismatch);
    let get = proof(&client_key, "GET", IDP_TOKEN_ENDPOINT, now());
    assert_idp_proof_refused(world.exchange(Some(&get)), DpopError::HtmMismatch);
    let forged =
        hand_proof(&es256(), &proof_header(&client_key), &proof_claims("POST", IDP_TOKEN_ENDPOINT));
    assert_idp_proof_refused(
        world.exchange(Some(&forged)),
        DpopError::Jose(JoseError::SignatureInvalid),
    );
    assert_idp_proof_refused(
        world.exchange(Some("not-a-proof")),
        DpopError::Jose(JoseError::SegmentCount),
    );

    // Stale, and from the future.
    let stale = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, at(-61));
    assert_idp_proof_refused(world.exchange(Some(&stale)), DpopError::IatOutOfWindow);
    let early = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, at(6));
    assert_idp_proof_refused(world.exchange(Some(&early)), DpopError::IatOutOfWindow);

    // Replayed: the first exchange binds, the second use of the same proof is refused.
    let once = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now());
    assert!(world.exchange(Some(&once)).outcome.is_ok());
    assert_idp_proof_refused(world.exchange(Some(&once)), DpopError::Replayed);
}

#[test]
fn idp_asks_for_a_nonce_with_use_dpop_nonce() {
    let mut world = World::new();
    world.idp_dpop = DpopVerifier::new().with_nonce("idp-nonce-1");
    let client_key = es256();
    let without = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now());
    let exchange = world.exchange(Some(&without));
    assert_denied(
        exchange,
        DenyReason::DpopProofInvalid(DpopError::NonceMismatch),
        WireError::UseDpopNonce,
    );
    let with = DpopProof::new("POST", IDP_TOKEN_ENDPOINT)
        .with_nonce("idp-nonce-1")
        .sign(&client_key, now())
        .unwrap();
    assert!(world.exchange(Some(&with)).outcome.is_ok());
}

#[test]
fn idp_policy_still_decides_with_a_valid_proof() {
    let world = World::new();
    assert!(world.directory.set_suspended(USER, true));
    let made = proof(&es256(), "POST", IDP_TOKEN_ENDPOINT, now());
    assert_denied(world.exchange(Some(&made)), DenyReason::UserSuspended, WireError::InvalidGrant);
}

/// SAML path (draft §4.5): the exchange for an IdP refresh token.
struct SamlTokens;

impl HostTokens for SamlTokens {
    fn validate_saml_assertion(
        &self,
        assertion: &str,
        _client: &AuthenticatedClient,
        _now: NumericDate,
    ) -> Option<ValidatedSubject> {
        (assertion == "saml-assertion").then(|| ValidatedSubject::new(USER, CLIENT_AT_IDP))
    }

    fn mint_refresh_token(
        &self,
        _subject: &ValidatedSubject,
        _client: &AuthenticatedClient,
        scope: Option<&Scope>,
    ) -> Option<MintedRefreshToken> {
        let token = "idp-refresh-token".to_owned();
        Some(MintedRefreshToken { token, expires_in: Some(86_400), scope: scope.cloned() })
    }
}

/// RFC 9449 §5: whatever the grant, an invalid proof at the token endpoint is answered with
/// `invalid_dpop_proof`; `exchange_with_dpop` says "an invalid one refuses the exchange".
#[test]
fn idp_refuses_an_invalid_proof_on_the_saml_path_too() {
    let world = World::new();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE)
        .append_pair("requested_token_type", urn::TOKEN_TYPE_REFRESH_TOKEN)
        .append_pair("subject_token", "saml-assertion")
        .append_pair("subject_token_type", urn::TOKEN_TYPE_SAML2)
        .append_pair("scope", "openid offline_access")
        .finish();
    let client = AuthenticatedClient::confidential(CLIENT_AT_IDP);
    let exchange = |proof: Option<&str>| {
        let context = proof.map(|proof| world.idp_context(proof));
        world.idp.exchange_with_dpop(
            &world.idp_hosts(&SamlTokens),
            form.as_bytes(),
            context,
            &client,
            now(),
        )
    };
    // Without a proof the SAML path works.
    assert!(exchange(None).outcome.is_ok());
    // With a proof for another endpoint it must not.
    let wrong = proof(&es256(), "POST", AS_TOKEN_ENDPOINT, now());
    assert_idp_proof_refused(exchange(Some(&wrong)), DpopError::HtuMismatch);
}

// ---------------------------------------------------------------------------------------------
// The resource AS (SPEC leg 2 step 9)
// ---------------------------------------------------------------------------------------------

#[test]
fn bound_and_proven_with_the_same_key_is_granted_and_bound() {
    let world = World::new();
    let client_key = es256();
    let jkt = thumbprint(&client_key);
    let id_jag = world.id_jag(Some(&jkt));
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    let grant = assert_granted(world.redeem(&id_jag, Some(&made)));
    assert_eq!(grant.dpop_jkt(), Some(jkt.as_str()));
    assert_eq!(grant.id_jag().dpop_jkt(), Some(jkt.as_str()));
    assert_eq!(grant.account(), ACCOUNT);

    let minted = world.tokens.mint(&grant, now()).unwrap();
    assert_eq!(segment(minted.token(), 1)["cnf"], json!({ "jkt": jkt }));
    assert_eq!(segment(minted.token(), 0)["typ"], "at+jwt");
    let response: Value = serde_json::from_str(&minted.token_response(&grant).to_json()).unwrap();
    assert_eq!(response["token_type"], "DPoP");
    assert!(response.get("refresh_token").is_none());
    let read =
        read_jwt_bearer_response(200, minted.token_response(&grant).to_json().as_bytes()).unwrap();
    assert_eq!(read.token_type, "DPoP");
}

#[test]
fn bound_and_unproven_is_refused() {
    let world = World::new();
    let id_jag = world.id_jag(Some(&thumbprint(&es256())));
    let rejection =
        assert_invalid_grant(world.redeem(&id_jag, None), RejectReason::DpopProofMissing);
    assert!(rejection.signature_verified());
    assert_eq!(rejection.error_response().error, WireError::InvalidGrant);
}

#[test]
fn bound_and_proven_with_another_key_is_refused_and_the_id_jag_not_spent() {
    let world = World::new();
    let client_key = es256();
    let id_jag = world.id_jag(Some(&thumbprint(&client_key)));
    for algorithm in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let thief = new_key(algorithm);
        let made = proof(&thief, "POST", AS_TOKEN_ENDPOINT, now());
        assert_invalid_grant(world.redeem(&id_jag, Some(&made)), RejectReason::DpopKeyMismatch);
    }
    // The rightful client still redeems it: the thief's attempts recorded no (iss, jti).
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_granted(world.redeem(&id_jag, Some(&made)));
}

#[test]
fn proven_and_unbound_is_granted_and_bound_to_the_proof_key() {
    let world = World::new();
    let client_key = new_key(Algorithm::EdDsa);
    let id_jag = world.id_jag(None);
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    let grant = assert_granted(world.redeem(&id_jag, Some(&made)));
    assert_eq!(grant.dpop_jkt(), Some(thumbprint(&client_key).as_str()));
    let minted = world.tokens.mint(&grant, now()).unwrap();
    assert_eq!(segment(minted.token(), 1)["cnf"]["jkt"], thumbprint(&client_key));
    assert!(minted.token_response(&grant).to_json().contains(r#""token_type":"DPoP""#));
}

#[test]
fn neither_bound_nor_proven_is_a_bearer_grant() {
    let world = World::new();
    let grant = assert_granted(world.redeem(&world.id_jag(None), None));
    assert_eq!(grant.dpop_jkt(), None);
    let minted = world.tokens.mint(&grant, now()).unwrap();
    assert!(segment(minted.token(), 1).get("cnf").is_none());
    let response: Value = serde_json::from_str(&minted.token_response(&grant).to_json()).unwrap();
    assert_eq!(response["token_type"], "Bearer");
}

#[test]
fn neither_bound_nor_proven_is_refused_when_sender_constraint_is_required() {
    let world = World::with_config(|config| config.with_sender_constraint_required(true));
    assert_invalid_grant(
        world.redeem(&world.id_jag(None), None),
        RejectReason::SenderConstraintRequired,
    );
    // A proof satisfies it, for an unbound and for a bound ID-JAG.
    let client_key = es256();
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    let grant = assert_granted(world.redeem(&world.id_jag(None), Some(&made)));
    assert_eq!(grant.dpop_jkt(), Some(thumbprint(&client_key).as_str()));
    let bound = world.id_jag(Some(&thumbprint(&client_key)));
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_granted(world.redeem(&bound, Some(&made)));
    // A bound ID-JAG without a proof is refused for the binding, whatever the config.
    assert_invalid_grant(world.redeem(&bound, None), RejectReason::DpopProofMissing);
}

#[test]
fn the_jwt_dpop_grant_type_needs_a_proof() {
    let world = World::new();
    let client_key = es256();
    let body = dpop_grant_body(&world.id_jag(None));
    assert!(body.starts_with("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-dpop&"));
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    let grant = assert_granted(world.redeem_body_at(&body, Some(&made), now()));
    assert_eq!(grant.dpop_jkt(), Some(thumbprint(&client_key).as_str()));

    let unproven = dpop_grant_body(&world.id_jag(None));
    assert_invalid_grant(
        world.redeem_body_at(&unproven, None, now()),
        RejectReason::DpopProofMissing,
    );

    // And with a bound ID-JAG, the same four cases apply.
    let bound = dpop_grant_body(&world.id_jag(Some(&thumbprint(&client_key))));
    let thief = proof(&es256(), "POST", AS_TOKEN_ENDPOINT, now());
    assert_invalid_grant(
        world.redeem_body_at(&bound, Some(&thief), now()),
        RejectReason::DpopKeyMismatch,
    );
}

#[test]
fn an_invalid_proof_at_the_resource_as_is_invalid_dpop_proof() {
    let world = World::new();
    let client_key = es256();
    let jkt = thumbprint(&client_key);

    for id_jag in [world.id_jag(Some(&jkt)), world.id_jag(None)] {
        // For the IdP's endpoint, for GET, stale, from the future, forged, malformed.
        let cases = [
            (proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now()), DpopError::HtuMismatch),
            (
                proof(&client_key, "POST", "http://as.expenses.example/oauth2/token", now()),
                DpopError::HtuMismatch,
            ),
            (proof(&client_key, "GET", AS_TOKEN_ENDPOINT, now()), DpopError::HtmMismatch),
            (proof(&client_key, "POST", AS_TOKEN_ENDPOINT, at(-61)), DpopError::IatOutOfWindow),
            (proof(&client_key, "POST", AS_TOKEN_ENDPOINT, at(6)), DpopError::IatOutOfWindow),
            (
                hand_proof(
                    &es256(),
                    &proof_header(&client_key),
                    &proof_claims("POST", AS_TOKEN_ENDPOINT),
                ),
                DpopError::Jose(JoseError::SignatureInvalid),
            ),
            ("a.b".to_owned(), DpopError::Jose(JoseError::SegmentCount)),
        ];
        for (made, error) in cases {
            let redemption = world.redeem(&id_jag, Some(&made));
            assert_as_proof_refused(redemption, error);
        }
        // None of this spent the ID-JAG.
        let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
        assert_granted(world.redeem(&id_jag, Some(&made)));
    }
}

#[test]
fn a_replayed_proof_at_the_resource_as_is_refused() {
    let world = World::new();
    let client_key = es256();
    let jkt = thumbprint(&client_key);
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_granted(world.redeem(&world.id_jag(Some(&jkt)), Some(&made)));
    // The same proof with another (fresh) ID-JAG: a replay of the proof.
    let rejection = world.redeem(&world.id_jag(Some(&jkt)), Some(&made));
    assert_as_proof_refused(rejection, DpopError::Replayed);
    let rejection = world.redeem(&world.id_jag(None), Some(&made));
    assert_as_proof_refused(rejection, DpopError::Replayed);
}

#[test]
fn a_proof_refusal_at_the_resource_as_is_audited_with_its_reason() {
    let world = World::new();
    let made = proof(&es256(), "POST", IDP_TOKEN_ENDPOINT, now());
    let redemption = world.redeem(&world.id_jag(None), Some(&made));
    let line = redemption.audit.to_json_line();
    assert!(line.contains(r#""reason":"dpop_htu_mismatch""#), "{line}");
    assert!(line.contains(r#""wire_error":"invalid_dpop_proof""#), "{line}");
    assert!(!line.contains("eyJ"), "no token in the audit record: {line}");
    // The proof was refused before the ID-JAG was read; the record still names what the
    // ID-JAG claims, as unverified.
    let audit: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(audit["issuer"].is_string() && audit["jwt_id"].is_string(), "{line}");
    assert_eq!(audit["claims_verified"], false);
}

#[test]
fn a_nonce_at_the_resource_as_is_asked_with_use_dpop_nonce() {
    let mut world = World::new();
    world.as_dpop = DpopVerifier::new().with_nonce("as-nonce");
    let client_key = es256();
    let made = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_rejected(
        world.redeem(&world.id_jag(None), Some(&made)),
        RejectReason::DpopProofInvalid(DpopError::NonceMismatch),
        WireError::UseDpopNonce,
    );
    let made = DpopProof::new("POST", AS_TOKEN_ENDPOINT)
        .with_nonce("as-nonce")
        .sign(&client_key, now())
        .unwrap();
    assert_granted(world.redeem(&world.id_jag(None), Some(&made)));
}

#[test]
fn a_binding_other_than_dpop_is_refused_even_with_a_proof() {
    let world = World::new();
    let mut claims: Map<String, Value> =
        serde_json::from_str(&world.claims().build().unwrap().to_json()).unwrap();
    claims.insert("cnf".into(), json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}));
    let id_jag = world.mint_map(&claims);
    let made = proof(&es256(), "POST", AS_TOKEN_ENDPOINT, now());
    assert_invalid_grant(world.redeem(&id_jag, Some(&made)), RejectReason::ConfirmationUnsupported);
    assert_invalid_grant(world.redeem(&id_jag, None), RejectReason::ConfirmationUnsupported);
}

#[test]
fn the_staged_api_applies_the_same_four_cases() {
    let world = World::new();
    let client_key = es256();
    let jkt = thumbprint(&client_key);
    let client = AuthenticatedClient::confidential(CLIENT_AT_AS);
    let verified = |proof: &str| world.as_context(proof).verify(now()).unwrap();
    let staged = |id_jag: &str, proof: Option<&VerifiedDpopProof>| {
        let unverified = world.server.parse(id_jag).unwrap();
        let issuer = world.issuers.trusted_issuer(unverified.issuer());
        world.server.verify_with_dpop(unverified, issuer, &client, proof, now())
    };

    let same = verified(&proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now()));
    let bound = world.id_jag(Some(&jkt));
    let checked = staged(&bound, Some(&same)).unwrap();
    let finished = checked.finish_with(&world.replay, now()).unwrap();
    assert_eq!(finished.dpop_jkt(), Some(jkt.as_str()));

    let other = verified(&proof(&es256(), "POST", AS_TOKEN_ENDPOINT, now()));
    let refused = staged(&world.id_jag(Some(&jkt)), Some(&other)).unwrap_err();
    assert_eq!(refused.reason(), RejectReason::DpopKeyMismatch);
    let refused = staged(&world.id_jag(Some(&jkt)), None).unwrap_err();
    assert_eq!(refused.reason(), RejectReason::DpopProofMissing);
    let checked = staged(&world.id_jag(None), Some(&other)).unwrap();
    let finished = checked.finish_with(&world.replay, now()).unwrap();
    assert_eq!(finished.dpop_jkt(), Some(other.jkt()));
    let checked = staged(&world.id_jag(None), None).unwrap();
    assert_eq!(checked.finish_with(&world.replay, now()).unwrap().dpop_jkt(), None);
}

// ---------------------------------------------------------------------------------------------
// The resource server (RFC 9449 §7)
// ---------------------------------------------------------------------------------------------

/// A DPoP-bound access token for `client_key`, as the resource AS mints it.
fn bound_access_token(world: &World, client_key: &SigningKey) -> String {
    let id_jag = world.id_jag(Some(&thumbprint(client_key)));
    let made = proof(client_key, "POST", AS_TOKEN_ENDPOINT, now());
    let grant = assert_granted(world.redeem(&id_jag, Some(&made)));
    world.tokens.mint(&grant, now()).unwrap().token().to_owned()
}

#[test]
fn a_bound_access_token_with_its_proof_is_accepted() {
    let world = World::new();
    let client_key = es256();
    let token = bound_access_token(&world, &client_key);
    let verified = world.call_api(&token, Some(&api_proof(&client_key, &token, now()))).unwrap();
    assert_eq!(verified.subject, ACCOUNT);
    assert_eq!(verified.claims["cnf"]["jkt"], thumbprint(&client_key));
    // A query string on the request is no part of htu.
    let with_query = format!("{API_URL}?month=2026-11");
    let made = api_proof(&client_key, &token, now());
    assert!(world.call_api_with(&token, Some(&made), "GET", &with_query).is_ok());
}

#[test]
fn a_bound_access_token_without_a_proof_is_refused() {
    let world = World::new();
    let token = bound_access_token(&world, &es256());
    assert_api_refused(world.call_api(&token, None), AccessTokenError::DpopProofMissing);
}

#[test]
fn a_bound_access_token_with_another_keys_proof_is_refused() {
    let world = World::new();
    let token = bound_access_token(&world, &es256());
    let thief = es256();
    assert_api_refused(
        world.call_api(&token, Some(&api_proof(&thief, &token, now()))),
        AccessTokenError::DpopKeyMismatch,
    );
}

#[test]
fn a_proof_for_another_token_or_request_is_refused() {
    let world = World::new();
    let client_key = es256();
    let token = bound_access_token(&world, &client_key);
    let other_token = bound_access_token(&world, &client_key);
    assert_api_refused(
        world.call_api(&token, Some(&api_proof(&client_key, &other_token, now()))),
        AccessTokenError::DpopProofInvalid(DpopError::AthMismatch),
    );
    assert_api_refused(
        world.call_api(&token, Some(&proof(&client_key, "GET", API_URL, now()))),
        AccessTokenError::DpopProofInvalid(DpopError::AthMismatch),
    );
    let post = DpopProof::new("POST", API_URL).with_access_token(&token).sign(&client_key, now());
    assert_api_refused(
        world.call_api(&token, Some(&post.unwrap())),
        AccessTokenError::DpopProofInvalid(DpopError::HtmMismatch),
    );
    let elsewhere = DpopProof::new("GET", "https://api.expenses.example/v1/admin")
        .with_access_token(&token)
        .sign(&client_key, now())
        .unwrap();
    assert_api_refused(
        world.call_api(&token, Some(&elsewhere)),
        AccessTokenError::DpopProofInvalid(DpopError::HtuMismatch),
    );
    // The token-endpoint proof presented again at the API.
    let token_proof = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    assert_api_refused(
        world.call_api_with(&token, Some(&token_proof), "GET", API_URL),
        AccessTokenError::DpopProofInvalid(DpopError::HtmMismatch),
    );
    // A proof used once at the API is spent.
    let once = api_proof(&client_key, &token, now());
    assert!(world.call_api(&token, Some(&once)).is_ok());
    assert_api_refused(
        world.call_api(&token, Some(&once)),
        AccessTokenError::DpopProofInvalid(DpopError::Replayed),
    );
}

#[test]
fn an_unbound_bearer_token_needs_no_proof() {
    let world = World::new();
    let grant = assert_granted(world.redeem(&world.id_jag(None), None));
    let token = world.tokens.mint(&grant, now()).unwrap().token().to_owned();
    let verified = world.call_api(&token, None).unwrap();
    assert_eq!(verified.subject, ACCOUNT);
    assert!(verified.claims.get("cnf").is_none());
}

/// RFC 7800: a token bound by another confirmation method (here mTLS, RFC 8705) is no bearer
/// token. The resource AS refuses such an ID-JAG (`cnf_unsupported`); the resource server must
/// not accept such an access token without any proof of possession either.
#[test]
fn an_access_token_bound_by_another_method_is_not_a_bearer_token() {
    let world = World::new();
    let claims = json!({
        "iss": AS_ISSUER, "sub": ACCOUNT, "aud": API, "client_id": CLIENT_AT_AS,
        "scope": "expenses.read", "jti": fresh_jti(), "iat": NOW, "exp": NOW + 600,
        "cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
    });
    let token =
        sign_compact(world.as_key.as_ref(), Some("at+jwt"), claims.to_string().as_bytes()).unwrap();
    // The same token shape without cnf is accepted: the refusal below is for the binding.
    let mut unbound = claims.clone();
    unbound.as_object_mut().unwrap().remove("cnf");
    let plain = sign_compact(world.as_key.as_ref(), Some("at+jwt"), unbound.to_string().as_bytes())
        .unwrap();
    assert!(world.call_api(&plain, None).is_ok());

    let outcome = world.call_api(&token, None);
    assert!(outcome.is_err(), "an mTLS-bound access token was accepted as a bearer token");
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// A token-exchange response around an ID-JAG whose `cnf` is `cnf`.
fn exchange_response(world: &World, cnf: Option<Value>) -> Vec<u8> {
    let mut claims: Map<String, Value> = serde_json::from_str(
        &world.claims().resources(vec![API.to_owned()]).build().unwrap().to_json(),
    )
    .unwrap();
    claims.insert("scope".into(), json!("expenses.read"));
    if let Some(cnf) = cnf {
        claims.insert("cnf".into(), cnf);
    }
    let id_jag = world.mint_map(&claims);
    json!({
        "access_token": id_jag,
        "issued_token_type": urn::TOKEN_TYPE_ID_JAG,
        "token_type": "N_A",
        "expires_in": 300,
    })
    .to_string()
    .into_bytes()
}

#[test]
fn the_client_detects_a_downgrade_or_another_binding() {
    let world = World::new();
    let client_key = es256();
    let jkt = thumbprint(&client_key);
    let request = world.exchange_request().bound_to(jkt.clone());

    let unbound = exchange_response(&world, None);
    assert_eq!(
        read_exchange_response(&request, 200, &unbound).unwrap_err(),
        ClientError::DpopBindingMissing
    );
    let not_dpop = exchange_response(&world, Some(json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESs"})));
    assert_eq!(
        read_exchange_response(&request, 200, &not_dpop).unwrap_err(),
        ClientError::DpopBindingMissing
    );
    let other = exchange_response(&world, Some(json!({ "jkt": thumbprint(&es256()) })));
    assert_eq!(
        read_exchange_response(&request, 200, &other).unwrap_err(),
        ClientError::DpopBindingMismatch
    );
    let right = exchange_response(&world, Some(json!({ "jkt": jkt })));
    let read = read_exchange_response(&request, 200, &right).unwrap();
    assert_eq!(read.claims().confirmation().and_then(|c| c.jkt.as_deref()), Some(jkt.as_str()));

    // A client that sent no proof takes what comes.
    let plain = world.exchange_request();
    assert!(read_exchange_response(&plain, 200, &unbound).is_ok());
    assert!(read_exchange_response(&plain, 200, &right).is_ok());

    // An error response is still an error response.
    let refused = br#"{"error":"invalid_dpop_proof"}"#;
    match read_exchange_response(&request, 400, refused).unwrap_err() {
        ClientError::Refused(error) => {
            assert_eq!(error.wire_error(), Some(WireError::InvalidDpopProof));
        }
        other => panic!("{other:?}"),
    }
}

fn dpop_header(http: &FormRequest) -> Vec<&str> {
    http.headers.iter().filter(|(name, _)| *name == "DPoP").map(|(_, v)| v.as_str()).collect()
}

#[test]
fn the_client_sends_the_proof_in_a_dpop_header() {
    let world = World::new();
    let client_key = es256();
    let plain = world.exchange_request().to_http(&secret_basic(CLIENT_AT_IDP), now()).unwrap();
    assert!(dpop_header(&plain).is_empty());
    let made = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now());
    let with = plain.clone().with_dpop_proof(made.clone());
    assert_eq!(dpop_header(&with), vec![made.as_str()]);
    assert_eq!(with.body, plain.body, "the body is unchanged");
    for (name, value) in &plain.headers {
        assert!(with.headers.contains(&(name, value.clone())), "{name} kept");
    }
    // Debug output names the header, never its value.
    let debug = format!("{with:?}");
    assert!(debug.contains("DPoP") && !debug.contains(&made), "{debug}");
    // bound_to changes nothing on the wire.
    let bound = world
        .exchange_request()
        .bound_to(thumbprint(&client_key))
        .to_http(&secret_basic(CLIENT_AT_IDP), now())
        .unwrap();
    let names =
        |http: &FormRequest| -> Vec<&str> { http.headers.iter().map(|(n, _)| *n).collect() };
    assert_eq!(names(&bound), names(&plain));
}

#[test]
fn the_client_can_use_the_jwt_dpop_grant_type() {
    let body = |request: JwtBearerGrantRequest| {
        let http = request.to_http(&secret_basic(CLIENT_AT_AS), now()).unwrap();
        url::form_urlencoded::parse(http.body.as_bytes()).into_owned().collect::<Vec<_>>()
    };
    let plain = body(JwtBearerGrantRequest::new("the-id-jag"));
    assert_eq!(plain[0], ("grant_type".to_owned(), urn::GRANT_TYPE_JWT_BEARER.to_owned()));
    let dpop = body(JwtBearerGrantRequest::new("the-id-jag").with_dpop_grant_type());
    assert_eq!(dpop[0], ("grant_type".to_owned(), urn::GRANT_TYPE_JWT_DPOP.to_owned()));
    assert_eq!(urn::GRANT_TYPE_JWT_DPOP, "urn:ietf:params:oauth:grant-type:jwt-dpop");
    assert_eq!(dpop[1], ("assertion".to_owned(), "the-id-jag".to_owned()));
    let scoped = body(JwtBearerGrantRequest::new("j").scope(scope("a b")).with_dpop_grant_type());
    assert_eq!(scoped[2], ("scope".to_owned(), "a b".to_owned()));
}

#[test]
fn the_client_reads_a_dpop_token_response() {
    for token_type in ["DPoP", "dpop", "Bearer"] {
        let body = json!({"access_token": "at", "token_type": token_type, "expires_in": 60});
        let read = read_jwt_bearer_response(200, body.to_string().as_bytes()).unwrap();
        assert_eq!(read.token_type, token_type);
    }
    let body = json!({"access_token": "at", "token_type": "N_A"});
    assert_eq!(
        read_jwt_bearer_response(200, body.to_string().as_bytes()).unwrap_err(),
        ClientError::WrongTokenType
    );
}

// ---------------------------------------------------------------------------------------------
// Full round trip, and stolen tokens
// ---------------------------------------------------------------------------------------------

/// The DPoP header of a request.
fn dpop_of(http: &FormRequest) -> &str {
    http.headers.iter().find(|(name, _)| *name == "DPoP").map(|(_, v)| v.as_str()).unwrap()
}

#[test]
fn round_trip_with_a_dpop_key() {
    let world = World::new();
    let client_key = es256();
    let jkt = thumbprint(&client_key);

    // Leg 1: the exchange, with a proof for the IdP's token endpoint.
    let request = world.exchange_request().bound_to(jkt.clone());
    let http = request
        .to_http(&secret_basic(CLIENT_AT_IDP), now())
        .unwrap()
        .with_dpop_proof(proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now()));
    let exchange = world.exchange_body_at(&http.body, Some(dpop_of(&http)), now());
    let issued = exchange.outcome.unwrap().into_id_jag().unwrap();
    let response = issued.token_response().to_json();
    let id_jag = read_exchange_response(&request, 200, response.as_bytes()).unwrap();
    assert_eq!(id_jag.claims().confirmation().and_then(|c| c.jkt.as_deref()), Some(jkt.as_str()));

    // Leg 2: the jwt-dpop grant, with a proof for the resource AS's token endpoint.
    let http = JwtBearerGrantRequest::new(id_jag.id_jag())
        .with_dpop_grant_type()
        .to_http(&secret_basic(CLIENT_AT_AS), now())
        .unwrap()
        .with_dpop_proof(proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now()));
    let redemption = world.redeem_body_at(&http.body, Some(dpop_of(&http)), now());
    let grant = assert_granted(redemption);
    assert_eq!(grant.dpop_jkt(), Some(jkt.as_str()));
    let minted = world.tokens.mint(&grant, now()).unwrap();
    let response = minted.token_response(&grant).to_json();
    let access = read_jwt_bearer_response(200, response.as_bytes()).unwrap();
    assert_eq!(access.token_type, "DPoP");
    assert!(!access.unexpected_refresh_token());

    // The API call, with a proof carrying the token's hash.
    let made = api_proof(&client_key, &access.access_token, now());
    let verified = world.call_api(&access.access_token, Some(&made)).unwrap();
    assert_eq!(verified.subject, ACCOUNT);
    assert_eq!(verified.client_id.as_deref(), Some(CLIENT_AT_AS));

    // The same with the jwt-bearer grant type.
    let request = world.exchange_request().bound_to(jkt.clone());
    let idp_proof = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now());
    let body = request.to_http(&secret_basic(CLIENT_AT_IDP), now()).unwrap().body;
    let issued = world.exchange_body_at(&body, Some(&idp_proof), now()).outcome.unwrap();
    let response = issued.token_response().to_json();
    let id_jag = read_exchange_response(&request, 200, response.as_bytes()).unwrap();
    let as_proof = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    let grant = assert_granted(world.redeem(id_jag.id_jag(), Some(&as_proof)));
    assert_eq!(grant.dpop_jkt(), Some(jkt.as_str()));
}

#[test]
fn stolen_bound_tokens_are_useless_without_the_key() {
    let world = World::new();
    let client_key = es256();
    let jkt = thumbprint(&client_key);
    let issued = world.issue(Some(&proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now())));
    let stolen_id_jag = issued.token().to_owned();

    // The thief presents the ID-JAG with their own key, or with no proof.
    let thief = es256();
    let theirs = proof(&thief, "POST", AS_TOKEN_ENDPOINT, now());
    assert_invalid_grant(
        world.redeem(&stolen_id_jag, Some(&theirs)),
        RejectReason::DpopKeyMismatch,
    );
    assert_invalid_grant(world.redeem(&stolen_id_jag, None), RejectReason::DpopProofMissing);
    // A proof by the client's key, seen on the wire, is no use to the thief: spent, or for
    // another endpoint.
    let seen = proof(&client_key, "POST", IDP_TOKEN_ENDPOINT, now());
    assert_as_proof_refused(world.redeem(&stolen_id_jag, Some(&seen)), DpopError::HtuMismatch);

    // The client redeems it; the thief steals the access token too.
    let mine = proof(&client_key, "POST", AS_TOKEN_ENDPOINT, now());
    let grant = assert_granted(world.redeem(&stolen_id_jag, Some(&mine)));
    assert_eq!(grant.dpop_jkt(), Some(jkt.as_str()));
    // Replaying the client's own proof with the ID-JAG again: the proof is spent.
    assert_as_proof_refused(world.redeem(&stolen_id_jag, Some(&mine)), DpopError::Replayed);
    let stolen_token = world.tokens.mint(&grant, now()).unwrap().token().to_owned();

    assert_api_refused(world.call_api(&stolen_token, None), AccessTokenError::DpopProofMissing);
    assert_api_refused(
        world.call_api(&stolen_token, Some(&api_proof(&thief, &stolen_token, now()))),
        AccessTokenError::DpopKeyMismatch,
    );
    // The client's proof for the call, captured and replayed.
    let captured = api_proof(&client_key, &stolen_token, now());
    assert!(world.call_api(&stolen_token, Some(&captured)).is_ok());
    assert_api_refused(
        world.call_api(&stolen_token, Some(&captured)),
        AccessTokenError::DpopProofInvalid(DpopError::Replayed),
    );
}

#[test]
fn plain_verification_refuses_a_bound_access_token() {
    // A resource server that forgets the proof must not accept a bound token as a bearer one.
    let world = World::new();
    let client_key = es256();
    let token = bound_access_token(&world, &client_key);
    let needed = scope("expenses.read");
    assert_eq!(
        world.api.verify(&token, Some(&needed), now()),
        Err(AccessTokenError::DpopProofMissing)
    );
}

#[test]
fn a_cached_proof_key_is_still_vetted_on_every_proof() {
    // The verifier keeps the OpenSSL key of a proof key it has seen; a later proof naming the
    // same public key with a private member, or marked for encryption, is still refused.
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let verifier = DpopVerifier::new();
    let replay = MemoryReplayGuard::new(100);
    let key = es256();
    let first = proof(&key, "POST", AS_TOKEN_ENDPOINT, now());
    assert!(verifier.verify(&first, "POST", AS_TOKEN_ENDPOINT, None, now(), &replay).is_ok());
    let public = key.verification_key().to_jwk();
    for (name, value) in [("d", json!("AAAA")), ("use", json!("enc"))] {
        let mut jwk = public.clone();
        jwk.remove("kid");
        jwk.insert(name.into(), value);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let claims = json!({"jti": format!("j-{name}"), "htm": "POST", "htu": AS_TOKEN_ENDPOINT,
                            "iat": now().as_unix_seconds()});
        let input =
            format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = key.sign(input.as_bytes()).unwrap();
        let forged = format!("{input}.{}", B64.encode(signature));
        let outcome = verifier.verify(&forged, "POST", AS_TOKEN_ENDPOINT, None, now(), &replay);
        assert!(matches!(outcome, Err(DpopError::InvalidJwk(_))), "{name}: {outcome:?}");
    }
}

#[test]
fn proof_builder_debug_hides_the_access_token() {
    let access_token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnbmF0dXJl";
    let builder = DpopProof::new("GET", API_URL).with_access_token(access_token);
    let debug = format!("{builder:?}");
    assert!(debug.starts_with("DpopProof") && debug.contains("<redacted>"), "{debug}");
    assert!(!debug.contains("eyJ") && !debug.contains("c2lnbmF0dXJl"), "{debug}");
}
