//! Integration tests of the resource authorization server (draft §4.4, RFC 7523 §3, RFC 7521
//! §5.2): the jwt-bearer request, issuer trust and key refresh, the header, `aud`, time,
//! `client_id`, tenant, `act`, `cnf`, subject resolution (SAML NameID included),
//! `authorization_details`, resources, scope narrowing, replay (with a 16-thread race),
//! access token minting, audit records, metadata and the token shapes of real deployments.
//!
//! Every rule has an accepted case and a refused case; each refusal asserts the exact
//! [`RejectReason`] and the wire error, so a check that silently stops firing fails here.

use std::collections::hash_map::RandomState;
use std::fmt::Debug;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{
    Actor, AuthorizationDetail, IdJagClaims, IdJagClaimsBuilder, RequiredClaims, SamlNameId,
    SubjectIdentifier,
};
use id_jag::error::WireError;
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, JoseError, KeySet, ParseOptions, Signer, SigningKey,
    sign_compact,
};
use id_jag::metadata::ResourceServerMetadata;
use id_jag::resource::{
    AccessTokenError, AccessTokenIssuer, AccessTokenVerifier, AllowAll, CheckedIdJag, Grant,
    GrantPolicy, JwtBearerRequest, MemoryReplayGuard, MemorySubjects, RedeemHosts, Redemption,
    RejectReason, Rejection, ReplayError, ReplayGuard, ReplayPolicy, ReplayVerdict, ResourceServer,
    ResourceServerConfig, SubjectKey, SubjectResolution, SubjectResolver, TrustedIssuer,
    TrustedIssuerStore, TrustedIssuers, VerifiedAccessToken, VerifiedIdJag,
};
use id_jag::scope::{Scope, ScopeError};
use id_jag::urn;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

const IDP: &str = "https://idp.example.com";
const OTHER_IDP: &str = "https://login.other-idp.example";
const UNKNOWN_IDP: &str = "https://unknown-idp.example";
const AS_ISSUER: &str = "https://as.expenses.example";
const TOKEN_ENDPOINT: &str = "https://as.expenses.example/oauth2/token";
const API: &str = "https://api.expenses.example";
const FILES: &str = "https://files.expenses.example";
const CLIENT: &str = "aria";
const SUBJECT: &str = "00ub0b1c2d";
const ACCOUNT: &str = "account-42";
const SCOPE: &str = "expenses.read expenses.write";
const TYP: &str = "oauth-id-jag+jwt";
const NOW: u64 = 1_764_000_000;
const JWT_BEARER_FORM: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";
const SAML_ISSUER: &str = "https://saml.idp.example.com/entity";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const PERSISTENT_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

fn now() -> NumericDate {
    NumericDate::from_unix_seconds(NOW).unwrap()
}

/// `NOW` shifted by `offset` seconds.
fn at(offset: i64) -> NumericDate {
    NumericDate::from_unix_seconds(NOW.checked_add_signed(offset).unwrap()).unwrap()
}

fn fresh_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A kid nobody published: random per call.
fn random_kid() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let hash = RandomState::new().hash_one(NEXT.fetch_add(1, Ordering::Relaxed));
    format!("kid-{hash:016x}")
}

fn client() -> AuthenticatedClient {
    AuthenticatedClient::confidential(CLIENT)
}

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap()
}

fn subject_key(issuer: &str, tenant: Option<&str>, subject: &str) -> SubjectKey {
    SubjectKey {
        issuer: issuer.to_owned(),
        tenant: tenant.map(str::to_owned),
        subject: subject.to_owned(),
    }
}

/// A jwt-bearer form body.
fn body(assertion: &str, scope: Option<&str>) -> String {
    let mut body = format!("grant_type={JWT_BEARER_FORM}&assertion={assertion}");
    if let Some(scope) = scope {
        body.push_str("&scope=");
        body.push_str(&scope.replace(' ', "%20"));
    }
    body
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Sign `payload` under exactly `header`, both raw JSON text, with `key`.
fn mint_raw(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature))
}

/// The header `sign_compact` would write for `key`, with `typ` and `kid` chosen by the test.
fn header(key: &SigningKey, typ: Option<&str>, kid: Option<&str>) -> String {
    let mut header = Map::new();
    header.insert("alg".into(), Value::from(key.verification_key().algorithm().name()));
    if let Some(typ) = typ {
        header.insert("typ".into(), Value::from(typ));
    }
    if let Some(kid) = kid {
        header.insert("kid".into(), Value::from(kid));
    }
    Value::Object(header).to_string()
}

/// The claims of a builder as a JSON object, for tests that need shapes the builder refuses.
fn claims_map(claims: &IdJagClaims) -> Map<String, Value> {
    serde_json::from_str(&claims.to_json()).unwrap()
}

/// A default ID-JAG for `issuer`: our audience and client, a fresh `jti`, issued now for five
/// minutes, with the scope `SCOPE`.
fn claims_for(issuer: &str) -> IdJagClaimsBuilder {
    IdJagClaims::builder(RequiredClaims {
        issuer: issuer.into(),
        subject: SUBJECT.into(),
        audience: AS_ISSUER.into(),
        client_id: CLIENT.into(),
        jwt_id: fresh_jti(),
        issued_at: now(),
        expires_at: at(300),
    })
    .scope(scope(SCOPE))
}

fn single_key_set(key: &SigningKey) -> KeySet {
    KeySet::new(vec![key.verification_key().clone()]).unwrap()
}

/// One IdP (`IDP`, its key `key`), one linked user, one replay guard and one resource AS.
struct Fixture {
    key: SigningKey,
    issuers: TrustedIssuers,
    issuer: Arc<TrustedIssuer>,
    subjects: MemorySubjects,
    replay: MemoryReplayGuard,
    server: ResourceServer,
}

impl Fixture {
    fn new() -> Self {
        Self::custom(Algorithm::Es256, |trust| trust, |config| config)
    }

    fn with_issuer(trust: impl FnOnce(TrustedIssuer) -> TrustedIssuer) -> Self {
        Self::custom(Algorithm::Es256, trust, |config| config)
    }

    fn with_config(config: impl FnOnce(ResourceServerConfig) -> ResourceServerConfig) -> Self {
        Self::custom(Algorithm::Es256, |trust| trust, config)
    }

    fn custom(
        algorithm: Algorithm,
        trust: impl FnOnce(TrustedIssuer) -> TrustedIssuer,
        config: impl FnOnce(ResourceServerConfig) -> ResourceServerConfig,
    ) -> Self {
        let key = SigningKey::generate(algorithm).unwrap();
        let issuers = TrustedIssuers::new();
        let issuer = issuers.insert(trust(TrustedIssuer::new(IDP, single_key_set(&key))));
        let subjects = MemorySubjects::new();
        subjects.link(subject_key(IDP, None, SUBJECT), ACCOUNT);
        let server = ResourceServer::new(config(
            ResourceServerConfig::new(AS_ISSUER).with_served_resources([API, FILES]),
        ));
        Fixture { key, issuers, issuer, subjects, replay: MemoryReplayGuard::new(10_000), server }
    }

    fn hosts(&self) -> RedeemHosts<'_> {
        RedeemHosts {
            issuers: &self.issuers,
            replay: &self.replay,
            subjects: &self.subjects,
            policy: &AllowAll,
        }
    }

    fn claims(&self) -> IdJagClaimsBuilder {
        claims_for(IDP)
    }

    /// Sign `claims` as the IdP does: `typ` `oauth-id-jag+jwt`, the key's `kid`.
    fn mint(&self, claims: &IdJagClaims) -> String {
        sign_compact(&self.key, Some(TYP), claims.to_json().as_bytes()).unwrap()
    }

    /// Sign a raw claims object with the IdP's standard header.
    fn mint_map(&self, claims: &Map<String, Value>) -> String {
        let payload = Value::Object(claims.clone()).to_string();
        sign_compact(&self.key, Some(TYP), payload.as_bytes()).unwrap()
    }

    /// A default ID-JAG.
    fn token(&self) -> String {
        self.mint(&self.claims().build().unwrap())
    }

    fn redeem(&self, token: &str) -> Redemption {
        self.redeem_with(token, None, &client(), now())
    }

    fn redeem_at(&self, token: &str, when: NumericDate) -> Redemption {
        self.redeem_with(token, None, &client(), when)
    }

    fn redeem_scope(&self, token: &str, requested: &str) -> Redemption {
        self.redeem_with(token, Some(requested), &client(), now())
    }

    fn redeem_with(
        &self,
        token: &str,
        requested: Option<&str>,
        client: &AuthenticatedClient,
        when: NumericDate,
    ) -> Redemption {
        self.server.redeem(&self.hosts(), body(token, requested).as_bytes(), client, when)
    }

    fn redeem_hosts(&self, hosts: &RedeemHosts<'_>, token: &str) -> Redemption {
        self.server.redeem(hosts, body(token, None).as_bytes(), &client(), now())
    }

    /// Redeem and insist on success.
    fn grant(&self, token: &str) -> Grant {
        match self.redeem(token).outcome {
            Ok(grant) => grant,
            Err(rejection) => {
                panic!("expected a grant, got {rejection} ({:?})", rejection.reason())
            }
        }
    }

    /// Parse and verify through the staged API, without replay.
    fn verify(&self, token: &str, when: NumericDate) -> Result<CheckedIdJag, Rejection> {
        let unverified = self.server.parse(token)?;
        let issuer = self.issuers.trusted_issuer(unverified.issuer());
        self.server.verify(unverified, issuer, &client(), when)
    }
}

#[track_caller]
fn assert_refused<T: Debug>(
    outcome: Result<T, Rejection>,
    reason: RejectReason,
    wire: WireError,
) -> Rejection {
    let rejection = match outcome {
        Ok(value) => panic!("expected {reason:?}, got success: {value:?}"),
        Err(rejection) => rejection,
    };
    assert_eq!(rejection.reason(), reason, "reason");
    assert_eq!(rejection.wire_error(), wire, "wire error");
    rejection
}

/// A refusal of the assertion itself: always `invalid_grant` on the wire.
#[track_caller]
fn assert_invalid_grant<T: Debug>(
    outcome: Result<T, Rejection>,
    reason: RejectReason,
) -> Rejection {
    assert_refused(outcome, reason, WireError::InvalidGrant)
}

#[track_caller]
fn assert_granted(redemption: Redemption) -> Grant {
    match redemption.outcome {
        Ok(grant) => grant,
        Err(rejection) => panic!("expected a grant, got {rejection} ({:?})", rejection.reason()),
    }
}

fn granted_scope(grant: &Grant) -> Option<String> {
    grant.scope().map(ToString::to_string)
}

// ---------------------------------------------------------------------------------------------
// Host doubles
// ---------------------------------------------------------------------------------------------

/// A trusted issuer store that can fetch a JWKS synchronously and counts its fetches.
struct RefetchingStore {
    inner: TrustedIssuers,
    next_keys: KeySet,
    calls: AtomicUsize,
}

impl TrustedIssuerStore for RefetchingStore {
    fn trusted_issuer(&self, issuer: &str) -> Option<Arc<TrustedIssuer>> {
        self.inner.trusted_issuer(issuer)
    }

