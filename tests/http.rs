//! The HTTP example (`examples/http_server.rs`) driven over loopback by a real HTTP client
//! (ureq), with the crate's client builders making the bodies and reading the answers: the
//! full flow, each refusal with its status and error code, `Cache-Control: no-store` on every
//! token endpoint answer, two resource AS instances sharing one Redis, and a bounded load test.
//!
//! The Redis tests need the `redis` feature; they use `$REDIS_URL`, or a private
//! `redis-server` on loopback, and are skipped (saying so) only when there is neither.

#[allow(dead_code)]
#[path = "../examples/http_server.rs"]
mod http_server;
#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use http_server::{
    ACCOUNT_OF_B, AGENT, AGENT_AT_AS, AriaCredentials, AuditSink, CONNECTION_ID, Config, Running,
    USER_B, start,
};
use id_jag::NumericDate;
use id_jag::audit::{AuditEvent, AuditRecord};
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{IdJagClaims, RequiredClaims};
use id_jag::client::{
    AccessTokenResponse, AuthorizationServerMetadata, ClientAuthentication, ClientError,
    FormRequest, JwtBearerGrantRequest, SubjectToken, TokenErrorResponse, TokenExchangeRequest,
    read_exchange_response, read_jwt_bearer_response,
};
use id_jag::jose::{Algorithm, KeySet, SigningKey, SigningKeySet, sign_compact};
use id_jag::resource::{
    AccessTokenIssuer, AllowAll, MemoryReplayGuard, MemorySubjects, RedeemHosts, ReplayGuard,
    ResourceServer, ResourceServerConfig, SubjectKey, TrustedIssuer, TrustedIssuers,
};
use id_jag::scope::Scope;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The HTTP client.

fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// An HTTP answer: status, the headers the tests look at, body.
struct Answer {
    status: u16,
    cache_control: Option<String>,
    pragma: Option<String>,
    content_type: Option<String>,
    www_authenticate: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn read(mut response: ureq::http::Response<ureq::Body>) -> Self {
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let (cache_control, pragma, content_type, www_authenticate) = (
            header("cache-control"),
            header("pragma"),
            header("content-type"),
            header("www-authenticate"),
        );
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_vec().expect("the body");
        Answer { status, cache_control, pragma, content_type, www_authenticate, body }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// RFC 6749 §5.1: a token endpoint answer is never cached, success or error.
    fn assert_token_endpoint_headers(&self) {
        assert_eq!(self.cache_control.as_deref(), Some("no-store"), "status {}", self.status);
        assert_eq!(self.pragma.as_deref(), Some("no-cache"));
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
    }
}

fn post(agent: &ureq::Agent, url: &str, request: &FormRequest) -> Answer {
    let mut call = agent.post(url);
    for (name, value) in &request.headers {
        call = call.header(*name, value);
    }
    Answer::read(call.send(request.body.as_str()).expect("a POST over loopback"))
}

fn get(agent: &ureq::Agent, url: &str, authorization: Option<&str>) -> Answer {
    let mut call = agent.get(url);
    if let Some(value) = authorization {
        call = call.header("Authorization", value);
    }
    Answer::read(call.call().expect("a GET over loopback"))
}

/// The refusal in an error answer, as the crate's client reads it.
fn refusal(result: Result<impl std::fmt::Debug, ClientError>) -> TokenErrorResponse {
    match result {
        Err(ClientError::Refused(error)) => *error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// A deployment under test and Aria's side of the flow.

/// A collecting audit sink.
fn audit_sink() -> (AuditSink, Arc<Mutex<Vec<AuditRecord>>>) {
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink_records = records.clone();
    let sink: AuditSink = Arc::new(move |record: &AuditRecord| {
        sink_records.lock().unwrap().push(record.clone());
    });
    (sink, records)
}

struct Deployment {
    running: Running,
    aria: AriaCredentials,
    idp_keys: Arc<SigningKeySet>,
    as_key: Arc<SigningKey>,
    audit: Arc<Mutex<Vec<AuditRecord>>>,
}

impl Deployment {
    /// One instance with fresh keys: memory replay guard without `redis_url`.
    fn start(redis_url: Option<&str>) -> Self {
        let (mut config, aria) = Config::generate().unwrap();
        config.redis_url = redis_url.map(str::to_owned);
        Self::start_with(config, aria)
    }

    fn start_with(mut config: Config, aria: AriaCredentials) -> Self {
        let (sink, audit) = audit_sink();
        config.audit = Some(sink);
        let (idp_keys, as_key) = (config.idp_keys.clone(), config.as_key.clone());
        let running = start(config).expect("the server starts");
        Deployment { running, aria, idp_keys, as_key, audit }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.local_url())
    }

    fn last_audit(&self) -> AuditRecord {
        self.audit.lock().unwrap().last().cloned().expect("an audit record")
    }

    /// B signs in at the IdP, which gives Aria B's ID token.
    fn id_token_of_b(&self) -> String {
        let now = NumericDate::now_from_system_clock();
        let claims = json!({
            "iss": self.running.urls().idp_issuer, "sub": USER_B, "aud": AGENT,
            "iat": now, "exp": now.saturating_add_seconds(600), "auth_time": now,
        });
        sign_compact(self.idp_keys.as_ref(), Some("JWT"), claims.to_string().as_bytes()).unwrap()
    }

    /// Aria's `private_key_jwt` at the IdP.
    fn aria_at_idp(&self) -> ClientAuthentication {
        let endpoint = self.running.urls().idp_token.clone();
        ClientAuthentication::private_key_jwt(AGENT, endpoint, self.aria.private_key.clone())
    }

    /// Aria's `client_secret_basic` at the resource AS.
    fn aria_at_as(&self) -> ClientAuthentication {
        ClientAuthentication::SecretBasic {
            client_id: AGENT_AT_AS.into(),
            client_secret: self.aria.secret_at_as.clone(),
        }
    }

    /// Leg 1's request: an ID-JAG for the expense app, asking beyond the connection's ceiling.
    fn exchange_request(&self) -> TokenExchangeRequest {
        let urls = self.running.urls();
        TokenExchangeRequest::new(SubjectToken::IdToken(self.id_token_of_b()), &urls.as_issuer)
            .resource(&urls.api)
            .scope(Scope::parse("expenses.read expenses.submit expenses.approve").unwrap())
    }

    /// Leg 1 over HTTP with `auth`.
    fn exchange_with(
        &self,
        agent: &ureq::Agent,
        request: &TokenExchangeRequest,
        auth: &ClientAuthentication,
    ) -> Answer {
        let http = request.to_http(auth, NumericDate::now_from_system_clock()).unwrap();
        post(agent, &self.url("/idp/token"), &http)
    }

    /// Leg 1 as Aria: the ID-JAG, checked by the crate's client.
    fn obtain_id_jag(&self, agent: &ureq::Agent) -> String {
        let request = self.exchange_request();
        let answer = self.exchange_with(agent, &request, &self.aria_at_idp());
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        answer.assert_token_endpoint_headers();
        let issued = read_exchange_response(&request, answer.status, &answer.body).unwrap();
        issued.id_jag().to_owned()
    }

    /// Leg 2 over HTTP at this instance with `auth`.
    fn redeem_with(
        &self,
        agent: &ureq::Agent,
        id_jag: &str,
        auth: &ClientAuthentication,
    ) -> Answer {
        let http =
            JwtBearerGrantRequest::new(id_jag).to_http(auth, NumericDate::now_from_system_clock());
        post(agent, &self.url("/as/token"), &http.unwrap())
    }

    /// Leg 2 as Aria.
    fn redeem(&self, agent: &ureq::Agent, id_jag: &str) -> Answer {
        self.redeem_with(agent, id_jag, &self.aria_at_as())
    }

    /// An ID-JAG signed directly with the IdP's key (for the load test: no exchange per token).
    fn mint_id_jag(&self, jwt_id: String) -> String {
        let urls = self.running.urls();
        let now = NumericDate::now_from_system_clock();
        let claims = IdJagClaims::builder(RequiredClaims {
            issuer: urls.idp_issuer.clone(),
            subject: USER_B.into(),
            audience: urls.as_issuer.clone(),
            client_id: AGENT_AT_AS.into(),
            jwt_id,
            issued_at: now,
            expires_at: now.saturating_add_seconds(300),
        })
        .resources(vec![urls.api.clone()])
        .scope(Scope::parse("expenses.read").unwrap())
        .build()
        .unwrap();
        sign_compact(self.idp_keys.as_ref(), Some("oauth-id-jag+jwt"), claims.to_json().as_bytes())
            .unwrap()
    }
}

/// The whole flow over HTTP: exchange, redeem, call the API.
fn full_flow(deployment: &Deployment) {
    let agent = http_agent();
    let urls = deployment.running.urls().clone();

    // Leg 1 at the IdP, with private_key_jwt: narrowed to the connection's ceiling.
    let request = deployment.exchange_request();
    let answer = deployment.exchange_with(&agent, &request, &deployment.aria_at_idp());
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    answer.assert_token_endpoint_headers();
    let issued = read_exchange_response(&request, answer.status, &answer.body).unwrap();
    assert_eq!(issued.scope().unwrap().to_string(), "expenses.read expenses.submit");
    assert_eq!(issued.claims().client_id(), AGENT_AT_AS);
    let record = deployment.last_audit();
    assert_eq!(record.event, AuditEvent::IdJagIssued);
    assert_eq!(record.managed_connection.as_deref(), Some(CONNECTION_ID));

    // Leg 2 at the resource AS, with client_secret_basic.
    let answer = deployment.redeem(&agent, issued.id_jag());
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    answer.assert_token_endpoint_headers();
    let access: AccessTokenResponse =
        read_jwt_bearer_response(answer.status, &answer.body).unwrap();
    assert_eq!(access.token_type, "Bearer");
    assert!(!access.unexpected_refresh_token());
    let record = deployment.last_audit();
    assert_eq!(record.event, AuditEvent::IdJagRedeemed);
    assert_eq!(record.account.as_deref(), Some(ACCOUNT_OF_B));

    // The API.
    let bearer = format!("Bearer {}", access.access_token);
    let answer = get(&agent, &deployment.url("/api/expenses"), Some(&bearer));
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let body = answer.json();
    assert_eq!(body["account"], ACCOUNT_OF_B);
    assert_eq!(body["agent"], AGENT);
    assert_eq!(body["expenses"].as_array().map(Vec::len), Some(2));
    assert!(urls.api.starts_with(deployment.running.local_url()));
}

// ---------------------------------------------------------------------------------------------
// The flow and its refusals.

#[test]
fn full_flow_over_http_with_the_memory_replay_guard() {
    full_flow(&Deployment::start(None));
}

#[cfg(feature = "redis")]
#[test]
fn full_flow_over_http_with_the_redis_replay_guard() {
    let Some(redis) = redis_server::RedisServer::start() else {
        eprintln!("skipped: no Redis (set REDIS_URL or put redis-server on the PATH)");
        return;
    };
    full_flow(&Deployment::start(Some(&redis.url)));
}

#[test]
fn bad_client_authentication_is_401_invalid_client_at_the_idp() {
    let deployment = Deployment::start(None);
    let agent = http_agent();
    let urls = deployment.running.urls().clone();
    let request = deployment.exchange_request();
    let mallory_key = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());

    let attempts = [
        (
            "signed by another key",
            ClientAuthentication::private_key_jwt(AGENT, &urls.idp_token, mallory_key.clone()),
        ),
        (
            "for another audience",
            ClientAuthentication::private_key_jwt(
                AGENT,
                &urls.as_token,
                deployment.aria.private_key.clone(),
            ),
        ),
        (
            "an unknown client",
            ClientAuthentication::private_key_jwt("mallory", &urls.idp_token, mallory_key),
        ),
        ("no authentication", ClientAuthentication::None { client_id: AGENT.into() }),
        (
            "a client secret",
            ClientAuthentication::SecretBasic {
                client_id: AGENT.into(),
                client_secret: "guess".into(),
            },
        ),
    ];
    for (what, auth) in attempts {
        let answer = deployment.exchange_with(&agent, &request, &auth);
        answer.assert_token_endpoint_headers();
        let error = refusal(read_exchange_response(&request, answer.status, &answer.body));
        assert_eq!((error.status, error.error.as_str()), (401, "invalid_client"), "{what}");
    }
    // Basic at an endpoint that takes private_key_jwt only: the 401 names the scheme tried.
    let basic = ClientAuthentication::SecretBasic {
        client_id: AGENT.into(),
        client_secret: "guess".into(),
    };
    let answer = deployment.exchange_with(&agent, &request, &basic);
    assert_eq!(answer.www_authenticate.as_deref(), Some("Basic realm=\"idp\""));

    // A client assertion is single-use: the same request body again is refused.
    let http = request.to_http(&deployment.aria_at_idp(), NumericDate::now_from_system_clock());
    let http = http.unwrap();
    let first = post(&agent, &deployment.url("/idp/token"), &http);
    assert_eq!(first.status, 200);
    let again = post(&agent, &deployment.url("/idp/token"), &http);
    again.assert_token_endpoint_headers();
    let error = refusal(read_exchange_response(&request, again.status, &again.body));
    assert_eq!((error.status, error.error.as_str()), (401, "invalid_client"));
}

#[test]
fn bad_client_authentication_is_401_invalid_client_at_the_resource_as() {
    let deployment = Deployment::start(None);
    let agent = http_agent();
    let id_jag = deployment.obtain_id_jag(&agent);

    let attempts = [
        (
            "a wrong secret",
            ClientAuthentication::SecretBasic {
                client_id: AGENT_AT_AS.into(),
                client_secret: "guess".into(),
            },
        ),
        (
            "an unknown client",
            ClientAuthentication::SecretBasic {
                client_id: "mallory".into(),
                client_secret: deployment.aria.secret_at_as.clone(),
            },
        ),
        (
            "Aria's IdP client id",
            ClientAuthentication::SecretBasic {
                client_id: AGENT.into(),
                client_secret: deployment.aria.secret_at_as.clone(),
            },
        ),
        ("no authentication", ClientAuthentication::None { client_id: AGENT_AT_AS.into() }),
    ];
    for (what, auth) in attempts {
        let answer = deployment.redeem_with(&agent, &id_jag, &auth);
        answer.assert_token_endpoint_headers();
        let error = refusal(read_jwt_bearer_response(answer.status, &answer.body));
        assert_eq!((error.status, error.error.as_str()), (401, "invalid_client"), "{what}");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Basic realm=\"expenses\""), "{what}");
    }
    // Failed client authentication never reached the replay guard: the ID-JAG is still good.
    let answer = deployment.redeem(&agent, &id_jag);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
}

