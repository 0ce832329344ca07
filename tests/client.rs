//! Integration tests of the requesting client (draft §4.3, §4.4, §4.5, §7, §8): the request
//! bodies of both legs against the draft's own examples, client authentication (RFC 6749
//! §2.3.1, RFC 7523 §2.2), reading both responses (including hostile bodies), error
//! responses, the renewal decision, discovery documents, and a full round trip through the
//! crate's own IdP and resource authorization server.
//!
//! Every refusal asserts the exact [`ClientError`] variant (and member name where there is one),
//! so a check that silently stops firing fails here.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::AuthorizationDetail;
use id_jag::client::{
    AuthorizationServerMetadata, ClientAuthentication, ClientError, ClientMetadata, FormRequest,
    HeldTokens, JwtBearerGrantRequest, NextStep, ProtectedResourceMetadata,
    SamlRefreshTokenRequest, SubjectToken, TokenErrorResponse, TokenExchangeRequest,
    is_subject_token_refusal, next_step, read_exchange_response, read_jwt_bearer_response,
    read_refresh_token_exchange_response,
};
use id_jag::error::WireError;
use id_jag::idp::{
    Agent, DenyReason, DirectoryUser, ExchangeHosts, IdTokensOnly, IdentityProvider, IdpConfig,
    ManagedConnection, MemoryConnections, MemoryDirectory, StepUpPolicy,
};
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, ParseOptions, SigningKey, SigningKeySet, sign_compact,
};
use id_jag::metadata::{IdpMetadata, ResourceServerMetadata};
use id_jag::resource::{
    AccessTokenIssuer, AllowAll, MemoryReplayGuard, MemorySubjects, RedeemHosts, RejectReason,
    ResourceServer, ResourceServerConfig, SubjectKey, TrustedIssuer, TrustedIssuerStore,
    TrustedIssuers,
};
use id_jag::scope::Scope;
use id_jag::urn;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

/// The draft's example parties (§4.3, §4.4).
const DRAFT_IDP: &str = "https://acme.idp.example/";
const DRAFT_AUDIENCE: &str = "https://acme.chat.example/";
const DRAFT_RESOURCE: &str = "https://api.chat.example/";
const DRAFT_SCOPE: &str = "chat.read chat.history";
const DRAFT_ID_TOKEN: &str = "eyJraWQiOiJzMTZ0cVNtODhwREo4VGZCXzdrSEtQ...";
const DRAFT_CLIENT_ASSERTION: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjIyIn0...";
const DRAFT_ID_JAG: &str = "eyJhbGciOiJIUzI1NiIsI...";

/// The round trip's parties.
const IDP: &str = "https://idp.example.com";
const AS_ISSUER: &str = "https://as.expenses.example";
const AS_ALIAS: &str = "https://expenses.example";
const API: &str = "https://api.expenses.example";
const FILES: &str = "https://files.expenses.example";
const CLIENT_AT_IDP: &str = "aria";
const CLIENT_AT_AS: &str = "aria-at-expenses";
const USER: &str = "user-b";
const ACCOUNT: &str = "account-42";
const CONNECTION: &str = "aria-expenses";

const NOW: u64 = 1_764_000_000;
const SECRET: &str = "s3cret-never-logged";

fn now() -> NumericDate {
    NumericDate::from_unix_seconds(NOW).unwrap()
}

fn at(seconds: u64) -> NumericDate {
    NumericDate::from_unix_seconds(seconds).unwrap()
}

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap()
}

/// The IdP's signing key for hand-made ID-JAGs, generated once.
fn idp_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Algorithm::Es256).unwrap())
}

/// Decoded (name, value) pairs of a form body, in order.
fn pairs(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn owned(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

fn header<'a>(http: &'a FormRequest, name: &str) -> Option<&'a str> {
    http.headers.iter().find(|(n, _)| *n == name).map(|(_, value)| value.as_str())
}

fn secret_basic() -> ClientAuthentication {
    ClientAuthentication::SecretBasic { client_id: "aria".into(), client_secret: SECRET.into() }
}

/// The draft §3 example claims, around [`NOW`].
fn draft_claims() -> Map<String, Value> {
    let Value::Object(claims) = json!({
        "jti": "9e43f81b64a33f20116179",
        "iss": DRAFT_IDP,
        "sub": "U019488227",
        "aud": DRAFT_AUDIENCE,
        "client_id": "f53f191f9311af35",
        "exp": NOW + 300,
        "iat": NOW,
        "resource": DRAFT_RESOURCE,
        "scope": DRAFT_SCOPE,
        "auth_time": NOW - 60,
        "amr": ["mfa", "phrh", "hwk", "user"],
    }) else {
        unreachable!()
    };
    claims
}

/// A real, signed ID-JAG with the draft's claims as edited, under `typ`.
fn mint_typed(typ: Option<&str>, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = draft_claims();
    edit(&mut claims);
    sign_compact(idp_key(), typ, Value::Object(claims).to_string().as_bytes()).unwrap()
}

fn mint(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    mint_typed(Some(urn::TYP_ID_JAG), edit)
}

/// The draft §4.3.2 response shape around `token`, as edited.
fn exchange_body(token: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    let Value::Object(mut body) = json!({
        "issued_token_type": urn::TOKEN_TYPE_ID_JAG,
        "access_token": token,
        "token_type": "N_A",
        "scope": DRAFT_SCOPE,
        "expires_in": 300,
    }) else {
        unreachable!()
    };
    edit(&mut body);
    Value::Object(body).to_string().into_bytes()
}

/// The draft's leg-1 request as a client builds it.
fn draft_request() -> TokenExchangeRequest {
    TokenExchangeRequest::new(SubjectToken::IdToken(DRAFT_ID_TOKEN.into()), DRAFT_AUDIENCE)
        .resource(DRAFT_RESOURCE)
        .scope(scope(DRAFT_SCOPE))
}