    fn refetch_keys(&self, issuer: &TrustedIssuer) -> Option<KeySet> {
        assert_eq!(issuer.issuer(), IDP);
        self.calls.fetch_add(1, Ordering::SeqCst);
        Some(self.next_keys.clone())
    }
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

/// A replay store that records what it is asked and says "fresh".
#[derive(Default)]
struct RecordingGuard {
    seen: Mutex<Vec<(String, String, NumericDate)>>,
}

impl ReplayGuard for RecordingGuard {
    fn check_and_record(
        &self,
        issuer: &str,
        jwt_id: &str,
        keep_until: NumericDate,
        _now: NumericDate,
    ) -> Result<ReplayVerdict, ReplayError> {
        self.seen.lock().unwrap().push((issuer.to_owned(), jwt_id.to_owned(), keep_until));
        Ok(ReplayVerdict::Fresh)
    }
}

/// Accepts `authorization_details` as they are.
struct AcceptDetails;

impl GrantPolicy for AcceptDetails {
    fn authorization_details(
        &self,
        details: &[AuthorizationDetail],
    ) -> Option<Vec<AuthorizationDetail>> {
        Some(details.to_vec())
    }
}

/// Caps the scope at a ceiling.
struct Ceiling(Scope);

impl GrantPolicy for Ceiling {
    fn scope_ceiling(
        &self,
        _id_jag: &VerifiedIdJag,
        _client: &AuthenticatedClient,
    ) -> Option<Scope> {
        Some(self.0.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// The jwt-bearer request
// ---------------------------------------------------------------------------------------------

#[test]
fn request_well_formed_is_parsed_and_client_auth_parameters_ignored() {
    let form = format!(
        "grant_type={JWT_BEARER_FORM}&assertion=aaa.bbb.ccc&scope=expenses.read%20expenses.write\
         &client_id=aria&client_assertion_type=x&client_assertion=y&unknown=z"
    );
    let request = JwtBearerRequest::from_form(form.as_bytes()).unwrap();
    assert_eq!(request.assertion(), "aaa.bbb.ccc");
    assert_eq!(request.scope(), Some(&scope(SCOPE)));

    let without_scope =
        JwtBearerRequest::from_form(format!("grant_type={JWT_BEARER_FORM}&assertion=a").as_bytes())
            .unwrap();
    assert_eq!(without_scope.scope(), None);
}

#[test]
fn request_without_grant_type_is_invalid_request() {
    assert_refused(
        JwtBearerRequest::from_form(b"assertion=aaa.bbb.ccc"),
        RejectReason::GrantTypeMissing,
        WireError::InvalidRequest,
    );
    // A parameter without a value counts as omitted (RFC 6749 §3.2).
    assert_refused(
        JwtBearerRequest::from_form(b"grant_type=&assertion=aaa.bbb.ccc"),
        RejectReason::GrantTypeMissing,
        WireError::InvalidRequest,
    );
}

#[test]
fn request_with_foreign_grant_type_is_unsupported_grant_type() {
    for grant_type in [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
        "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer%20",
    ] {
        let form = format!("grant_type={grant_type}&assertion=aaa.bbb.ccc");
        assert_refused(
            JwtBearerRequest::from_form(form.as_bytes()),
            RejectReason::GrantTypeUnsupported,
            WireError::UnsupportedGrantType,
        );
    }
}

#[test]
fn request_without_assertion_is_invalid_request() {
    for form in [
        format!("grant_type={JWT_BEARER_FORM}"),
        format!("grant_type={JWT_BEARER_FORM}&assertion="),
        format!("grant_type={JWT_BEARER_FORM}&scope=expenses.read"),
    ] {
        assert_refused(
            JwtBearerRequest::from_form(form.as_bytes()),
            RejectReason::AssertionMissing,
            WireError::InvalidRequest,
        );
    }
}

#[test]
fn request_repeating_a_parameter_is_invalid_request() {
    for form in [
        format!("grant_type={JWT_BEARER_FORM}&assertion=a.b.c&assertion=d.e.f"),
        format!("grant_type={JWT_BEARER_FORM}&assertion=a.b.c&scope=x&scope=y"),
        format!("grant_type={JWT_BEARER_FORM}&grant_type={JWT_BEARER_FORM}&assertion=a.b.c"),
        // The same value twice is a repeat too.
        format!("grant_type={JWT_BEARER_FORM}&assertion=a.b.c&assertion=a.b.c"),
    ] {
        assert_refused(
            JwtBearerRequest::from_form(form.as_bytes()),
            RejectReason::ParameterRepeated,
            WireError::InvalidRequest,
        );
    }
}

#[test]
fn request_with_malformed_scope_is_invalid_scope() {
    let cases = [
        ("a%20%20b", ScopeError::EmptyToken),
        ("a++b", ScopeError::EmptyToken),
        ("%20a", ScopeError::EmptyToken),
        ("a%20", ScopeError::EmptyToken),
        ("a%22b", ScopeError::InvalidCharacter),
        ("a%09b", ScopeError::InvalidCharacter),
    ];
    for (scope_param, error) in cases {
        let form = format!("grant_type={JWT_BEARER_FORM}&assertion=a.b.c&scope={scope_param}");
        assert_refused(
            JwtBearerRequest::from_form(form.as_bytes()),
            RejectReason::ScopeMalformed(error),
            WireError::InvalidScope,
        );
    }
}

#[test]
fn request_body_over_64_kib_is_invalid_request() {
    let base = format!("grant_type={JWT_BEARER_FORM}&assertion=a.b.c&pad=");
    let mut at_cap = base.clone();
    at_cap.push_str(&"x".repeat(64 * 1024 - base.len()));
    assert_eq!(at_cap.len(), 64 * 1024);
    assert_eq!(JwtBearerRequest::from_form(at_cap.as_bytes()).unwrap().assertion(), "a.b.c");

    let over = format!("{at_cap}x");
    assert_refused(
        JwtBearerRequest::from_form(over.as_bytes()),
        RejectReason::BodyTooLarge,
        WireError::InvalidRequest,
    );
}

#[test]
fn request_debug_hides_the_assertion() {
    let fx = Fixture::new();
    let token = fx.token();
    let request =
        JwtBearerRequest::from_form(body(&token, Some("expenses.read")).as_bytes()).unwrap();
    let debug = format!("{request:?}");
    assert!(!debug.contains(&token), "{debug}");
    for segment in token.split('.') {
        assert!(!debug.contains(segment), "{debug}");
    }
    assert!(debug.contains("expenses.read"), "{debug}");
}

#[test]
fn redeem_refuses_malformed_body_before_any_verification() {
    let fx = Fixture::new();
    let redemption = fx.server.redeem(&fx.hosts(), b"assertion=a.b.c", &client(), now());
    assert_refused(redemption.outcome, RejectReason::GrantTypeMissing, WireError::InvalidRequest);
    let audit: Value = serde_json::from_str(&redemption.audit.to_json_line()).unwrap();
    assert_eq!(audit["event"], "id_jag_rejected");
    assert_eq!(audit["reason"], "grant_type_missing");
    assert_eq!(audit["wire_error"], "invalid_request");
    assert_eq!(audit.get("issuer"), None);
}

#[test]
fn assertion_over_the_token_size_cap_is_refused() {
    let fx = Fixture::with_config(|config| config.with_max_token_len(600));
    let small = fx.mint(&fx.claims().build().unwrap());
    assert!(small.len() <= 600, "{}", small.len());
    fx.grant(&small);
    let big = fx.mint(&fx.claims().extra_claim("padding", json!("x".repeat(400))).build().unwrap());
    assert_invalid_grant(fx.redeem(&big).outcome, RejectReason::Jose(JoseError::TooLarge));
}

#[test]
fn redeem_request_takes_an_already_parsed_request() {
    let fx = Fixture::new();
    let request = JwtBearerRequest::new(fx.token(), Some(scope("expenses.write")));
    let grant = fx.server.redeem_request(&fx.hosts(), &request, &client(), now()).unwrap();
    assert_eq!(granted_scope(&grant).as_deref(), Some("expenses.write"));
    assert_invalid_grant(
        fx.server.redeem_request(&fx.hosts(), &request, &client(), now()),
        RejectReason::Replayed,
    );
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

#[test]
fn public_client_is_refused_by_default() {
    let fx = Fixture::new();
    let token = fx.token();
    let public = AuthenticatedClient::public(CLIENT);
    let redemption = fx.redeem_with(&token, None, &public, now());
    // The audit record still names what the assertion claims, unverified.
    let audit = audit_json(&redemption);
    assert_refused(redemption.outcome, RejectReason::PublicClient, WireError::UnauthorizedClient);
    assert_eq!(
        (audit["reason"].as_str(), audit["issuer"].as_str()),
        (Some("public_client"), Some(IDP))
    );
    assert_eq!(audit["subject"], SUBJECT);
    assert!(audit["jwt_id"].is_string());
    assert_eq!(audit["claims_verified"], false);
    // The refusal did not burn the jti: the confidential client can still redeem it.
    fx.grant(&token);
}

#[test]
fn public_client_is_accepted_when_allowed() {
    let fx = Fixture::with_config(|config| config.with_public_clients_allowed(true));
    let token = fx.token();
    let public = AuthenticatedClient::public(CLIENT);
    let grant = assert_granted(fx.redeem_with(&token, None, &public, now()));
    assert_eq!(grant.client_id(), CLIENT);
    assert_eq!(grant.account(), ACCOUNT);
}

// ---------------------------------------------------------------------------------------------
// Issuer trust
// ---------------------------------------------------------------------------------------------

#[test]
fn trusted_issuer_token_is_granted() {
    let fx = Fixture::new();
    let claims = fx.claims().build().unwrap();
    let grant = fx.grant(&fx.mint(&claims));
    assert_eq!(grant.account(), ACCOUNT);
    assert_eq!(grant.client_id(), CLIENT);
    assert_eq!(grant.scope(), Some(&scope(SCOPE)));
    assert_eq!(grant.resources(), [API.to_owned()]);
    assert_eq!(grant.authorization_details(), None);
    assert_eq!(grant.id_jag().claims(), &claims);
}

#[test]
fn unknown_issuer_is_refused() {
    let fx = Fixture::new();
    // Signed by a key the AS trusts, but for an issuer it does not: the issuer binds the key.
    let token = fx.mint(&claims_for(UNKNOWN_IDP).build().unwrap());
    let rejection = assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::IssuerUntrusted);
    assert!(!rejection.signature_verified());
    assert!(!rejection.may_refetch_keys());
}

#[test]
fn empty_trusted_issuer_store_refuses_every_token() {
    let fx = Fixture::new();
    let empty = TrustedIssuers::new();
    assert!(empty.is_empty());
    assert_eq!((empty.len(), fx.issuers.len(), fx.issuers.is_empty()), (0, 1, false));
    let hosts = RedeemHosts { issuers: &empty, ..fx.hosts() };
    for issuer in [IDP, UNKNOWN_IDP, AS_ISSUER, ""] {
        let mut claims = claims_map(&fx.claims().build().unwrap());
        claims.insert("iss".into(), Value::from(issuer));
        let token = fx.mint_map(&claims);
        let expected = if issuer.is_empty() {
            RejectReason::Claims(id_jag::claims::ClaimsError::Empty("iss"))
        } else {
            RejectReason::IssuerUntrusted
        };
        assert_invalid_grant(fx.redeem_hosts(&hosts, &token).outcome, expected);
    }
    // Staged: the host found nothing.
    let token = fx.token();
    let unverified = fx.server.parse(&token).unwrap();
    assert_invalid_grant(
        fx.server.verify(unverified, None, &client(), now()),
        RejectReason::IssuerUntrusted,
    );
}

#[test]
fn disabled_issuer_is_refused_and_re_enabled_issuer_accepted() {
    let fx = Fixture::new();
    fx.grant(&fx.token());

    fx.issuer.set_enabled(false);
    assert!(!fx.issuer.is_enabled());
    assert_invalid_grant(fx.redeem(&fx.token()).outcome, RejectReason::IssuerDisabled);

    fx.issuer.set_enabled(true);
    fx.grant(&fx.token());
}

#[test]
fn issuer_configured_disabled_from_the_start_is_refused() {
    let fx = Fixture::with_issuer(|trust| trust.with_enabled(false));
    assert_invalid_grant(fx.redeem(&fx.token()).outcome, RejectReason::IssuerDisabled);
}

#[test]
fn own_issuer_is_refused_unless_crossing_a_trust_domain() {
    for crosses in [false, true] {
        let fx = Fixture::new();
        // The server knows its own issuer identifier: the one the self-issued check compares.
        assert_eq!(fx.server.config().issuer(), AS_ISSUER);
        fx.issuers.insert(
            TrustedIssuer::new(AS_ISSUER, single_key_set(&fx.key))
                .with_crossing_trust_domain(crosses),
        );
        fx.subjects.link(subject_key(AS_ISSUER, None, SUBJECT), ACCOUNT);
        let token = fx.mint(&claims_for(AS_ISSUER).build().unwrap());
        let outcome = fx.redeem(&token).outcome;
        if crosses {
            assert_eq!(outcome.unwrap().account(), ACCOUNT);
        } else {
            assert_invalid_grant(outcome, RejectReason::IssuerIsSelf);
        }
    }
}

#[test]
fn issuer_algorithm_allow_list_is_enforced() {
    let rs_only = Fixture::with_issuer(|trust| {
        trust.with_algorithms(AlgorithmSet::only(&[Algorithm::Rs256]))
    });
    assert_invalid_grant(
        rs_only.redeem(&rs_only.token()).outcome,
        RejectReason::AlgorithmNotAllowedForIssuer,
    );

    let es_only = Fixture::with_issuer(|trust| {
        trust.with_algorithms(AlgorithmSet::only(&[Algorithm::Es256]))
    });
    es_only.grant(&es_only.token());
}

#[test]
fn server_algorithm_allow_list_is_enforced_at_parse() {
    let fx = Fixture::with_config(|config| {
        config.with_algorithms(AlgorithmSet::only(&[Algorithm::Rs256]))
    });
    assert_invalid_grant(
        fx.redeem(&fx.token()).outcome,
        RejectReason::Jose(JoseError::AlgorithmNotAllowed),
    );
}

#[test]
fn issuer_comparison_is_exact_trailing_slash_included() {
    // Trusted with a slash, token without.
    let fx = Fixture::new();
    fx.issuers.remove(IDP);
    fx.issuers.insert(TrustedIssuer::new(format!("{IDP}/"), single_key_set(&fx.key)));
    assert_invalid_grant(fx.redeem(&fx.token()).outcome, RejectReason::IssuerUntrusted);

    // Trusted without, token with.
    let fx = Fixture::new();
    fx.subjects.link(subject_key(&format!("{IDP}/"), None, SUBJECT), ACCOUNT);
    let token = fx.mint(&claims_for(&format!("{IDP}/")).build().unwrap());
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::IssuerUntrusted);

    // Staged: a host handing over the configuration of another issuer string gets nowhere.
    let fx = Fixture::new();
    let token = fx.token();
    let slash = Arc::new(TrustedIssuer::new(format!("{IDP}/"), single_key_set(&fx.key)));
    let unverified = fx.server.parse(&token).unwrap();
    assert_invalid_grant(
        fx.server.verify(unverified, Some(slash), &client(), now()),
        RejectReason::IssuerUntrusted,
    );
}

#[test]
fn key_of_another_issuer_claiming_this_issuer_is_refused() {
    let fx = Fixture::new();
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    fx.issuers.insert(TrustedIssuer::new(OTHER_IDP, single_key_set(&other)));
    let claims = claims_map(&fx.claims().build().unwrap());
    let payload = Value::Object(claims).to_string();

    // The other issuer's key, with its own kid: that kid is not in this issuer's set.
    let own_kid = mint_raw(&other, &header(&other, Some(TYP), other.kid()), &payload);
    let rejection = assert_invalid_grant(
        fx.redeem(&own_kid).outcome,
        RejectReason::Jose(JoseError::KeyNotFound),
    );
    assert!(!rejection.signature_verified());

    // The other issuer's key, claiming this issuer's kid: the signature fails.
    let spoofed = mint_raw(&other, &header(&other, Some(TYP), fx.key.kid()), &payload);
    assert_invalid_grant(
        fx.redeem(&spoofed).outcome,
        RejectReason::Jose(JoseError::SignatureInvalid),
    );

    // No kid: the issuer's only ES256 key is chosen, and the signature fails.
    let no_kid = mint_raw(&other, &header(&other, Some(TYP), None), &payload);
    assert_invalid_grant(
        fx.redeem(&no_kid).outcome,
        RejectReason::Jose(JoseError::SignatureInvalid),
    );

    // The same payload signed by this issuer's key without kid verifies.
    let good = mint_raw(&fx.key, &header(&fx.key, Some(TYP), None), &payload);
    fx.grant(&good);
}

#[test]
fn error_response_is_no_oracle() {
    let fx = Fixture::new();
    let unknown = fx.mint(&claims_for(UNKNOWN_IDP).build().unwrap());
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    let payload = fx.claims().build().unwrap().to_json();
    let bad_signature = mint_raw(&other, &header(&other, Some(TYP), fx.key.kid()), &payload);
    let expired = fx.mint(&expired(fx.claims()));

    let rejections = [
        assert_invalid_grant(fx.redeem(&unknown).outcome, RejectReason::IssuerUntrusted),
        assert_invalid_grant(
            fx.redeem(&bad_signature).outcome,
            RejectReason::Jose(JoseError::SignatureInvalid),
        ),
        assert_invalid_grant(fx.redeem(&expired).outcome, RejectReason::Expired),
    ];
    let bodies: Vec<String> = rejections.iter().map(|r| r.error_response().to_json()).collect();
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
    for rejection in &rejections {
        assert_eq!(rejection.error_response().http_status(), 400);
        assert_eq!(rejection.error_response().headers(), rejections[0].error_response().headers());
    }
    let response: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(response["error"], "invalid_grant");
    for secret in [IDP, UNKNOWN_IDP, "idp.example", AS_ISSUER, SUBJECT, CLIENT, "expired"] {
        assert!(!bodies[0].contains(secret), "{secret} in {}", bodies[0]);
    }
}

/// `claims`, issued 400 seconds ago for 300 seconds: expired beyond any leeway.
fn expired(claims: IdJagClaimsBuilder) -> IdJagClaims {
    let mut claims = claims_map(&claims.build().unwrap());
    claims.insert("iat".into(), Value::from(NOW - 400));
    claims.insert("exp".into(), Value::from(NOW - 100));
    IdJagClaims::from_json(Value::Object(claims).to_string().as_bytes()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Key refresh
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_kid_allows_one_refetch_per_cooldown_staged() {
    let fx = Fixture::new();
    let rotated = SigningKey::generate(Algorithm::Es256).unwrap();
    let mint_rotated = || {
        sign_compact(&rotated, Some(TYP), fx.claims().build().unwrap().to_json().as_bytes())
            .unwrap()
    };

    let first = mint_rotated();
    let rejection =
        assert_invalid_grant(fx.verify(&first, now()), RejectReason::Jose(JoseError::KeyNotFound));
    assert!(rejection.may_refetch_keys(), "the first unknown kid may trigger a refetch");

    // Within the 30-second cooldown: no refetch.
    for offset in [0, 10, 29] {
        let rejection = assert_invalid_grant(
            fx.verify(&mint_rotated(), at(offset)),
            RejectReason::Jose(JoseError::KeyNotFound),
        );
        assert!(!rejection.may_refetch_keys(), "refetch allowed {offset} s after the last");
    }
    // After it: one more.
    let rejection = assert_invalid_grant(
        fx.verify(&mint_rotated(), at(30)),
        RejectReason::Jose(JoseError::KeyNotFound),
    );
    assert!(rejection.may_refetch_keys());
    let rejection = assert_invalid_grant(
        fx.verify(&mint_rotated(), at(31)),
        RejectReason::Jose(JoseError::KeyNotFound),
    );
    assert!(!rejection.may_refetch_keys());

    // The host fetched the JWKS: the rotated key verifies, the old one still does.
    fx.issuer.replace_keys(
        KeySet::new(vec![fx.key.verification_key().clone(), rotated.verification_key().clone()])
            .unwrap(),
    );
    fx.verify(&first, at(31)).unwrap();
    fx.verify(&fx.token(), at(31)).unwrap();

    // The old key left the JWKS: its tokens are refused at once.
    fx.issuer.replace_keys(single_key_set(&rotated));
    assert_invalid_grant(
        fx.verify(&fx.token(), at(31)),
        RejectReason::Jose(JoseError::KeyNotFound),
    );
    fx.verify(&mint_rotated(), at(31)).unwrap();
}

#[test]
fn one_call_redeem_refetches_once_and_then_succeeds() {
    let fx = Fixture::new();
    let rotated = SigningKey::generate(Algorithm::Es256).unwrap();
    let store = RefetchingStore {
        inner: TrustedIssuers::new(),
        next_keys: KeySet::new(vec![
            fx.key.verification_key().clone(),
            rotated.verification_key().clone(),
        ])
        .unwrap(),
        calls: AtomicUsize::new(0),
    };
    let issuer = store.inner.insert(TrustedIssuer::new(IDP, single_key_set(&fx.key)));
    let hosts = RedeemHosts { issuers: &store, ..fx.hosts() };

    // A known kid needs no refetch.
    assert_granted(fx.redeem_hosts(&hosts, &fx.token()));
    assert_eq!(store.calls.load(Ordering::SeqCst), 0);

    let token =
        sign_compact(&rotated, Some(TYP), fx.claims().build().unwrap().to_json().as_bytes())
            .unwrap();
    let grant = assert_granted(fx.redeem_hosts(&hosts, &token));
    assert_eq!(grant.account(), ACCOUNT);
    assert_eq!(store.calls.load(Ordering::SeqCst), 1);
    assert!(issuer.keys().contains_kid(rotated.kid().unwrap()));

    // The rotated key is now known: no further fetch.
    let again =
        sign_compact(&rotated, Some(TYP), fx.claims().build().unwrap().to_json().as_bytes())
            .unwrap();
    assert_granted(fx.redeem_hosts(&hosts, &again));
    assert_eq!(store.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn flood_of_unknown_kids_triggers_at_most_one_refetch_per_cooldown() {
    let fx = Fixture::new();
    let attacker = SigningKey::generate(Algorithm::Es256).unwrap();
    let store = RefetchingStore {
        inner: TrustedIssuers::new(),
        next_keys: single_key_set(&fx.key),
        calls: AtomicUsize::new(0),
    };
    store.inner.insert(TrustedIssuer::new(IDP, single_key_set(&fx.key)));
    let hosts = RedeemHosts { issuers: &store, ..fx.hosts() };
    let flood_token = || {
        let payload = fx.claims().build().unwrap().to_json();
        mint_raw(&attacker, &header(&attacker, Some(TYP), Some(&random_kid())), &payload)
    };

    for _ in 0..100 {
        let redemption = fx.redeem_hosts(&hosts, &flood_token());
        assert_invalid_grant(redemption.outcome, RejectReason::Jose(JoseError::KeyNotFound));
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), 1);

    // Still within the cooldown: nothing.
    let late = fx.server.redeem(&hosts, body(&flood_token(), None).as_bytes(), &client(), at(29));
    assert_invalid_grant(late.outcome, RejectReason::Jose(JoseError::KeyNotFound));
    assert_eq!(store.calls.load(Ordering::SeqCst), 1);

    // After the cooldown: exactly one more.
    for offset in [30, 31, 45] {
        let redemption =
            fx.server.redeem(&hosts, body(&flood_token(), None).as_bytes(), &client(), at(offset));
        assert_invalid_grant(redemption.outcome, RejectReason::Jose(JoseError::KeyNotFound));
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), 2);

    // Legitimate tokens went through all along.
    assert_granted(fx.redeem_hosts(&hosts, &fx.token()));
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

#[test]
fn typ_missing_or_wrong_is_refused() {
    let fx = Fixture::new();
    for typ in [None, Some("JWT"), Some("jwt"), Some("at+jwt"), Some("oauth-id-jag"), Some("")] {
        let payload = fx.claims().build().unwrap().to_json();
        let token = mint_raw(&fx.key, &header(&fx.key, typ, fx.key.kid()), &payload);
        let rejection = assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::TypMismatch);
        assert!(!rejection.signature_verified());
    }
}

#[test]
fn typ_forms_of_the_id_jag_media_type_are_accepted() {
    let fx = Fixture::new();
    for typ in [
        "oauth-id-jag+jwt",
        "application/oauth-id-jag+jwt",
        "OAUTH-ID-JAG+JWT",
        "Application/OAuth-ID-JAG+JWT",
    ] {
        let claims = fx.claims().build().unwrap();
        let token = sign_compact(&fx.key, Some(typ), claims.to_json().as_bytes()).unwrap();
        fx.grant(&token);
    }
}

#[test]
fn alg_none_and_hmac_are_refused() {
    let fx = Fixture::new();
    let payload = b64(fx.claims().build().unwrap().to_json());
    let none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"oauth-id-jag+jwt"}"#));
    assert_invalid_grant(
        fx.redeem(&none).outcome,
        RejectReason::Jose(JoseError::AlgorithmUnsupported),
    );

    let hs256 = format!(
        "{}.{payload}.{}",
        b64(r#"{"alg":"HS256","typ":"oauth-id-jag+jwt"}"#),
        b64([7u8; 32])
    );
    assert_invalid_grant(
        fx.redeem(&hs256).outcome,
        RejectReason::Jose(JoseError::AlgorithmUnsupported),
    );
}

#[test]
fn header_carrying_a_key_is_refused() {
    let fx = Fixture::new();
    let payload = fx.claims().build().unwrap().to_json();
    let jwk = Value::Object(fx.key.verification_key().to_jwk());
    let header = json!({"alg": "ES256", "typ": TYP, "jwk": jwk}).to_string();
    let token = mint_raw(&fx.key, &header, &payload);
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::Jose(JoseError::EmbeddedKey));
}

// ---------------------------------------------------------------------------------------------
// Audience
// ---------------------------------------------------------------------------------------------

fn token_with_aud(fx: &Fixture, aud: Value) -> String {
    let mut claims = claims_map(&fx.claims().build().unwrap());
    claims.insert("aud".into(), aud);
    fx.mint_map(&claims)
}

#[test]
fn audience_exact_string_or_single_element_array_is_accepted() {
    let fx = Fixture::new();
    fx.grant(&token_with_aud(&fx, json!(AS_ISSUER)));
    fx.grant(&token_with_aud(&fx, json!([AS_ISSUER])));
}

#[test]
fn audience_array_of_two_is_refused_even_with_ours() {
    let fx = Fixture::new();
    for aud in [json!([AS_ISSUER, "https://other.example"]), json!([AS_ISSUER, AS_ISSUER])] {
        let rejection = assert_invalid_grant(
            fx.redeem(&token_with_aud(&fx, aud)).outcome,
            RejectReason::AudienceMultiple,
        );
        assert!(rejection.signature_verified());
    }
}

#[test]
fn audience_near_misses_are_refused() {
    let fx = Fixture::new();
    for aud in [
        "https://as.expenses.example/",
        "https://as.expenses.example.evil",
        TOKEN_ENDPOINT,
        "https://AS.expenses.example",
        "http://as.expenses.example",
        "https://as.expenses",
        API,
        IDP,
    ] {
        assert_invalid_grant(
            fx.redeem(&token_with_aud(&fx, json!(aud))).outcome,
            RejectReason::AudienceMismatch,
        );
        assert_invalid_grant(
            fx.redeem(&token_with_aud(&fx, json!([aud]))).outcome,
            RejectReason::AudienceMismatch,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// A token with these `iat`, `exp` and optional `nbf`, relative to `NOW`.
fn timed_token(fx: &Fixture, iat: i64, exp: i64, nbf: Option<i64>) -> String {
    let mut claims = claims_map(&fx.claims().build().unwrap());
    claims.insert("iat".into(), Value::from(at(iat).as_unix_seconds()));
    claims.insert("exp".into(), Value::from(at(exp).as_unix_seconds()));
    if let Some(nbf) = nbf {
        claims.insert("nbf".into(), Value::from(at(nbf).as_unix_seconds()));
    }
    fx.mint_map(&claims)
}

#[test]
fn expired_beyond_leeway_is_refused() {
    let fx = Fixture::new();
    for exp in [-61, -60, -3_600] {
        assert_invalid_grant(
            fx.redeem(&timed_token(&fx, exp - 300, exp, None)).outcome,
            RejectReason::Expired,
        );
    }
}

#[test]
fn expired_within_leeway_is_accepted() {
    let fx = Fixture::new();
    for exp in [-1, -30, -59] {
        fx.grant(&timed_token(&fx, exp - 300, exp, None));
    }
}

#[test]
fn leeway_is_per_issuer() {
    let fx = Fixture::with_issuer(|trust| trust.with_leeway(0));
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, -300, 0, None)).outcome,
        RejectReason::Expired,
    );
    fx.grant(&timed_token(&fx, -299, 1, None));
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, 1, 300, None)).outcome,
        RejectReason::IssuedInFuture,
    );
}

#[test]
fn not_before_in_the_future_beyond_leeway_is_refused() {
    let fx = Fixture::new();
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, 0, 300, Some(61))).outcome,
        RejectReason::NotYetValid,
    );
    fx.grant(&timed_token(&fx, 0, 300, Some(60)));
    fx.grant(&timed_token(&fx, 0, 300, Some(0)));
    fx.grant(&timed_token(&fx, 0, 300, Some(-5)));
}