#[test]
fn a_replayed_id_jag_is_400_invalid_grant() {
    let deployment = Deployment::start(None);
    let agent = http_agent();
    let id_jag = deployment.obtain_id_jag(&agent);
    assert_eq!(deployment.redeem(&agent, &id_jag).status, 200);

    let again = deployment.redeem(&agent, &id_jag);
    again.assert_token_endpoint_headers();
    let error = refusal(read_jwt_bearer_response(again.status, &again.body));
    assert_eq!((error.status, error.error.as_str()), (400, "invalid_grant"));
    assert_eq!(deployment.last_audit().reason, Some("replayed"));
}

#[test]
fn a_disabled_connection_is_400_unauthorized_client_until_enabled_again() {
    let deployment = Deployment::start(None);
    let agent = http_agent();
    let request = deployment.exchange_request();

    assert!(deployment.running.connections().set_connection_enabled(CONNECTION_ID, false));
    let answer = deployment.exchange_with(&agent, &request, &deployment.aria_at_idp());
    answer.assert_token_endpoint_headers();
    let error = refusal(read_exchange_response(&request, answer.status, &answer.body));
    assert_eq!((error.status, error.error.as_str()), (400, "unauthorized_client"));
    let record = deployment.last_audit();
    assert_eq!(record.event, AuditEvent::ExchangeDenied);
    assert_eq!(record.reason, Some("connection_disabled"));

    assert!(deployment.running.connections().set_connection_enabled(CONNECTION_ID, true));
    deployment.obtain_id_jag(&agent);
}