fn refused(result: Result<impl std::fmt::Debug, ClientError>) -> TokenErrorResponse {
    match result {
        Err(ClientError::Refused(error)) => *error,
        other => panic!("expected Refused, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1-2. The draft's examples
// ---------------------------------------------------------------------------------------------

#[test]
fn leg_one_matches_the_draft_example() {
    // draft §4.3, lines joined with '&', shown with ':' and '/' unencoded and '+' for a space.
    let draft = [
        "grant_type=urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type=urn:ietf:params:oauth:token-type:id-jag",
        "audience=https://acme.chat.example/",
        "resource=https://api.chat.example/",
        "scope=chat.read+chat.history",
        "subject_token=eyJraWQiOiJzMTZ0cVNtODhwREo4VGZCXzdrSEtQ...",
        "subject_token_type=urn:ietf:params:oauth:token-type:id_token",
        "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion=eyJhbGciOiJSUzI1NiIsImtpZCI6IjIyIn0...",
    ]
    .join("&");
    let auth = ClientAuthentication::ClientAssertion { assertion: DRAFT_CLIENT_ASSERTION.into() };
    let http = draft_request().to_http(&auth, now()).unwrap();

    assert_eq!(pairs(&http.body), pairs(&draft));
    // Spelled out too, so that a decoding quirk common to both sides cannot hide a difference.
    assert_eq!(
        pairs(&http.body),
        owned(&[
            ("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE),
            ("requested_token_type", urn::TOKEN_TYPE_ID_JAG),
            ("audience", DRAFT_AUDIENCE),
            ("resource", DRAFT_RESOURCE),
            ("scope", "chat.read chat.history"),
            ("subject_token", DRAFT_ID_TOKEN),
            ("subject_token_type", urn::TOKEN_TYPE_ID_TOKEN),
            ("client_assertion_type", urn::CLIENT_ASSERTION_TYPE_JWT_BEARER),
            ("client_assertion", DRAFT_CLIENT_ASSERTION),
        ])
    );
    assert!(http.body.contains("scope=chat.read+chat.history"), "{}", http.body);
    // Byte for byte, written out by hand: application/x-www-form-urlencoded (the WHATWG URL
    // serializer) percent-encodes ':' and '/', sends a space as '+', keeps '.', '-' and '_', and
    // the parameters come in the builder's order.
    assert_eq!(
        http.body,
        concat!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
            "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid-jag",
            "&audience=https%3A%2F%2Facme.chat.example%2F",
            "&resource=https%3A%2F%2Fapi.chat.example%2F",
            "&scope=chat.read+chat.history",
            "&subject_token=eyJraWQiOiJzMTZ0cVNtODhwREo4VGZCXzdrSEtQ...",
            "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token",
            "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth",
            "%3Aclient-assertion-type%3Ajwt-bearer",
            "&client_assertion=eyJhbGciOiJSUzI1NiIsImtpZCI6IjIyIn0...",
        )
    );
    assert_eq!(header(&http, "Content-Type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(header(&http, "Accept"), Some("application/json"));
    assert_eq!(header(&http, "Authorization"), None);
}

#[test]
fn leg_two_matches_the_draft_example() {
    // draft §4.4.
    let draft = [
        "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion=eyJhbGciOiJIUzI1NiIsI...",
    ]
    .join("&");
    let http = JwtBearerGrantRequest::new(DRAFT_ID_JAG).to_http(&secret_basic(), now()).unwrap();

    assert_eq!(pairs(&http.body), pairs(&draft));
    assert_eq!(
        pairs(&http.body),
        owned(&[("grant_type", urn::GRANT_TYPE_JWT_BEARER), ("assertion", DRAFT_ID_JAG)])
    );
    // Byte for byte, as in leg one.
    assert_eq!(
        http.body,
        concat!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
            "&assertion=eyJhbGciOiJIUzI1NiIsI...",
        )
    );
    assert!(header(&http, "Authorization").unwrap().starts_with("Basic "));
    assert!(!http.body.contains("client_secret"));
    assert!(!http.body.contains("client_id"));
    assert!(!http.body.contains(SECRET));

    // A narrower scope goes after the assertion.
    let narrower = JwtBearerGrantRequest::new(DRAFT_ID_JAG).scope(scope("chat.read"));
    let http = narrower.to_http(&secret_basic(), now()).unwrap();
    assert_eq!(
        pairs(&http.body),
        owned(&[
            ("grant_type", urn::GRANT_TYPE_JWT_BEARER),
            ("assertion", DRAFT_ID_JAG),
            ("scope", "chat.read"),
        ])
    );
    assert_eq!(
        http.body,
        concat!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
            "&assertion=eyJhbGciOiJIUzI1NiIsI...",
            "&scope=chat.read",
        )
    );
}

// ---------------------------------------------------------------------------------------------
// 3-4. Client authentication
// ---------------------------------------------------------------------------------------------

#[test]
fn client_secret_basic_form_encodes_id_and_secret() {
    // RFC 6749 §2.3.1: each form-encoded, joined by a colon, then base64.
    let auth = ClientAuthentication::SecretBasic {
        client_id: "my client:1".into(),
        client_secret: "p@ss:wörd+/".into(),
    };
    let http = JwtBearerGrantRequest::new("jag").to_http(&auth, now()).unwrap();
    let value = header(&http, "Authorization").unwrap();
    let encoded = value.strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    assert_eq!(decoded, "my+client%3A1:p%40ss%3Aw%C3%B6rd%2B%2F");
    assert_eq!(
        value,
        format!("Basic {}", STANDARD.encode("my+client%3A1:p%40ss%3Aw%C3%B6rd%2B%2F"))
    );
    assert_eq!(
        pairs(&http.body),
        owned(&[("grant_type", urn::GRANT_TYPE_JWT_BEARER), ("assertion", "jag")])
    );
}

#[test]
fn client_secret_post_and_none_put_credentials_in_the_body() {
    let post = ClientAuthentication::SecretPost {
        client_id: "my client".into(),
        client_secret: "p@ss&=".into(),
    };
    let http = JwtBearerGrantRequest::new("jag").to_http(&post, now()).unwrap();
    assert_eq!(
        pairs(&http.body),
        owned(&[
            ("grant_type", urn::GRANT_TYPE_JWT_BEARER),
            ("assertion", "jag"),
            ("client_id", "my client"),
            ("client_secret", "p@ss&="),
        ])
    );
    assert_eq!(header(&http, "Authorization"), None);

    let none = ClientAuthentication::None { client_id: "public-app".into() };
    let http = JwtBearerGrantRequest::new("jag").to_http(&none, now()).unwrap();
    assert_eq!(
        pairs(&http.body),
        owned(&[
            ("grant_type", urn::GRANT_TYPE_JWT_BEARER),
            ("assertion", "jag"),
            ("client_id", "public-app"),
        ])
    );
    assert_eq!(header(&http, "Authorization"), None);
    let names: Vec<&str> = http.headers.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["Content-Type", "Accept"]);
}

#[test]
fn debug_of_authentication_and_form_request_hides_secrets_and_tokens() {
    let key: Arc<SigningKey> = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let assertion = "eyJ-client-assertion-never-logged";
    let auths = [
        ClientAuthentication::SecretBasic {
            client_id: "aria".into(),
            client_secret: SECRET.into(),
        },
        ClientAuthentication::SecretPost { client_id: "aria".into(), client_secret: SECRET.into() },
        ClientAuthentication::private_key_jwt("aria", "https://as.example/token", key),
        ClientAuthentication::ClientAssertion { assertion: assertion.into() },
        ClientAuthentication::None { client_id: "aria".into() },
    ];
    let subject = "eyJ-subject-token-never-logged";
    let request = TokenExchangeRequest::new(SubjectToken::IdToken(subject.into()), AS_ISSUER);
    for auth in &auths {
        let debug = format!("{auth:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains(assertion), "{debug}");

        let http = request.to_http(auth, now()).unwrap();
        let debug = format!("{http:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains(assertion), "{debug}");
        assert!(!debug.contains(subject), "{debug}");
        assert!(!debug.contains("eyJ"), "{debug}");
        // The Basic credentials are in a header value: Debug shows header names only.
        if let Some(basic) = header(&http, "Authorization") {
            let credentials = basic.strip_prefix("Basic ").unwrap();
            assert!(!debug.contains(credentials), "{debug}");
        }
    }
}

#[test]
fn debug_of_requests_hides_tokens() {
    let subject = "eyJ-subject-token-never-logged";
    let actor = "eyJ-actor-token-never-logged";
    let jag = "eyJ-id-jag-never-logged";
    let saml = "PHNhbWw6QXNzZXJ0aW9uIG5ldmVyLWxvZ2dlZA";
    for token in [
        SubjectToken::IdToken(subject.into()),
        SubjectToken::RefreshToken(subject.into()),
        SubjectToken::Saml2(subject.into()),
    ] {
        assert!(!format!("{token:?}").contains(subject));
    }
    let saml_request = SamlRefreshTokenRequest::new(saml);
    assert!(!format!("{saml_request:?}").contains(saml));
    let grant = JwtBearerGrantRequest::new(jag).scope(scope("a"));
    assert!(!format!("{grant:?}").contains(jag));

    let exchange = TokenExchangeRequest::new(SubjectToken::IdToken(subject.into()), AS_ISSUER)
        .actor_token(actor, urn::TOKEN_TYPE_JWT);
    let debug = format!("{exchange:?}");
    assert!(!debug.contains(subject), "{debug}");
    // The actor token is a credential like the subject token.
    assert!(!debug.contains(actor), "TokenExchangeRequest's Debug shows the actor token: {debug}");
}

#[test]
fn private_key_jwt_signs_a_fresh_rfc7523_assertion() {
    let key = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let endpoint = "https://idp.example.com/oauth2/v1/token";
    let auth = ClientAuthentication::private_key_jwt("aria", endpoint, key.clone());
    let request = draft_request();
    let first = request.to_http(&auth, now()).unwrap();
    let second = request.to_http(&auth, now()).unwrap();

    let assertion_of = |http: &FormRequest| {
        let pairs = pairs(&http.body);
        let n = pairs.len();
        assert_eq!(
            pairs[n - 2],
            owned(&[("client_assertion_type", urn::CLIENT_ASSERTION_TYPE_JWT_BEARER)])[0]
        );
        assert_eq!(pairs[n - 1].0, "client_assertion");
        assert_eq!(pairs.iter().filter(|(name, _)| name == "client_assertion").count(), 1);
        pairs[n - 1].1.clone()
    };
    assert_eq!(header(&first, "Authorization"), None);

    let mut jtis = Vec::new();
    for http in [&first, &second] {
        let assertion = assertion_of(http);
        let options = ParseOptions::new(AlgorithmSet::only(&[Algorithm::Es256]));
        let jws = CompactJws::parse(&assertion, &options).unwrap();
        jws.verify_with(key.verification_key()).unwrap();
        assert_eq!(jws.header().algorithm(), Algorithm::Es256);
        assert_eq!(jws.header().kid(), key.kid());
        assert!(jws.header().kid().is_some());

        let claims: Value = serde_json::from_slice(jws.unverified_payload()).unwrap();
        assert_eq!(claims["iss"], "aria");
        assert_eq!(claims["sub"], "aria");
        assert_eq!(claims["aud"], endpoint);
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 60);
        let jti = claims["jti"].as_str().unwrap().to_owned();
        assert!(jti.len() >= 22, "{jti}");
        jtis.push(jti);
    }
    assert_ne!(jtis[0], jtis[1]);

    // The lifetime is the caller's when given.
    let short = ClientAuthentication::PrivateKeyJwt {
        client_id: "aria".into(),
        token_endpoint: endpoint.into(),
        signer: key.clone(),
        lifetime: 30,
    };
    let assertion = assertion_of(&request.to_http(&short, now()).unwrap());
    let jws = CompactJws::parse(&assertion, &ParseOptions::new(AlgorithmSet::all())).unwrap();
    let claims: Value = serde_json::from_slice(jws.unverified_payload()).unwrap();
    assert_eq!(claims["exp"], NOW + 30);

    // Another key does not verify it.
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    assert!(jws.verify_with(other.verification_key()).is_err());
}

// ---------------------------------------------------------------------------------------------
// 5. Other request builders
// ---------------------------------------------------------------------------------------------

#[test]
fn repeated_resources_keep_their_order() {
    let request = TokenExchangeRequest::new(SubjectToken::IdToken("idt".into()), AS_ISSUER)
        .resource(FILES)
        .resource(API);
    let http = request.to_http(&secret_basic(), now()).unwrap();
    assert_eq!(
        pairs(&http.body),
        owned(&[
            ("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE),
            ("requested_token_type", urn::TOKEN_TYPE_ID_JAG),
            ("audience", AS_ISSUER),
            ("resource", FILES),
            ("resource", API),
            ("subject_token", "idt"),
            ("subject_token_type", urn::TOKEN_TYPE_ID_TOKEN),
        ])
    );
}

#[test]
fn authorization_details_go_as_a_json_array_string() {
    let details = vec![
        AuthorizationDetail::from_value(json!({"type": "payment_initiation", "amount": "10.00"}))
            .unwrap(),
        AuthorizationDetail::from_value(json!({"type": "account_information", "actions": ["r"]}))
            .unwrap(),
    ];
    let request = TokenExchangeRequest::new(SubjectToken::IdToken("idt".into()), AS_ISSUER)
        .scope(scope("a"))
        .authorization_details(details);
    let http = request.to_http(&secret_basic(), now()).unwrap();
    let pairs = pairs(&http.body);
    let names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "grant_type",
            "requested_token_type",
            "audience",
            "scope",
            "authorization_details",
            "subject_token",
            "subject_token_type"
        ]
    );
    let text = &pairs[4].1;
    assert!(text.starts_with('['), "{text}");
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        parsed,
        json!([
            {"type": "payment_initiation", "amount": "10.00"},
            {"type": "account_information", "actions": ["r"]},
        ])
    );
}

#[test]
fn actor_token_and_its_type_follow_the_subject() {
    let request = TokenExchangeRequest::new(SubjectToken::IdToken("idt".into()), AS_ISSUER)
        .actor_token("agent-token", urn::TOKEN_TYPE_JWT);
    let http = request.to_http(&secret_basic(), now()).unwrap();
    assert_eq!(
        pairs(&http.body),
        owned(&[
            ("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE),
            ("requested_token_type", urn::TOKEN_TYPE_ID_JAG),
            ("audience", AS_ISSUER),
            ("subject_token", "idt"),
            ("subject_token_type", urn::TOKEN_TYPE_ID_TOKEN),
            ("actor_token", "agent-token"),
            ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ])
    );
}

#[test]
fn subject_token_types_use_the_rfc8693_urns() {
    let cases = [
        (SubjectToken::IdToken("t".into()), "urn:ietf:params:oauth:token-type:id_token"),
        (SubjectToken::RefreshToken("t".into()), "urn:ietf:params:oauth:token-type:refresh_token"),
        (SubjectToken::Saml2("t".into()), "urn:ietf:params:oauth:token-type:saml2"),
    ];
    for (subject, expected) in cases {
        let http =
            TokenExchangeRequest::new(subject, AS_ISSUER).to_http(&secret_basic(), now()).unwrap();
        let pairs = pairs(&http.body);
        assert_eq!(pairs[3], ("subject_token".to_owned(), "t".to_owned()));
        assert_eq!(pairs[4], ("subject_token_type".to_owned(), expected.to_owned()));
        assert_eq!(pairs[1].1, "urn:ietf:params:oauth:token-type:id-jag");
    }
}

#[test]
fn saml_refresh_token_request_asks_for_openid_offline_access() {
    // draft §4.5.
    let assertion = "PHNhbWw6QXNzZXJ0aW9uPg";
    let http = SamlRefreshTokenRequest::new(assertion).to_http(&secret_basic(), now()).unwrap();
    assert_eq!(
        pairs(&http.body),
        owned(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
            ("scope", "openid offline_access"),
            ("subject_token", assertion),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2"),
        ])
    );
    assert!(http.body.contains("scope=openid+offline_access"), "{}", http.body);
    assert!(header(&http, "Authorization").is_some());
    assert_eq!(
        http.body,
        concat!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
            "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token",
            "&scope=openid+offline_access",
            "&subject_token=PHNhbWw6QXNzZXJ0aW9uPg",
            "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Asaml2",
        )
    );

    // A standard-alphabet base64 assertion: '+', '/' and '=' are percent-encoded, since a bare
    // '+' would decode as a space.
    let http = SamlRefreshTokenRequest::new("PHNh+bWw/Pg==").to_http(&secret_basic(), now());
    let body = http.unwrap().body;
    assert!(body.contains("&subject_token=PHNh%2BbWw%2FPg%3D%3D&"), "{body}");
}