#[test]
fn issued_in_the_future_beyond_leeway_is_refused() {
    let fx = Fixture::new();
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, 61, 361, None)).outcome,
        RejectReason::IssuedInFuture,
    );
    fx.grant(&timed_token(&fx, 60, 360, None));
}

#[test]
fn exp_not_after_iat_is_refused() {
    let fx = Fixture::new();
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, 0, 0, None)).outcome,
        RejectReason::LifetimeInvalid,
    );
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, 30, 10, None)).outcome,
        RejectReason::LifetimeInvalid,
    );
    fx.grant(&timed_token(&fx, 0, 1, None));
}

#[test]
fn lifetime_over_the_cap_is_refused() {
    let fx = Fixture::new();
    assert_eq!(fx.issuer.max_lifetime(), 600);
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, 0, 601, None)).outcome,
        RejectReason::LifetimeExceeded,
    );
    // An old iat with a far exp is the same thing.
    assert_invalid_grant(
        fx.redeem(&timed_token(&fx, -3_000, 100, None)).outcome,
        RejectReason::LifetimeExceeded,
    );
    fx.grant(&timed_token(&fx, 0, 600, None));
}

#[test]
fn lifetime_cap_is_configurable() {
    let long = Fixture::with_issuer(|trust| trust.with_max_lifetime(3_600));
    long.grant(&long.redeem_token_lifetime(601));
    long.grant(&long.redeem_token_lifetime(3_600));
    assert_invalid_grant(
        long.redeem(&long.redeem_token_lifetime(3_601)).outcome,
        RejectReason::LifetimeExceeded,
    );

    let short = Fixture::with_issuer(|trust| trust.with_max_lifetime(300));
    short.grant(&short.redeem_token_lifetime(300));
    assert_invalid_grant(
        short.redeem(&short.redeem_token_lifetime(301)).outcome,
        RejectReason::LifetimeExceeded,
    );
}