#[test]
fn the_api_answers_401_without_a_valid_access_token_and_403_without_the_scope() {
    let deployment = Deployment::start(None);
    let agent = http_agent();
    let api = deployment.url("/api/expenses");
    let urls = deployment.running.urls().clone();

    // No credentials: a bare challenge (RFC 6750 §3.1).
    let answer = get(&agent, &api, None);
    assert_eq!(answer.status, 401);
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer realm=\"expenses\""));

    // Access-token-shaped JWTs: right but for one claim each, or signed by the wrong key.
    let now = NumericDate::now_from_system_clock();
    let later = now.saturating_add_seconds(600);
    let jwt = |key: &dyn id_jag::jose::Signer, exp: NumericDate, aud: &str, scope: &str| {
        let claims = json!({
            "iss": urls.as_issuer, "sub": ACCOUNT_OF_B, "aud": aud, "client_id": AGENT_AT_AS,
            "scope": scope, "jti": "t-1", "iat": now.saturating_sub_seconds(700), "exp": exp,
        });
        let token = sign_compact(key, Some("at+jwt"), claims.to_string().as_bytes()).unwrap();
        format!("Bearer {token}")
    };
    let (as_key, idp_key) = (deployment.as_key.as_ref(), deployment.idp_keys.as_ref());
    let well_formed = jwt(as_key, later, &urls.api, "expenses.read");
    assert_eq!(get(&agent, &api, Some(&well_formed)).status, 200, "the baseline is accepted");

    let invalid = [
        ("not a token", "Bearer not-a-token".to_owned()),
        ("signed by the IdP", jwt(idp_key, later, &urls.api, "expenses.read")),
        ("expired", jwt(as_key, now.saturating_sub_seconds(1), &urls.api, "expenses.read")),
        ("for another resource", jwt(as_key, later, "https://api.crm.example", "expenses.read")),
        ("an ID token", format!("Bearer {}", deployment.id_token_of_b())),
        ("another scheme", "Basic YXJpYTpzZWNyZXQ=".to_owned()),
    ];
    for (what, authorization) in invalid {
        let answer = get(&agent, &api, Some(&authorization));
        assert_eq!(answer.status, 401, "{what}");
        assert_eq!(
            answer.www_authenticate.as_deref(),
            Some("Bearer realm=\"expenses\", error=\"invalid_token\""),
            "{what}"
        );
    }

    // A valid token without the scope the call needs: 403 (RFC 6750 §3.1).
    let answer = get(&agent, &api, Some(&jwt(as_key, later, &urls.api, "expenses.submit")));
    assert_eq!(answer.status, 403);
    let challenge = answer.www_authenticate.unwrap();
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");

    // A token the AS issued works until it is tampered with.
    let id_jag = deployment.obtain_id_jag(&agent);
    let answer = deployment.redeem(&agent, &id_jag);
    let access = read_jwt_bearer_response(answer.status, &answer.body).unwrap();
    let issued = format!("Bearer {}", access.access_token);
    assert_eq!(get(&agent, &api, Some(&issued)).status, 200);
    let tampered = format!("{issued}x");
    assert_eq!(get(&agent, &api, Some(&tampered)).status, 401);
}