// ---------------------------------------------------------------------------------------------
// 6. Reading the leg-1 response
// ---------------------------------------------------------------------------------------------

#[test]
fn reads_the_draft_response_shape() {
    let token = mint(|_| {});
    let response =
        read_exchange_response(&draft_request(), 200, &exchange_body(&token, |_| {})).unwrap();
    assert_eq!(response.id_jag(), token);
    assert_eq!(response.expires_in(), Some(300));
    assert_eq!(response.expires_at(), at(NOW + 300));
    assert_eq!(response.scope(), Some(&scope(DRAFT_SCOPE)));
    assert!(!response.unexpected_refresh_token());
    let claims = response.claims();
    assert_eq!(claims.issuer(), DRAFT_IDP);
    assert_eq!(claims.subject(), "U019488227");
    assert_eq!(claims.client_id(), "f53f191f9311af35");
    assert_eq!(claims.jwt_id(), "9e43f81b64a33f20116179");
    assert_eq!(claims.audience().single(), Some(DRAFT_AUDIENCE));

    // Any case of N_A; 201 is a success too; the media-type form of typ is an ID-JAG.
    let body = exchange_body(&token, |b| {
        b.insert("token_type".into(), json!("n_a"));
    });
    assert!(read_exchange_response(&draft_request(), 200, &body).is_ok());
    let long_typ = mint_typed(Some("application/oauth-id-jag+jwt"), |_| {});
    let body = exchange_body(&long_typ, |_| {});
    assert!(read_exchange_response(&draft_request(), 200, &body).is_ok());

    // Without a response scope (Okta), the ID-JAG's scope is the granted scope.
    let body = exchange_body(&token, |b| {
        b.remove("scope");
        b.remove("expires_in");
    });
    let response = read_exchange_response(&draft_request(), 200, &body).unwrap();
    assert_eq!(response.scope(), Some(&scope(DRAFT_SCOPE)));
    assert_eq!(response.expires_in(), None);
    assert_eq!(response.expires_at(), at(NOW + 300));
}

#[test]
fn expires_at_is_the_claim_not_expires_in() {
    let token = mint(|c| {
        c.insert("exp".into(), json!(NOW + 120));
    });
    let response =
        read_exchange_response(&draft_request(), 200, &exchange_body(&token, |_| {})).unwrap();
    assert_eq!(response.expires_at(), at(NOW + 120));
    assert_eq!(response.expires_in(), Some(300));
}

#[test]
fn refuses_other_token_types() {
    let token = mint(|_| {});
    let body = exchange_body(&token, |b| {
        b.insert("issued_token_type".into(), json!(urn::TOKEN_TYPE_ACCESS_TOKEN));
    });
    assert_eq!(
        read_exchange_response(&draft_request(), 200, &body).unwrap_err(),
        ClientError::WrongIssuedTokenType
    );
    let body = exchange_body(&token, |b| {
        b.insert("token_type".into(), json!("Bearer"));
    });
    assert_eq!(
        read_exchange_response(&draft_request(), 200, &body).unwrap_err(),
        ClientError::WrongTokenType
    );
}

#[test]
fn refuses_a_token_that_is_not_an_id_jag() {
    for token in [
        "not-a-jwt".to_owned(),
        "a.b".to_owned(),
        mint_typed(Some("JWT"), |_| {}),
        mint_typed(Some("at+jwt"), |_| {}),
        mint_typed(None, |_| {}),
        // Right typ, claims not an ID-JAG's (no client_id).
        mint(|c| {
            c.remove("client_id");
        }),
    ] {
        let body = exchange_body(&token, |_| {});
        assert_eq!(
            read_exchange_response(&draft_request(), 200, &body).unwrap_err(),
            ClientError::NotAnIdJag,
            "{token}"
        );
    }
}

#[test]
fn audience_must_be_the_one_asked_for() {
    for aud in [
        json!("https://acme.chat.example"),
        json!("https://other.chat.example/"),
        json!(["https://acme.chat.example/", "https://other.chat.example/"]),
    ] {
        let token = mint(|c| {
            c.insert("aud".into(), aud.clone());
        });
        let body = exchange_body(&token, |_| {});
        assert_eq!(
            read_exchange_response(&draft_request(), 200, &body).unwrap_err(),
            ClientError::AudienceMismatch,
            "{aud}"
        );
    }
    // An array of exactly one element is the same audience.
    let token = mint(|c| {
        c.insert("aud".into(), json!([DRAFT_AUDIENCE]));
    });
    let body = exchange_body(&token, |_| {});
    assert!(read_exchange_response(&draft_request(), 200, &body).is_ok());

    // An alias the IdP rewrites: refused unless the client says which issuer to expect.
    let alias = "https://chat.example/acme";
    let token = mint(|_| {});
    let body = exchange_body(&token, |_| {});
    let by_alias = TokenExchangeRequest::new(SubjectToken::IdToken("idt".into()), alias)
        .scope(scope(DRAFT_SCOPE))
        .resource(DRAFT_RESOURCE);
    assert_eq!(
        read_exchange_response(&by_alias, 200, &body).unwrap_err(),
        ClientError::AudienceMismatch
    );
    let by_alias = by_alias.expecting_audience(DRAFT_AUDIENCE);
    assert!(read_exchange_response(&by_alias, 200, &body).is_ok());
    // ... and then the alias itself in aud is not what was expected.
    let token = mint(|c| {
        c.insert("aud".into(), json!(alias));
    });
    assert_eq!(
        read_exchange_response(&by_alias, 200, &exchange_body(&token, |_| {})).unwrap_err(),
        ClientError::AudienceMismatch
    );
}

#[test]
fn resource_must_be_requested_or_narrowed() {
    let request = draft_request().resource("https://files.chat.example/");
    // One not requested.
    let token = mint(|c| {
        c.insert("resource".into(), json!("https://admin.chat.example/"));
    });
    assert_eq!(
        read_exchange_response(&request, 200, &exchange_body(&token, |_| {})).unwrap_err(),
        ClientError::ResourceMismatch
    );
    // One requested and one not.
    let token = mint(|c| {
        c.insert("resource".into(), json!([DRAFT_RESOURCE, "https://admin.chat.example/"]));
    });
    assert_eq!(
        read_exchange_response(&request, 200, &exchange_body(&token, |_| {})).unwrap_err(),
        ClientError::ResourceMismatch
    );
    // Trailing slash matters.
    let token = mint(|c| {
        c.insert("resource".into(), json!("https://api.chat.example"));
    });
    assert_eq!(
        read_exchange_response(&request, 200, &exchange_body(&token, |_| {})).unwrap_err(),
        ClientError::ResourceMismatch
    );
    // Narrowed to one of the two, or both, or none: accepted.
    for resource in [
        Some(json!(DRAFT_RESOURCE)),
        Some(json!(["https://files.chat.example/", DRAFT_RESOURCE])),
        None,
    ] {
        let token = mint(|c| match &resource {
            Some(value) => {
                c.insert("resource".into(), value.clone());
            }
            None => {
                c.remove("resource");
            }
        });
        let response =
            read_exchange_response(&request, 200, &exchange_body(&token, |_| {})).unwrap();
        assert_eq!(response.id_jag(), token);
    }
}

#[test]
fn scope_must_be_requested_or_narrowed() {
    // Broader than requested.
    let token = mint(|c| {
        c.insert("scope".into(), json!("chat.read chat.history chat.admin"));
    });
    let body = exchange_body(&token, |b| {
        b.insert("scope".into(), json!("chat.read chat.history chat.admin"));
    });
    assert_eq!(
        read_exchange_response(&draft_request(), 200, &body).unwrap_err(),
        ClientError::ScopeMismatch
    );
    // Narrowed, and the response says so.
    let token = mint(|c| {
        c.insert("scope".into(), json!("chat.read"));
    });
    let body = exchange_body(&token, |b| {
        b.insert("scope".into(), json!("chat.read"));
    });
    let response = read_exchange_response(&draft_request(), 200, &body).unwrap();
    assert_eq!(response.scope(), Some(&scope("chat.read")));
    // The response's scope disagrees with the token's.
    let body = exchange_body(&token, |b| {
        b.insert("scope".into(), json!("chat.read chat.history"));
    });
    assert_eq!(
        read_exchange_response(&draft_request(), 200, &body).unwrap_err(),
        ClientError::ScopeMismatch
    );
    // Same set in another order: agrees.
    let token = mint(|_| {});
    let body = exchange_body(&token, |b| {
        b.insert("scope".into(), json!("chat.history chat.read"));
    });
    assert!(read_exchange_response(&draft_request(), 200, &body).is_ok());
}

#[test]
fn refresh_token_is_accepted_but_flagged() {
    let token = mint(|_| {});
    let body = exchange_body(&token, |b| {
        b.insert("refresh_token".into(), json!("rt-should-not-be-here"));
    });
    let response = read_exchange_response(&draft_request(), 200, &body).unwrap();
    assert!(response.unexpected_refresh_token());
    assert!(!format!("{response:?}").contains("rt-should-not-be-here"));
}