impl Fixture {
    /// A token issued now that lives `lifetime` seconds.
    fn redeem_token_lifetime(&self, lifetime: i64) -> String {
        timed_token(self, 0, lifetime, None)
    }
}

// ---------------------------------------------------------------------------------------------
// Client binding, tenant, act, cnf
// ---------------------------------------------------------------------------------------------

#[test]
fn client_id_must_be_the_authenticated_client() {
    let fx = Fixture::new();
    let token = fx.token();
    let other = AuthenticatedClient::confidential("aria-at-idp");
    let rejection = assert_invalid_grant(
        fx.redeem_with(&token, None, &other, now()).outcome,
        RejectReason::ClientIdMismatch,
    );
    assert!(rejection.signature_verified());
    // Not burnt: the right client redeems it.
    fx.grant(&token);
}

#[test]
fn issuer_client_allow_list_is_enforced() {
    let others = Fixture::with_issuer(|trust| trust.with_allowed_clients(["other"]));
    assert_invalid_grant(others.redeem(&others.token()).outcome, RejectReason::ClientNotAllowed);

    let none = Fixture::with_issuer(|trust| trust.with_allowed_clients(Vec::<String>::new()));
    assert_invalid_grant(none.redeem(&none.token()).outcome, RejectReason::ClientNotAllowed);

    let ours = Fixture::with_issuer(|trust| trust.with_allowed_clients(["other", CLIENT]));
    ours.grant(&ours.token());
}

#[test]
fn pinned_tenant_must_match() {
    let fx = Fixture::with_issuer(|trust| trust.with_tenant("t1"));
    fx.subjects.link(subject_key(IDP, Some("t1"), SUBJECT), "account-t1");

    let wrong = fx.mint(&fx.claims().tenant("t2").build().unwrap());
    assert_invalid_grant(fx.redeem(&wrong).outcome, RejectReason::TenantMismatch);
    let absent = fx.token();
    assert_invalid_grant(fx.redeem(&absent).outcome, RejectReason::TenantMismatch);
    let case = fx.mint(&fx.claims().tenant("T1").build().unwrap());
    assert_invalid_grant(fx.redeem(&case).outcome, RejectReason::TenantMismatch);

    let right = fx.mint(&fx.claims().tenant("t1").build().unwrap());
    assert_eq!(fx.grant(&right).account(), "account-t1");
}

fn agent() -> Actor {
    Actor::new("agent-aria").with_claim("sub_profile", json!("ai_agent"))
}

#[test]
fn actor_is_accepted_by_default() {
    let fx = Fixture::new();
    let token = fx.mint(&fx.claims().actor(agent()).build().unwrap());
    let grant = fx.grant(&token);
    let actor = grant.id_jag().claims().actor().unwrap();
    assert_eq!(actor.subject(), Some("agent-aria"));
    assert_eq!(actor.claim("sub_profile"), Some(&json!("ai_agent")));
}

#[test]
fn actor_is_refused_when_configured() {
    let fx = Fixture::with_issuer(|trust| trust.with_actor_accepted(false));
    let token = fx.mint(&fx.claims().actor(agent()).build().unwrap());
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::ActorRefused);
    // Without act the same issuer is fine.
    fx.grant(&fx.token());
}

#[test]
fn confirmation_claim_fails_closed() {
    let fx = Fixture::new();
    // Bound to a DPoP key, and no proof came: never redeemed as a bearer token (draft §9.8).
    let token = fx
        .mint(&fx.claims().cnf_jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I").build().unwrap());
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::DpopProofMissing);

    // A binding other than DPoP (here mTLS) is not supported: refused.
    let mut claims = claims_map(&fx.claims().build().unwrap());
    claims.insert("cnf".into(), json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}));
    assert_invalid_grant(
        fx.redeem(&fx.mint_map(&claims)).outcome,
        RejectReason::ConfirmationUnsupported,
    );
}

