//! Integration tests of the identity provider (draft §4.3 and §4.5, RFC 8693): the token
//! exchange request, client authentication, ID-token validation, type confusion, refresh-token
//! and SAML subjects, managed-connection policy (deny by default), kill switches taking effect
//! mid-stream, alias and client-id mapping, narrowing of scope, resources and authorization
//! details, step-up, the claims and header of the issued ID-JAG, the token response, the round
//! trip through the crate's own resource-side redemption, audit records, metadata and the
//! staged API.
//!
//! Every rule has a granted case and a denied case; each denial asserts the exact
//! [`DenyReason`] and the wire error, so a check that silently stops firing fails here.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{Actor, ClaimsError, OneOrMany, SamlNameId, SubjectIdentifier};
use id_jag::client::{
    ClientAuthentication, TokenExchangeRequest, read_refresh_token_exchange_response,
};
use id_jag::error::WireError;
use id_jag::idp::{
    Agent, ConnectionLookup, ConnectionRegistry, Denial, DenyReason, DirectoryUser, Exchange,
    ExchangeHosts, ExchangeRequest, Exchanged, HostTokens, IdJagRequest, IdTokensOnly,
    IdentityProvider, IdpConfig, IssuedIdJag, ManagedConnection, MemoryConnections,
    MemoryDirectory, MintedRefreshToken, StepUpChallenge, StepUpPolicy, SubjectTokenType,
    UserDirectory, ValidatedSubject,
};
use id_jag::jose::{
    Algorithm, AlgorithmSet, JoseError, ParseOptions, Signer, SigningKey, SigningKeySet,
    sign_compact,
};
use id_jag::metadata::IdpMetadata;
use id_jag::resource::{
    AllowAll, MemoryReplayGuard, MemorySubjects, RedeemHosts, Redemption, ResourceServer,
    ResourceServerConfig, SubjectKey, TrustedIssuer, TrustedIssuers,
};
use id_jag::scope::{Scope, ScopeError};
use id_jag::urn;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

const IDP: &str = "https://idp.example.com";
const EXPENSES: &str = "https://as.expenses.example";
const CRM: &str = "https://as.crm.example";
const CALENDAR: &str = "https://as.calendar.example";
const API: &str = "https://api.expenses.example";
const FILES: &str = "https://files.expenses.example";
const REPORTS: &str = "https://reports.expenses.example";
const CLIENT: &str = "aria";
const USER: &str = "user-b";
const OTHER_USER: &str = "user-c";
const AGENT_ACTOR: &str = "wlp8x5q7mvH86KvFJ0g7";
const ACTOR_TOKEN: &str = "actor-token-runtime-7";
const NOW: u64 = 1_764_000_000;

fn now() -> NumericDate {
    NumericDate::from_unix_seconds(NOW).unwrap()
}

/// The connection from Aria to the expense app: alias, resources, detail types.
fn expenses_connection() -> ManagedConnection {
    let mut connection = ManagedConnection::new(
        "aria-expenses",
        CLIENT,
        EXPENSES,
        "aria-at-expenses",
        Scope::parse("expenses.read expenses.write").unwrap(),
    );
    connection.audience_aliases = vec!["expenses".to_owned()];
    connection.allowed_resources = vec![API.to_owned(), FILES.to_owned(), REPORTS.to_owned()];
    connection.allowed_authorization_details_types = vec!["expense_report".to_owned()];
    connection
}

/// The connection from Aria to the CRM: a default scope.
fn crm_connection() -> ManagedConnection {
    let mut connection = ManagedConnection::new(
        "aria-crm",
        CLIENT,
        CRM,
        "aria-at-crm",
        Scope::parse("crm.read crm.write").unwrap(),
    );
    connection.default_scope = Some(Scope::parse("crm.read").unwrap());
    connection
}

fn calendar_connection() -> ManagedConnection {
    ManagedConnection::new(
        "aria-calendar",
        CLIENT,
        CALENDAR,
        "aria-at-calendar",
        Scope::parse("calendar.read").unwrap(),
    )
}

/// The agent as Okta describes AI agents: an actor with `sub` and `sub_profile`.
fn aria_agent() -> Agent {
    let mut agent = Agent::new(CLIENT);
    agent.actor = Some(Actor::new(AGENT_ACTOR).with_claim("sub_profile", json!("ai_agent")));
    agent
}

/// Refresh tokens, SAML assertions and actor tokens as a host would validate them.
#[derive(Default)]
struct TestTokens {
    refresh: Mutex<HashMap<String, ValidatedSubject>>,
    saml: Mutex<HashMap<String, ValidatedSubject>>,
    minted: AtomicUsize,
}

impl TestTokens {
    fn add_refresh(&self, token: &str, subject: ValidatedSubject) {
        self.refresh.lock().unwrap().insert(token.to_owned(), subject);
    }

    fn add_saml(&self, assertion: &str, subject: ValidatedSubject) {
        self.saml.lock().unwrap().insert(assertion.to_owned(), subject);
    }
}

impl HostTokens for TestTokens {
    fn validate_refresh_token(
        &self,
        token: &str,
        _client: &AuthenticatedClient,
        _now: NumericDate,
    ) -> Option<ValidatedSubject> {
        self.refresh.lock().unwrap().get(token).cloned()
    }

    fn validate_saml_assertion(
        &self,
        assertion: &str,
        _client: &AuthenticatedClient,
        _now: NumericDate,
    ) -> Option<ValidatedSubject> {
        self.saml.lock().unwrap().get(assertion).cloned()
    }

    fn validate_actor_token(&self, token: &str, token_type: &str) -> Option<Actor> {
        (token == ACTOR_TOKEN && token_type == urn::TOKEN_TYPE_JWT)
            .then(|| Actor::new("runtime-7").with_claim("sub_profile", json!("agent_runtime")))
    }

    fn mint_refresh_token(
        &self,
        subject: &ValidatedSubject,
        client: &AuthenticatedClient,
        scope: Option<&Scope>,
    ) -> Option<MintedRefreshToken> {
        let n = self.minted.fetch_add(1, Ordering::Relaxed);
        let token = format!("idp-rt-{n}-{}-{}", subject.subject, client.client_id());
        let mut bound = subject.clone();
        bound.issued_to = client.client_id().to_owned();
        self.add_refresh(&token, bound);
        Some(MintedRefreshToken { token, expires_in: Some(86_400), scope: scope.cloned() })
    }
}

struct Fixture {
    keys: SigningKeySet,
    idp: IdentityProvider,
    registry: MemoryConnections,
    directory: MemoryDirectory,
    tokens: TestTokens,
}

impl Fixture {
    fn new() -> Self {
        Self::with(Algorithm::Es256, IdpConfig::new(IDP))
    }

    fn with_config(config: IdpConfig) -> Self {
        Self::with(Algorithm::Es256, config)
    }

    fn with(algorithm: Algorithm, config: IdpConfig) -> Self {
        let keys = SigningKeySet::new(SigningKey::generate(algorithm).unwrap(), vec![]).unwrap();
        let idp = IdentityProvider::new(config, keys.verification_keys().clone());
        let registry = MemoryConnections::new();
        registry.put_agent(aria_agent());
        registry.put_agent(Agent::new("bob"));
        registry.put_connection(expenses_connection());
        registry.put_connection(crm_connection());
        registry.put_connection(calendar_connection());
        let directory = MemoryDirectory::new();
        for audience in [EXPENSES, CRM, CALENDAR] {
            directory.put(audience, DirectoryUser::new(USER));
        }
        for audience in [EXPENSES, CRM] {
            directory.put(audience, DirectoryUser::new(OTHER_USER));
        }
        Fixture { keys, idp, registry, directory, tokens: TestTokens::default() }
    }

    fn hosts(&self) -> ExchangeHosts<'_> {
        ExchangeHosts {
            registry: &self.registry,
            directory: &self.directory,
            tokens: &self.tokens,
            signer: &self.keys,
        }
    }

    /// An ID token signed by the IdP, typed `JWT`.
    fn id_token(&self, claims: &Value) -> String {
        sign_compact(&self.keys, Some("JWT"), claims.to_string().as_bytes()).unwrap()
    }

    /// User B's ID token, issued to Aria.
    fn token(&self) -> String {
        self.id_token(&id_token_claims())
    }

    /// An ID-JAG request for the expense app with user B's ID token.
    fn form(&self) -> Form {
        Form::id_jag(&self.token())
    }

    fn exchange(&self, form: &Form) -> Exchange {
        self.exchange_as(&AuthenticatedClient::confidential(CLIENT), form)
    }

    fn exchange_as(&self, client: &AuthenticatedClient, form: &Form) -> Exchange {
        self.idp.exchange(&self.hosts(), form.encode().as_bytes(), client, now())
    }

    #[track_caller]
    fn issue(&self, form: &Form) -> IssuedIdJag {
        match self.exchange(form).outcome {
            Ok(exchanged) => exchanged.into_id_jag().expect("an ID-JAG"),
            Err(denial) => panic!("expected a grant, got {denial:?}"),
        }
    }

    #[track_caller]
    fn deny(&self, form: &Form) -> Denial {
        self.exchange(form).outcome.expect_err("expected a denial")
    }
}

/// User B's ID token claims: issued to Aria ten seconds ago, signed in two minutes ago with a
/// phishing-resistant method.
fn id_token_claims() -> Value {
    claims_for(USER, CLIENT)
}

fn claims_for(subject: &str, audience: &str) -> Value {
    json!({
        "iss": IDP,
        "sub": subject,
        "aud": audience,
        "iat": NOW - 10,
        "exp": NOW + 600,
        "auth_time": NOW - 120,
        "acr": "phr",
        "amr": ["pwd", "hwk"],
    })
}