#[test]
fn hostile_exchange_bodies_are_malformed_not_panics() {
    let token = mint(|_| {});
    let request = draft_request();
    let read = |body: &[u8]| read_exchange_response(&request, 200, body).unwrap_err();

    assert_eq!(read(b"not json"), ClientError::MalformedResponse("body"));
    assert_eq!(read(b""), ClientError::MalformedResponse("body"));
    assert_eq!(read(b"[]"), ClientError::MalformedResponse("body"));
    assert_eq!(read(format!("[{:?}]", token).as_bytes()), ClientError::MalformedResponse("body"));
    assert_eq!(read(b"{\"a\":1} {}"), ClientError::MalformedResponse("body"));
    assert_eq!(read(&[0xff, 0xfe, b'{', b'}']), ClientError::MalformedResponse("body"));
    let duplicate = format!(
        r#"{{"access_token":"{token}","issued_token_type":"{id_jag}","token_type":"N_A",{}}}"#,
        format_args!(r#""access_token":"{token}""#),
        id_jag = urn::TOKEN_TYPE_ID_JAG,
    );
    assert_eq!(read(duplicate.as_bytes()), ClientError::MalformedResponse("body"));
    let big = exchange_body(&token, |b| {
        b.insert("padding".into(), json!("x".repeat(70 * 1024)));
    });
    assert!(big.len() > 70 * 1024);
    assert_eq!(read(&big), ClientError::MalformedResponse("body"));
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(read(deep.as_bytes()), ClientError::MalformedResponse("body"));

    for (expires_in, raw) in [
        (json!("300"), None),
        (json!(-1), None),
        (json!(1e300), None),
        (json!(1.5), None),
        (json!(null), None),
        (json!(true), None),
        (Value::Null, Some("18446744073709551616")),
    ] {
        let body = match raw {
            None => exchange_body(&token, |b| {
                b.insert("expires_in".into(), expires_in.clone());
            }),
            Some(literal) => String::from_utf8(exchange_body(&token, |_| {}))
                .unwrap()
                .replace("\"expires_in\":300", &format!("\"expires_in\":{literal}"))
                .into_bytes(),
        };
        assert!(String::from_utf8_lossy(&body).contains("expires_in"));
        assert_eq!(read(&body), ClientError::MalformedResponse("expires_in"), "{expires_in}");
    }
    // The largest u64 is a number, if an absurd one.
    let body = String::from_utf8(exchange_body(&token, |_| {}))
        .unwrap()
        .replace("\"expires_in\":300", "\"expires_in\":18446744073709551615");
    assert_eq!(
        read_exchange_response(&request, 200, body.as_bytes()).unwrap().expires_in(),
        Some(u64::MAX)
    );

    for (member, value) in [
        ("access_token", json!(42)),
        ("access_token", json!("")),
        ("access_token", json!(null)),
        ("issued_token_type", json!(["x"])),
        ("token_type", json!({})),
        ("scope", json!(7)),
        ("scope", json!("chat.read  chat.history")),
        ("scope", json!("")),
    ] {
        let body = exchange_body(&token, |b| {
            b.insert(member.into(), value.clone());
        });
        assert_eq!(read(&body), ClientError::MalformedResponse(member), "{member}: {value}");
    }
    for member in ["access_token", "issued_token_type", "token_type"] {
        let body = exchange_body(&token, |b| {
            b.remove(member);
        });
        assert_eq!(read(&body), ClientError::MalformedResponse(member), "{member}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Error responses
// ---------------------------------------------------------------------------------------------

#[test]
fn error_responses_are_typed() {
    // The draft's §4.3.3 example.
    let body = br#"{"error":"invalid_grant","error_description":"Audience validation failed"}"#;
    let error = refused(read_exchange_response(&draft_request(), 400, body));
    assert_eq!(
        error,
        TokenErrorResponse {
            status: 400,
            error: "invalid_grant".into(),
            error_description: Some("Audience validation failed".into()),
            error_uri: None,
            max_age: None,
            acr_values: None,
        }
    );
    assert_eq!(error.wire_error(), Some(WireError::InvalidGrant));
    let display = ClientError::Refused(Box::new(error)).to_string();
    assert!(display.contains("invalid_grant"), "{display}");

    // RFC 9470 step-up.
    let body = json!({
        "error": "insufficient_user_authentication",
        "error_description": "more",
        "max_age": 5,
        "acr_values": "phr phrh",
        "error_uri": "https://idp.example.com/e",
    })
    .to_string();
    let error = refused(read_exchange_response(&draft_request(), 400, body.as_bytes()));
    assert_eq!(error.wire_error(), Some(WireError::InsufficientUserAuthentication));
    assert_eq!(error.max_age, Some(5));
    assert_eq!(error.acr_values.as_deref(), Some("phr phrh"));
    assert_eq!(error.error_uri.as_deref(), Some("https://idp.example.com/e"));
    assert_eq!(error.error_description.as_deref(), Some("more"));

    // invalid_client with 401, and an unknown code kept as sent.
    let error = refused(read_jwt_bearer_response(401, br#"{"error":"invalid_client"}"#));
    assert_eq!((error.status, error.wire_error()), (401, Some(WireError::InvalidClient)));
    let error = refused(read_jwt_bearer_response(400, br#"{"error":"vendor_specific"}"#));
    assert_eq!(error.error, "vendor_specific");
    assert_eq!(error.wire_error(), None);
    assert!(!is_subject_token_refusal(&error));

    // Malformed error bodies (unusable optional members are not: see below).
    let cases: [(&[u8], &str); 3] = [
        (br#"{"error_description":"no code"}"#, "error"),
        (br#"{"error":7}"#, "error"),
        (b"<html>Bad Gateway</html>", "body"),
    ];
    for (body, member) in cases {
        assert_eq!(
            read_exchange_response(&draft_request(), 400, body).unwrap_err(),
            ClientError::MalformedResponse(member)
        );
        assert_eq!(
            read_jwt_bearer_response(502, body).unwrap_err(),
            ClientError::MalformedResponse(member)
        );
    }
}

/// What each of the three readers makes of a refusal.
fn read_with_every_reader(status: u16, body: &[u8]) -> [ClientError; 3] {
    [
        read_exchange_response(&draft_request(), status, body).unwrap_err(),
        read_jwt_bearer_response(status, body).unwrap_err(),
        read_refresh_token_exchange_response(status, body).unwrap_err(),
    ]
}

#[test]
fn unusable_optional_error_members_keep_the_error_code() {
    // RFC 6749 §5.2 (and RFC 9470 §3): only `error` is REQUIRED. An optional member that is
    // null, empty or of the wrong type is dropped, so the caller still learns the code.
    let cases = [
        ("error_description", json!(null)),
        ("error_description", json!("")),
        ("error_description", json!(7)),
        ("error_description", json!(["Audience validation failed"])),
        ("error_uri", json!(null)),
        ("error_uri", json!("")),
        ("error_uri", json!({"href": "https://idp.example.com/e"})),
        ("acr_values", json!(null)),
        ("acr_values", json!("")),
        ("acr_values", json!(["phr", "phrh"])),
        ("max_age", json!(null)),
        ("max_age", json!("5")),
        ("max_age", json!(-5)),
        ("max_age", json!(1.5)),
        ("max_age", json!(true)),
    ];
    for (member, value) in cases {
        let body = json!({"error": "invalid_grant", member: value.clone()}).to_string();
        for outcome in read_with_every_reader(400, body.as_bytes()) {
            let ClientError::Refused(error) = outcome else {
                panic!("{member}: {value}: {outcome:?}");
            };
            assert_eq!(
                *error,
                TokenErrorResponse {
                    status: 400,
                    error: "invalid_grant".into(),
                    error_description: None,
                    error_uri: None,
                    max_age: None,
                    acr_values: None,
                },
                "{member}: {value}"
            );
            assert!(is_subject_token_refusal(&error), "{member}: {value}");
        }
    }

    // Exactly the body seen in the wild.
    let body = br#"{"error":"invalid_grant","error_description":null}"#;
    let error = refused(read_exchange_response(&draft_request(), 400, body));
    assert_eq!(error.wire_error(), Some(WireError::InvalidGrant));
    assert_eq!(error.error_description, None);

    // The usable members beside an unusable one survive.
    let body = json!({
        "error": "insufficient_user_authentication",
        "error_description": null,
        "error_uri": "",
        "max_age": 5,
        "acr_values": "phr phrh",
    })
    .to_string();
    let error = refused(read_refresh_token_exchange_response(400, body.as_bytes()));
    assert_eq!(error.wire_error(), Some(WireError::InsufficientUserAuthentication));
    assert_eq!((error.max_age, error.acr_values.as_deref()), (Some(5), Some("phr phrh")));
    assert_eq!((error.error_description, error.error_uri), (None, None));
}

#[test]
fn error_code_must_be_a_non_empty_string() {
    // RFC 6749 §5.2: `error` is REQUIRED; without a usable one there is nothing to act on.
    let bodies: [&[u8]; 8] = [
        b"{}",
        br#"{"error_description":"no code"}"#,
        br#"{"error":null,"error_description":"x"}"#,
        br#"{"error":""}"#,
        br#"{"error":7}"#,
        br#"{"error":true}"#,
        br#"{"error":["invalid_grant"]}"#,
        br#"{"error":{"code":"invalid_grant"}}"#,
    ];
    for body in bodies {
        for status in [400, 401, 502] {
            for outcome in read_with_every_reader(status, body) {
                assert_eq!(
                    outcome,
                    ClientError::MalformedResponse("error"),
                    "{status} {}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    // The body itself stays strict on the error path too.
    let body = br#"{"error":"invalid_grant","error":"invalid_client"}"#;
    for outcome in read_with_every_reader(400, body) {
        assert_eq!(outcome, ClientError::MalformedResponse("body"));
    }
    let big = json!({"error": "invalid_grant", "error_description": "x".repeat(70 * 1024)});
    for outcome in read_with_every_reader(400, big.to_string().as_bytes()) {
        assert_eq!(outcome, ClientError::MalformedResponse("body"));
    }
}

#[test]
fn subject_token_refusal_covers_both_deployed_codes() {
    let error = |code: &str| TokenErrorResponse {
        status: 400,
        error: code.into(),
        error_description: None,
        error_uri: None,
        max_age: None,
        acr_values: None,
    };
    assert!(is_subject_token_refusal(&error("invalid_request")));
    assert!(is_subject_token_refusal(&error("invalid_grant")));
    assert!(!is_subject_token_refusal(&error("invalid_scope")));
    assert!(!is_subject_token_refusal(&error("invalid_target")));
    assert!(!is_subject_token_refusal(&error("unauthorized_client")));
    assert!(!is_subject_token_refusal(&error("INVALID_GRANT")));
}

#[test]
fn debug_of_responses_hides_tokens() {
    let token = mint(|_| {});
    let response =
        read_exchange_response(&draft_request(), 200, &exchange_body(&token, |_| {})).unwrap();
    let debug = format!("{response:?}");
    assert!(!debug.contains(&token), "{debug}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!debug.contains(signature), "{debug}");
    assert!(!debug.contains("eyJ"), "{debug}");

    let body = json!({
        "access_token": "at-never-logged",
        "token_type": "Bearer",
        "expires_in": 60,
        "refresh_token": "rt-never-logged",
    })
    .to_string();
    let response = read_jwt_bearer_response(200, body.as_bytes()).unwrap();
    let debug = format!("{response:?}");
    assert!(!debug.contains("at-never-logged"), "{debug}");
    assert!(!debug.contains("rt-never-logged"), "{debug}");
}

// ---------------------------------------------------------------------------------------------
// 8. Reading the leg-2 response
// ---------------------------------------------------------------------------------------------

#[test]
fn reads_jwt_bearer_responses() {
    let body =
        br#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"scope":"chat.read"}"#;
    let response = read_jwt_bearer_response(200, body).unwrap();
    assert_eq!(response.access_token, "at-1");
    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, Some(3600));
    assert_eq!(response.scope, Some(scope("chat.read")));
    assert_eq!(response.refresh_token, None);
    assert!(!response.unexpected_refresh_token());
    assert_eq!(response.expires_at(now()), Some(at(NOW + 3600)));

    for token_type in ["bearer", "BEARER", "DPoP", "dpop"] {
        let body = json!({"access_token": "at", "token_type": token_type}).to_string();
        let response = read_jwt_bearer_response(200, body.as_bytes()).unwrap();
        assert_eq!(response.token_type, token_type);
        assert_eq!(response.expires_at(now()), None);
    }
    for token_type in ["mac", "N_A", "Bearer ", "Bearerx"] {
        let body = json!({"access_token": "at", "token_type": token_type}).to_string();
        assert_eq!(
            read_jwt_bearer_response(200, body.as_bytes()).unwrap_err(),
            ClientError::WrongTokenType,
            "{token_type}"
        );
    }

    let body = br#"{"access_token":"at","token_type":"Bearer","refresh_token":"rt-1"}"#;
    let response = read_jwt_bearer_response(200, body).unwrap();
    assert_eq!(response.refresh_token.as_deref(), Some("rt-1"));
    assert!(response.unexpected_refresh_token());
}

#[test]
fn hostile_jwt_bearer_bodies_are_malformed_not_panics() {
    let base = r#"{"access_token":"at","token_type":"Bearer","expires_in":EXP}"#;
    for (literal, member) in [
        ("\"60\"", "expires_in"),
        ("-1", "expires_in"),
        ("1e300", "expires_in"),
        ("18446744073709551616", "expires_in"),
    ] {
        let body = base.replace("EXP", literal);
        assert_eq!(
            read_jwt_bearer_response(200, body.as_bytes()).unwrap_err(),
            ClientError::MalformedResponse(member),
            "{literal}"
        );
    }
    let cases: [(&[u8], &str); 7] = [
        (b"[1]", "body"),
        (b"nope", "body"),
        (br#"{"access_token":"a","access_token":"b","token_type":"Bearer"}"#, "body"),
        (br#"{"token_type":"Bearer"}"#, "access_token"),
        (br#"{"access_token":"a"}"#, "token_type"),
        (br#"{"access_token":"a","token_type":"Bearer","scope":["a"]}"#, "scope"),
        (br#"{"access_token":"a","token_type":"Bearer","refresh_token":1}"#, "refresh_token"),
    ];
    for (body, member) in cases {
        assert_eq!(
            read_jwt_bearer_response(200, body).unwrap_err(),
            ClientError::MalformedResponse(member)
        );
    }
    let big = format!(
        r#"{{"access_token":"at","token_type":"Bearer","padding":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    assert_eq!(
        read_jwt_bearer_response(200, big.as_bytes()).unwrap_err(),
        ClientError::MalformedResponse("body")
    );
}

// ---------------------------------------------------------------------------------------------
// 8b. Reading the SAML path's first response (draft §4.5)
// ---------------------------------------------------------------------------------------------

const IDP_REFRESH_TOKEN: &str = "idp-rt-never-logged";

/// The draft §4.5 response shape, the refresh token in `access_token`, as edited.
fn refresh_body(edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    let Value::Object(mut body) = json!({
        "access_token": IDP_REFRESH_TOKEN,
        "issued_token_type": urn::TOKEN_TYPE_REFRESH_TOKEN,
        "token_type": "N_A",
        "expires_in": 86_400,
        "scope": "openid offline_access",
    }) else {
        unreachable!()
    };
    edit(&mut body);
    Value::Object(body).to_string().into_bytes()
}

#[test]
fn reads_the_saml_refresh_token_response() {
    let response = read_refresh_token_exchange_response(200, &refresh_body(|_| {})).unwrap();
    assert_eq!(response.refresh_token(), IDP_REFRESH_TOKEN);
    assert_eq!(response.expires_in(), Some(86_400));
    assert_eq!(response.expires_at(now()), Some(at(NOW + 86_400)));
    assert_eq!(response.scope(), Some(&scope("openid offline_access")));

    // Any case of N_A, any 2xx; expires_in and scope may be left out (RFC 8693 §2.2.1).
    for token_type in ["n_a", "N_a", "n_A"] {
        let body = refresh_body(|b| {
            b.insert("token_type".into(), json!(token_type));
        });
        assert!(read_refresh_token_exchange_response(201, &body).is_ok(), "{token_type}");
    }
    let body = refresh_body(|b| {
        b.remove("expires_in");
        b.remove("scope");
    });
    let response = read_refresh_token_exchange_response(200, &body).unwrap();
    assert_eq!((response.expires_in(), response.scope()), (None, None));
    assert_eq!(response.expires_at(now()), None);

    // draft §4.5: the refresh token then becomes the subject token of leg 1.
    let leg_one = TokenExchangeRequest::new(response.into_subject_token(), AS_ISSUER);
    let http = leg_one.to_http(&idp_auth(), now()).unwrap();
    let sent = pairs(&http.body);
    assert!(sent.contains(&("subject_token".into(), IDP_REFRESH_TOKEN.into())), "{sent:?}");
    let subject_token_type = ("subject_token_type".into(), urn::TOKEN_TYPE_REFRESH_TOKEN.into());
    assert!(sent.contains(&subject_token_type), "{sent:?}");
}

#[test]
fn saml_refresh_token_response_must_be_a_refresh_token() {
    // draft §4.5: issued_token_type is the refresh token URN, exactly.
    for issued_token_type in [
        urn::TOKEN_TYPE_ID_JAG,
        urn::TOKEN_TYPE_ACCESS_TOKEN,
        urn::TOKEN_TYPE_ID_TOKEN,
        "urn:ietf:params:oauth:token-type:REFRESH_TOKEN",
        "urn:ietf:params:oauth:token-type:refresh_token ",
        "refresh_token",
    ] {
        let body = refresh_body(|b| {
            b.insert("issued_token_type".into(), json!(issued_token_type));
        });
        assert_eq!(
            read_refresh_token_exchange_response(200, &body).unwrap_err(),
            ClientError::WrongIssuedTokenType,
            "{issued_token_type}"
        );
    }
    // draft §4.5: token_type is N_A, not a usable access token type.
    for token_type in ["Bearer", "DPoP", "N_A ", "NA", "N-A"] {
        let body = refresh_body(|b| {
            b.insert("token_type".into(), json!(token_type));
        });
        assert_eq!(
            read_refresh_token_exchange_response(200, &body).unwrap_err(),
            ClientError::WrongTokenType,
            "{token_type}"
        );
    }
    // Neither reader takes the other's token.
    assert_eq!(
        read_exchange_response(&draft_request(), 200, &refresh_body(|_| {})).unwrap_err(),
        ClientError::WrongIssuedTokenType
    );
    let id_jag = exchange_body(&mint(|_| {}), |_| {});
    assert_eq!(
        read_refresh_token_exchange_response(200, &id_jag).unwrap_err(),
        ClientError::WrongIssuedTokenType
    );
}

#[test]
fn saml_refresh_token_errors_are_typed() {
    // The IdP refusing the assertion (its audience is another client, say).
    let body = br#"{"error":"invalid_grant","error_description":"Audience validation failed"}"#;
    let error = refused(read_refresh_token_exchange_response(400, body));
    assert_eq!(
        error,
        TokenErrorResponse {
            status: 400,
            error: "invalid_grant".into(),
            error_description: Some("Audience validation failed".into()),
            error_uri: None,
            max_age: None,
            acr_values: None,
        }
    );
    assert!(is_subject_token_refusal(&error));
    let error =
        refused(read_refresh_token_exchange_response(400, br#"{"error":"invalid_request"}"#));
    assert!(is_subject_token_refusal(&error));
    let error =
        refused(read_refresh_token_exchange_response(401, br#"{"error":"invalid_client"}"#));
    assert_eq!((error.status, error.wire_error()), (401, Some(WireError::InvalidClient)));
    assert!(!is_subject_token_refusal(&error));

    // An error status is never a success, whatever the body says.
    assert_eq!(
        read_refresh_token_exchange_response(400, &refresh_body(|_| {})).unwrap_err(),
        ClientError::MalformedResponse("error")
    );
}

#[test]
fn hostile_refresh_token_bodies_are_malformed_not_panics() {
    let read = |body: &[u8]| read_refresh_token_exchange_response(200, body).unwrap_err();

    let bodies: [&[u8]; 6] = [b"not json", b"", b"[]", b"null", b"{\"a\":1} {}", b"\xff\xfe{}"];
    for body in bodies {
        assert_eq!(read(body), ClientError::MalformedResponse("body"), "{body:?}");
    }
    let duplicate = String::from_utf8(refresh_body(|_| {})).unwrap().replacen(
        '{',
        r#"{"access_token":"rt-other","#,
        1,
    );
    assert_eq!(read(duplicate.as_bytes()), ClientError::MalformedResponse("body"));
    let big = refresh_body(|b| {
        b.insert("padding".into(), json!("x".repeat(70 * 1024)));
    });
    assert_eq!(read(&big), ClientError::MalformedResponse("body"));
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(read(deep.as_bytes()), ClientError::MalformedResponse("body"));

    // Success parsing stays strict: no member is dropped here.
    for (member, value) in [
        ("access_token", json!(42)),
        ("access_token", json!("")),
        ("access_token", json!(null)),
        ("issued_token_type", json!([urn::TOKEN_TYPE_REFRESH_TOKEN])),
        ("issued_token_type", json!("")),
        ("token_type", json!({})),
        ("token_type", json!(null)),
        ("expires_in", json!("86400")),
        ("expires_in", json!(-1)),
        ("expires_in", json!(1.5)),
        ("expires_in", json!(null)),
        ("scope", json!(["openid"])),
        ("scope", json!("")),
        ("scope", json!("openid  offline_access")),
        ("scope", json!(null)),
    ] {
        let body = refresh_body(|b| {
            b.insert(member.into(), value.clone());
        });
        assert_eq!(read(&body), ClientError::MalformedResponse(member), "{member}: {value}");
    }
    for member in ["access_token", "issued_token_type", "token_type"] {
        let body = refresh_body(|b| {
            b.remove(member);
        });
        assert_eq!(read(&body), ClientError::MalformedResponse(member), "{member}");
    }
}

#[test]
fn debug_of_refresh_token_response_hides_the_token() {
    let response = read_refresh_token_exchange_response(200, &refresh_body(|_| {})).unwrap();
    let debug = format!("{response:?}");
    assert!(!debug.contains(IDP_REFRESH_TOKEN), "{debug}");
    assert!(!debug.contains("idp-rt"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(debug.contains("86400"), "{debug}");
    let debug = format!("{:#?}", response.clone());
    assert!(!debug.contains(IDP_REFRESH_TOKEN), "{debug}");

    // Nor once it is the subject of leg 1, nor in a refusal.
    let debug = format!("{:?}", response.into_subject_token());
    assert!(!debug.contains(IDP_REFRESH_TOKEN), "{debug}");
    let outcome = read_refresh_token_exchange_response(
        200,
        &refresh_body(|b| {
            b.insert("token_type".into(), json!("Bearer"));
        }),
    );
    let debug = format!("{outcome:?} {}", outcome.as_ref().unwrap_err());
    assert!(!debug.contains(IDP_REFRESH_TOKEN), "{debug}");
}

// ---------------------------------------------------------------------------------------------
// 9. What to do next
// ---------------------------------------------------------------------------------------------

#[test]
fn next_step_takes_the_cheapest_working_branch() {
    let margin = 30;
    let later = Some(at(NOW + 600));
    let past = Some(at(NOW - 1));

    let all = HeldTokens {
        access_token_expires_at: later,
        id_jag_expires_at: later,
        id_jag_presentable: true,
        id_token_expires_at: later,
        has_idp_refresh_token: true,
    };
    assert_eq!(next_step(&all, now(), margin), NextStep::UseAccessToken);

    let no_access = HeldTokens { access_token_expires_at: past, ..all };
    assert_eq!(next_step(&no_access, now(), margin), NextStep::PresentIdJag);
    let no_access = HeldTokens { access_token_expires_at: None, ..all };
    assert_eq!(next_step(&no_access, now(), margin), NextStep::PresentIdJag);

    let redeemed = HeldTokens { id_jag_presentable: false, ..no_access };
    assert_eq!(next_step(&redeemed, now(), margin), NextStep::ExchangeIdToken);
    let expired_jag = HeldTokens { id_jag_expires_at: past, ..no_access };
    assert_eq!(next_step(&expired_jag, now(), margin), NextStep::ExchangeIdToken);
    let no_jag = HeldTokens { id_jag_expires_at: None, ..no_access };
    assert_eq!(next_step(&no_jag, now(), margin), NextStep::ExchangeIdToken);

    let no_id_token = HeldTokens { id_token_expires_at: past, ..redeemed };
    assert_eq!(next_step(&no_id_token, now(), margin), NextStep::RefreshAtIdp);
    let nothing = HeldTokens { has_idp_refresh_token: false, ..no_id_token };
    assert_eq!(next_step(&nothing, now(), margin), NextStep::SignIn);
    assert_eq!(next_step(&HeldTokens::default(), now(), margin), NextStep::SignIn);
}

#[test]
fn next_step_respects_the_margin_at_the_boundary() {
    let margin = 30;
    let only_access = |expires_at: u64| HeldTokens {
        access_token_expires_at: Some(at(expires_at)),
        ..HeldTokens::default()
    };
    // Expiring exactly at now + margin counts as expired; one second later does not.
    assert_eq!(next_step(&only_access(NOW + margin), now(), margin), NextStep::SignIn);
    assert_eq!(next_step(&only_access(NOW + margin + 1), now(), margin), NextStep::UseAccessToken);
    assert_eq!(next_step(&only_access(NOW), now(), 0), NextStep::SignIn);
    assert_eq!(next_step(&only_access(NOW + 1), now(), 0), NextStep::UseAccessToken);

    let jag = |expires_at: u64| HeldTokens {
        id_jag_expires_at: Some(at(expires_at)),
        id_jag_presentable: true,
        id_token_expires_at: Some(at(expires_at)),
        ..HeldTokens::default()
    };
    assert_eq!(next_step(&jag(NOW + margin), now(), margin), NextStep::SignIn);
    assert_eq!(next_step(&jag(NOW + margin + 1), now(), margin), NextStep::PresentIdJag);
    let id_token = |expires_at: u64| HeldTokens {
        id_token_expires_at: Some(at(expires_at)),
        has_idp_refresh_token: true,
        ..HeldTokens::default()
    };
    assert_eq!(next_step(&id_token(NOW + margin), now(), margin), NextStep::RefreshAtIdp);
    assert_eq!(next_step(&id_token(NOW + margin + 1), now(), margin), NextStep::ExchangeIdToken);
    // A huge margin saturates instead of overflowing.
    assert_eq!(next_step(&only_access(NOW + 600), now(), u64::MAX), NextStep::SignIn);
}

// ---------------------------------------------------------------------------------------------
// 10. Discovery
// ---------------------------------------------------------------------------------------------

fn as_metadata(edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    let Value::Object(mut document) = json!({
        "issuer": AS_ISSUER,
        "token_endpoint": "https://as.expenses.example/oauth2/token",
        "jwks_uri": "https://as.expenses.example/jwks",
        "grant_types_supported": ["authorization_code", urn::GRANT_TYPE_JWT_BEARER],
        "authorization_grant_profiles_supported": [urn::GRANT_PROFILE_ID_JAG],
        "service_documentation": "https://as.expenses.example/docs",
    }) else {
        unreachable!()
    };
    edit(&mut document);
    Value::Object(document).to_string().into_bytes()
}

#[test]
fn authorization_server_metadata_issuer_is_exact() {
    let metadata = AuthorizationServerMetadata::parse(&as_metadata(|_| {}), AS_ISSUER).unwrap();
    assert_eq!(metadata.issuer(), AS_ISSUER);
    assert_eq!(metadata.token_endpoint(), Some("https://as.expenses.example/oauth2/token"));
    assert_eq!(metadata.jwks_uri(), Some("https://as.expenses.example/jwks"));
    assert_eq!(metadata.grant_types(), ["authorization_code", urn::GRANT_TYPE_JWT_BEARER]);
    assert_eq!(
        metadata.member("service_documentation"),
        Some(&json!("https://as.expenses.example/docs"))
    );
    assert!(metadata.accepts_id_jag());
    assert!(!metadata.issues_id_jag());

    let with_slash = format!("{AS_ISSUER}/");
    assert_eq!(
        AuthorizationServerMetadata::parse(&as_metadata(|_| {}), &with_slash).unwrap_err(),
        ClientError::MetadataIssuerMismatch
    );
    let document = as_metadata(|d| {
        d.insert("issuer".into(), json!(with_slash));
    });
    assert_eq!(
        AuthorizationServerMetadata::parse(&document, AS_ISSUER).unwrap_err(),
        ClientError::MetadataIssuerMismatch
    );
    let document = as_metadata(|d| {
        d.insert("issuer".into(), json!("HTTPS://as.expenses.example"));
    });
    assert_eq!(
        AuthorizationServerMetadata::parse(&document, AS_ISSUER).unwrap_err(),
        ClientError::MetadataIssuerMismatch
    );
}

#[test]
fn accepts_id_jag_needs_profile_and_jwt_bearer() {
    let accepts = |edit: fn(&mut Map<String, Value>)| {
        AuthorizationServerMetadata::parse(&as_metadata(edit), AS_ISSUER).unwrap().accepts_id_jag()
    };
    assert!(accepts(|_| {}));
    // Profile without the jwt-bearer grant type.
    assert!(!accepts(|d| {
        d.insert("grant_types_supported".into(), json!(["authorization_code", "refresh_token"]));
    }));
    // No grant_types_supported: the RFC 8414 default, authorization_code and implicit.
    assert!(!accepts(|d| {
        d.remove("grant_types_supported");
    }));
    // jwt-bearer without the profile, or another profile.
    assert!(!accepts(|d| {
        d.remove("authorization_grant_profiles_supported");
    }));
    assert!(!accepts(|d| {
        d.insert("authorization_grant_profiles_supported".into(), json!(["urn:other"]));
    }));
    let defaults = AuthorizationServerMetadata::parse(
        &as_metadata(|d| {
            d.remove("grant_types_supported");
        }),
        AS_ISSUER,
    )
    .unwrap();
    assert_eq!(defaults.grant_types(), ["authorization_code", "implicit"]);
}

#[test]
fn issues_id_jag_needs_token_type_and_token_exchange() {
    let idp = |edit: fn(&mut Map<String, Value>)| {
        let Value::Object(mut document) = json!({
            "issuer": IDP,
            "token_endpoint": "https://idp.example.com/oauth2/v1/token",
            "grant_types_supported": ["authorization_code", urn::GRANT_TYPE_TOKEN_EXCHANGE],
            "identity_chaining_requested_token_types_supported": [urn::TOKEN_TYPE_ID_JAG],
        }) else {
            unreachable!()
        };
        edit(&mut document);
        let bytes = Value::Object(document).to_string().into_bytes();
        AuthorizationServerMetadata::parse(&bytes, IDP).unwrap().issues_id_jag()
    };
    assert!(idp(|_| {}));
    assert!(!idp(|d| {
        d.remove("identity_chaining_requested_token_types_supported");
    }));
    assert!(!idp(|d| {
        d.insert(
            "identity_chaining_requested_token_types_supported".into(),
            json!([urn::TOKEN_TYPE_ACCESS_TOKEN]),
        );
    }));
    assert!(!idp(|d| {
        d.insert("grant_types_supported".into(), json!(["authorization_code"]));
    }));
    assert!(!idp(|d| {
        d.remove("grant_types_supported");
    }));
}

#[test]
fn metadata_members_of_the_wrong_type_are_malformed() {
    for (member, value) in [
        ("issuer", Some(json!(1))),
        ("issuer", None),
        ("token_endpoint", Some(json!(["x"]))),
        ("jwks_uri", Some(json!(null))),
        ("grant_types_supported", Some(json!("x"))),
        ("grant_types_supported", Some(json!([1]))),
        ("authorization_grant_profiles_supported", Some(json!({}))),
    ] {
        let document = as_metadata(|d| match &value {
            Some(value) => drop(d.insert(member.into(), value.clone())),
            None => drop(d.remove(member)),
        });
        assert_eq!(
            AuthorizationServerMetadata::parse(&document, AS_ISSUER).unwrap_err(),
            ClientError::MalformedResponse(member),
            "{member}: {value:?}"
        );
    }
    let document = as_metadata(|d| {
        d.insert(
            "identity_chaining_requested_token_types_supported".into(),
            json!([urn::TOKEN_TYPE_ID_JAG, false]),
        );
    });
    assert_eq!(
        AuthorizationServerMetadata::parse(&document, AS_ISSUER).unwrap_err(),
        ClientError::MalformedResponse("identity_chaining_requested_token_types_supported")
    );
    for body in [&b"[]"[..], b"{", b"{\"issuer\":\"a\",\"issuer\":\"a\"}"] {
        assert_eq!(
            AuthorizationServerMetadata::parse(body, "a").unwrap_err(),
            ClientError::MalformedResponse("body")
        );
    }
    let huge = as_metadata(|d| {
        d.insert("padding".into(), json!("x".repeat(300 * 1024)));
    });
    assert_eq!(
        AuthorizationServerMetadata::parse(&huge, AS_ISSUER).unwrap_err(),
        ClientError::MalformedResponse("body")
    );
}

#[test]
fn protected_resource_metadata_resource_is_exact() {
    let document = json!({
        "resource": API,
        "authorization_servers": [AS_ISSUER, "https://as2.expenses.example"],
        "scopes_supported": ["expenses.read"],
    })
    .to_string();
    let metadata = ProtectedResourceMetadata::parse(document.as_bytes(), API).unwrap();
    assert_eq!(metadata.resource(), API);
    assert_eq!(metadata.authorization_servers(), [AS_ISSUER, "https://as2.expenses.example"]);
    assert_eq!(
        ProtectedResourceMetadata::parse(document.as_bytes(), &format!("{API}/")).unwrap_err(),
        ClientError::MetadataIssuerMismatch
    );
    let bare = json!({"resource": API}).to_string();
    let metadata = ProtectedResourceMetadata::parse(bare.as_bytes(), API).unwrap();
    assert!(metadata.authorization_servers().is_empty());
    for (document, member) in [
        (json!({"authorization_servers": [AS_ISSUER]}), "resource"),
        (json!({"resource": 1}), "resource"),
        (json!({"resource": API, "authorization_servers": AS_ISSUER}), "authorization_servers"),
        (json!({"resource": API, "authorization_servers": [1]}), "authorization_servers"),
    ] {
        assert_eq!(
            ProtectedResourceMetadata::parse(document.to_string().as_bytes(), API).unwrap_err(),
            ClientError::MalformedResponse(member)
        );
    }
}

#[test]
fn client_metadata_always_lists_both_grants_and_the_profile() {
    let document = ClientMetadata::new()
        .with_grant_type("authorization_code")
        .with_grant_type(urn::GRANT_TYPE_JWT_BEARER)
        .with_member("client_name", json!("Aria"))
        .with_member("token_endpoint_auth_method", json!("private_key_jwt"))
        .with_member("grant_types", json!(["authorization_code"]))
        .with_member("authorization_grant_profiles_supported", json!([]))
        .to_json();
    assert_eq!(
        document["grant_types"],
        json!([urn::GRANT_TYPE_TOKEN_EXCHANGE, urn::GRANT_TYPE_JWT_BEARER, "authorization_code"])
    );
    assert_eq!(
        document["authorization_grant_profiles_supported"],
        json!([urn::GRANT_PROFILE_ID_JAG])
    );
    assert_eq!(document["client_name"], "Aria");
    assert_eq!(document["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(document.as_object().unwrap().len(), 4);

    let plain = ClientMetadata::new().to_json();
    assert_eq!(
        plain,
        json!({
            "grant_types": [
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ],
            "authorization_grant_profiles_supported": [
                "urn:ietf:params:oauth:grant-profile:id-jag"
            ],
        })
    );
}

#[test]
fn the_crates_own_metadata_documents_parse() {
    let resource = ResourceServerMetadata::new(AS_ISSUER, "https://as.expenses.example/token")
        .with_grant_type("authorization_code")
        .with_member("jwks_uri", json!("https://as.expenses.example/jwks"))
        .to_json()
        .to_string();
    let metadata = AuthorizationServerMetadata::parse(resource.as_bytes(), AS_ISSUER).unwrap();
    assert!(metadata.accepts_id_jag());
    assert!(!metadata.issues_id_jag());
    assert_eq!(metadata.token_endpoint(), Some("https://as.expenses.example/token"));
    assert_eq!(metadata.jwks_uri(), Some("https://as.expenses.example/jwks"));

    let idp = IdpMetadata::new(
        IDP,
        "https://idp.example.com/oauth2/v1/token",
        "https://idp.example.com/oauth2/v1/keys",
    )
    .to_json()
    .to_string();
    let metadata = AuthorizationServerMetadata::parse(idp.as_bytes(), IDP).unwrap();
    assert!(metadata.issues_id_jag());
    assert!(!metadata.accepts_id_jag());
    assert_eq!(metadata.token_endpoint(), Some("https://idp.example.com/oauth2/v1/token"));
    assert_eq!(metadata.jwks_uri(), Some("https://idp.example.com/oauth2/v1/keys"));
}

// ---------------------------------------------------------------------------------------------
// 11. Round trip through the crate's own IdP and resource AS
// ---------------------------------------------------------------------------------------------

struct World {
    keys: SigningKeySet,
    idp: IdentityProvider,
    registry: MemoryConnections,
    directory: MemoryDirectory,
    issuers: TrustedIssuers,
    subjects: MemorySubjects,
    replay: MemoryReplayGuard,
    server: ResourceServer,
    access_tokens: AccessTokenIssuer,
}

impl World {
    fn new(config: IdpConfig) -> Self {
        let keys =
            SigningKeySet::new(SigningKey::generate(Algorithm::Es256).unwrap(), vec![]).unwrap();
        let idp = IdentityProvider::new(config, keys.verification_keys().clone());
        let registry = MemoryConnections::new();
        registry.put_agent(Agent::new(CLIENT_AT_IDP));
        let mut connection = ManagedConnection::new(
            CONNECTION,
            CLIENT_AT_IDP,
            AS_ISSUER,
            CLIENT_AT_AS,
            scope("expenses.read expenses.write"),
        );
        connection.allowed_resources = vec![API.to_owned()];
        connection.audience_aliases = vec![AS_ALIAS.to_owned()];
        registry.put_connection(connection);
        let directory = MemoryDirectory::new();
        directory.put(AS_ISSUER, DirectoryUser::new(USER));

        let issuers = TrustedIssuers::new();
        issuers.insert(TrustedIssuer::new(IDP, keys.verification_keys().clone()));
        let subjects = MemorySubjects::new();
        let key = SubjectKey { issuer: IDP.into(), tenant: None, subject: USER.into() };
        subjects.link(key, ACCOUNT);
        let server =
            ResourceServer::new(ResourceServerConfig::new(AS_ISSUER).with_served_resources([API]));
        let as_key = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
        World {
            keys,
            idp,
            registry,
            directory,
            issuers,
            subjects,
            replay: MemoryReplayGuard::new(1_000),
            server,
            access_tokens: AccessTokenIssuer::new(AS_ISSUER, as_key, 3600),
        }
    }

    fn id_token(&self, extra: Value) -> String {
        let mut claims = json!({
            "iss": IDP, "sub": USER, "aud": CLIENT_AT_IDP,
            "iat": NOW - 10, "exp": NOW + 600,
        });
        claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        sign_compact(&self.keys, Some("JWT"), claims.to_string().as_bytes()).unwrap()
    }

    /// Leg 1 on the wire: the client's body to the IdP, the IdP's answer back to the client.
    fn leg_one(&self, request: &TokenExchangeRequest) -> (u16, String) {
        let http = request.to_http(&idp_auth(), now()).unwrap();
        assert!(header(&http, "Authorization").is_some());
        let hosts = ExchangeHosts {
            registry: &self.registry,
            directory: &self.directory,
            tokens: &IdTokensOnly,
            signer: &self.keys,
        };
        let client = AuthenticatedClient::confidential(CLIENT_AT_IDP);
        let exchange = self.idp.exchange(&hosts, http.body.as_bytes(), &client, now());
        match exchange.outcome {
            Ok(issued) => (200, issued.token_response().to_json()),
            Err(denial) => {
                let response = denial.error_response();
                (response.http_status(), response.to_json())
            }
        }
    }

    /// Leg 2 on the wire.
    fn leg_two(&self, request: &JwtBearerGrantRequest) -> (u16, String) {
        let auth = ClientAuthentication::SecretPost {
            client_id: CLIENT_AT_AS.into(),
            client_secret: "as-secret".into(),
        };
        let http = request.to_http(&auth, now()).unwrap();
        let hosts = RedeemHosts {
            issuers: &self.issuers,
            replay: &self.replay,
            subjects: &self.subjects,
            policy: &AllowAll,
        };
        let client = AuthenticatedClient::confidential(CLIENT_AT_AS);
        let redemption = self.server.redeem(&hosts, http.body.as_bytes(), &client, now());
        match redemption.outcome {
            Ok(grant) => {
                assert_eq!(grant.account(), ACCOUNT);
                let issued = self.access_tokens.mint(&grant, now()).unwrap();
                (200, issued.token_response(&grant).to_json())
            }
            Err(rejection) => {
                let response = rejection.error_response();
                (response.http_status(), response.to_json())
            }
        }
    }
}

fn idp_auth() -> ClientAuthentication {
    ClientAuthentication::SecretBasic {
        client_id: CLIENT_AT_IDP.into(),
        client_secret: "idp-secret".into(),
    }
}

#[test]
fn round_trip_through_the_crates_own_servers() {
    let world = World::new(IdpConfig::new(IDP));
    let id_token = world.id_token(json!({}));

    // Leg 1: admin is outside the connection's ceiling, FILES outside its resources.
    let request = TokenExchangeRequest::new(SubjectToken::IdToken(id_token), AS_ISSUER)
        .resource(API)
        .resource(FILES)
        .scope(scope("expenses.read admin"));
    let (status, body) = world.leg_one(&request);
    assert_eq!(status, 200, "{body}");
    let response = read_exchange_response(&request, status, body.as_bytes()).unwrap();
    assert_eq!(response.scope(), Some(&scope("expenses.read")));
    assert_eq!(response.expires_in(), Some(300));
    assert_eq!(response.expires_at(), at(NOW + 300));
    assert!(!response.unexpected_refresh_token());
    let claims = response.claims();
    assert_eq!(claims.issuer(), IDP);
    assert_eq!(claims.subject(), USER);
    assert_eq!(claims.client_id(), CLIENT_AT_AS);
    assert_eq!(claims.resource().map(|r| r.iter().collect::<Vec<_>>()), Some(vec![API]));

    // Leg 2: the ID-JAG for an access token.
    let grant_request = JwtBearerGrantRequest::new(response.id_jag());
    let (status, body) = world.leg_two(&grant_request);
    assert_eq!(status, 200, "{body}");
    let access = read_jwt_bearer_response(status, body.as_bytes()).unwrap();
    assert_eq!(access.token_type, "Bearer");
    assert_eq!(access.scope, Some(scope("expenses.read")));
    assert_eq!(access.expires_in, Some(3600));
    assert_eq!(access.expires_at(now()), Some(at(NOW + 3600)));
    assert!(!access.unexpected_refresh_token());
    let jws =
        CompactJws::parse(&access.access_token, &ParseOptions::new(AlgorithmSet::all())).unwrap();
    assert_eq!(jws.header().typ(), Some("at+jwt"));
    let at_claims: Value = serde_json::from_slice(jws.unverified_payload()).unwrap();
    assert_eq!(at_claims["sub"], ACCOUNT);
    assert_eq!(at_claims["aud"], API);
    assert_eq!(at_claims["client_id"], CLIENT_AT_AS);
    assert_eq!(at_claims["scope"], "expenses.read");

    // The client's bookkeeping: with the access token, use it; once it has expired, the
    // redeemed (single-use) ID-JAG is no good and the ID token is exchanged again.
    let held = HeldTokens {
        access_token_expires_at: access.expires_at(now()),
        id_jag_expires_at: Some(response.expires_at()),
        id_jag_presentable: false,
        id_token_expires_at: Some(at(NOW + 600)),
        has_idp_refresh_token: false,
    };
    assert_eq!(next_step(&held, now(), 30), NextStep::UseAccessToken);
    assert_eq!(next_step(&held, at(NOW + 3590), 30), NextStep::SignIn);
    assert_eq!(next_step(&held, at(NOW + 500), 0), NextStep::UseAccessToken);

    // The same ID-JAG again: single use, refused as invalid_grant.
    let (status, body) = world.leg_two(&grant_request);
    let error = refused(read_jwt_bearer_response(status, body.as_bytes()));
    assert_eq!((error.status, error.error.as_str()), (400, "invalid_grant"));
}

#[test]
fn round_trip_with_an_alias_and_a_narrower_leg_two_scope() {
    let world = World::new(IdpConfig::new(IDP));
    let request =
        TokenExchangeRequest::new(SubjectToken::IdToken(world.id_token(json!({}))), AS_ALIAS)
            .scope(scope("expenses.read expenses.write"));
    let (status, body) = world.leg_one(&request);
    assert_eq!(status, 200, "{body}");
    // The IdP rewrote the alias to the issuer: only a client told so accepts it.
    assert_eq!(
        read_exchange_response(&request, status, body.as_bytes()).unwrap_err(),
        ClientError::AudienceMismatch
    );
    let request = request.expecting_audience(AS_ISSUER);
    let response = read_exchange_response(&request, status, body.as_bytes()).unwrap();
    assert_eq!(response.claims().audience().single(), Some(AS_ISSUER));
    assert_eq!(response.scope(), Some(&scope("expenses.read expenses.write")));

    let grant_request =
        JwtBearerGrantRequest::new(response.id_jag()).scope(scope("expenses.write"));
    let (status, body) = world.leg_two(&grant_request);
    let access = read_jwt_bearer_response(status, body.as_bytes()).unwrap();
    assert_eq!(access.scope, Some(scope("expenses.write")));
}

#[test]
fn round_trip_denials_reach_the_client_typed() {
    let world = World::new(IdpConfig::new(IDP));
    let request =
        TokenExchangeRequest::new(SubjectToken::IdToken(world.id_token(json!({}))), AS_ISSUER)
            .scope(scope("expenses.read"));

    // The kill switch.
    assert!(world.registry.set_connection_enabled(CONNECTION, false));
    let hosts = ExchangeHosts {
        registry: &world.registry,
        directory: &world.directory,
        tokens: &IdTokensOnly,
        signer: &world.keys,
    };
    let http = request.to_http(&idp_auth(), now()).unwrap();
    let client = AuthenticatedClient::confidential(CLIENT_AT_IDP);
    let exchange = world.idp.exchange(&hosts, http.body.as_bytes(), &client, now());
    let denial = exchange.outcome.unwrap_err();
    assert_eq!(denial.reason(), DenyReason::ConnectionDisabled);
    let wire = denial.error_response();
    let error =
        refused(read_exchange_response(&request, wire.http_status(), wire.to_json().as_bytes()));
    assert_eq!(error.status, 400);
    assert_eq!(error.error, "unauthorized_client");
    assert_eq!(error.wire_error(), Some(WireError::UnauthorizedClient));
    assert_eq!(error.error_description.as_deref(), Some("the client may not use this grant"));
    assert!(!is_subject_token_refusal(&error));
    assert!(world.registry.set_connection_enabled(CONNECTION, true));
    assert_eq!(world.leg_one(&request).0, 200);

    // An expired ID token: invalid_request by default, invalid_grant when so configured; the
    // client counts both as a refusal of its subject token.
    let expired = world.id_token(json!({"iat": NOW - 4000, "exp": NOW - 3600}));
    let stale = TokenExchangeRequest::new(SubjectToken::IdToken(expired), AS_ISSUER);
    let (status, body) = world.leg_one(&stale);
    let error = refused(read_exchange_response(&stale, status, body.as_bytes()));
    assert_eq!((error.status, error.error.as_str()), (400, "invalid_request"));
    assert!(is_subject_token_refusal(&error));
    let strict =
        World::new(IdpConfig::new(IDP).with_bad_subject_token_error(WireError::InvalidGrant));
    let expired = strict.id_token(json!({"iat": NOW - 4000, "exp": NOW - 3600}));
    let stale = TokenExchangeRequest::new(SubjectToken::IdToken(expired), AS_ISSUER);
    let (status, body) = strict.leg_one(&stale);
    let error = refused(read_exchange_response(&stale, status, body.as_bytes()));
    assert_eq!(error.error, "invalid_grant");
    assert!(is_subject_token_refusal(&error));
}

#[test]
fn round_trip_step_up_reaches_the_client_typed() {
    let world = World::new(IdpConfig::new(IDP));
    let mut connection = ManagedConnection::new(
        CONNECTION,
        CLIENT_AT_IDP,
        AS_ISSUER,
        CLIENT_AT_AS,
        scope("expenses.read"),
    );
    connection.step_up =
        Some(StepUpPolicy { max_age: Some(5), acr_values: vec!["phr".into(), "phrh".into()] });
    world.registry.put_connection(connection);

    let old_sign_in = world.id_token(json!({"auth_time": NOW - 600, "acr": "pwd"}));
    let request = TokenExchangeRequest::new(SubjectToken::IdToken(old_sign_in), AS_ISSUER);
    let (status, body) = world.leg_one(&request);
    let error = refused(read_exchange_response(&request, status, body.as_bytes()));
    assert_eq!(error.status, 400);
    assert_eq!(error.wire_error(), Some(WireError::InsufficientUserAuthentication));
    assert_eq!(error.max_age, Some(5));
    assert_eq!(error.acr_values.as_deref(), Some("phr phrh"));
    assert!(!is_subject_token_refusal(&error));

    let fresh = world.id_token(json!({"auth_time": NOW - 2, "acr": "phrh"}));
    let request = TokenExchangeRequest::new(SubjectToken::IdToken(fresh), AS_ISSUER);
    let (status, body) = world.leg_one(&request);
    let response = read_exchange_response(&request, status, body.as_bytes()).unwrap();
    assert_eq!(response.claims().acr(), Some("phrh"));
    assert_eq!(response.claims().auth_time(), Some(at(NOW - 2)));
}

#[test]
fn rejection_reasons_stay_off_the_wire() {
    // A token the resource AS refuses for a precise reason still reads as plain invalid_grant.
    let world = World::new(IdpConfig::new(IDP));
    let forged = mint(|c| {
        c.insert("iss".into(), json!(IDP));
        c.insert("aud".into(), json!(AS_ISSUER));
        c.insert("client_id".into(), json!(CLIENT_AT_AS));
    });
    let unverified = world.server.parse(&forged).unwrap();
    let issuer = world.issuers.trusted_issuer(IDP);
    let client = AuthenticatedClient::confidential(CLIENT_AT_AS);
    let rejection = world.server.verify(unverified, issuer, &client, now()).unwrap_err();
    assert!(matches!(rejection.reason(), RejectReason::Jose(_)));
    let (status, body) = world.leg_two(&JwtBearerGrantRequest::new(forged));
    let error = refused(read_jwt_bearer_response(status, body.as_bytes()));
    assert_eq!(error.error, "invalid_grant");
    assert_eq!(error.error_description.as_deref(), Some("the assertion is not acceptable"));
}

#[test]
fn a_response_scope_without_a_scope_claim_is_refused() {
    let token = mint(|c| {
        c.remove("scope");
    });
    let body = exchange_body(&token, |b| {
        b.insert("scope".into(), json!("chat.read"));
    });
    assert_eq!(
        read_exchange_response(&draft_request(), 200, &body).unwrap_err(),
        ClientError::ScopeMismatch
    );
}

#[test]
fn a_refusal_never_echoes_the_servers_text() {
    let hostile = br#"{"error":"\u001b[31m<script>alert(1)</script>"}"#;
    let refused = read_jwt_bearer_response(400, hostile).unwrap_err();
    let shown = refused.to_string();
    assert!(!shown.contains("script") && !shown.contains('\u{1b}'), "{shown}");
    assert!(shown.contains("an unrecognised error"), "{shown}");
    let known = read_jwt_bearer_response(400, br#"{"error":"invalid_grant"}"#).unwrap_err();
    assert!(known.to_string().contains("invalid_grant"));
}