// ---------------------------------------------------------------------------------------------
// Subject resolution
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_subject_is_refused() {
    let fx = Fixture::new();
    let mut claims = claims_map(&fx.claims().build().unwrap());
    claims.insert("sub".into(), json!("00u-nobody"));
    let rejection = assert_invalid_grant(
        fx.redeem(&fx.mint_map(&claims)).outcome,
        RejectReason::SubjectUnknown,
    );
    assert!(rejection.signature_verified());

    // The subject key includes the tenant: a tenant the link does not name is another user.
    let tenanted = fx.mint(&fx.claims().tenant("t9").build().unwrap());
    assert_invalid_grant(fx.redeem(&tenanted).outcome, RejectReason::SubjectUnknown);
}

#[test]
fn disabled_subject_is_refused_on_the_next_redemption() {
    let fx = Fixture::new();
    fx.grant(&fx.token());
    fx.subjects.set_enabled(ACCOUNT, false);
    assert_invalid_grant(fx.redeem(&fx.token()).outcome, RejectReason::SubjectDisabled);
    fx.subjects.set_enabled(ACCOUNT, true);
    fx.grant(&fx.token());
}

fn nameid(format: &str) -> SamlNameId {
    SamlNameId {
        issuer: SAML_ISSUER.into(),
        nameid: "b@example.com".into(),
        nameid_format: Some(format.into()),
        name_qualifier: None,
        sp_name_qualifier: Some(AS_ISSUER.into()),
        sp_provided_id: None,
        extra: Map::new(),
    }
}

/// A token whose `sub` is linked to nothing, with this `sub_id`.
fn saml_token(fx: &Fixture, id: SamlNameId) -> String {
    let claims = fx.claims().sub_id(SubjectIdentifier::SamlNameId(id)).build().unwrap();
    let mut claims = claims_map(&claims);
    claims.insert("sub".into(), json!("pairwise-7f3a"));
    fx.mint_map(&claims)
}

#[test]
fn saml_nameid_resolves_when_issuer_is_associated() {
    let fx = Fixture::with_issuer(|trust| trust.with_saml_issuers([SAML_ISSUER]));
    fx.subjects.link_saml(&nameid(EMAIL_FORMAT), "account-saml");
    let grant = fx.grant(&saml_token(&fx, nameid(EMAIL_FORMAT)));
    assert_eq!(grant.account(), "account-saml");
}

#[test]
fn saml_nameid_with_another_format_does_not_resolve() {
    let fx = Fixture::with_issuer(|trust| trust.with_saml_issuers([SAML_ISSUER]));
    fx.subjects.link_saml(&nameid(EMAIL_FORMAT), "account-saml");
    assert_invalid_grant(
        fx.redeem(&saml_token(&fx, nameid(PERSISTENT_FORMAT))).outcome,
        RejectReason::SubjectUnknown,
    );
    // Nor with a qualifier the link does not have.
    let mut qualified = nameid(EMAIL_FORMAT);
    qualified.name_qualifier = Some("https://other-namespace.example".into());
    assert_invalid_grant(
        fx.redeem(&saml_token(&fx, qualified)).outcome,
        RejectReason::SubjectUnknown,
    );
    // Nor from another SAML issuer asserting the same value.
    let mut foreign = nameid(EMAIL_FORMAT);
    foreign.issuer = "https://saml.other.example/entity".into();
    assert_invalid_grant(
        fx.redeem(&saml_token(&fx, foreign)).outcome,
        RejectReason::SubjectUnknown,
    );
}

#[test]
fn saml_nameid_alone_resolves_only_when_allowed() {
    let fx = Fixture::with_issuer(|trust| {
        trust.with_saml_issuers([SAML_ISSUER]).with_nameid_alone(true)
    });
    fx.subjects.link_saml(&nameid(EMAIL_FORMAT), "account-saml");
    let grant = fx.grant(&saml_token(&fx, nameid(PERSISTENT_FORMAT)));
    assert_eq!(grant.account(), "account-saml");
}

#[test]
fn saml_nameid_is_ignored_without_association() {
    let fx = Fixture::new();
    fx.subjects.link_saml(&nameid(EMAIL_FORMAT), "account-saml");
    assert_invalid_grant(
        fx.redeem(&saml_token(&fx, nameid(EMAIL_FORMAT))).outcome,
        RejectReason::SubjectUnknown,
    );
    // Associated with another SAML issuer only: still ignored, even with NameID-alone.
    let fx = Fixture::with_issuer(|trust| {
        trust.with_saml_issuers(["https://saml.other.example/entity"]).with_nameid_alone(true)
    });
    fx.subjects.link_saml(&nameid(EMAIL_FORMAT), "account-saml");
    assert_invalid_grant(
        fx.redeem(&saml_token(&fx, nameid(EMAIL_FORMAT))).outcome,
        RejectReason::SubjectUnknown,
    );
}

#[test]
fn subject_identity_exposes_only_associated_nameid() {
    let fx = Fixture::with_issuer(|trust| trust.with_saml_issuers([SAML_ISSUER]));
    let token = saml_token(&fx, nameid(EMAIL_FORMAT));
    let verified =
        fx.verify(&token, now()).unwrap().finish(Some(Ok(ReplayVerdict::Fresh))).unwrap();
    let identity = verified.subject_identity();
    assert_eq!(identity.saml_nameid(), Some(&nameid(EMAIL_FORMAT)));
    assert_eq!(identity.subject_key(), subject_key(IDP, None, "pairwise-7f3a"));
    assert!(!identity.nameid_alone_allowed());

    let unassociated = Fixture::new();
    let token = saml_token(&unassociated, nameid(EMAIL_FORMAT));
    let verified =
        unassociated.verify(&token, now()).unwrap().finish(Some(Ok(ReplayVerdict::Fresh))).unwrap();
    assert_eq!(verified.subject_identity().saml_nameid(), None);
    assert_eq!(
        unassociated.subjects.resolve(&verified.subject_identity()),
        SubjectResolution::Unknown
    );
}

#[test]
fn subject_identity_exposes_the_resource_side_identifiers_for_the_host() {
    // draft §3: aud_sub, aud_tenant and email let the host resolve or provision the account.
    let fx = Fixture::new();
    let claims =
        fx.claims().aud_sub("acct-77").aud_tenant("expenses-eu").email("b@company.example");
    let verified = fx
        .verify(&fx.mint(&claims.build().unwrap()), now())
        .unwrap()
        .finish(Some(Ok(ReplayVerdict::Fresh)))
        .unwrap();
    let identity = verified.subject_identity();
    assert_eq!(identity.aud_sub(), Some("acct-77"));
    assert_eq!(identity.aud_tenant(), Some("expenses-eu"));
    assert_eq!(identity.email(), Some("b@company.example"));

    let bare = fx.verify(&fx.token(), now()).unwrap().finish(Some(Ok(ReplayVerdict::Fresh)));
    let bare = bare.unwrap();
    let identity = bare.subject_identity();
    assert_eq!((identity.aud_sub(), identity.aud_tenant(), identity.email()), (None, None, None));
}

// ---------------------------------------------------------------------------------------------
// authorization_details, resource, scope
// ---------------------------------------------------------------------------------------------

fn expense_details() -> Vec<AuthorizationDetail> {
    vec![
        AuthorizationDetail::from_value(json!({
            "type": "expense_report",
            "actions": ["read", "submit"],
            "limit": {"currency": "EUR", "amount": "500.00"}
        }))
        .unwrap(),
    ]
}

#[test]
fn authorization_details_refused_by_default_policy() {
    let fx = Fixture::new();
    let token = fx.mint(&fx.claims().authorization_details(expense_details()).build().unwrap());
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::AuthorizationDetailsRefused);
}

#[test]
fn authorization_details_granted_by_a_policy_that_accepts_them() {
    let fx = Fixture::new();
    let token = fx.mint(&fx.claims().authorization_details(expense_details()).build().unwrap());
    let hosts = RedeemHosts { policy: &AcceptDetails, ..fx.hosts() };
    let grant = assert_granted(fx.redeem_hosts(&hosts, &token));
    assert_eq!(grant.authorization_details(), Some(expense_details().as_slice()));
    assert_eq!(grant.authorization_details().unwrap()[0].detail_type(), "expense_report");
}

#[test]
fn granted_authorization_details_reach_the_token_response_and_the_access_token() {
    let fx = Fixture::new();
    let token = fx.mint(&fx.claims().authorization_details(expense_details()).build().unwrap());
    let hosts = RedeemHosts { policy: &AcceptDetails, ..fx.hosts() };
    let grant = assert_granted(fx.redeem_hosts(&hosts, &token));
    let expected: Vec<Value> =
        expense_details().iter().map(AuthorizationDetail::to_value).collect();

    let as_key: Arc<dyn Signer> = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let issued = AccessTokenIssuer::new(AS_ISSUER, as_key, 300).mint(&grant, now()).unwrap();
    // RFC 9396 §7: the token response says what was granted ...
    let response: Value = serde_json::from_str(&issued.token_response(&grant).to_json()).unwrap();
    assert_eq!(response["authorization_details"], Value::Array(expected.clone()));
    // ... and §9.1: the JWT access token carries it for the resource server.
    let jws = CompactJws::parse(issued.token(), &ParseOptions::new(AlgorithmSet::all())).unwrap();
    let payload: Value = serde_json::from_slice(jws.unverified_payload()).unwrap();
    assert_eq!(payload["authorization_details"], Value::Array(expected));

    // Without details, neither mentions them.
    let plain = fx.grant(&fx.token());
    let as_key: Arc<dyn Signer> = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let issued = AccessTokenIssuer::new(AS_ISSUER, as_key, 300).mint(&plain, now()).unwrap();
    let response: Value = serde_json::from_str(&issued.token_response(&plain).to_json()).unwrap();
    assert!(response.get("authorization_details").is_none());
    let jws = CompactJws::parse(issued.token(), &ParseOptions::new(AlgorithmSet::all())).unwrap();
    let payload: Value = serde_json::from_slice(jws.unverified_payload()).unwrap();
    assert!(payload.get("authorization_details").is_none());
}

#[test]
fn resource_not_served_is_refused() {
    let fx = Fixture::new();
    let token = fx.mint(&fx.claims().resource("https://api.other.example").build().unwrap());
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::ResourceNotServed);
    // One unserved among served ones is enough.
    let token =
        fx.mint(&fx.claims().resources(vec![API.into(), format!("{API}/")]).build().unwrap());
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::ResourceNotServed);
}

#[test]
fn resource_served_is_granted() {
    let fx = Fixture::new();
    let one = fx.mint(&fx.claims().resource(FILES).build().unwrap());
    assert_eq!(fx.grant(&one).resources(), [FILES.to_owned()]);
    let both = fx.mint(&fx.claims().resources(vec![FILES.into(), API.into()]).build().unwrap());
    assert_eq!(fx.grant(&both).resources(), [FILES.to_owned(), API.to_owned()]);
}

#[test]
fn no_resource_defaults_to_the_first_served() {
    let fx = Fixture::new();
    assert_eq!(fx.grant(&fx.token()).resources(), [API.to_owned()]);

    // With none configured, a token naming a resource is refused and one naming none gets
    // this AS as its audience.
    let bare = Fixture::with_config(|config| config.with_served_resources(Vec::<String>::new()));
    let named = bare.mint(&bare.claims().resource(API).build().unwrap());
    assert_invalid_grant(bare.redeem(&named).outcome, RejectReason::ResourceNotServed);
    assert_eq!(bare.grant(&bare.token()).resources(), [AS_ISSUER.to_owned()]);
}