fn with_claim(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without_claim(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

/// A token exchange form, percent-encoded properly.
#[derive(Clone, Debug)]
struct Form(Vec<(String, String)>);

impl Form {
    fn empty() -> Self {
        Form(Vec::new())
    }

    fn id_jag(subject_token: &str) -> Self {
        Form::empty()
            .add("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE)
            .add("requested_token_type", urn::TOKEN_TYPE_ID_JAG)
            .add("audience", EXPENSES)
            .add("subject_token", subject_token)
            .add("subject_token_type", urn::TOKEN_TYPE_ID_TOKEN)
    }

    /// The SAML path's first step (draft §4.5).
    fn saml_refresh(assertion: &str) -> Self {
        Form::empty()
            .add("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE)
            .add("requested_token_type", urn::TOKEN_TYPE_REFRESH_TOKEN)
            .add("subject_token", assertion)
            .add("subject_token_type", urn::TOKEN_TYPE_SAML2)
            .add("scope", "openid offline_access")
    }

    /// Append a parameter (repeating it if present).
    fn add(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replace every value of a parameter with this one.
    fn set(self, name: &str, value: &str) -> Self {
        self.without(name).add(name, value)
    }

    fn without(mut self, name: &str) -> Self {
        self.0.retain(|(n, _)| n != name);
        self
    }

    fn encode(&self) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.0 {
            serializer.append_pair(name, value);
        }
        serializer.finish()
    }
}

#[track_caller]
fn assert_denial(denial: &Denial, reason: DenyReason, wire: WireError) {
    assert_eq!(denial.reason(), reason, "reason of {denial:?}");
    assert_eq!(denial.wire_error(), wire, "wire error of {denial:?}");
    let response: Value = serde_json::from_str(&denial.error_response().to_json()).unwrap();
    assert_eq!(response["error"], wire.code());
}

#[track_caller]
fn parse(form: &Form) -> ExchangeRequest {
    ExchangeRequest::from_form(form.encode().as_bytes()).unwrap()
}

#[track_caller]
fn parse_id_jag(form: &Form) -> IdJagRequest {
    match parse(form) {
        ExchangeRequest::IdJag(request) => request,
        other => panic!("expected an ID-JAG request, got {other:?}"),
    }
}

#[track_caller]
fn parse_err(form: &Form) -> Denial {
    ExchangeRequest::from_form(form.encode().as_bytes()).unwrap_err()
}

fn decode_segment(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    decode_segment(token, 0)
}

fn payload(token: &str) -> Value {
    decode_segment(token, 1)
}

fn response_json(issued: &IssuedIdJag) -> Value {
    serde_json::from_str(&issued.token_response().to_json()).unwrap()
}

fn scope_of(issued: &IssuedIdJag) -> Option<String> {
    issued.claims().scope().map(Scope::to_string)
}

/// A signer with someone else's key that claims any `kid` it likes.
struct Impostor {
    key: SigningKey,
    kid: Option<String>,
}

impl Signer for Impostor {
    fn algorithm(&self) -> Algorithm {
        Signer::algorithm(&self.key)
    }

    fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        self.key.sign(signing_input)
    }
}

/// Redeem an ID-JAG at the expense app's authorization server, which trusts `keys` for the IdP.
fn redeem(keys: &SigningKeySet, id_jag: &str) -> Redemption {
    let issuers = TrustedIssuers::new();
    issuers.insert(TrustedIssuer::new(IDP, keys.verification_keys().clone()));
    let subjects = MemorySubjects::new();
    let key = SubjectKey { issuer: IDP.to_owned(), tenant: None, subject: USER.to_owned() };
    subjects.link(key, "account-b");
    let replay = MemoryReplayGuard::new(1_000);
    let config = ResourceServerConfig::new(EXPENSES).with_served_resources([API, FILES, REPORTS]);
    let server = ResourceServer::new(config);
    let hosts =
        RedeemHosts { issuers: &issuers, replay: &replay, subjects: &subjects, policy: &AllowAll };
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    body.append_pair("grant_type", urn::GRANT_TYPE_JWT_BEARER);
    body.append_pair("assertion", id_jag);
    let client = AuthenticatedClient::confidential("aria-at-expenses");
    server.redeem(&hosts, body.finish().as_bytes(), &client, now())
}

// ---------------------------------------------------------------------------------------------
// Request parsing (RFC 8693 §2.1, draft §4.3)
// ---------------------------------------------------------------------------------------------

#[test]
fn complete_request_parses_and_is_granted() {
    let fx = Fixture::new();
    let token = fx.token();
    let form = Form::id_jag(&token).add("scope", "expenses.read");
    let request = parse_id_jag(&form);
    assert_eq!(request.audience(), EXPENSES);
    assert_eq!(request.subject_token(), token);
    assert_eq!(request.subject_token_type(), SubjectTokenType::IdToken);
    assert_eq!(request.scope(), Some(&Scope::parse("expenses.read").unwrap()));
    assert!(request.resources().is_empty());
    assert!(request.authorization_details().is_none());
    assert!(request.actor_token().is_none());
    let issued = fx.issue(&form);
    assert_eq!(scope_of(&issued).as_deref(), Some("expenses.read"));
}

#[test]
fn missing_required_parameters_are_invalid_request() {
    let fx = Fixture::new();
    let cases = [
        ("grant_type", DenyReason::GrantTypeMissing),
        ("requested_token_type", DenyReason::RequestedTokenTypeMissing),
        ("audience", DenyReason::AudienceMissing),
        ("subject_token", DenyReason::SubjectTokenMissing),
        ("subject_token_type", DenyReason::SubjectTokenTypeMissing),
    ];
    for (name, reason) in cases {
        let form = fx.form().without(name);
        assert_denial(&parse_err(&form), reason, WireError::InvalidRequest);
        // RFC 6749 §3.2: a parameter sent without a value is treated as omitted.
        let empty = fx.form().set(name, "");
        assert_denial(&parse_err(&empty), reason, WireError::InvalidRequest);
        // The one-call path refuses it the same way.
        assert_denial(&fx.deny(&form), reason, WireError::InvalidRequest);
    }
    fx.issue(&fx.form());
}

#[test]
fn foreign_grant_type_is_unsupported() {
    let fx = Fixture::new();
    for grant_type in [urn::GRANT_TYPE_JWT_BEARER, "authorization_code", "refresh_token"] {
        let form = fx.form().set("grant_type", grant_type);
        assert_denial(
            &parse_err(&form),
            DenyReason::GrantTypeUnsupported,
            WireError::UnsupportedGrantType,
        );
    }
    assert!(matches!(parse(&fx.form()), ExchangeRequest::IdJag(_)));
}

#[test]
fn requested_token_type_must_be_id_jag_or_refresh_token() {
    let fx = Fixture::new();
    for requested in [urn::TOKEN_TYPE_ACCESS_TOKEN, urn::TOKEN_TYPE_JWT, urn::TOKEN_TYPE_ID_TOKEN] {
        let form = fx.form().set("requested_token_type", requested);
        assert_denial(
            &parse_err(&form),
            DenyReason::RequestedTokenTypeUnsupported,
            WireError::InvalidRequest,
        );
    }
    let form = fx.form().set("requested_token_type", urn::TOKEN_TYPE_ID_JAG);
    assert!(matches!(parse(&form), ExchangeRequest::IdJag(_)));
}

#[test]
fn repeated_parameters_are_refused_but_resource_may_repeat() {
    let fx = Fixture::new();
    let repeated = [
        fx.form().add("audience", CRM),
        fx.form().add("audience", EXPENSES),
        fx.form().add("scope", "expenses.read").add("scope", "expenses.write"),
        fx.form().add("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE),
        fx.form().add("subject_token", "second"),
        fx.form().add("requested_token_type", urn::TOKEN_TYPE_ID_JAG),
    ];
    for form in &repeated {
        assert_denial(&parse_err(form), DenyReason::ParameterRepeated, WireError::InvalidRequest);
        assert_denial(&fx.deny(form), DenyReason::ParameterRepeated, WireError::InvalidRequest);
    }

    let form = fx.form().add("resource", FILES).add("resource", API).add("resource", REPORTS);
    let request = parse_id_jag(&form);
    assert_eq!(request.resources(), [FILES, API, REPORTS]);
    let issued = fx.issue(&form);
    let expected = OneOrMany::Many(vec![FILES.into(), API.into(), REPORTS.into()]);
    assert_eq!(issued.claims().resource(), Some(&expected));
    assert_eq!(payload(issued.token())["resource"], json!([FILES, API, REPORTS]));
}

#[test]
fn malformed_resource_is_invalid_target() {
    let fx = Fixture::new();
    for resource in ["not a uri", "https://api.expenses.example/#frag", "/relative/path", "#"] {
        let form = fx.form().add("resource", resource);
        assert_denial(&parse_err(&form), DenyReason::ResourceMalformed, WireError::InvalidTarget);
    }
    // A malformed one among good ones still refuses the whole request.
    let form = fx.form().add("resource", API).add("resource", "https://x.example/a#b");
    assert_denial(&parse_err(&form), DenyReason::ResourceMalformed, WireError::InvalidTarget);

    let form = fx.form().add("resource", API);
    assert_eq!(parse_id_jag(&form).resources(), [API]);
    let issued = fx.issue(&form);
    assert_eq!(issued.claims().resource(), Some(&OneOrMany::One(API.into())));
}

#[test]
fn malformed_scope_is_invalid_scope() {
    let fx = Fixture::new();
    let cases = [
        ("expenses.read  expenses.write", ScopeError::EmptyToken),
        ("a  b", ScopeError::EmptyToken),
        (" expenses.read", ScopeError::EmptyToken),
        ("expenses.read ", ScopeError::EmptyToken),
        ("expenses\"read", ScopeError::InvalidCharacter),
        ("expenses\\read", ScopeError::InvalidCharacter),
        ("dépenses", ScopeError::InvalidCharacter),
    ];
    for (scope, error) in cases {
        let form = fx.form().add("scope", scope);
        let denial = parse_err(&form);
        assert_denial(&denial, DenyReason::ScopeMalformed(error), WireError::InvalidScope);
        assert_eq!(denial.reason().detail(), Some(error.reason()));
    }
    let form = fx.form().add("scope", "expenses.read expenses.write");
    assert_eq!(parse_id_jag(&form).scope().unwrap().len(), 2);
}

#[test]
fn malformed_authorization_details_are_refused() {
    let fx = Fixture::new();
    let cases = [
        "not json",
        r#"{"type":"expense_report"}"#,
        r#""expense_report""#,
        r#"[{"actions":["read"]}]"#,
        r#"[{"type":""}]"#,
        r#"[{"type":7}]"#,
        r#"["expense_report"]"#,
        r#"[{"type":"expense_report","type":"payment_initiation"}]"#,
        r#"[{"type":"expense_report","limits":{"amount":1,"amount":1000000}}]"#,
        r#"[{"type":"expense_report"}] trailing"#,
    ];
    for details in cases {
        let form = fx.form().add("authorization_details", details);
        assert_denial(
            &parse_err(&form),
            DenyReason::AuthorizationDetailsMalformed,
            WireError::InvalidAuthorizationDetails,
        );
    }
    let good = r#"[{"type":"expense_report","actions":["read"],"limits":{"amount":100}}]"#;
    let request = parse_id_jag(&fx.form().add("authorization_details", good));
    let details = request.authorization_details().unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].detail_type(), "expense_report");
    assert_eq!(details[0].members()["limits"], json!({"amount": 100}));
}

#[test]
fn empty_authorization_details_are_taken_as_absent() {
    let fx = Fixture::new();
    let form = fx.form().add("authorization_details", "[]");
    assert_eq!(parse_id_jag(&form).authorization_details(), None);
    let issued = fx.issue(&form);
    assert!(payload(issued.token()).get("authorization_details").is_none());
    assert!(response_json(&issued).get("authorization_details").is_none());
    // ... so the crate's own resource AS, which refuses details its policy does not accept,
    // redeems it.
    assert!(redeem(&fx.keys, issued.token()).outcome.is_ok());
}

#[test]
fn actor_token_and_its_type_come_together() {
    let fx = Fixture::new();
    let token_only = fx.form().add("actor_token", ACTOR_TOKEN);
    assert_denial(
        &parse_err(&token_only),
        DenyReason::ActorTokenIncomplete,
        WireError::InvalidRequest,
    );
    let type_only = fx.form().add("actor_token_type", urn::TOKEN_TYPE_JWT);
    assert_denial(
        &parse_err(&type_only),
        DenyReason::ActorTokenIncomplete,
        WireError::InvalidRequest,
    );

    let both =
        fx.form().add("actor_token", ACTOR_TOKEN).add("actor_token_type", urn::TOKEN_TYPE_JWT);
    let request = parse_id_jag(&both);
    let actor = request.actor_token().unwrap();
    assert_eq!(actor.token(), ACTOR_TOKEN);
    assert_eq!(actor.token_type(), urn::TOKEN_TYPE_JWT);
}

#[test]
fn unsupported_subject_token_types_are_refused() {
    let fx = Fixture::new();
    for kind in [urn::TOKEN_TYPE_SAML1, urn::TOKEN_TYPE_ACCESS_TOKEN, urn::TOKEN_TYPE_JWT, "JWT"] {
        let form = fx.form().set("subject_token_type", kind);
        assert_denial(
            &parse_err(&form),
            DenyReason::SubjectTokenTypeUnsupported,
            WireError::InvalidRequest,
        );
    }
    for (kind, expected) in [
        (urn::TOKEN_TYPE_ID_TOKEN, SubjectTokenType::IdToken),
        (urn::TOKEN_TYPE_REFRESH_TOKEN, SubjectTokenType::RefreshToken),
        (urn::TOKEN_TYPE_SAML2, SubjectTokenType::Saml2),
    ] {
        let request = parse_id_jag(&fx.form().set("subject_token_type", kind));
        assert_eq!(request.subject_token_type(), expected);
        assert_eq!(expected.urn(), kind);
    }
}

#[test]
fn body_over_64_kib_is_refused() {
    let fx = Fixture::new();
    let base = fx.form().encode();
    let pad = |total: usize| {
        let prefix = format!("{base}&padding=");
        format!("{prefix}{}", "a".repeat(total - prefix.len()))
    };
    let at_cap = pad(64 * 1024);
    assert_eq!(at_cap.len(), 65_536);
    assert!(ExchangeRequest::from_form(at_cap.as_bytes()).is_ok());
    let over = pad(64 * 1024 + 1);
    let denial = ExchangeRequest::from_form(over.as_bytes()).unwrap_err();
    assert_denial(&denial, DenyReason::BodyTooLarge, WireError::InvalidRequest);
    let client = AuthenticatedClient::confidential(CLIENT);
    let exchange = fx.idp.exchange(&fx.hosts(), over.as_bytes(), &client, now());
    assert_denial(
        &exchange.outcome.unwrap_err(),
        DenyReason::BodyTooLarge,
        WireError::InvalidRequest,
    );
}

#[test]
fn debug_output_never_shows_tokens() {
    let fx = Fixture::new();
    let token = fx.token();
    let form = Form::id_jag(&token)
        .add("actor_token", ACTOR_TOKEN)
        .add("actor_token_type", urn::TOKEN_TYPE_JWT);
    let request = parse(&form);
    let debug = format!("{request:?} {request:#?}");
    assert!(!debug.contains(&token), "{debug}");
    assert!(!debug.contains(ACTOR_TOKEN), "{debug}");
    assert!(debug.contains("redacted"));
    if let ExchangeRequest::IdJag(request) = &request {
        let debug = format!("{:?}", request.actor_token().unwrap());
        assert!(!debug.contains(ACTOR_TOKEN), "{debug}");
    }

    let assertion = "PHNhbWw6QXNzZXJ0aW9uIHNlY3JldD0iMSIvPg";
    let saml = parse(&Form::saml_refresh(assertion));
    let debug = format!("{saml:?}");
    assert!(matches!(saml, ExchangeRequest::SamlRefresh(_)));
    assert!(!debug.contains(assertion), "{debug}");

    let exchange = fx.exchange(&Form::id_jag(&token));
    let debug = format!("{exchange:?}");
    assert!(!debug.contains(&token), "{debug}");
    let issued = exchange.outcome.unwrap().into_id_jag().unwrap();
    for debug in [format!("{issued:?}"), format!("{:?}", issued.token_response())] {
        assert!(!debug.contains(issued.token()), "{debug}");
        assert!(!debug.contains(&token), "{debug}");
    }
}

// ---------------------------------------------------------------------------------------------
// Client authentication (draft §9.1)
// ---------------------------------------------------------------------------------------------

#[test]
fn public_client_is_refused() {
    let fx = Fixture::new();
    let public = AuthenticatedClient::public(CLIENT);
    let denial = fx.exchange_as(&public, &fx.form()).outcome.unwrap_err();
    assert_denial(&denial, DenyReason::PublicClient, WireError::UnauthorizedClient);

    // Also on the SAML path and in the staged check.
    fx.tokens.add_saml("assertion-b", ValidatedSubject::new(USER, CLIENT));
    let denial = fx.exchange_as(&public, &Form::saml_refresh("assertion-b")).outcome.unwrap_err();
    assert_denial(&denial, DenyReason::PublicClient, WireError::UnauthorizedClient);
    let subject = ValidatedSubject::new(USER, CLIENT);
    let denial = fx.idp.check_subject(&subject, &public).unwrap_err();
    assert_denial(&denial, DenyReason::PublicClient, WireError::UnauthorizedClient);

    let confidential = AuthenticatedClient::confidential(CLIENT);
    assert!(fx.idp.check_subject(&subject, &confidential).is_ok());
    assert!(fx.exchange_as(&confidential, &fx.form()).outcome.is_ok());
}

// ---------------------------------------------------------------------------------------------
// ID token validation (draft §4.3.1, OpenID Connect Core §3.1.3.7)
// ---------------------------------------------------------------------------------------------

#[test]
fn id_token_from_another_issuer_is_refused() {
    let fx = Fixture::new();
    for issuer in ["https://evil.example", "https://idp.example.com/", "http://idp.example.com"] {
        let token = fx.id_token(&with_claim(id_token_claims(), "iss", json!(issuer)));
        let denial = fx.deny(&Form::id_jag(&token));
        assert_denial(&denial, DenyReason::SubjectTokenIssuer, WireError::InvalidRequest);
    }
    fx.issue(&fx.form());
}

#[test]
fn id_token_for_another_client_is_refused() {
    let fx = Fixture::new();
    let cases = [
        with_claim(id_token_claims(), "aud", json!("bob")),
        with_claim(id_token_claims(), "aud", json!("aria-at-expenses")),
        // One audience that is us, but azp names someone else.
        with_claim(id_token_claims(), "azp", json!("bob")),
        // Several audiences with us among them, but no azp.
        with_claim(id_token_claims(), "aud", json!([CLIENT, "bob"])),
        // Several audiences with azp someone else.
        with_claim(
            with_claim(id_token_claims(), "aud", json!([CLIENT, "bob"])),
            "azp",
            json!("bob"),
        ),
        // azp is us, but we are not an audience.
        with_claim(
            with_claim(id_token_claims(), "aud", json!(["bob", "carol"])),
            "azp",
            json!(CLIENT),
        ),
    ];
    for claims in &cases {
        let denial = fx.deny(&Form::id_jag(&fx.id_token(claims)));
        assert_denial(&denial, DenyReason::SubjectTokenAudience, WireError::InvalidRequest);
    }
}

#[test]
fn id_token_with_several_audiences_and_our_azp_is_accepted() {
    let fx = Fixture::new();
    let claims = with_claim(id_token_claims(), "aud", json!(["bob", CLIENT]));
    let claims = with_claim(claims, "azp", json!(CLIENT));
    let issued = fx.issue(&Form::id_jag(&fx.id_token(&claims)));
    assert_eq!(issued.claims().subject(), USER);
    // A single audience with a matching azp is fine too.
    let claims = with_claim(id_token_claims(), "azp", json!(CLIENT));
    fx.issue(&Form::id_jag(&fx.id_token(&claims)));
    // One audience as a one-element array needs no azp (OIDC Core §3.1.3.7 item 4 asks for one
    // only with several audiences); another client's one-element array is still refused.
    let claims = with_claim(id_token_claims(), "aud", json!([CLIENT]));
    fx.issue(&Form::id_jag(&fx.id_token(&claims)));
    let claims = with_claim(id_token_claims(), "aud", json!(["bob"]));
    let denial = fx.deny(&Form::id_jag(&fx.id_token(&claims)));
    assert_denial(&denial, DenyReason::SubjectTokenAudience, WireError::InvalidRequest);
    let claims = with_claim(id_token_claims(), "aud", json!([]));
    let denial = fx.deny(&Form::id_jag(&fx.id_token(&claims)));
    assert_eq!(denial.wire_error(), WireError::InvalidRequest);
}

#[test]
fn expired_id_token_is_refused_beyond_leeway() {
    let fx = Fixture::new();
    let expired = |exp: u64| {
        let claims = with_claim(id_token_claims(), "exp", json!(exp));
        Form::id_jag(&fx.id_token(&with_claim(claims, "iat", json!(NOW - 3_600))))
    };
    for exp in [NOW - 60, NOW - 61, NOW - 3_000] {
        let denial = fx.deny(&expired(exp));
        assert_denial(&denial, DenyReason::SubjectTokenExpired, WireError::InvalidRequest);
    }
    // Within the 60-second leeway.
    fx.issue(&expired(NOW - 59));
    fx.issue(&expired(NOW));
}

#[test]
fn id_token_issued_in_the_future_is_refused() {
    let fx = Fixture::new();
    let issued_at =
        |iat: u64| Form::id_jag(&fx.id_token(&with_claim(id_token_claims(), "iat", json!(iat))));
    for iat in [NOW + 61, NOW + 500] {
        let denial = fx.deny(&issued_at(iat));
        assert_denial(&denial, DenyReason::SubjectTokenIssuedInFuture, WireError::InvalidRequest);
    }
    fx.issue(&issued_at(NOW + 60));
}

#[test]
fn id_token_older_than_max_age_is_refused() {
    let fx = Fixture::with_config(IdpConfig::new(IDP).with_id_token_max_age(600));
    let signed_in = |auth_time: u64| {
        Form::id_jag(&fx.id_token(&with_claim(id_token_claims(), "auth_time", json!(auth_time))))
    };
    let denial = fx.deny(&signed_in(NOW - 601));
    assert_denial(&denial, DenyReason::SubjectTokenTooOld, WireError::InvalidRequest);
    fx.issue(&signed_in(NOW - 600));
    // Without auth_time, iat is the measure.
    let claims = with_claim(without_claim(id_token_claims(), "auth_time"), "iat", json!(NOW - 601));
    let denial = fx.deny(&Form::id_jag(&fx.id_token(&claims)));
    assert_denial(&denial, DenyReason::SubjectTokenTooOld, WireError::InvalidRequest);
    // Without the setting, an old sign-in is fine.
    let lenient = Fixture::new();
    let claims = with_claim(id_token_claims(), "auth_time", json!(NOW - 86_400));
    lenient.issue(&Form::id_jag(&lenient.id_token(&claims)));
}

#[test]
fn id_token_signed_by_a_foreign_key_is_refused() {
    let fx = Fixture::new();
    let payload = id_token_claims().to_string();
    let idp_kid = fx.keys.active().kid().unwrap().to_owned();
    let foreign = || SigningKey::generate(Algorithm::Es256).unwrap();
    let cases: [(&dyn Signer, JoseError); 4] = [
        // Its own kid, which the IdP never published.
        (&foreign(), JoseError::KeyNotFound),
        // The IdP's kid, someone else's signature.
        (&Impostor { key: foreign(), kid: Some(idp_kid) }, JoseError::SignatureInvalid),
        // No kid: the IdP's only ES256 key is tried, and the signature fails.
        (&Impostor { key: foreign(), kid: None }, JoseError::SignatureInvalid),
        // No kid and an algorithm the IdP has no key for.
        (
            &Impostor { key: SigningKey::generate(Algorithm::EdDsa).unwrap(), kid: None },
            JoseError::NoKeyForAlgorithm,
        ),
    ];
    for (signer, error) in cases {
        let token = sign_compact(signer, Some("JWT"), payload.as_bytes()).unwrap();
        let denial = fx.deny(&Form::id_jag(&token));
        assert_denial(&denial, DenyReason::SubjectTokenJose(error), WireError::InvalidRequest);
        assert_eq!(denial.reason().detail(), Some(error.reason()));
    }
    // The same payload signed by the IdP's own key passes.
    let token = sign_compact(&fx.keys, Some("JWT"), payload.as_bytes()).unwrap();
    fx.issue(&Form::id_jag(&token));
}

#[test]
fn malformed_id_token_is_refused() {
    let fx = Fixture::new();
    let good = fx.token();
    let cases = [
        ("not-a-jwt".to_owned(), JoseError::SegmentCount),
        ("a.b".to_owned(), JoseError::SegmentCount),
        (format!("{good}.extra"), JoseError::SegmentCount),
        ("***.e30.AA".to_owned(), JoseError::Base64),
        (good.replacen('.', "=.", 1), JoseError::Base64),
        ("a".repeat(ParseOptions::DEFAULT_MAX_LEN + 1), JoseError::TooLarge),
    ];
    for (token, error) in cases {
        let denial = fx.deny(&Form::id_jag(&token));
        assert_denial(&denial, DenyReason::SubjectTokenJose(error), WireError::InvalidRequest);
    }
    fx.issue(&Form::id_jag(&good));
}

#[test]
fn id_token_with_missing_or_bad_claims_is_refused() {
    let fx = Fixture::new();
    let cases = [
        (without_claim(id_token_claims(), "sub"), ClaimsError::Missing("sub")),
        (without_claim(id_token_claims(), "iss"), ClaimsError::Missing("iss")),
        (without_claim(id_token_claims(), "aud"), ClaimsError::Missing("aud")),
        (without_claim(id_token_claims(), "exp"), ClaimsError::Missing("exp")),
        (without_claim(id_token_claims(), "iat"), ClaimsError::Missing("iat")),
        (with_claim(id_token_claims(), "sub", json!("")), ClaimsError::Empty("sub")),
        (with_claim(id_token_claims(), "sub", json!(42)), ClaimsError::WrongType("sub")),
        (with_claim(id_token_claims(), "amr", json!("pwd")), ClaimsError::WrongType("amr")),
    ];
    for (claims, error) in cases {
        let denial = fx.deny(&Form::id_jag(&fx.id_token(&claims)));
        assert_denial(&denial, DenyReason::SubjectTokenClaims(error), WireError::InvalidRequest);
    }
}

#[test]
fn bad_subject_token_wire_error_is_configurable() {
    let fx = Fixture::with_config(
        IdpConfig::new(IDP).with_bad_subject_token_error(WireError::InvalidGrant),
    );
    let bad_tokens = [
        (
            fx.id_token(&with_claim(id_token_claims(), "iss", json!("https://evil.example"))),
            DenyReason::SubjectTokenIssuer,
        ),
        (
            fx.id_token(&with_claim(id_token_claims(), "aud", json!("bob"))),
            DenyReason::SubjectTokenAudience,
        ),
        (
            fx.id_token(&with_claim(id_token_claims(), "exp", json!(NOW - 100))),
            DenyReason::SubjectTokenExpired,
        ),
        (
            fx.id_token(&with_claim(id_token_claims(), "iat", json!(NOW + 100))),
            DenyReason::SubjectTokenIssuedInFuture,
        ),
        ("garbage".to_owned(), DenyReason::SubjectTokenJose(JoseError::SegmentCount)),
        (
            fx.id_token(&without_claim(id_token_claims(), "sub")),
            DenyReason::SubjectTokenClaims(ClaimsError::Missing("sub")),
        ),
        (
            sign_compact(&fx.keys, Some("at+jwt"), id_token_claims().to_string().as_bytes())
                .unwrap(),
            DenyReason::SubjectTokenTypeConfusion,
        ),
    ];
    for (token, reason) in &bad_tokens {
        let denial = fx.deny(&Form::id_jag(token));
        assert_denial(&denial, *reason, WireError::InvalidGrant);
        assert!(reason.is_bad_subject_token());
        // The default configuration says invalid_request.
        assert_eq!(reason.wire_error(), WireError::InvalidRequest);
    }
    // Refresh tokens the host refuses, and subjects issued to another client.
    let refresh = Form::id_jag("unknown-refresh-token")
        .set("subject_token_type", urn::TOKEN_TYPE_REFRESH_TOKEN);
    assert_denial(&fx.deny(&refresh), DenyReason::SubjectTokenRejected, WireError::InvalidGrant);
    let subject = ValidatedSubject::new(USER, "bob");
    let denial = fx.idp.check_subject(&subject, &AuthenticatedClient::confidential(CLIENT));
    assert_denial(&denial.unwrap_err(), DenyReason::SubjectTokenAudience, WireError::InvalidGrant);
    // Other refusals keep their own wire error.
    let unknown = fx.form().set("audience", "https://as.unknown.example");
    assert_denial(&fx.deny(&unknown), DenyReason::AudienceUnknown, WireError::InvalidTarget);
    let bad_scope = fx.form().add("scope", "a  b");
    assert_denial(
        &fx.deny(&bad_scope),
        DenyReason::ScopeMalformed(ScopeError::EmptyToken),
        WireError::InvalidScope,
    );
    fx.issue(&fx.form());
}

// ---------------------------------------------------------------------------------------------
// Type confusion (draft §4.3.1 item 3)
// ---------------------------------------------------------------------------------------------

#[test]
fn id_jag_presented_as_id_token_is_refused() {
    let fx = Fixture::new();
    // A real ID-JAG from this IdP.
    let id_jag = fx.issue(&fx.form()).token().to_owned();
    assert_eq!(header(&id_jag)["typ"], urn::TYP_ID_JAG);
    let denial = fx.deny(&Form::id_jag(&id_jag));
    assert_denial(&denial, DenyReason::SubjectTokenTypeConfusion, WireError::InvalidRequest);
    // An ID-JAG-typed token whose claims would otherwise pass as an ID token.
    let payload = id_token_claims().to_string();
    for typ in ["oauth-id-jag+jwt", "application/oauth-id-jag+jwt", "OAUTH-ID-JAG+JWT"] {
        let token = sign_compact(&fx.keys, Some(typ), payload.as_bytes()).unwrap();
        let denial = fx.deny(&Form::id_jag(&token));
        assert_denial(&denial, DenyReason::SubjectTokenTypeConfusion, WireError::InvalidRequest);
    }
}

#[test]
fn access_token_presented_as_id_token_is_refused() {
    let fx = Fixture::new();
    let payload = id_token_claims().to_string();
    for typ in ["at+jwt", "application/at+jwt", "dpop+jwt", "logout+jwt", "JOSE"] {
        let token = sign_compact(&fx.keys, Some(typ), payload.as_bytes()).unwrap();
        let denial = fx.deny(&Form::id_jag(&token));
        assert_denial(&denial, DenyReason::SubjectTokenTypeConfusion, WireError::InvalidRequest);
    }
}

#[test]
fn id_token_typed_jwt_or_untyped_is_accepted() {
    let fx = Fixture::new();
    let payload = id_token_claims().to_string();
    for typ in [None, Some("JWT"), Some("jwt"), Some("application/jwt")] {
        let token = sign_compact(&fx.keys, typ, payload.as_bytes()).unwrap();
        assert_eq!(header(&token).get("typ").and_then(Value::as_str), typ);
        let issued = fx.issue(&Form::id_jag(&token));
        assert_eq!(issued.claims().subject(), USER);
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh-token and SAML subjects (draft §4.3.1, §4.5)
// ---------------------------------------------------------------------------------------------

fn refresh_form(token: &str) -> Form {
    Form::id_jag(token).set("subject_token_type", urn::TOKEN_TYPE_REFRESH_TOKEN)
}

#[test]
fn refresh_token_subject_is_granted() {
    let fx = Fixture::new();
    let mut subject = ValidatedSubject::new(USER, CLIENT);
    subject.auth_time = Some(NumericDate::from_unix_seconds(NOW - 900).unwrap());
    subject.acr = Some("phr".to_owned());
    fx.tokens.add_refresh("rt-valid", subject);
    let issued = fx.issue(&refresh_form("rt-valid").add("scope", "expenses.read"));
    assert_eq!(issued.claims().subject(), USER);
    assert_eq!(issued.claims().client_id(), "aria-at-expenses");
    assert_eq!(issued.claims().auth_time().unwrap().as_unix_seconds(), NOW - 900);
    assert_eq!(issued.claims().acr(), Some("phr"));
    assert_eq!(issued.claims().amr(), None);
}

#[test]
fn invalid_refresh_token_is_rejected() {
    let fx = Fixture::new();
    fx.tokens.add_refresh("rt-valid", ValidatedSubject::new(USER, CLIENT));
    let denial = fx.deny(&refresh_form("rt-revoked"));
    assert_denial(&denial, DenyReason::SubjectTokenRejected, WireError::InvalidRequest);
    // A host that accepts only ID tokens refuses every refresh token.
    let client = AuthenticatedClient::confidential(CLIENT);
    let request = parse_id_jag(&refresh_form("rt-valid"));
    let denial =
        fx.idp.validate_subject_token(&request, &client, &IdTokensOnly, now()).unwrap_err();
    assert_denial(&denial, DenyReason::SubjectTokenRejected, WireError::InvalidRequest);
    let subject = fx.idp.validate_subject_token(&request, &client, &fx.tokens, now()).unwrap();
    assert_eq!(subject, ValidatedSubject::new(USER, CLIENT));
}

#[test]
fn refresh_token_grants_no_scope_beyond_its_own() {
    let fx = Fixture::new();
    let held = Scope::parse("expenses.read crm.read").unwrap();
    fx.tokens.add_refresh("rt-narrow", ValidatedSubject::new(USER, CLIENT).with_token_scope(held));
    // Within the refresh token's scope: granted.
    let issued = fx.issue(&refresh_form("rt-narrow").add("scope", "expenses.read"));
    assert_eq!(scope_of(&issued).as_deref(), Some("expenses.read"));
    // Beyond it, even within the connection's ceiling: refused (RFC 6749 §6).
    let denial = fx.deny(&refresh_form("rt-narrow").add("scope", "expenses.read expenses.write"));
    assert_denial(&denial, DenyReason::ScopeBeyondSubjectToken, WireError::InvalidScope);
    // No scope asked: the connection's default, within the refresh token's scope.
    let crm = refresh_form("rt-narrow").set("audience", CRM);
    assert_eq!(scope_of(&fx.issue(&crm)).as_deref(), Some("crm.read"));
    // An ID token carries no scope of its own: only the connection limits it.
    let issued = fx.issue(&fx.form().add("scope", "expenses.read expenses.write"));
    assert_eq!(scope_of(&issued).as_deref(), Some("expenses.read expenses.write"));
}

#[test]
fn refresh_token_of_another_client_is_refused() {
    let fx = Fixture::new();
    fx.tokens.add_refresh("rt-bob", ValidatedSubject::new(USER, "bob"));
    let denial = fx.deny(&refresh_form("rt-bob"));
    assert_denial(&denial, DenyReason::SubjectTokenAudience, WireError::InvalidRequest);
    fx.tokens.add_refresh("rt-aria", ValidatedSubject::new(USER, CLIENT));
    fx.issue(&refresh_form("rt-aria"));
}

#[test]
fn saml_assertion_then_refresh_token_then_id_jag() {
    let fx = Fixture::new();
    let assertion = "PHNhbWwyOkFzc2VydGlvbj4uLi48L3NhbWwyOkFzc2VydGlvbj4";
    fx.tokens.add_saml(assertion, ValidatedSubject::new(USER, CLIENT));
    let exchange = fx.exchange(&Form::saml_refresh(assertion));
    let response = match exchange.outcome {
        Ok(Exchanged::SamlRefresh(issued)) => issued.token_response().clone(),
        other => panic!("expected a SAML refresh, got {other:?}"),
    };
    let json: Value = serde_json::from_str(&response.to_json()).unwrap();
    let refresh_token = json["access_token"].as_str().unwrap().to_owned();
    assert!(refresh_token.starts_with("idp-rt-"), "{refresh_token}");
    assert_eq!(fx.tokens.minted.load(Ordering::Relaxed), 1);
    assert_eq!(json["issued_token_type"], urn::TOKEN_TYPE_REFRESH_TOKEN);
    assert_eq!(json["token_type"], "N_A");
    assert_eq!(json["expires_in"], 86_400);
    // The host granted exactly the scope asked for: RFC 8693 §2.2.1 lets the response omit it.
    assert!(json.get("scope").is_none(), "{json}");
    assert!(json.get("refresh_token").is_none());
    assert!(response.headers().contains(&("Cache-Control", "no-store")));
    assert!(!exchange.audit.to_json_line().contains(assertion));
    assert!(!exchange.audit.to_json_line().contains(&refresh_token));

    // The crate's client reads that answer (draft §4.5) and makes leg 1 of it.
    let read = read_refresh_token_exchange_response(200, response.to_json().as_bytes()).unwrap();
    assert_eq!((read.refresh_token(), read.expires_in()), (refresh_token.as_str(), Some(86_400)));
    let leg_one = TokenExchangeRequest::new(read.into_subject_token(), EXPENSES)
        .scope(Scope::parse("expenses.read").unwrap());
    let auth = ClientAuthentication::SecretPost {
        client_id: CLIENT.into(),
        client_secret: "unused-here".into(),
    };
    let http = leg_one.to_http(&auth, now()).unwrap();
    let client = AuthenticatedClient::confidential(CLIENT);
    let exchanged = fx.idp.exchange(&fx.hosts(), http.body.as_bytes(), &client, now());
    let from_client = exchanged.outcome.unwrap().into_id_jag().unwrap();
    assert_eq!(from_client.claims().subject(), USER);
    assert_eq!(scope_of(&from_client).as_deref(), Some("expenses.read"));

    // The refresh token is now the subject token of an ID-JAG request.
    let issued = fx.issue(&refresh_form(&refresh_token).add("scope", "expenses.read"));
    assert_eq!(issued.claims().subject(), USER);
    assert_eq!(issued.claims().audience().single(), Some(EXPENSES));
    assert_eq!(issued.claims().client_id(), "aria-at-expenses");
    assert!(redeem(&fx.keys, issued.token()).outcome.is_ok());
}

#[test]
fn saml_assertion_as_subject_of_an_id_jag_request() {
    let fx = Fixture::new();
    fx.tokens.add_saml("assertion-b", ValidatedSubject::new(USER, CLIENT));
    let form = Form::id_jag("assertion-b").set("subject_token_type", urn::TOKEN_TYPE_SAML2);
    assert_eq!(fx.issue(&form).claims().subject(), USER);
    let form = Form::id_jag("forged").set("subject_token_type", urn::TOKEN_TYPE_SAML2);
    assert_denial(&fx.deny(&form), DenyReason::SubjectTokenRejected, WireError::InvalidRequest);
}

#[test]
fn saml_path_refusals() {
    let fx = Fixture::new();
    // The assertion's Audience maps to another client.
    fx.tokens.add_saml("assertion-for-bob", ValidatedSubject::new(USER, "bob"));
    let denial = fx.deny(&Form::saml_refresh("assertion-for-bob"));
    assert_denial(&denial, DenyReason::SubjectTokenAudience, WireError::InvalidRequest);
    // The host refuses the assertion.
    let denial = fx.deny(&Form::saml_refresh("forged-assertion"));
    assert_denial(&denial, DenyReason::SubjectTokenRejected, WireError::InvalidRequest);
    // A suspended user.
    fx.tokens.add_saml("assertion-b", ValidatedSubject::new(USER, CLIENT));
    fx.directory.set_suspended(USER, true);
    let denial = fx.deny(&Form::saml_refresh("assertion-b"));
    assert_denial(&denial, DenyReason::UserSuspended, WireError::InvalidGrant);
    fx.directory.set_suspended(USER, false);
    assert!(matches!(
        fx.exchange(&Form::saml_refresh("assertion-b")).outcome,
        Ok(Exchanged::SamlRefresh(_))
    ));
    // An unknown user.
    fx.tokens.add_saml("assertion-z", ValidatedSubject::new("user-z", CLIENT));
    let denial = fx.deny(&Form::saml_refresh("assertion-z"));
    assert_denial(&denial, DenyReason::UserUnknown, WireError::InvalidGrant);
    // A disabled agent.
    fx.registry.set_agent_enabled(CLIENT, false);
    let denial = fx.deny(&Form::saml_refresh("assertion-b"));
    assert_denial(&denial, DenyReason::AgentDisabled, WireError::UnauthorizedClient);
    // Nothing minted for any refusal.
    assert_eq!(fx.tokens.minted.load(Ordering::Relaxed), 1);
}

#[test]
fn saml_path_refuses_an_actor_token() {
    let fx = Fixture::new();
    fx.tokens.add_saml("assertion-b", ValidatedSubject::new(USER, CLIENT));
    let form = Form::saml_refresh("assertion-b")
        .add("actor_token", ACTOR_TOKEN)
        .add("actor_token_type", urn::TOKEN_TYPE_JWT);
    assert_denial(&parse_err(&form), DenyReason::ActorTokenUnsupported, WireError::InvalidRequest);
    let incomplete = Form::saml_refresh("assertion-b").add("actor_token", ACTOR_TOKEN);
    assert_denial(
        &parse_err(&incomplete),
        DenyReason::ActorTokenIncomplete,
        WireError::InvalidRequest,
    );
    assert_eq!(fx.tokens.minted.load(Ordering::Relaxed), 0);
}

#[test]
fn saml_refresh_response_without_a_known_lifetime_omits_expires_in() {
    let fx = Fixture::new();
    let nameid = SamlNameId {
        issuer: "https://idp.acme.example/saml".into(),
        nameid: "b@acme.example".into(),
        nameid_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
        name_qualifier: None,
        sp_name_qualifier: None,
        sp_provided_id: None,
        extra: Default::default(),
    };
    let subject = ValidatedSubject::new(USER, CLIENT).with_saml_nameid(nameid.clone());
    let request = match parse(&Form::saml_refresh("assertion-b")) {
        ExchangeRequest::SamlRefresh(request) => request,
        other => panic!("expected a SAML refresh request, got {other:?}"),
    };
    let client = AuthenticatedClient::confidential(CLIENT);
    let decision =
        fx.idp.decide_saml_refresh(&request, subject, &client, Some(&aria_agent()), Some(true));
    let decision = decision.unwrap();
    // The host minting the refresh token sees the NameID the assertion carried.
    assert_eq!(decision.subject().saml_nameid.as_ref(), Some(&nameid));
    let minted = |expires_in| MintedRefreshToken {
        token: "idp-rt-x".into(),
        expires_in,
        scope: request.scope().cloned(),
    };
    let json: Value =
        serde_json::from_str(&decision.token_response(minted(None)).to_json()).unwrap();
    assert!(json.get("expires_in").is_none(), "{json}");
    let json: Value =
        serde_json::from_str(&decision.token_response(minted(Some(3600))).to_json()).unwrap();
    assert_eq!(json["expires_in"], 3600);
}

#[test]
fn refresh_token_requested_for_an_id_token_subject_is_refused() {
    let fx = Fixture::new();
    let form = fx.form().set("requested_token_type", urn::TOKEN_TYPE_REFRESH_TOKEN);
    assert_denial(
        &parse_err(&form),
        DenyReason::SubjectTokenTypeUnsupported,
        WireError::InvalidRequest,
    );
    assert_denial(
        &fx.deny(&form),
        DenyReason::SubjectTokenTypeUnsupported,
        WireError::InvalidRequest,
    );
    let form = refresh_form("rt").set("requested_token_type", urn::TOKEN_TYPE_REFRESH_TOKEN);
    assert_denial(
        &parse_err(&form),
        DenyReason::SubjectTokenTypeUnsupported,
        WireError::InvalidRequest,
    );
    let request = parse(&Form::saml_refresh("assertion"));
    match request {
        ExchangeRequest::SamlRefresh(request) => {
            assert_eq!(request.assertion(), "assertion");
            assert_eq!(request.scope().unwrap().to_string(), "openid offline_access");
        }
        other => panic!("expected a SAML refresh request, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Policy: deny by default
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_agent_is_refused() {
    let fx = Fixture::new();
    let token = fx.id_token(&claims_for(USER, "mallory"));
    let mallory = AuthenticatedClient::confidential("mallory");
    let denial = fx.exchange_as(&mallory, &Form::id_jag(&token)).outcome.unwrap_err();
    assert_denial(&denial, DenyReason::AgentUnknown, WireError::UnauthorizedClient);
    assert_eq!(denial.subject(), Some(USER));
    fx.issue(&fx.form());
}

#[test]
fn disabled_agent_is_refused() {
    let fx = Fixture::new();
    let mut agent = aria_agent();
    agent.enabled = false;
    fx.registry.put_agent(agent);
    assert_denial(&fx.deny(&fx.form()), DenyReason::AgentDisabled, WireError::UnauthorizedClient);
    fx.registry.put_agent(aria_agent());
    fx.issue(&fx.form());
}

#[test]
fn unknown_audience_is_invalid_target() {
    let fx = Fixture::new();
    let audiences = [
        "https://as.unknown.example",
        "https://as.expenses.example/",
        "https://AS.expenses.example",
        "https://as.expenses.example/oauth2/token",
        "expense",
    ];
    for audience in audiences {
        let denial = fx.deny(&fx.form().set("audience", audience));
        assert_denial(&denial, DenyReason::AudienceUnknown, WireError::InvalidTarget);
    }
    fx.issue(&fx.form().set("audience", EXPENSES));
}

#[test]
fn known_audience_without_connection_for_this_client_is_refused() {
    let fx = Fixture::new();
    let bob = AuthenticatedClient::confidential("bob");
    let token = fx.id_token(&claims_for(USER, "bob"));
    for audience in [EXPENSES, "expenses", CRM] {
        let form = Form::id_jag(&token).set("audience", audience);
        let denial = fx.exchange_as(&bob, &form).outcome.unwrap_err();
        assert_denial(&denial, DenyReason::NoConnection, WireError::UnauthorizedClient);
    }
    // Give bob a connection: granted.
    fx.registry.put_connection(ManagedConnection::new(
        "bob-expenses",
        "bob",
        EXPENSES,
        "bob-at-expenses",
        Scope::parse("expenses.read").unwrap(),
    ));
    let outcome = fx.exchange_as(&bob, &Form::id_jag(&token)).outcome.unwrap();
    let issued = outcome.into_id_jag().unwrap();
    assert_eq!(issued.claims().client_id(), "bob-at-expenses");
    assert_eq!(issued.connection_id(), "bob-expenses");
}

#[test]
fn disabled_connection_is_refused() {
    let fx = Fixture::new();
    let mut connection = expenses_connection();
    connection.enabled = false;
    fx.registry.put_connection(connection);
    let denial = fx.deny(&fx.form());
    assert_denial(&denial, DenyReason::ConnectionDisabled, WireError::UnauthorizedClient);
    assert_eq!(denial.connection_id(), Some("aria-expenses"));
    assert_eq!(denial.subject(), Some(USER));
    // Other connections of the same agent still work.
    fx.issue(&fx.form().set("audience", CRM));
}

#[test]
fn unknown_user_is_refused() {
    let fx = Fixture::new();
    let token = fx.id_token(&claims_for("user-z", CLIENT));
    let denial = fx.deny(&Form::id_jag(&token));
    assert_denial(&denial, DenyReason::UserUnknown, WireError::InvalidGrant);
    assert_eq!(denial.subject(), Some("user-z"));
    // User C has no record for the calendar app.
    let token = fx.id_token(&claims_for(OTHER_USER, CLIENT));
    let denial = fx.deny(&Form::id_jag(&token).set("audience", CALENDAR));
    assert_denial(&denial, DenyReason::UserUnknown, WireError::InvalidGrant);
    fx.issue(&Form::id_jag(&token).set("audience", CRM));
}

#[test]
fn suspended_user_is_refused() {
    let fx = Fixture::new();
    let mut user = DirectoryUser::new(USER);
    user.active = false;
    fx.directory.put(EXPENSES, user);
    assert_denial(&fx.deny(&fx.form()), DenyReason::UserSuspended, WireError::InvalidGrant);
    fx.directory.put(EXPENSES, DirectoryUser::new(USER));
    fx.issue(&fx.form());
}

#[test]
fn unassigned_user_is_refused() {
    let fx = Fixture::new();
    let mut user = DirectoryUser::new(USER);
    user.assigned = false;
    fx.directory.put(EXPENSES, user);
    assert_denial(&fx.deny(&fx.form()), DenyReason::UserNotAssigned, WireError::InvalidGrant);
    fx.issue(&fx.form().set("audience", CRM));
    fx.directory.put(EXPENSES, DirectoryUser::new(USER));
    fx.issue(&fx.form());
}

// ---------------------------------------------------------------------------------------------
// Kill switches, mid-stream
// ---------------------------------------------------------------------------------------------

fn count_issued(fx: &Fixture, form: &Form, attempts: usize, expected: DenyReason) -> usize {
    let mut issued = 0;
    for _ in 0..attempts {
        match fx.exchange(form).outcome {
            Ok(_) => issued += 1,
            Err(denial) => assert_eq!(denial.reason(), expected),
        }
    }
    issued
}

#[test]
fn connection_kill_switch_stops_issuance_at_once() {
    let fx = Fixture::new();
    let form = fx.form().add("scope", "expenses.read");
    assert_eq!(count_issued(&fx, &form, 5, DenyReason::ConnectionDisabled), 5);
    assert!(fx.registry.set_connection_enabled("aria-expenses", false));
    assert_eq!(count_issued(&fx, &form, 20, DenyReason::ConnectionDisabled), 0);
    // The alias route is the same connection.
    let alias = form.clone().set("audience", "expenses");
    assert_eq!(count_issued(&fx, &alias, 5, DenyReason::ConnectionDisabled), 0);
    // Other connections are unaffected.
    fx.issue(&fx.form().set("audience", CRM));
    assert!(!fx.registry.set_connection_enabled("no-such-connection", false));
    assert!(fx.registry.set_connection_enabled("aria-expenses", true));
    assert_eq!(count_issued(&fx, &form, 5, DenyReason::ConnectionDisabled), 5);
}

#[test]
fn user_kill_switch_stops_every_connection_for_that_user_only() {
    let fx = Fixture::new();
    let user_b = fx.form();
    let user_c = Form::id_jag(&fx.id_token(&claims_for(OTHER_USER, CLIENT)));
    assert_eq!(count_issued(&fx, &user_b, 5, DenyReason::UserSuspended), 5);
    assert!(fx.directory.set_suspended(USER, true));
    for audience in [EXPENSES, CRM, CALENDAR, "expenses"] {
        let form = user_b.clone().set("audience", audience);
        assert_eq!(count_issued(&fx, &form, 20, DenyReason::UserSuspended), 0, "{audience}");
        let denial = fx.deny(&form);
        assert_denial(&denial, DenyReason::UserSuspended, WireError::InvalidGrant);
    }
    // Refresh-token subjects too.
    fx.tokens.add_refresh("rt-b", ValidatedSubject::new(USER, CLIENT));
    assert_eq!(count_issued(&fx, &refresh_form("rt-b"), 3, DenyReason::UserSuspended), 0);
    // User C is unaffected.
    for audience in [EXPENSES, CRM] {
        let form = user_c.clone().set("audience", audience);
        assert_eq!(count_issued(&fx, &form, 5, DenyReason::UserSuspended), 5);
    }
    assert!(!fx.directory.set_suspended("user-z", true));
    assert!(fx.directory.set_suspended(USER, false));
    assert_eq!(count_issued(&fx, &user_b, 5, DenyReason::UserSuspended), 5);
    assert_eq!(count_issued(&fx, &refresh_form("rt-b"), 1, DenyReason::UserSuspended), 1);
}

#[test]
fn agent_kill_switch_stops_every_connection_of_that_agent_only() {
    let fx = Fixture::new();
    let mut otto = Agent::new("otto");
    otto.actor = None;
    fx.registry.put_agent(otto);
    fx.registry.put_connection(ManagedConnection::new(
        "otto-crm",
        "otto",
        CRM,
        "otto-at-crm",
        Scope::parse("crm.read").unwrap(),
    ));
    let otto_client = AuthenticatedClient::confidential("otto");
    let otto_form = Form::id_jag(&fx.id_token(&claims_for(USER, "otto"))).set("audience", CRM);

    let form = fx.form();
    assert_eq!(count_issued(&fx, &form, 5, DenyReason::AgentDisabled), 5);
    assert!(fx.registry.set_agent_enabled(CLIENT, false));
    for audience in [EXPENSES, CRM, CALENDAR] {
        let form = form.clone().set("audience", audience);
        assert_eq!(count_issued(&fx, &form, 20, DenyReason::AgentDisabled), 0, "{audience}");
        assert_denial(&fx.deny(&form), DenyReason::AgentDisabled, WireError::UnauthorizedClient);
    }
    assert!(fx.exchange_as(&otto_client, &otto_form).outcome.is_ok());
    assert!(!fx.registry.set_agent_enabled("nobody", false));
    assert!(fx.registry.set_agent_enabled(CLIENT, true));
    assert_eq!(count_issued(&fx, &form, 5, DenyReason::AgentDisabled), 5);
}

// ---------------------------------------------------------------------------------------------
// Audience aliases and client-id mapping (draft §4.3, §3)
// ---------------------------------------------------------------------------------------------

#[test]
fn alias_is_rewritten_to_the_real_issuer() {
    let fx = Fixture::new();
    let exchange = fx.exchange(&fx.form().set("audience", "expenses"));
    let audit = exchange.audit;
    let issued = exchange.outcome.unwrap().into_id_jag().unwrap();
    assert_eq!(issued.claims().audience(), &OneOrMany::One(EXPENSES.into()));
    assert_eq!(payload(issued.token())["aud"], EXPENSES);
    assert_eq!(issued.connection_id(), "aria-expenses");
    assert_eq!(audit.audience.as_deref(), Some(EXPENSES));
    assert!(redeem(&fx.keys, issued.token()).outcome.is_ok());
    // The direct issuer works the same.
    let direct = fx.issue(&fx.form());
    assert_eq!(direct.claims().audience().single(), Some(EXPENSES));
}

#[test]
fn client_id_is_the_clients_id_at_the_resource() {
    let fx = Fixture::new();
    let expenses = fx.issue(&fx.form());
    assert_eq!(expenses.claims().client_id(), "aria-at-expenses");
    assert_eq!(payload(expenses.token())["client_id"], "aria-at-expenses");
    let crm = fx.issue(&fx.form().set("audience", CRM));
    assert_eq!(crm.claims().client_id(), "aria-at-crm");
    assert_eq!(crm.claims().audience().single(), Some(CRM));
}

// ---------------------------------------------------------------------------------------------
// Narrowing (draft §4.3.1 items 4 and 5, §4.3.2)
// ---------------------------------------------------------------------------------------------

#[test]
fn scope_is_narrowed_and_reported() {
    let fx = Fixture::new();
    let issued = fx.issue(&fx.form().add("scope", "expenses.read admin"));
    assert_eq!(scope_of(&issued).as_deref(), Some("expenses.read"));
    assert_eq!(issued.narrowing().scope_dropped, Some(Scope::parse("admin").unwrap()));
    assert!(!issued.narrowing().is_empty());
    let response = issued.token_response();
    assert!(response.to_json().contains(r#""scope":"expenses.read""#), "{}", response.to_json());
    assert_eq!(response_json(&issued)["scope"], "expenses.read");
    assert_eq!(payload(issued.token())["scope"], "expenses.read");
}

#[test]
fn scope_within_the_ceiling_is_not_reported() {
    let fx = Fixture::new();
    for scope in ["expenses.read", "expenses.write expenses.read", "expenses.read expenses.write"] {
        let issued = fx.issue(&fx.form().add("scope", scope));
        assert_eq!(issued.claims().scope(), Some(&Scope::parse(scope).unwrap()));
        assert!(issued.narrowing().is_empty());
        assert!(response_json(&issued).get("scope").is_none(), "{scope}");
    }
    // No scope asked, no default: none granted, none reported.
    let issued = fx.issue(&fx.form());
    assert_eq!(issued.claims().scope(), None);
    assert!(payload(issued.token()).get("scope").is_none());
    assert!(response_json(&issued).get("scope").is_none());
}

#[test]
fn default_scope_is_granted_and_reported() {
    let fx = Fixture::new();
    let issued = fx.issue(&fx.form().set("audience", CRM));
    assert_eq!(scope_of(&issued).as_deref(), Some("crm.read"));
    assert_eq!(response_json(&issued)["scope"], "crm.read");
    // An explicit request overrides the default.
    let issued = fx.issue(&fx.form().set("audience", CRM).add("scope", "crm.write"));
    assert_eq!(scope_of(&issued).as_deref(), Some("crm.write"));
    assert!(response_json(&issued).get("scope").is_none());
}

#[test]
fn scope_entirely_outside_the_ceiling_is_refused() {
    let fx = Fixture::new();
    for scope in ["admin", "admin crm.read", "expenses.delete"] {
        let denial = fx.deny(&fx.form().add("scope", scope));
        assert_denial(&denial, DenyReason::ScopeNotAllowed, WireError::InvalidScope);
        assert_eq!(denial.connection_id(), Some("aria-expenses"));
    }
    fx.issue(&fx.form().add("scope", "admin expenses.write"));
}

#[test]
fn resources_are_narrowed_to_the_allowed_ones() {
    let fx = Fixture::new();
    let mut connection = expenses_connection();
    connection.allowed_resources = vec![API.to_owned(), FILES.to_owned()];
    fx.registry.put_connection(connection);
    let evil = "https://evil.example/api";
    let form = fx.form().add("resource", API).add("resource", evil).add("resource", REPORTS);
    let issued = fx.issue(&form);
    assert_eq!(issued.claims().resource(), Some(&OneOrMany::One(API.into())));
    assert_eq!(issued.narrowing().resources_dropped, [evil, REPORTS]);
    assert_eq!(payload(issued.token())["resource"], API);

    let all_allowed = fx.issue(&fx.form().add("resource", FILES).add("resource", API));
    assert!(all_allowed.narrowing().resources_dropped.is_empty());
    assert_eq!(payload(all_allowed.token())["resource"], json!([FILES, API]));

    let denial = fx.deny(&fx.form().add("resource", evil).add("resource", REPORTS));
    assert_denial(&denial, DenyReason::ResourceNotAllowed, WireError::InvalidTarget);
    // No resource requested: the connection's resources, never none (an ID-JAG without
    // `resource` would let the resource AS choose any resource it serves).
    let unnamed = fx.issue(&fx.form());
    assert_eq!(payload(unnamed.token())["resource"], json!([API, FILES]));
    assert!(unnamed.narrowing().resources_dropped.is_empty());
    // A connection that allows no resource: none requested, none granted.
    let mut connection = expenses_connection();
    connection.allowed_resources = Vec::new();
    fx.registry.put_connection(connection);
    assert!(fx.issue(&fx.form()).claims().resource().is_none());
}

#[test]
fn the_audit_record_shows_requested_and_granted_resources() {
    let fx = Fixture::new();
    let evil = "https://evil.example/api";
    let exchange = fx.exchange(&fx.form().add("resource", API).add("resource", evil));
    assert!(exchange.outcome.is_ok());
    assert_eq!(exchange.audit.requested_resource, [API, evil]);
    assert_eq!(exchange.audit.resource, [API]);
    let line: Value = serde_json::from_str(&exchange.audit.to_json_line()).unwrap();
    assert_eq!(line["requested_resource"], json!([API, evil]));
    assert_eq!(line["resource"], json!([API]));
}

#[test]
fn authorization_details_are_narrowed_to_the_allowed_types() {
    let fx = Fixture::new();
    let report = json!({"type": "expense_report", "actions": ["read"]});
    let payment = json!({"type": "payment_initiation", "instructedAmount": {"amount": "10"}});
    let details = |items: &[&Value]| serde_json::to_string(items).unwrap();

    let issued = fx.issue(&fx.form().add("authorization_details", &details(&[&report, &payment])));
    let kept = issued.claims().authorization_details().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].to_value(), report);
    assert_eq!(issued.narrowing().authorization_detail_types_dropped, ["payment_initiation"]);
    assert_eq!(response_json(&issued)["authorization_details"], json!([report]));
    assert_eq!(payload(issued.token())["authorization_details"], json!([report]));

    let unchanged = fx.issue(&fx.form().add("authorization_details", &details(&[&report])));
    assert_eq!(unchanged.claims().authorization_details().unwrap().len(), 1);
    assert!(response_json(&unchanged).get("authorization_details").is_none());

    let denial = fx.deny(&fx.form().add("authorization_details", &details(&[&payment])));
    assert_denial(
        &denial,
        DenyReason::AuthorizationDetailsNotAllowed,
        WireError::InvalidAuthorizationDetails,
    );
    // A connection that allows no detail type refuses any.
    let denial =
        fx.deny(&fx.form().set("audience", CRM).add("authorization_details", &details(&[&report])));
    assert_eq!(denial.reason(), DenyReason::AuthorizationDetailsNotAllowed);
}

// ---------------------------------------------------------------------------------------------
// Step-up (draft §9.2, RFC 9470)
// ---------------------------------------------------------------------------------------------

fn step_up_fixture() -> Fixture {
    let fx = Fixture::new();
    let mut connection = calendar_connection();
    connection.step_up =
        Some(StepUpPolicy { max_age: Some(300), acr_values: vec!["phr".to_owned()] });
    fx.registry.put_connection(connection);
    fx
}

fn calendar_form(fx: &Fixture, claims: &Value) -> Form {
    Form::id_jag(&fx.id_token(claims)).set("audience", CALENDAR)
}

#[track_caller]
fn assert_step_up(denial: &Denial) {
    assert_denial(denial, DenyReason::StepUpRequired, WireError::InsufficientUserAuthentication);
    let challenge = StepUpChallenge { max_age: Some(300), acr_values: Some("phr".to_owned()) };
    assert_eq!(denial.step_up(), Some(&challenge));
    let response: Value = serde_json::from_str(&denial.error_response().to_json()).unwrap();
    assert_eq!(response["error"], "insufficient_user_authentication");
    assert_eq!(response["max_age"], 300);
    assert_eq!(response["acr_values"], "phr");
    assert_eq!(denial.error_response().http_status(), 400);
}

#[test]
fn step_up_when_sign_in_is_too_old() {
    let fx = step_up_fixture();
    for auth_time in [NOW - 301, NOW - 3_000] {
        let claims = with_claim(id_token_claims(), "auth_time", json!(auth_time));
        assert_step_up(&fx.deny(&calendar_form(&fx, &claims)));
    }
    let claims = without_claim(id_token_claims(), "auth_time");
    assert_step_up(&fx.deny(&calendar_form(&fx, &claims)));
}

#[test]
fn step_up_when_acr_does_not_match() {
    let fx = step_up_fixture();
    for acr in [json!("pwd"), json!("PHR"), json!("urn:mace:incommon:iap:silver")] {
        let claims = with_claim(id_token_claims(), "acr", acr);
        assert_step_up(&fx.deny(&calendar_form(&fx, &claims)));
    }
    assert_step_up(&fx.deny(&calendar_form(&fx, &without_claim(id_token_claims(), "acr"))));
}

#[test]
fn step_up_satisfied_is_granted() {
    let fx = step_up_fixture();
    let claims = with_claim(id_token_claims(), "auth_time", json!(NOW - 300));
    let issued = fx.issue(&calendar_form(&fx, &claims));
    assert_eq!(issued.claims().acr(), Some("phr"));
    assert_eq!(issued.claims().auth_time().unwrap().as_unix_seconds(), NOW - 300);
    // Connections without step-up do not care.
    let weak = with_claim(without_claim(id_token_claims(), "auth_time"), "acr", json!("pwd"));
    fx.issue(&Form::id_jag(&fx.id_token(&weak)));
}

#[test]
fn step_up_with_only_one_requirement() {
    let fx = Fixture::new();
    let mut connection = calendar_connection();
    connection.step_up =
        Some(StepUpPolicy { max_age: None, acr_values: vec!["phr".into(), "mfa".into()] });
    fx.registry.put_connection(connection);
    let old = with_claim(id_token_claims(), "auth_time", json!(NOW - 86_400));
    fx.issue(&calendar_form(&fx, &with_claim(old.clone(), "acr", json!("mfa"))));
    let denial = fx.deny(&calendar_form(&fx, &with_claim(old, "acr", json!("pwd"))));
    assert_eq!(denial.reason(), DenyReason::StepUpRequired);
    let challenge = StepUpChallenge { max_age: None, acr_values: Some("phr mfa".to_owned()) };
    assert_eq!(denial.step_up(), Some(&challenge));
    let response: Value = serde_json::from_str(&denial.error_response().to_json()).unwrap();
    assert!(response.get("max_age").is_none());
    assert_eq!(response["acr_values"], "phr mfa");
}

// ---------------------------------------------------------------------------------------------
// Issuance: the claims and header of the ID-JAG (draft §3)
// ---------------------------------------------------------------------------------------------

#[test]
fn issued_claims_carry_the_required_members() {
    let fx = Fixture::new();
    let issued = fx.issue(&fx.form().add("scope", "expenses.read"));
    let claims = issued.claims();
    assert_eq!(claims.issuer(), IDP);
    assert_eq!(claims.subject(), USER);
    assert_eq!(claims.audience(), &OneOrMany::One(EXPENSES.into()));
    assert_eq!(claims.client_id(), "aria-at-expenses");
    assert_eq!(claims.issued_at(), now());
    assert_eq!(claims.expires_at().as_unix_seconds(), NOW + 300);
    assert_eq!(claims.not_before(), None);
    assert_eq!(claims.confirmation(), None);
    // The signed payload says the same.
    let body = payload(issued.token());
    assert_eq!(body["iss"], IDP);
    assert_eq!(body["sub"], USER);
    assert_eq!(body["aud"], EXPENSES);
    assert_eq!(body["client_id"], "aria-at-expenses");
    assert_eq!(body["jti"], claims.jwt_id());
    assert_eq!(body["iat"], NOW);
    assert_eq!(body["exp"], NOW + 300);
    assert!(body.get("tenant").is_none());
    assert!(body.get("email").is_none());
    assert!(body.get("sub_id").is_none());
    assert!(body.get("cnf").is_none());
    assert_eq!(serde_json::to_string(&body).unwrap(), claims.to_json());
}

#[test]
fn lifetime_is_the_shorter_of_default_and_connection() {
    let fx = Fixture::new();
    let mut connection = expenses_connection();
    connection.lifetime = 120;
    fx.registry.put_connection(connection);
    let issued = fx.issue(&fx.form());
    assert_eq!(issued.claims().expires_at().as_unix_seconds(), NOW + 120);
    assert_eq!(response_json(&issued)["expires_in"], 120);
    let issued = fx.issue(&fx.form().set("audience", CRM));
    assert_eq!(issued.claims().expires_at().as_unix_seconds(), NOW + 300);
    assert_eq!(response_json(&issued)["expires_in"], 300);

    let short = Fixture::with_config(IdpConfig::new(IDP).with_default_lifetime(60));
    let issued = short.issue(&short.form());
    assert_eq!(issued.claims().expires_at().as_unix_seconds(), NOW + 60);
    assert_eq!(response_json(&issued)["expires_in"], 60);

    let long = Fixture::with_config(IdpConfig::new(IDP).with_default_lifetime(3_600));
    let issued = long.issue(&long.form());
    assert_eq!(issued.claims().expires_at().as_unix_seconds(), NOW + 300);
}

#[test]
fn jwt_ids_are_long_and_unique() {
    let fx = Fixture::new();
    let form = fx.form();
    let mut seen = HashSet::new();
    for _ in 0..1_000 {
        let issued = fx.issue(&form);
        let jti = issued.claims().jwt_id().to_owned();
        assert!(jti.len() >= 22, "{jti}");
        assert!(jti.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{jti}");
        assert!(URL_SAFE_NO_PAD.decode(&jti).unwrap().len() >= 16, "{jti}");
        assert!(seen.insert(jti), "repeated jti");
    }
    assert_eq!(seen.len(), 1_000);
}

#[test]
fn subject_is_pairwise_when_the_directory_says_so() {
    let fx = Fixture::new();
    let mut user = DirectoryUser::new(USER);
    user.resource_subject = Some("pairwise-7f3a9c".to_owned());
    fx.directory.put(EXPENSES, user);
    let issued = fx.issue(&fx.form());
    assert_eq!(issued.claims().subject(), "pairwise-7f3a9c");
    assert_eq!(payload(issued.token())["sub"], "pairwise-7f3a9c");
    // The CRM record has no pairwise value: the IdP user id.
    assert_eq!(fx.issue(&fx.form().set("audience", CRM)).claims().subject(), USER);
}

#[test]
fn tenant_only_for_a_multi_tenant_idp() {
    let single = Fixture::new();
    let multi = Fixture::with_config(IdpConfig::new(IDP).with_multi_tenant(true));
    for fx in [&single, &multi] {
        let mut user = DirectoryUser::new(USER);
        user.tenant = Some("acme".to_owned());
        fx.directory.put(EXPENSES, user);
    }
    assert_eq!(single.issue(&single.form()).claims().tenant(), None);
    let issued = multi.issue(&multi.form());
    assert_eq!(issued.claims().tenant(), Some("acme"));
    assert_eq!(payload(issued.token())["tenant"], "acme");
    // Multi-tenant, but the record has no tenant: refused, since only iss + tenant + sub would
    // name the user uniquely.
    let denial = multi.deny(&multi.form().set("audience", CRM));
    assert_denial(&denial, DenyReason::UserTenantMissing, WireError::InvalidGrant);
    assert_eq!(denial.reason().code(), "user_tenant_missing");
}

#[test]
fn sign_in_facts_are_copied_from_the_id_token() {
    let fx = Fixture::new();
    let issued = fx.issue(&fx.form());
    let claims = issued.claims();
    assert_eq!(claims.auth_time().unwrap().as_unix_seconds(), NOW - 120);
    assert_eq!(claims.acr(), Some("phr"));
    assert_eq!(claims.amr(), Some(&["pwd".to_owned(), "hwk".to_owned()][..]));
    let body = payload(issued.token());
    assert_eq!(body["auth_time"], NOW - 120);
    assert_eq!(body["amr"], json!(["pwd", "hwk"]));

    let bare =
        without_claim(without_claim(without_claim(id_token_claims(), "auth_time"), "acr"), "amr");
    let issued = fx.issue(&Form::id_jag(&fx.id_token(&bare)));
    assert_eq!(issued.claims().auth_time(), None);
    assert_eq!(issued.claims().acr(), None);
    assert_eq!(issued.claims().amr(), None);
}

#[test]
fn email_only_when_verified() {
    let fx = Fixture::new();
    let mut user = DirectoryUser::new(USER);
    user.verified_email = Some("b@company.example".to_owned());
    fx.directory.put(EXPENSES, user);
    let issued = fx.issue(&fx.form());
    assert_eq!(issued.claims().email(), Some("b@company.example"));
    // An email in the ID token is not copied: only the directory's verified address counts.
    let claims = with_claim(id_token_claims(), "email", json!("attacker@evil.example"));
    let issued = fx.issue(&Form::id_jag(&fx.id_token(&claims)).set("audience", CRM));
    assert_eq!(issued.claims().email(), None);
    assert!(payload(issued.token()).get("email").is_none());
}

#[test]
fn aud_sub_and_aud_tenant_from_the_directory() {
    let fx = Fixture::new();
    let mut user = DirectoryUser::new(USER);
    user.aud_sub = Some("emp-00417".to_owned());
    user.aud_tenant = Some("company-tenant-9".to_owned());
    fx.directory.put(EXPENSES, user);
    let issued = fx.issue(&fx.form());
    assert_eq!(issued.claims().aud_sub(), Some("emp-00417"));
    assert_eq!(issued.claims().aud_tenant(), Some("company-tenant-9"));
    let crm = fx.issue(&fx.form().set("audience", CRM));
    assert_eq!(crm.claims().aud_sub(), None);
    assert_eq!(crm.claims().aud_tenant(), None);
}

#[test]
fn sub_id_only_for_a_resource_app_that_uses_saml() {
    let fx = Fixture::new();
    let nameid = SamlNameId {
        issuer: "https://saml.idp.example.com/entity".to_owned(),
        nameid: "b@company.example".to_owned(),
        nameid_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".to_owned()),
        name_qualifier: None,
        sp_name_qualifier: Some("https://as.expenses.example/saml".to_owned()),
        sp_provided_id: None,
        extra: Default::default(),
    };
    let mut user = DirectoryUser::new(USER);
    user.saml_nameid = Some(nameid.clone());
    fx.directory.put(EXPENSES, user.clone());
    fx.directory.put(CRM, user);
    let mut connection = expenses_connection();
    connection.uses_saml_sso = true;
    fx.registry.put_connection(connection);

    let issued = fx.issue(&fx.form());
    assert_eq!(issued.claims().sub_id(), Some(&SubjectIdentifier::SamlNameId(nameid)));
    let sub_id = &payload(issued.token())["sub_id"];
    assert_eq!(sub_id["format"], "saml-nameid");
    assert_eq!(sub_id["nameid"], "b@company.example");
    assert!(sub_id.get("name_qualifier").is_none());
    // The CRM does not sign users in with SAML.
    assert_eq!(fx.issue(&fx.form().set("audience", CRM)).claims().sub_id(), None);
}

#[test]
fn actor_comes_from_the_agent_or_the_actor_token() {
    let fx = Fixture::new();
    let issued = fx.issue(&fx.form());
    let actor = issued.claims().actor().unwrap();
    assert_eq!(actor.subject(), Some(AGENT_ACTOR));
    assert_eq!(actor.claim("sub_profile"), Some(&json!("ai_agent")));
    assert_eq!(
        payload(issued.token())["act"],
        json!({"sub": AGENT_ACTOR, "sub_profile": "ai_agent"})
    );

    // A validated actor token names the actor instead.
    let form =
        fx.form().add("actor_token", ACTOR_TOKEN).add("actor_token_type", urn::TOKEN_TYPE_JWT);
    let issued = fx.issue(&form);
    assert_eq!(issued.claims().actor().unwrap().subject(), Some("runtime-7"));
    // An actor token the host refuses.
    let form = fx.form().add("actor_token", "forged").add("actor_token_type", urn::TOKEN_TYPE_JWT);
    assert_denial(&fx.deny(&form), DenyReason::ActorTokenRejected, WireError::InvalidRequest);

    // An agent without an actor: no act.
    fx.registry.put_agent(Agent::new(CLIENT));
    let issued = fx.issue(&fx.form());
    assert_eq!(issued.claims().actor(), None);
    assert!(payload(issued.token()).get("act").is_none());
}

#[test]
fn header_has_typ_alg_and_the_active_kid() {
    for algorithm in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let fx = Fixture::with(algorithm, IdpConfig::new(IDP));
        let issued = fx.issue(&fx.form());
        let head = header(issued.token());
        assert_eq!(head["typ"], "oauth-id-jag+jwt", "{algorithm}");
        assert_eq!(head["alg"], algorithm.name());
        assert_eq!(head["kid"], fx.keys.active().kid().unwrap());
        assert_eq!(head.as_object().unwrap().len(), 3, "{head}");
    }
    // During a rotation the active key signs, not the other published one.
    let old = SigningKey::generate(Algorithm::Es256).unwrap();
    let active = SigningKey::generate(Algorithm::Es256).unwrap();
    let active_kid = active.kid().unwrap().to_owned();
    let keys = SigningKeySet::new(active, vec![old.verification_key().clone()]).unwrap();
    let mut fx = Fixture::new();
    fx.idp = IdentityProvider::new(IdpConfig::new(IDP), keys.verification_keys().clone());
    fx.keys = keys;
    let issued = fx.issue(&fx.form());
    assert_eq!(header(issued.token())["kid"], active_kid);
    assert_ne!(active_kid, old.kid().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Token response (draft §4.3.2, RFC 8693 §2.2.1)
// ---------------------------------------------------------------------------------------------

#[test]
fn token_response_has_the_id_jag_and_no_refresh_token() {
    let fx = Fixture::new();
    let exchange = fx.exchange(&fx.form().add("scope", "expenses.read"));
    let exchanged = exchange.outcome.unwrap();
    let from_outcome = exchanged.token_response();
    let issued = exchanged.into_id_jag().unwrap();
    let response = issued.token_response();
    assert_eq!(response, from_outcome);
    let json = response_json(&issued);
    assert_eq!(json["access_token"], issued.token());
    assert_eq!(json["issued_token_type"], "urn:ietf:params:oauth:token-type:id-jag");
    assert_eq!(json["token_type"], "N_A");
    assert_eq!(json["expires_in"], 300);
    assert!(json.get("refresh_token").is_none());
    assert!(json.get("scope").is_none());
    let members: HashSet<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let expected: HashSet<&str> =
        ["access_token", "issued_token_type", "token_type", "expires_in"].into_iter().collect();
    assert_eq!(members, expected);
    let headers = response.headers();
    assert!(headers.contains(&("Cache-Control", "no-store")), "{headers:?}");
    assert!(headers.contains(&("Content-Type", "application/json")), "{headers:?}");
    let debug = format!("{issued:?} {response:?}");
    assert!(!debug.contains(issued.token()));
}

// ---------------------------------------------------------------------------------------------
// Round trip: the crate's own resource side redeems what the IdP issues (draft §4.4)
// ---------------------------------------------------------------------------------------------

#[test]
fn issued_id_jag_is_redeemed_by_the_resource_server() {
    for algorithm in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let fx = Fixture::with(algorithm, IdpConfig::new(IDP));
        let form = fx.form().add("scope", "expenses.read admin").add("resource", API);
        let issued = fx.issue(&form);
        let redemption = redeem(&fx.keys, issued.token());
        let grant = redemption.outcome.unwrap_or_else(|r| panic!("{algorithm}: {r:?}"));
        assert_eq!(grant.account(), "account-b");
        assert_eq!(grant.client_id(), "aria-at-expenses");
        assert_eq!(grant.scope().map(Scope::to_string).as_deref(), Some("expenses.read"));
        assert_eq!(grant.resources(), [API]);
        assert_eq!(grant.id_jag().claims(), issued.claims());
        // Keys of another IdP do not redeem it.
        let other = Fixture::with(algorithm, IdpConfig::new(IDP));
        assert!(redeem(&other.keys, issued.token()).outcome.is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Audit (one record per decision, never a token)
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn audit_json(exchange: &Exchange, secrets: &[&str]) -> Value {
    let line = exchange.audit.to_json_line();
    assert!(!line.contains('\n'), "{line}");
    for secret in secrets {
        assert!(!line.contains(secret), "audit line leaks a token: {line}");
    }
    serde_json::from_str(&line).unwrap()
}

#[test]
fn audit_of_a_grant() {
    let fx = Fixture::new();
    let token = fx.token();
    let form = Form::id_jag(&token).add("scope", "expenses.read admin").add("resource", API);
    let exchange = fx.exchange(&form);
    let issued = match &exchange.outcome {
        Ok(Exchanged::IdJag(issued)) => issued.clone(),
        other => panic!("expected a grant, got {other:?}"),
    };
    let record = audit_json(&exchange, &[&token, issued.token()]);
    assert_eq!(record["event"], "id_jag_issued");
    assert_eq!(record["time"], NOW);
    assert_eq!(record["issuer"], IDP);
    assert_eq!(record["subject"], USER);
    assert_eq!(record["client_id"], CLIENT);
    assert_eq!(record["actor"], AGENT_ACTOR);
    assert_eq!(record["audience"], EXPENSES);
    assert_eq!(record["resource"], json!([API]));
    assert_eq!(record["requested_scope"], "expenses.read admin");
    assert_eq!(record["granted_scope"], "expenses.read");
    assert_eq!(record["managed_connection"], "aria-expenses");
    assert_eq!(record["jwt_id"], issued.claims().jwt_id());
    assert_eq!(record["claims_verified"], true);
    assert!(record.get("reason").is_none());
    assert!(record.get("wire_error").is_none());
}

#[test]
fn audit_of_denials() {
    let fx = Fixture::new();
    let token = fx.token();
    fx.registry.set_connection_enabled("aria-expenses", false);
    let exchange = fx.exchange(&Form::id_jag(&token).add("scope", "expenses.read"));
    assert!(exchange.outcome.is_err());
    let record = audit_json(&exchange, &[&token]);
    assert_eq!(record["event"], "exchange_denied");
    assert_eq!(record["reason"], "connection_disabled");
    assert_eq!(record["wire_error"], "unauthorized_client");
    assert_eq!(record["subject"], USER);
    assert_eq!(record["client_id"], CLIENT);
    assert_eq!(record["audience"], EXPENSES);
    assert_eq!(record["requested_scope"], "expenses.read");
    assert_eq!(record["managed_connection"], "aria-expenses");
    assert_eq!(record["claims_verified"], true);
    assert!(record.get("jwt_id").is_none());
    assert!(record.get("granted_scope").is_none());

    // A bad subject token: nothing from it is trusted.
    let forged = sign_compact(
        &SigningKey::generate(Algorithm::Es256).unwrap(),
        Some("JWT"),
        claims_for("victim", CLIENT).to_string().as_bytes(),
    )
    .unwrap();
    let exchange = fx.exchange(&Form::id_jag(&forged));
    let record = audit_json(&exchange, &[&forged]);
    assert_eq!(record["event"], "exchange_denied");
    assert_eq!(record["reason"], "subject_token_invalid");
    assert_eq!(record["wire_error"], "invalid_request");
    assert!(record.get("subject").is_none());
    assert_eq!(record["claims_verified"], false);

    // A request that does not parse.
    let exchange = fx.exchange(&Form::id_jag(&token).add("audience", CRM));
    let record = audit_json(&exchange, &[&token]);
    assert_eq!(record["reason"], "parameter_repeated");
    assert_eq!(record["wire_error"], "invalid_request");
    assert!(record.get("audience").is_none());

    // Every reason code and wire error in the record matches the denial.
    let forms = [
        fx.form().set("audience", "https://as.unknown.example"),
        fx.form().add("scope", "admin").set("audience", CRM),
        fx.form().set("grant_type", "password"),
    ];
    for form in &forms {
        let exchange = fx.exchange(form);
        let denial = exchange.outcome.as_ref().unwrap_err();
        let record = audit_json(&exchange, &[&token]);
        assert_eq!(record["reason"], denial.reason().code());
        assert_eq!(record["wire_error"], denial.wire_error().code());
    }
}

#[test]
fn audit_of_a_saml_refresh_grant_names_the_user() {
    let fx = Fixture::new();
    fx.tokens.add_saml("assertion-b", ValidatedSubject::new(USER, CLIENT));
    let exchange = fx.exchange(&Form::saml_refresh("assertion-b"));
    let refresh_token = exchange.outcome.as_ref().unwrap().token_response().access_token;
    let record = audit_json(&exchange, &["assertion-b", &refresh_token]);
    assert_eq!(record["client_id"], CLIENT);
    assert_eq!(record["claims_verified"], true);
    // A refresh token was issued for user B: the trail must say for whom.
    assert_eq!(record["subject"], USER, "{record}");
}

// ---------------------------------------------------------------------------------------------
// Metadata (draft §7)
// ---------------------------------------------------------------------------------------------

#[test]
fn idp_metadata_advertises_id_jag() {
    let token_endpoint = "https://idp.example.com/oauth2/v1/token";
    let jwks_uri = "https://idp.example.com/oauth2/v1/keys";
    let document = IdpMetadata::new(IDP, token_endpoint, jwks_uri).to_json();
    assert_eq!(document["issuer"], IDP);
    assert_eq!(document["token_endpoint"], token_endpoint);
    assert_eq!(document["jwks_uri"], jwks_uri);
    let types = document["identity_chaining_requested_token_types_supported"].as_array().unwrap();
    assert!(types.contains(&json!("urn:ietf:params:oauth:token-type:id-jag")), "{document}");
    let grants = document["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!("urn:ietf:params:oauth:grant-type:token-exchange")));
    let more = IdpMetadata::new(IDP, token_endpoint, jwks_uri)
        .with_grant_type("authorization_code")
        .with_grant_type(urn::GRANT_TYPE_TOKEN_EXCHANGE)
        .to_json();
    assert_eq!(
        more["grant_types_supported"],
        json!([urn::GRANT_TYPE_TOKEN_EXCHANGE, "authorization_code"])
    );
}

// ---------------------------------------------------------------------------------------------
// Staged API
// ---------------------------------------------------------------------------------------------

fn without_jti_and_iat(token: &str) -> Value {
    let mut body = payload(token);
    let members = body.as_object_mut().unwrap();
    members.remove("jti").unwrap();
    members.remove("iat").unwrap();
    body
}

#[test]
fn staged_api_matches_the_one_call_exchange() {
    let fx = Fixture::new();
    let form = fx
        .form()
        .set("audience", "expenses")
        .add("scope", "expenses.read admin")
        .add("resource", API)
        .add("authorization_details", r#"[{"type":"expense_report"},{"type":"payment"}]"#);
    let one_call = fx.issue(&form);

    let client = AuthenticatedClient::confidential(CLIENT);
    let request = parse_id_jag(&form);
    let subject = fx.idp.validate_subject_token(&request, &client, &IdTokensOnly, now()).unwrap();
    assert_eq!(subject.subject, USER);
    assert_eq!(subject.issued_to, CLIENT);
    fx.idp.check_subject(&subject, &client).unwrap();
    let agent = fx.registry.agent(client.client_id());
    let connection = fx.registry.connection(client.client_id(), request.audience());
    let audience = match &connection {
        ConnectionLookup::Found(connection) => connection.audience.clone(),
        other => panic!("expected the expense connection, got {other:?}"),
    };
    assert_eq!(audience, EXPENSES);
    let user = fx.directory.user(&subject.subject, &audience);
    let decision = fx
        .idp
        .decide(&request, &subject, &client, agent.as_ref(), connection, user.as_ref(), None, now())
        .unwrap();
    assert_eq!(decision.connection_id(), "aria-expenses");
    assert_eq!(decision.narrowing(), one_call.narrowing());
    let staged = decision.issue(&fx.keys).unwrap();

    assert_eq!(without_jti_and_iat(staged.token()), without_jti_and_iat(one_call.token()));
    assert_ne!(staged.claims().jwt_id(), one_call.claims().jwt_id());
    assert_eq!(header(staged.token()), header(one_call.token()));
    let mut staged_response = response_json(&staged);
    let mut one_call_response = response_json(&one_call);
    staged_response.as_object_mut().unwrap().remove("access_token");
    one_call_response.as_object_mut().unwrap().remove("access_token");
    assert_eq!(staged_response, one_call_response);
    assert_eq!(staged_response["scope"], "expenses.read");
}

#[test]
fn staged_decide_denies_records_that_do_not_fit() {
    let fx = Fixture::new();
    let client = AuthenticatedClient::confidential(CLIENT);
    let request = parse_id_jag(&fx.form());
    let subject = fx.idp.validate_subject_token(&request, &client, &IdTokensOnly, now()).unwrap();
    let agent = fx.registry.agent(CLIENT);
    let user = fx.directory.user(USER, EXPENSES);
    let found = |connection: ManagedConnection| ConnectionLookup::Found(Box::new(connection));
    let decide = |agent: Option<&Agent>, lookup: ConnectionLookup, user: Option<&DirectoryUser>| {
        fx.idp.decide(&request, &subject, &client, agent, lookup, user, None, now())
    };

    let granted = decide(agent.as_ref(), found(expenses_connection()), user.as_ref()).unwrap();
    assert_eq!(granted.claims().client_id(), "aria-at-expenses");

    let cases = [
        (decide(None, found(expenses_connection()), user.as_ref()), DenyReason::AgentUnknown),
        (
            decide(Some(&Agent::new("bob")), found(expenses_connection()), user.as_ref()),
            DenyReason::AgentUnknown,
        ),
        (
            decide(agent.as_ref(), ConnectionLookup::NoConnection, user.as_ref()),
            DenyReason::NoConnection,
        ),
        (
            decide(agent.as_ref(), ConnectionLookup::UnknownAudience, user.as_ref()),
            DenyReason::AudienceUnknown,
        ),
        // The host loaded the CRM connection for an expense request.
        (decide(agent.as_ref(), found(crm_connection()), user.as_ref()), DenyReason::NoConnection),
        // The host loaded bob's connection.
        (
            decide(
                agent.as_ref(),
                found(ManagedConnection::new(
                    "bob-expenses",
                    "bob",
                    EXPENSES,
                    "bob-at-expenses",
                    Scope::parse("expenses.read").unwrap(),
                )),
                user.as_ref(),
            ),
            DenyReason::NoConnection,
        ),
        (decide(agent.as_ref(), found(expenses_connection()), None), DenyReason::UserUnknown),
        // The host loaded another user's record.
        (
            decide(
                agent.as_ref(),
                found(expenses_connection()),
                Some(&DirectoryUser::new(OTHER_USER)),
            ),
            DenyReason::UserUnknown,
        ),
    ];
    for (outcome, reason) in cases {
        let denial = outcome.unwrap_err();
        assert_denial(&denial, reason, reason.wire_error());
    }
    // A subject validated for another client is refused by decide itself.
    let bobs = ValidatedSubject::new(USER, "bob");
    let denial = fx
        .idp
        .decide(
            &request,
            &bobs,
            &client,
            agent.as_ref(),
            found(expenses_connection()),
            user.as_ref(),
            None,
            now(),
        )
        .unwrap_err();
    assert_denial(&denial, DenyReason::SubjectTokenAudience, WireError::InvalidRequest);
}

// ---------------------------------------------------------------------------------------------
// Settings and failures of the host
// ---------------------------------------------------------------------------------------------

#[test]
fn id_token_algorithms_and_leeway_follow_the_settings() {
    let rs_only = AlgorithmSet::only(&[Algorithm::Rs256]);
    let fx = Fixture::with_config(IdpConfig::new(IDP).with_algorithms(rs_only));
    let denial = fx.deny(&fx.form());
    assert_denial(
        &denial,
        DenyReason::SubjectTokenJose(JoseError::AlgorithmNotAllowed),
        WireError::InvalidRequest,
    );
    let es = AlgorithmSet::only(&[Algorithm::Es256]);
    let fx = Fixture::with_config(IdpConfig::new(IDP).with_algorithms(es).with_leeway(0));
    let expiring =
        |exp: u64| Form::id_jag(&fx.id_token(&with_claim(id_token_claims(), "exp", json!(exp))));
    assert_denial(
        &fx.deny(&expiring(NOW)),
        DenyReason::SubjectTokenExpired,
        WireError::InvalidRequest,
    );
    fx.issue(&expiring(NOW + 1));
    let future = Form::id_jag(&fx.id_token(&with_claim(id_token_claims(), "iat", json!(NOW + 1))));
    assert_denial(
        &fx.deny(&future),
        DenyReason::SubjectTokenIssuedInFuture,
        WireError::InvalidRequest,
    );
}

#[test]
fn id_token_keys_can_be_replaced_after_a_rotation() {
    let mut fx = Fixture::new();
    let old_token = fx.token();
    fx.issue(&Form::id_jag(&old_token));
    let next = SigningKeySet::new(SigningKey::generate(Algorithm::Es256).unwrap(), vec![]).unwrap();
    fx.idp.replace_id_token_keys(next.verification_keys().clone());
    let denial = fx.deny(&Form::id_jag(&old_token));
    assert_denial(
        &denial,
        DenyReason::SubjectTokenJose(JoseError::KeyNotFound),
        WireError::InvalidRequest,
    );
    fx.keys = next;
    fx.issue(&fx.form());
}

/// A signer whose backend is down.
struct BrokenSigner;

impl Signer for BrokenSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn key_id(&self) -> Option<&str> {
        Some("broken")
    }

    fn sign(&self, _signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        Err(JoseError::SigningFailed)
    }
}

#[test]
fn signer_failure_is_a_server_error() {
    let fx = Fixture::new();
    let hosts = ExchangeHosts { signer: &BrokenSigner, ..fx.hosts() };
    let client = AuthenticatedClient::confidential(CLIENT);
    let exchange = fx.idp.exchange(&hosts, fx.form().encode().as_bytes(), &client, now());
    let denial = exchange.outcome.unwrap_err();
    assert_denial(&denial, DenyReason::SigningFailed, WireError::ServerError);
    assert_eq!(denial.error_response().http_status(), 500);
    assert_eq!(exchange.audit.reason, Some("signing_failed"));
    // A directory record with an empty string cannot produce a malformed ID-JAG either.
    let mut user = DirectoryUser::new(USER);
    user.verified_email = Some(String::new());
    fx.directory.put(EXPENSES, user);
    assert_denial(&fx.deny(&fx.form()), DenyReason::SigningFailed, WireError::ServerError);
}

#[test]
fn audit_subject_is_the_idp_user_even_when_sub_is_pairwise() {
    let fx = Fixture::new();
    let mut user = DirectoryUser::new(USER);
    user.resource_subject = Some("pairwise-7f3a9c".to_owned());
    fx.directory.put(EXPENSES, user);
    let granted = fx.exchange(&fx.form());
    assert_eq!(granted.outcome.as_ref().unwrap().token_response().token_type, "N_A");
    fx.registry.set_connection_enabled("aria-expenses", false);
    let denied = fx.exchange(&fx.form());
    assert!(denied.outcome.is_err());
    // The same user at the same connection: one name in the trail, the IdP's.
    assert_eq!(denied.audit.subject.as_deref(), Some(USER));
    assert_eq!(granted.audit.subject.as_deref(), Some(USER), "{:?}", granted.audit);
}

#[test]
fn saml_path_refuses_a_user_inactive_in_the_directory() {
    let fx = Fixture::new();
    let mut user = DirectoryUser::new("user-d");
    user.active = false;
    for audience in [EXPENSES, CRM, CALENDAR] {
        fx.directory.put(audience, user.clone());
    }
    // The ID-JAG path refuses user D at every app.
    let token = fx.id_token(&claims_for("user-d", CLIENT));
    for audience in [EXPENSES, CRM, CALENDAR] {
        let denial = fx.deny(&Form::id_jag(&token).set("audience", audience));
        assert_denial(&denial, DenyReason::UserSuspended, WireError::InvalidGrant);
    }
    // The SAML path must not mint a refresh token for them either.
    fx.tokens.add_saml("assertion-d", ValidatedSubject::new("user-d", CLIENT));
    let outcome = fx.exchange(&Form::saml_refresh("assertion-d")).outcome;
    assert_eq!(fx.tokens.minted.load(Ordering::Relaxed), 0, "refresh token minted: {outcome:?}");
    assert_denial(&outcome.unwrap_err(), DenyReason::UserSuspended, WireError::InvalidGrant);
}

#[test]
fn id_token_not_yet_valid_is_refused() {
    let fx = Fixture::new();
    let not_before =
        |nbf: u64| Form::id_jag(&fx.id_token(&with_claim(id_token_claims(), "nbf", json!(nbf))));
    let denial = fx.deny(&not_before(NOW + 61));
    assert_denial(&denial, DenyReason::SubjectTokenIssuedInFuture, WireError::InvalidRequest);
    fx.issue(&not_before(NOW + 60));
    fx.issue(&not_before(NOW - 10));
}

#[test]
fn actor_token_without_a_host_validator_is_unsupported() {
    let fx = Fixture::new();
    let hosts = ExchangeHosts {
        registry: &fx.registry,
        directory: &fx.directory,
        tokens: &IdTokensOnly,
        signer: &fx.keys,
    };
    let form =
        fx.form().add("actor_token", ACTOR_TOKEN).add("actor_token_type", urn::TOKEN_TYPE_JWT);
    let client = AuthenticatedClient::confidential(CLIENT);
    let exchange = fx.idp.exchange(&hosts, form.encode().as_bytes(), &client, now());
    let denial = exchange.outcome.expect_err("an actor token nobody can check");
    assert_denial(&denial, DenyReason::ActorTokenUnsupported, WireError::InvalidRequest);
    // Without the actor token the same request is granted.
    let exchange = fx.idp.exchange(&hosts, fx.form().encode().as_bytes(), &client, now());
    assert!(exchange.outcome.is_ok());
}

#[test]
fn a_token_carrying_client_id_is_not_an_id_token() {
    // An RFC 9068 access token or an ID-JAG signed with the same keys, typ stripped: its
    // `client_id` gives it away.
    let fx = Fixture::new();
    let claims = with_claim(id_token_claims(), "client_id", json!(CLIENT));
    let denial = fx.deny(&Form::id_jag(&fx.id_token(&claims)));
    assert_denial(&denial, DenyReason::SubjectTokenTypeConfusion, WireError::InvalidRequest);
}