#[test]
fn metadata_and_jwks_are_served_for_discovery() {
    let deployment = Deployment::start(None);
    let agent = http_agent();
    let urls = deployment.running.urls().clone();

    let answer =
        get(&agent, &format!("{}/.well-known/oauth-authorization-server", urls.idp_issuer), None);
    assert_eq!(answer.status, 200);
    let idp = AuthorizationServerMetadata::parse(&answer.body, &urls.idp_issuer).unwrap();
    assert!(idp.issues_id_jag());
    assert_eq!(idp.token_endpoint(), Some(urls.idp_token.as_str()));
    assert_eq!(
        idp.member("token_endpoint_auth_methods_supported"),
        Some(&json!(["private_key_jwt"]))
    );

    // The JWKS the metadata names verifies the IdP's tokens, and holds no private member.
    let answer = get(&agent, idp.jwks_uri().unwrap(), None);
    assert_eq!(answer.status, 200);
    assert!(!String::from_utf8_lossy(&answer.body).contains("\"d\""));
    let import = KeySet::from_jwks(&answer.body).unwrap();
    assert!(import.rejected.is_empty());
    let kid = deployment.idp_keys.active().kid().unwrap();
    assert!(import.keys.contains_kid(kid));

    let answer =
        get(&agent, &format!("{}/.well-known/oauth-authorization-server", urls.as_issuer), None);
    assert_eq!(answer.status, 200);
    let resource_as = AuthorizationServerMetadata::parse(&answer.body, &urls.as_issuer).unwrap();
    assert!(resource_as.accepts_id_jag());
    assert_eq!(resource_as.token_endpoint(), Some(urls.as_token.as_str()));

    // Nothing else is served, and each endpoint takes one method.
    assert_eq!(get(&agent, &deployment.url("/admin/connections"), None).status, 404);
    assert_eq!(get(&agent, &deployment.url("/idp/token"), None).status, 405);
}