#[test]
fn scope_defaults_to_the_whole_id_jag_scope() {
    let fx = Fixture::new();
    let grant = fx.grant(&fx.token());
    assert_eq!(grant.scope(), Some(&scope(SCOPE)));

    let unscoped = fx.mint(&fx.claims().scope(Scope::default()).build().unwrap());
    assert_eq!(fx.grant(&unscoped).scope(), None);
}

#[test]
fn requested_subset_of_scope_is_granted_exactly() {
    let fx = Fixture::new();
    let grant = assert_granted(fx.redeem_scope(&fx.token(), "expenses.read"));
    assert_eq!(granted_scope(&grant).as_deref(), Some("expenses.read"));
    let grant = assert_granted(fx.redeem_scope(&fx.token(), "expenses.write expenses.read"));
    assert_eq!(grant.scope(), Some(&scope(SCOPE)));
}

#[test]
fn requested_scope_outside_the_id_jag_is_invalid_scope() {
    let fx = Fixture::new();
    for requested in ["expenses.admin", "expenses.read expenses.admin", "expenses"] {
        let rejection = assert_refused(
            fx.redeem_scope(&fx.token(), requested).outcome,
            RejectReason::ScopeNotGranted,
            WireError::InvalidScope,
        );
        assert!(rejection.signature_verified());
    }
    // The ID-JAG holds no scope at all.
    let unscoped = fx.mint(&fx.claims().scope(Scope::default()).build().unwrap());
    assert_refused(
        fx.redeem_scope(&unscoped, "expenses.read").outcome,
        RejectReason::ScopeNotGranted,
        WireError::InvalidScope,
    );
}

#[test]
fn policy_ceiling_narrows_the_scope() {
    let fx = Fixture::new();
    let ceiling = Ceiling(scope("expenses.read profile"));
    let hosts = RedeemHosts { policy: &ceiling, ..fx.hosts() };
    let grant = assert_granted(fx.redeem_hosts(&hosts, &fx.token()));
    assert_eq!(granted_scope(&grant).as_deref(), Some("expenses.read"));

    // A requested scope the ID-JAG holds, narrowed further by the ceiling.
    let requested = fx.server.redeem(
        &hosts,
        body(&fx.token(), Some("expenses.write expenses.read")).as_bytes(),
        &client(),
        now(),
    );
    assert_eq!(granted_scope(&assert_granted(requested)).as_deref(), Some("expenses.read"));
}

#[test]
fn policy_ceiling_disjoint_leaves_nothing() {
    let fx = Fixture::new();
    let ceiling = Ceiling(scope("profile"));
    let hosts = RedeemHosts { policy: &ceiling, ..fx.hosts() };
    assert_refused(
        fx.redeem_hosts(&hosts, &fx.token()).outcome,
        RejectReason::ScopeEmpty,
        WireError::InvalidScope,
    );
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

#[test]
fn second_redemption_is_replayed() {
    let fx = Fixture::new();
    let token = fx.token();
    fx.grant(&token);
    let rejection = assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::Replayed);
    assert!(rejection.signature_verified());
    // Another scope request does not make it another token.
    assert_invalid_grant(fx.redeem_scope(&token, "expenses.read").outcome, RejectReason::Replayed);
    // Nor does another token (another scope) with the same jti from the same issuer.
    let jti = fx.verify(&token, now()).unwrap().claims().jwt_id().to_owned();
    let mut claims = claims_map(&fx.claims().build().unwrap());
    claims.insert("jti".into(), json!(jti));
    claims.insert("scope".into(), json!("expenses.read"));
    assert_invalid_grant(fx.redeem(&fx.mint_map(&claims)).outcome, RejectReason::Replayed);
}

#[test]
fn same_jti_from_another_trusted_issuer_is_not_a_replay() {
    let fx = Fixture::new();
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    fx.issuers.insert(TrustedIssuer::new(OTHER_IDP, single_key_set(&other)));
    fx.subjects.link(subject_key(OTHER_IDP, None, SUBJECT), "account-other");

    let ours = fx.claims().build().unwrap();
    let jti = ours.jwt_id().to_owned();
    let theirs = IdJagClaims::builder(RequiredClaims {
        issuer: OTHER_IDP.into(),
        subject: SUBJECT.into(),
        audience: AS_ISSUER.into(),
        client_id: CLIENT.into(),
        jwt_id: jti.clone(),
        issued_at: now(),
        expires_at: at(300),
    })
    .build()
    .unwrap();
    let theirs = sign_compact(&other, Some(TYP), theirs.to_json().as_bytes()).unwrap();

    assert_eq!(fx.grant(&fx.mint(&ours)).account(), ACCOUNT);
    assert_eq!(fx.grant(&theirs).account(), "account-other");
    assert_invalid_grant(fx.redeem(&theirs).outcome, RejectReason::Replayed);
}

#[test]
fn allow_representation_redeems_twice() {
    let fx =
        Fixture::with_config(|config| config.with_replay_policy(ReplayPolicy::AllowRepresentation));
    let token = fx.token();
    fx.grant(&token);
    fx.grant(&token);
    assert!(fx.replay.is_empty(), "no replay record under AllowRepresentation");
    let checked = fx.verify(&token, now()).unwrap();
    assert!(!checked.needs_replay_check());
    checked.finish(None).unwrap();
}

#[test]
fn replay_record_is_kept_until_exp_plus_leeway() {
    let fx = Fixture::new();
    let token = fx.token(); // exp = NOW + 300
    let checked = fx.verify(&token, now()).unwrap();
    assert!(checked.needs_replay_check());
    assert_eq!(checked.replay_keep_until(), at(360));

    let short = Fixture::with_issuer(|trust| trust.with_leeway(5));
    let checked = short.verify(&short.token(), now()).unwrap();
    assert_eq!(checked.replay_keep_until(), at(305));

    // The one-call path hands (iss, jti, exp + leeway) to the guard.
    let guard = RecordingGuard::default();
    let hosts = RedeemHosts { replay: &guard, ..fx.hosts() };
    let claims = fx.claims().build().unwrap();
    assert_granted(fx.redeem_hosts(&hosts, &fx.mint(&claims)));
    assert_eq!(
        *guard.seen.lock().unwrap(),
        [(IDP.to_owned(), claims.jwt_id().to_owned(), at(360))]
    );

    // With the memory guard, the record outlives exp while the token is still acceptable.
    fx.grant(&token);
    assert_invalid_grant(fx.redeem_at(&token, at(299)).outcome, RejectReason::Replayed);
    assert_invalid_grant(fx.redeem_at(&token, at(359)).outcome, RejectReason::Replayed);
    assert_invalid_grant(fx.redeem_at(&token, at(360)).outcome, RejectReason::Expired);
}

#[test]
fn replay_store_unavailable_fails_closed() {
    let fx = Fixture::new();
    let guard = FailingGuard(ReplayError::Unavailable);
    let hosts = RedeemHosts { replay: &guard, ..fx.hosts() };
    assert_refused(
        fx.redeem_hosts(&hosts, &fx.token()).outcome,
        RejectReason::ReplayStoreUnavailable,
        WireError::ServerError,
    );
}

#[test]
fn replay_store_full_is_temporarily_unavailable() {
    let fx = Fixture::new();
    let guard = FailingGuard(ReplayError::Full);
    let hosts = RedeemHosts { replay: &guard, ..fx.hosts() };
    assert_refused(
        fx.redeem_hosts(&hosts, &fx.token()).outcome,
        RejectReason::ReplayStoreFull,
        WireError::TemporarilyUnavailable,
    );

    // The memory guard reports the same when full of live records.
    let tiny = MemoryReplayGuard::new(1);
    let hosts = RedeemHosts { replay: &tiny, ..fx.hosts() };
    let mut full = 0;
    for _ in 0..40 {
        match fx.redeem_hosts(&hosts, &fx.token()).outcome {
            Ok(_) => {}
            Err(rejection) => {
                assert_eq!(rejection.reason(), RejectReason::ReplayStoreFull);
                assert_eq!(rejection.wire_error(), WireError::TemporarilyUnavailable);
                full += 1;
            }
        }
    }
    assert!(full > 0);
    assert!(tiny.len() <= 16);
}

#[test]
fn staged_finish_verdicts() {
    let fx = Fixture::new();
    let checked = || fx.verify(&fx.token(), now()).unwrap();

    assert_refused(checked().finish(None), RejectReason::ReplayNotChecked, WireError::ServerError);
    assert_invalid_grant(
        checked().finish(Some(Ok(ReplayVerdict::Replayed))),
        RejectReason::Replayed,
    );
    assert_refused(
        checked().finish(Some(Err(ReplayError::Unavailable))),
        RejectReason::ReplayStoreUnavailable,
        WireError::ServerError,
    );
    assert_refused(
        checked().finish(Some(Err(ReplayError::Full))),
        RejectReason::ReplayStoreFull,
        WireError::TemporarilyUnavailable,
    );

    // The full staged path, as a host with async stores would run it.
    let token = fx.token();
    let unverified = fx.server.parse(&token).unwrap();
    assert_eq!(unverified.issuer(), IDP);
    assert_eq!(unverified.kid(), fx.key.kid());
    let issuer = fx.issuers.trusted_issuer(unverified.issuer());
    let checked = fx.server.verify(unverified, issuer, &client(), now()).unwrap();
    let verdict = fx.replay.check_and_record(
        checked.claims().issuer(),
        checked.claims().jwt_id(),
        checked.replay_keep_until(),
        now(),
    );
    let verified = checked.finish(Some(verdict)).unwrap();
    let subject = fx.subjects.resolve(&verified.subject_identity());
    assert_eq!(subject, SubjectResolution::Active(ACCOUNT.into()));
    let requested = scope("expenses.read");
    let grant = fx.server.grant(verified, subject, Some(&requested), &client(), &AllowAll).unwrap();
    assert_eq!(grant.scope(), Some(&requested));
    // The staged path and the one-call path share the replay store.
    assert_invalid_grant(fx.redeem(&token).outcome, RejectReason::Replayed);
}

#[test]
fn concurrent_redemptions_of_one_id_jag_succeed_exactly_once() {
    const THREADS: usize = 16;
    let fx = Fixture::new();
    for round in 0..50 {
        let token = fx.token();
        let form = body(&token, None);
        let barrier = Barrier::new(THREADS);
        let outcomes: Vec<Result<String, RejectReason>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        fx.server
                            .redeem(&fx.hosts(), form.as_bytes(), &client(), now())
                            .outcome
                            .map(|grant| grant.account().to_owned())
                            .map_err(|rejection| rejection.reason())
                    })
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        let granted: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert_eq!(granted, [ACCOUNT], "round {round}: {outcomes:?}");
        let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        assert_eq!(refused.len(), THREADS - 1);
        assert!(refused.iter().all(|r| **r == RejectReason::Replayed), "round {round}");
    }
    assert_eq!(fx.replay.len(), 50);
}

// ---------------------------------------------------------------------------------------------
// Access token
// ---------------------------------------------------------------------------------------------

#[test]
fn access_token_is_an_rfc_9068_jwt() {
    let fx = Fixture::new();
    let id_jag_claims = fx.claims().actor(agent()).resource(FILES).build().unwrap();
    let grant = assert_granted(fx.redeem_scope(&fx.mint(&id_jag_claims), "expenses.read"));

    let as_key = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let signer: Arc<dyn Signer> = as_key.clone();
    let issued = AccessTokenIssuer::new(AS_ISSUER, signer, 300).mint(&grant, now()).unwrap();
    assert_eq!(issued.expires_at(), at(300));

    let jws = CompactJws::parse(issued.token(), &ParseOptions::new(AlgorithmSet::all())).unwrap();
    assert_eq!(jws.header().typ(), Some("at+jwt"));
    assert_eq!(jws.header().algorithm(), Algorithm::Es256);
    assert_eq!(jws.header().kid(), as_key.kid());
    jws.verify_with(as_key.verification_key()).unwrap();
    // Not the IdP's key.
    assert_eq!(jws.verify_with(fx.key.verification_key()), Err(JoseError::SignatureInvalid));

    let payload: Value = serde_json::from_slice(jws.unverified_payload()).unwrap();
    assert_eq!(payload["iss"], AS_ISSUER);
    assert_eq!(payload["sub"], ACCOUNT);
    assert_eq!(payload["aud"], FILES);
    assert_eq!(payload["client_id"], CLIENT);
    assert_eq!(payload["scope"], "expenses.read");
    assert_eq!(payload["jti"], issued.jwt_id());
    assert_ne!(payload["jti"], id_jag_claims.jwt_id());
    assert_eq!(payload["iat"], NOW);
    assert_eq!(payload["exp"], NOW + 300);
    assert_eq!(payload["act"], json!({"sub": "agent-aria", "sub_profile": "ai_agent"}));
    assert_eq!(payload.get("email"), None);

    // Two mints have two jtis.
    let signer: Arc<dyn Signer> = as_key.clone();
    let second = AccessTokenIssuer::new(AS_ISSUER, signer, 300).mint(&grant, now()).unwrap();
    assert_ne!(second.jwt_id(), issued.jwt_id());
}

#[test]
fn access_token_without_act_or_scope_omits_them() {
    let fx = Fixture::new();
    let unscoped = fx.mint(&fx.claims().scope(Scope::default()).build().unwrap());
    let grant = fx.grant(&unscoped);
    let as_key: Arc<dyn Signer> = Arc::new(SigningKey::generate(Algorithm::EdDsa).unwrap());
    let issued = AccessTokenIssuer::new(AS_ISSUER, as_key, 60).mint(&grant, now()).unwrap();
    let jws = CompactJws::parse(issued.token(), &ParseOptions::new(AlgorithmSet::all())).unwrap();
    let payload: Value = serde_json::from_slice(jws.unverified_payload()).unwrap();
    assert_eq!(payload.get("act"), None);
    assert_eq!(payload.get("scope"), None);
    assert_eq!(payload["aud"], API);
    assert_eq!(payload["exp"], NOW + 60);
    let response: Value = serde_json::from_str(&issued.token_response(&grant).to_json()).unwrap();
    assert_eq!(response.get("scope"), None);
    assert_eq!(response["expires_in"], 60);
}

#[test]
fn token_response_is_bearer_without_refresh_token() {
    let fx = Fixture::new();
    let grant = assert_granted(fx.redeem_scope(&fx.token(), "expenses.read"));
    let as_key: Arc<dyn Signer> = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let issued = AccessTokenIssuer::new(AS_ISSUER, as_key, 300).mint(&grant, now()).unwrap();
    let response = issued.token_response(&grant);

    let json: Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(json["access_token"], issued.token());
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 300);
    assert_eq!(json["scope"], "expenses.read");
    assert_eq!(json.get("refresh_token"), None);
    assert_eq!(json.get("issued_token_type"), None);
    assert!(response.headers().contains(&("Cache-Control", "no-store")));
    assert!(response.headers().contains(&("Content-Type", "application/json")));

    let debug = format!("{issued:?} {response:?}");
    assert!(!debug.contains(issued.token()), "{debug}");
    for segment in issued.token().split('.') {
        assert!(!debug.contains(segment), "{debug}");
    }
}

// ---------------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------------

fn audit_json(redemption: &Redemption) -> Value {
    let line = redemption.audit.to_json_line();
    assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    serde_json::from_str(&line).unwrap()
}

#[test]
fn audit_of_an_accepted_redemption() {
    let fx = Fixture::new();
    let claims = fx.claims().build().unwrap();
    let token = fx.mint(&claims);
    let redemption = fx.redeem_scope(&token, "expenses.read");
    assert!(redemption.outcome.is_ok());
    let line = redemption.audit.to_json_line();
    assert!(!line.contains(&token));
    let audit = audit_json(&redemption);
    assert_eq!(audit["event"], "id_jag_redeemed");
    assert_eq!(audit["time"], NOW);
    assert_eq!(audit["issuer"], IDP);
    assert_eq!(audit["subject"], SUBJECT);
    assert_eq!(audit["account"], ACCOUNT);
    assert_eq!(audit["client_id"], CLIENT);
    assert_eq!(audit["audience"], AS_ISSUER);
    assert_eq!(audit["requested_scope"], "expenses.read");
    assert_eq!(audit["granted_scope"], "expenses.read");
    assert_eq!(audit["jwt_id"], claims.jwt_id());
    assert_eq!(audit["resource"], json!([API]));
    assert_eq!(audit["claims_verified"], true);
    assert_eq!(audit.get("reason"), None);
    assert_eq!(audit.get("wire_error"), None);
    assert_eq!(audit.get("actor"), None);
}

#[test]
fn audit_of_a_replay() {
    let fx = Fixture::new();
    let token = fx.token();
    fx.grant(&token);
    let redemption = fx.redeem(&token);
    let audit = audit_json(&redemption);
    assert_eq!(audit["event"], "id_jag_rejected");
    assert_eq!(audit["reason"], "replayed");
    assert_eq!(audit["wire_error"], "invalid_grant");
    assert_eq!(audit["issuer"], IDP);
    assert_eq!(audit["claims_verified"], true);
    assert_eq!(audit.get("account"), None);
    assert_eq!(audit.get("granted_scope"), None);
}

#[test]
fn audit_of_a_bad_signature_marks_claims_unverified() {
    let fx = Fixture::new();
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    let payload = fx.claims().build().unwrap().to_json();
    let forged = mint_raw(&other, &header(&other, Some(TYP), fx.key.kid()), &payload);
    let redemption = fx.redeem(&forged);
    let audit = audit_json(&redemption);
    assert_eq!(audit["event"], "id_jag_rejected");
    assert_eq!(audit["reason"], "jws_signature_invalid");
    assert_eq!(audit["wire_error"], "invalid_grant");
    assert_eq!(audit["claims_verified"], false);
    assert_eq!(audit.get("account"), None);
}

#[test]
fn audit_line_survives_hostile_claim_strings() {
    let fx = Fixture::new();
    let hostile = "u1\n{\"event\":\"id_jag_redeemed\"}\r\u{2028}\"";
    fx.subjects.link(subject_key(IDP, None, hostile), ACCOUNT);
    let mut claims = claims_map(&fx.claims().build().unwrap());
    claims.insert("sub".into(), json!(hostile));
    let redemption = fx.redeem(&fx.mint_map(&claims));
    assert!(redemption.outcome.is_ok());
    let audit = audit_json(&redemption);
    assert_eq!(audit["subject"], hostile);
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

#[test]
fn metadata_advertises_the_profile_and_jwt_bearer() {
    let metadata = ResourceServerMetadata::new(AS_ISSUER, TOKEN_ENDPOINT)
        .with_grant_type("authorization_code")
        .with_grant_type(urn::GRANT_TYPE_JWT_BEARER)
        .with_member("grant_types_supported", json!(["authorization_code"]))
        .with_member(urn::METADATA_AUTHORIZATION_GRANT_PROFILES, json!([]))
        .with_member("issuer", json!("https://evil.example"))
        .with_member("scopes_supported", json!(["expenses.read"]));
    let document = metadata.to_json();
    assert_eq!(document["issuer"], AS_ISSUER);
    assert_eq!(document["token_endpoint"], TOKEN_ENDPOINT);
    assert_eq!(
        document["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    assert_eq!(
        document["grant_types_supported"],
        json!(["urn:ietf:params:oauth:grant-type:jwt-bearer", "authorization_code"])
    );
    assert_eq!(document["scopes_supported"], json!(["expenses.read"]));
}

#[test]
fn metadata_reveals_no_trusted_issuer() {
    let document = ResourceServerMetadata::new(AS_ISSUER, TOKEN_ENDPOINT).to_json();
    let members: Vec<&str> = document.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = members.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "authorization_grant_profiles_supported",
            "grant_types_supported",
            "issuer",
            "token_endpoint"
        ]
    );
    assert!(!document.to_string().contains("idp"));
}

// ---------------------------------------------------------------------------------------------
// Deployment shapes
// ---------------------------------------------------------------------------------------------

#[test]
fn okta_like_token_is_accepted() {
    let fx = Fixture::custom(Algorithm::Rs256, |trust| trust, |config| config);
    let claims = fx
        .claims()
        .actor(agent())
        .extra_claim("sub_profile", json!("user"))
        .email("b@example.com")
        .build()
        .unwrap();
    let token = fx.mint(&claims);
    let jws = CompactJws::parse(&token, &ParseOptions::new(AlgorithmSet::all())).unwrap();
    assert_eq!(jws.header().algorithm(), Algorithm::Rs256);
    assert!(jws.header().kid().is_some());
    assert_eq!(claims.expires_at().seconds_since(claims.issued_at()), Some(300));

    let redemption = fx.redeem_scope(&token, "expenses.read");
    let audit = audit_json(&redemption);
    let grant = assert_granted(redemption);
    assert_eq!(grant.account(), ACCOUNT);
    let verified = grant.id_jag().claims();
    assert_eq!(verified.extra_claim("sub_profile"), Some(&json!("user")));
    assert_eq!(verified.email(), Some("b@example.com"));
    assert_eq!(verified.actor().and_then(Actor::subject), Some("agent-aria"));
    assert_eq!(audit["actor"], "agent-aria");
    assert_eq!(audit["event"], "id_jag_redeemed");
}

#[test]
fn eddsa_token_with_nbf_and_array_audience_is_accepted() {
    let fx = Fixture::custom(Algorithm::EdDsa, |trust| trust, |config| config);
    let mut claims = claims_map(&fx.claims().not_before(at(-2)).build().unwrap());
    claims.insert("aud".into(), json!([AS_ISSUER]));
    let token = fx.mint_map(&claims);
    let jws = CompactJws::parse(&token, &ParseOptions::new(AlgorithmSet::all())).unwrap();
    assert_eq!(jws.header().algorithm(), Algorithm::EdDsa);
    let grant = fx.grant(&token);
    assert_eq!(grant.account(), ACCOUNT);
    assert_eq!(grant.id_jag().claims().not_before(), Some(at(-2)));
}

#[test]
fn es256_rs256_and_eddsa_issuers_side_by_side() {
    let fx = Fixture::new();
    let rsa = SigningKey::generate(Algorithm::Rs256).unwrap();
    let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
    fx.issuers.insert(
        TrustedIssuer::new(
            OTHER_IDP,
            KeySet::new(vec![rsa.verification_key().clone(), ed.verification_key().clone()])
                .unwrap(),
        )
        .with_algorithms(AlgorithmSet::only(&[Algorithm::Rs256, Algorithm::EdDsa])),
    );
    fx.subjects.link(subject_key(OTHER_IDP, None, SUBJECT), "account-other");
    for key in [&rsa, &ed] {
        let claims = claims_for(OTHER_IDP).build().unwrap();
        let token = sign_compact(key, Some(TYP), claims.to_json().as_bytes()).unwrap();
        assert_eq!(fx.grant(&token).account(), "account-other");
    }
    // The ES256 IdP's key is not the other issuer's, whatever the token says.
    let forged = fx.mint(&claims_for(OTHER_IDP).build().unwrap());
    assert_invalid_grant(fx.redeem(&forged).outcome, RejectReason::AlgorithmNotAllowedForIssuer);
    fx.grant(&fx.token());
}