#[cfg(not(feature = "redis"))]
#[test]
fn a_redis_url_without_the_redis_feature_is_refused_at_start() {
    let (mut config, _aria) = Config::generate().unwrap();
    config.redis_url = Some("redis://127.0.0.1:6379/".into());
    let error = start(config).err().expect("no silent fallback to memory").to_string();
    assert!(error.contains("--features redis"), "{error}");
}

#[cfg(feature = "redis")]
#[test]
fn an_unreachable_redis_is_refused_at_start() {
    // Port 1 on loopback: nothing listens there.
    let (mut config, _aria) = Config::generate().unwrap();
    config.redis_url = Some("redis://127.0.0.1:1/".into());
    let error = start(config).err().expect("fail closed at start").to_string();
    assert!(error.contains("replay store"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Two resource AS instances, one Redis.

#[cfg(feature = "redis")]
#[test]
fn an_id_jag_redeemed_on_one_instance_is_refused_on_another() {
    let Some(redis) = redis_server::RedisServer::start() else {
        eprintln!("skipped: no Redis (set REDIS_URL or put redis-server on the PATH)");
        return;
    };
    // One deployment: the same keys, the same identifiers under the load balancer's URL (an
    // identifier only: no connection is ever made to it), the same Redis.
    let (mut config, aria) = Config::generate().unwrap();
    config.redis_url = Some(redis.url.clone());
    config.public_url = Some("https://expenses.example".into());
    let second_aria = AriaCredentials {
        private_key: aria.private_key.clone(),
        secret_at_as: aria.secret_at_as.clone(),
    };
    let a = Deployment::start_with(config.clone(), aria);
    let b = Deployment::start_with(config, second_aria);
    assert_ne!(a.running.local_url(), b.running.local_url());
    assert_eq!(a.running.urls().as_issuer, b.running.urls().as_issuer);
    let agent = http_agent();

    // Redeemed on A, then presented to B: refused, and B's audit says why.
    let id_jag = a.obtain_id_jag(&agent);
    assert_eq!(a.redeem(&agent, &id_jag).status, 200);
    let answer = b.redeem(&agent, &id_jag);
    answer.assert_token_endpoint_headers();
    let error = refusal(read_jwt_bearer_response(answer.status, &answer.body));
    assert_eq!((error.status, error.error.as_str()), (400, "invalid_grant"));
    assert_eq!(b.last_audit().reason, Some("replayed"));

    // B is a working instance: a fresh ID-JAG from either IdP instance redeems there once,
    // and then A refuses it.
    let fresh = b.obtain_id_jag(&agent);
    assert_eq!(b.redeem(&agent, &fresh).status, 200);
    let answer = a.redeem(&agent, &fresh);
    let error = refusal(read_jwt_bearer_response(answer.status, &answer.body));
    assert_eq!((error.status, error.error.as_str()), (400, "invalid_grant"));
    assert_eq!(a.last_audit().reason, Some("replayed"));
}

#[cfg(feature = "redis")]
#[test]
fn a_redis_outage_fails_closed_with_500_server_error() {
    // A private server, since this test stops it.
    let Some(mut redis) = redis_server::RedisServer::start_private() else {
        eprintln!("skipped: no redis-server on the PATH");
        return;
    };
    let deployment = Deployment::start(Some(&redis.url));
    let agent = http_agent();
    let id_jag = deployment.obtain_id_jag(&agent);
    redis.stop();

    // Neither redemption nor client authentication goes ahead without the store.
    let answer = deployment.redeem(&agent, &id_jag);
    answer.assert_token_endpoint_headers();
    let error = refusal(read_jwt_bearer_response(answer.status, &answer.body));
    assert_eq!((error.status, error.error.as_str()), (500, "server_error"));
    assert_eq!(deployment.last_audit().reason, Some("replay_store_unavailable"));
    let request = deployment.exchange_request();
    let answer = deployment.exchange_with(&agent, &request, &deployment.aria_at_idp());
    answer.assert_token_endpoint_headers();
    let error = refusal(read_exchange_response(&request, answer.status, &answer.body));
    assert_eq!((error.status, error.error.as_str()), (500, "server_error"));
}

// ---------------------------------------------------------------------------------------------
// A bounded load test: redemptions per second through HTTP, and in process.

const LOAD_REDEMPTIONS: usize = 300;
const LOAD_THREADS: usize = 4;
const LOAD_DEADLINE: Duration = Duration::from_secs(120);
/// The load tests take turns, so that their figures do not share the CPU with each other.
static LOAD: Mutex<()> = Mutex::new(());

/// Distinct `jti`s for this run (runs may share one Redis).
fn load_jwt_ids(label: &str) -> Vec<String> {
    let mut run = [0u8; 8];
    openssl::rand::rand_bytes(&mut run).unwrap();
    let run: String = run.iter().map(|byte| format!("{byte:02x}")).collect();
    (0..LOAD_REDEMPTIONS).map(|n| format!("load-{label}-{run}-{n}")).collect()
}

/// Split `items` into `parts` nearly equal vectors.
fn split<T>(items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let mut chunks: Vec<Vec<T>> = (0..parts).map(|_| Vec::new()).collect();
    for (n, item) in items.into_iter().enumerate() {
        chunks[n % parts].push(item);
    }
    chunks
}

/// Redeem every ID-JAG through `/as/token` from [`LOAD_THREADS`] clients; the elapsed time.
fn redeem_over_http(deployment: &Deployment, id_jags: Vec<String>) -> Duration {
    let url = deployment.url("/as/token");
    let auth = deployment.aria_at_as();
    let (results, finished) = mpsc::channel();
    let started = Instant::now();
    for chunk in split(id_jags, LOAD_THREADS) {
        let (url, auth, results) = (url.clone(), auth.clone(), results.clone());
        std::thread::spawn(move || {
            let agent = http_agent();
            let mut redeemed = 0;
            for id_jag in chunk {
                let now = NumericDate::now_from_system_clock();
                let http = JwtBearerGrantRequest::new(id_jag).to_http(&auth, now).unwrap();
                let answer = post(&agent, &url, &http);
                if answer.status == 200 && read_jwt_bearer_response(200, &answer.body).is_ok() {
                    redeemed += 1;
                }
            }
            let _ = results.send(redeemed);
        });
    }
    drop(results);
    let mut redeemed = 0;
    for _ in 0..LOAD_THREADS {
        let left = LOAD_DEADLINE.saturating_sub(started.elapsed());
        redeemed += finished.recv_timeout(left).expect("the load test finishes in time");
    }
    let elapsed = started.elapsed();
    assert_eq!(redeemed, LOAD_REDEMPTIONS, "every redemption over HTTP succeeded");
    elapsed
}

/// The same work in process: `ResourceServer::redeem` and the access token's minting, from
/// [`LOAD_THREADS`] threads, each with the replay guard `guard` gives it.
fn redeem_in_process(
    deployment: &Deployment,
    config: &Config,
    id_jags: Vec<String>,
    guard: impl Fn() -> Arc<dyn ReplayGuard>,
) -> Duration {
    let urls = deployment.running.urls();
    let issuers = TrustedIssuers::new();
    let idp_public = config.idp_keys.verification_keys().clone();
    issuers.insert(TrustedIssuer::new(&urls.idp_issuer, idp_public));
    let subjects = MemorySubjects::new();
    let b = SubjectKey { issuer: urls.idp_issuer.clone(), tenant: None, subject: USER_B.into() };
    subjects.link(b, ACCOUNT_OF_B);
    let server = ResourceServer::new(
        ResourceServerConfig::new(&urls.as_issuer).with_served_resources([&urls.api]),
    );
    let tokens = AccessTokenIssuer::new(&urls.as_issuer, config.as_key.clone(), 3600);
    let client = AuthenticatedClient::confidential(AGENT_AT_AS);
    let auth = deployment.aria_at_as();
    let started = Instant::now();
    let redeemed: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = split(id_jags, LOAD_THREADS)
            .into_iter()
            .map(|chunk| {
                let guard = guard();
                let (issuers, subjects, server, tokens, client, auth) =
                    (&issuers, &subjects, &server, &tokens, &client, &auth);
                scope.spawn(move || {
                    let hosts = RedeemHosts {
                        issuers,
                        replay: guard.as_ref(),
                        subjects,
                        policy: &AllowAll,
                    };
                    let mut redeemed = 0;
                    for id_jag in chunk {
                        let now = NumericDate::now_from_system_clock();
                        let http = JwtBearerGrantRequest::new(id_jag).to_http(auth, now).unwrap();
                        let redemption = server.redeem(&hosts, http.body.as_bytes(), client, now);
                        if let Ok(grant) = redemption.outcome {
                            if tokens.mint(&grant, now).is_ok() {
                                redeemed += 1;
                            }
                        }
                    }
                    redeemed
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().unwrap()).sum()
    });
    let elapsed = started.elapsed();
    assert_eq!(redeemed, LOAD_REDEMPTIONS, "every redemption in process succeeded");
    elapsed
}

fn per_second(elapsed: Duration) -> f64 {
    LOAD_REDEMPTIONS as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn load_test(store: &str, redis_url: Option<&str>, guard: impl Fn() -> Arc<dyn ReplayGuard>) {
    let _turn = LOAD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (mut config, aria) = Config::generate().unwrap();
    config.redis_url = redis_url.map(str::to_owned);
    let deployment = Deployment::start_with(config.clone(), aria);

    let over_http: Vec<String> =
        load_jwt_ids("http").into_iter().map(|jti| deployment.mint_id_jag(jti)).collect();
    let in_process: Vec<String> =
        load_jwt_ids("direct").into_iter().map(|jti| deployment.mint_id_jag(jti)).collect();

    let http_elapsed = redeem_over_http(&deployment, over_http);
    let direct_elapsed = redeem_in_process(&deployment, &config, in_process, guard);
    println!(
        "load ({store} replay guard, {LOAD_REDEMPTIONS} redemptions, {LOAD_THREADS} threads): \
         HTTP {:.0}/s ({:.1} ms), in process {:.0}/s ({:.1} ms)",
        per_second(http_elapsed),
        http_elapsed.as_secs_f64() * 1e3,
        per_second(direct_elapsed),
        direct_elapsed.as_secs_f64() * 1e3,
    );
}

#[test]
fn load_test_with_the_memory_replay_guard() {
    let shared: Arc<dyn ReplayGuard> = Arc::new(MemoryReplayGuard::new(100_000));
    load_test("memory", None, move || shared.clone());
}

#[cfg(feature = "redis")]
#[test]
fn load_test_with_the_redis_replay_guard() {
    let Some(redis) = redis_server::RedisServer::start() else {
        eprintln!("skipped: no Redis (set REDIS_URL or put redis-server on the PATH)");
        return;
    };
    let url = redis.url.clone();
    // One connection per thread, as the server's workers have.
    load_test("Redis", Some(&redis.url), move || {
        Arc::new(id_jag::resource::RedisReplayGuard::new(&url).unwrap()) as Arc<dyn ReplayGuard>
    });
}