#[test]
fn a_dpop_binding_next_to_another_method_is_refused_whole() {
    // cnf with jkt and x5t#S256: the mTLS half could not be checked, so nothing is redeemed.
    let fx = Fixture::new();
    let mut claims = claims_map(&fx.claims().build().unwrap());
    claims.insert(
        "cnf".into(),
        json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
               "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
    );
    assert_invalid_grant(
        fx.redeem(&fx.mint_map(&claims)).outcome,
        RejectReason::ConfirmationUnsupported,
    );
}

#[test]
fn access_token_claims_of_the_wrong_type_are_malformed_not_absent() {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let keys = KeySet::new(vec![key.verification_key().clone()]).unwrap();
    let verifier = AccessTokenVerifier::new("https://as.example", "https://api.example", keys);
    let now = id_jag::NumericDate::from_unix_seconds(1_764_000_000).unwrap();
    let token = |extra: Value| {
        let mut claims = json!({"iss": "https://as.example", "aud": "https://api.example",
                                "sub": "acct", "exp": 1_764_000_300u64});
        claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        sign_compact(&key, Some("at+jwt"), claims.to_string().as_bytes()).unwrap()
    };
    assert!(verifier.verify(&token(json!({})), None, now).is_ok());
    for extra in [
        json!({"scope": 5}),
        json!({"scope": null}),
        json!({"client_id": ["aria"]}),
        json!({"act": "aria"}),
        json!({"act": {"sub": 7}}),
    ] {
        assert_eq!(
            verifier.verify(&token(extra.clone()), None, now),
            Err(AccessTokenError::Malformed),
            "{extra}"
        );
    }
}

/// An access token as the resource AS mints it for a grant with an actor, its claims, and the
/// verifier of the resource `API`, which trusts the AS key.
struct MintedAccessToken {
    as_key: Arc<SigningKey>,
    token: String,
    claims: Map<String, Value>,
    verifier: AccessTokenVerifier,
}

impl MintedAccessToken {
    fn new() -> Self {
        let fx = Fixture::new();
        let id_jag = fx.mint(&fx.claims().actor(agent()).build().unwrap());
        let grant = assert_granted(fx.redeem_scope(&id_jag, "expenses.read"));
        let as_key = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
        let signer: Arc<dyn Signer> = as_key.clone();
        let issued = AccessTokenIssuer::new(AS_ISSUER, signer, 300).mint(&grant, now()).unwrap();
        let token = issued.token().to_owned();
        let jws = CompactJws::parse(&token, &ParseOptions::new(AlgorithmSet::all())).unwrap();
        let claims = serde_json::from_slice(jws.unverified_payload()).unwrap();
        let verifier = AccessTokenVerifier::new(AS_ISSUER, API, single_key_set(&as_key));
        MintedAccessToken { as_key, token, claims, verifier }
    }

    /// The minted claims after `edit`, signed again as `at+jwt` by the AS key.
    fn resigned(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut claims = self.claims.clone();
        edit(&mut claims);
        let payload = Value::Object(claims).to_string();
        sign_compact(&*self.as_key, Some("at+jwt"), payload.as_bytes()).unwrap()
    }

    fn verify(
        &self,
        token: &str,
        needed: Option<&str>,
    ) -> Result<VerifiedAccessToken, AccessTokenError> {
        self.verifier.verify(token, needed.map(scope).as_ref(), now())
    }
}

#[test]
fn access_token_as_minted_verifies_with_its_typed_claims() {
    // The control of the three tests below: RFC 9068 §2.2 claims of their RFC 8693 §4 types.
    let minted = MintedAccessToken::new();
    assert_eq!(minted.claims["scope"], "expenses.read");
    assert_eq!(minted.claims["client_id"], CLIENT);
    assert_eq!(minted.claims["act"]["sub"], "agent-aria");
    let verified = minted.verify(&minted.token, Some("expenses.read")).unwrap();
    assert_eq!(verified.subject, ACCOUNT);
    assert_eq!(verified.scope, Some(scope("expenses.read")));
    assert_eq!(verified.client_id.as_deref(), Some(CLIENT));
    assert_eq!(verified.actor.as_deref(), Some("agent-aria"));
    // Signed again unchanged, the claims verify alike: re-signing is not what the tests refuse.
    let resigned = minted.resigned(|_| {});
    assert_eq!(minted.verify(&resigned, Some("expenses.read")), Ok(verified));
}

#[test]
fn access_token_scope_of_a_number_is_malformed_not_absent() {
    // RFC 8693 §4.2 (RFC 9068 §2.2.3): `scope` is a JSON string of space-separated scopes.
    let minted = MintedAccessToken::new();
    let numeric = minted.resigned(|claims| {
        claims.insert("scope".into(), json!(5));
    });
    assert_eq!(minted.verify(&numeric, None), Err(AccessTokenError::Malformed));
    assert_eq!(AccessTokenError::Malformed.reason(), "at_malformed");
    // Read as absent, it would be reported as too narrow for a needed scope instead.
    let needed = Some("expenses.read");
    assert_eq!(minted.verify(&numeric, needed), Err(AccessTokenError::Malformed));
    let absent = minted.resigned(|claims| {
        claims.remove("scope");
    });
    assert_eq!(minted.verify(&absent, needed), Err(AccessTokenError::InsufficientScope));
    let typed = minted.resigned(|claims| {
        claims.insert("scope".into(), json!("expenses.read"));
    });
    assert!(minted.verify(&typed, needed).is_ok());
}

#[test]
fn access_token_client_id_of_an_array_is_malformed_not_absent() {
    // RFC 8693 §4.3 (RFC 9068 §2.2): `client_id` is the client identifier, a JSON string.
    let minted = MintedAccessToken::new();
    let listed = minted.resigned(|claims| {
        claims.insert("client_id".into(), json!([CLIENT]));
    });
    assert_eq!(minted.verify(&listed, None), Err(AccessTokenError::Malformed));
    let absent = minted.resigned(|claims| {
        claims.remove("client_id");
    });
    let verified = minted.verify(&absent, None).unwrap();
    assert_eq!(verified.client_id, None);
    let typed = minted.resigned(|claims| {
        claims.insert("client_id".into(), json!(CLIENT));
    });
    let verified = minted.verify(&typed, None).unwrap();
    assert_eq!(verified.client_id.as_deref(), Some(CLIENT));
}

#[test]
fn access_token_act_of_a_string_is_malformed_not_absent() {
    // RFC 8693 §4.1: `act` is a JSON object naming the actor in its `sub`.
    let minted = MintedAccessToken::new();
    let named = minted.resigned(|claims| {
        claims.insert("act".into(), json!("agent-aria"));
    });
    assert_eq!(minted.verify(&named, None), Err(AccessTokenError::Malformed));
    let absent = minted.resigned(|claims| {
        claims.remove("act");
    });
    let verified = minted.verify(&absent, None).unwrap();
    assert_eq!(verified.actor, None);
    let typed = minted.resigned(|claims| {
        claims.insert("act".into(), json!({"sub": "agent-aria"}));
    });
    let verified = minted.verify(&typed, None).unwrap();
    assert_eq!(verified.actor.as_deref(), Some("agent-aria"));
}

#[test]
fn a_public_client_is_refused_before_its_dpop_proof_is_examined() {
    use id_jag::dpop::{DpopContext, DpopVerifier};
    let fx = Fixture::new();
    // A proof that would fail, and a store that would fail: neither is reached.
    let verifier = DpopVerifier::new();
    struct Untouchable;
    impl ReplayGuard for Untouchable {
        fn check_and_record(
            &self,
            _: &str,
            _: &str,
            _: id_jag::NumericDate,
            _: id_jag::NumericDate,
        ) -> Result<ReplayVerdict, ReplayError> {
            panic!("the proof store was reached for a public client");
        }
    }
    let context = DpopContext {
        proof: "not.a.proof",
        token_endpoint: "https://as.expenses.example/token",
        verifier: &verifier,
        replay: &Untouchable,
    };
    let request = JwtBearerRequest::new(fx.token(), None);
    let hosts = fx.hosts();
    let outcome = fx.server.redeem_request_with_dpop(
        &hosts,
        &request,
        Some(context),
        &AuthenticatedClient::public(CLIENT),
        now(),
    );
    assert_refused(outcome, RejectReason::PublicClient, WireError::UnauthorizedClient);
}

#[test]
fn rejections_display_the_wire_code_and_the_reason_code_only() {
    // Logs get the stable codes; nothing from the token is echoed.
    assert_eq!(RejectReason::Replayed.to_string(), "replayed");
    assert_eq!(RejectReason::AudienceMismatch.to_string(), "aud_mismatch");
    assert_eq!(Rejection::from(RejectReason::Replayed).to_string(), "invalid_grant (replayed)");
    let store = Rejection::from(RejectReason::ReplayStoreUnavailable);
    assert_eq!(store.to_string(), "server_error (replay_store_unavailable)");
}

#[test]
fn access_token_audience_may_be_an_array_naming_this_resource() {
    // RFC 9068 §4: the resource server's identifier is among `aud`.
    let minted = MintedAccessToken::new();
    let among = minted.resigned(|claims| {
        claims.insert("aud".into(), json!(["https://api.other.example", API]));
    });
    assert_eq!(minted.verify(&among, None).unwrap().subject, ACCOUNT);
    for aud in [json!(["https://api.other.example"]), json!([]), json!(format!("{API}/"))] {
        let token = minted.resigned(|claims| {
            claims.insert("aud".into(), aud.clone());
        });
        assert_eq!(minted.verify(&token, None).unwrap_err(), AccessTokenError::AudienceMismatch);
    }
}

#[test]
fn access_token_bound_by_another_method_is_an_unsupported_binding() {
    let minted = MintedAccessToken::new();
    let mtls = minted.resigned(|claims| {
        claims.insert("cnf".into(), json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN"}));
    });
    assert_eq!(minted.verify(&mtls, None).unwrap_err(), AccessTokenError::UnsupportedBinding);
    let dpop = minted.resigned(|claims| {
        claims.insert("cnf".into(), json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}));
    });
    assert_eq!(minted.verify(&dpop, None).unwrap_err(), AccessTokenError::DpopProofMissing);
    // jkt next to another method: the other binding cannot be checked, so neither counts.
    let both = minted.resigned(|claims| {
        let cnf = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "x5t#S256": "bwcK"});
        claims.insert("cnf".into(), cnf);
    });
    assert_eq!(minted.verify(&both, None).unwrap_err(), AccessTokenError::UnsupportedBinding);
}

#[test]
fn access_token_debug_output_hides_the_token() {
    let fx = Fixture::new();
    let grant = fx.grant(&fx.token());
    let as_key: Arc<dyn Signer> = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let issuer = AccessTokenIssuer::new(AS_ISSUER, as_key, 300);
    let issued = issuer.mint(&grant, now()).unwrap();
    let debug = format!("{issued:?}");
    assert!(debug.starts_with("IssuedAccessToken") && debug.contains(issued.jwt_id()), "{debug}");
    assert!(debug.contains("<redacted>") && !debug.contains(issued.token()), "{debug}");
    for segment in issued.token().split('.') {
        assert!(!debug.contains(segment), "{debug}");
    }
    let debug = format!("{issuer:?}");
    assert!(debug.starts_with("AccessTokenIssuer") && debug.contains(AS_ISSUER), "{debug}");
    assert!(debug.contains("300"), "{debug}");
}
