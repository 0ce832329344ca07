//! Cross App Access over real HTTP: the three roles of `cross_app_access`, each behind its own
//! endpoints on one loopback server.
//!
//! ```text
//! cargo run --example http_server                                    # memory replay guard
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run --features redis --example http_server
//! PORT=9000 cargo run --example http_server                          # default port 8080
//! ```
//!
//! It listens on 127.0.0.1 only and serves:
//!
//! | Endpoint | Role |
//! |---|---|
//! | `POST /idp/token` | IdP: RFC 8693 token exchange issuing ID-JAGs |
//! | `GET /idp/jwks` | IdP: its public JWK Set |
//! | `GET /idp/.well-known/oauth-authorization-server` | IdP: RFC 8414 metadata |
//! | `POST /as/token` | resource AS of the expense app: the RFC 7523 jwt-bearer grant |
//! | `GET /as/.well-known/oauth-authorization-server` | resource AS: RFC 8414 metadata |
//! | `GET /api/expenses` | the expense API: `Authorization: Bearer <access token>` |
//!
//! Clients authenticate at `/idp/token` with `private_key_jwt` (RFC 7523 §2.2) and at
//! `/as/token` with `client_secret_basic`.
//!
//! The crate decides; this file is the host around it: HTTP, client authentication, the clock
//! ([`NumericDate::now_from_system_clock`] once per request), the replay stores and the audit
//! sink. Every token endpoint response, success or error, carries the crate's
//! [`TOKEN_RESPONSE_HEADERS`] (`Cache-Control: no-store`) and the status of
//! [`ErrorResponse::http_status`].
//!
//! The replay guard of the resource AS is a [`RedisReplayGuard`] when the configuration names a
//! Redis URL (only in a build with the `redis` feature; without it such a configuration is
//! refused at start, never silently served from memory), else a [`MemoryReplayGuard`]. Each
//! worker thread has its own Redis connection. The `jti`s of client assertions at the IdP are
//! single-use in the same kind of store, under their own key prefix.
//!
//! The admin's kill switch is [`Running::connections`]: the live [`MemoryConnections`] of the
//! IdP, so `running.connections().set_connection_enabled(CONNECTION_ID, false)` denies the next
//! exchange. There is no admin endpoint: nothing on the wire can change policy.
//!
//! `tests/http.rs` drives all of it with a real HTTP client: `cargo test --features redis
//! --test http`. DPoP is not wired in here (see `cross_app_access` for it): a `DPoP` header is
//! ignored, so tokens come back as bearer tokens, which the crate's client notices.

use std::collections::HashMap;
use std::error::Error;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use id_jag::NumericDate;
use id_jag::audit::AuditRecord;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::Actor;
use id_jag::error::{ErrorResponse, TOKEN_RESPONSE_HEADERS, WireError};
use id_jag::idp::{
    Agent, DirectoryUser, ExchangeHosts, IdTokensOnly, IdentityProvider, IdpConfig,
    ManagedConnection, MemoryConnections, MemoryDirectory,
};
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, KeySet, ParseOptions, SigningKey, SigningKeySet,
    VerificationKey,
};
use id_jag::metadata::{IdpMetadata, ResourceServerMetadata};
#[cfg(feature = "redis")]
use id_jag::resource::RedisReplayGuard;
use id_jag::resource::{
    AccessTokenIssuer, AccessTokenVerifier, AllowAll, MemoryReplayGuard, MemorySubjects,
    RedeemHosts, ReplayError, ReplayGuard, ReplayVerdict, ResourceServer, ResourceServerConfig,
    SubjectKey, TrustedIssuer, TrustedIssuers,
};
use id_jag::scope::Scope;
use id_jag::urn;
use serde_json::{Value, json};

/// Employee B's user id at the IdP.
pub const USER_B: &str = "00u-employee-b";
/// The AI assistant Aria's client id at the IdP (the `aud` of B's ID token).
pub const AGENT: &str = "aria";
/// Aria's client id at the expense app's authorization server.
pub const AGENT_AT_AS: &str = "aria-expenses-7f3";
/// The managed connection from Aria to the expense app.
pub const CONNECTION_ID: &str = "aria-to-expenses";
/// B's account at the expense app.
pub const ACCOUNT_OF_B: &str = "expenses-account-of-b";
/// The most Aria may get at the expense app.
pub const SCOPE_CEILING: &str = "expenses.read expenses.submit";
/// What `GET /api/expenses` needs.
pub const API_SCOPE: &str = "expenses.read";

/// Request bodies above this are refused unread (the crate's own form cap).
const MAX_BODY: usize = 64 * 1024;
/// The longest client assertion accepted, `exp` minus now: its `jti` is kept that long.
const MAX_ASSERTION_LIFETIME: u64 = 300;
/// Clock leeway for client assertions' `iat` and `nbf`, and for keeping their `jti`.
const LEEWAY: u64 = 60;
/// Live records a memory replay guard holds at most.
const MEMORY_GUARD_CAPACITY: usize = 1_000_000;
/// The key prefix of client assertion `jti`s in Redis (ID-JAGs use the guard's default).
pub const CLIENT_ASSERTION_NAMESPACE: &str = "id-jag:client-assertion:";

/// Where audit records go: one call per decision of the IdP and of the resource AS.
pub type AuditSink = Arc<dyn Fn(&AuditRecord) + Send + Sync>;

/// What a server is started with. Cloning it and starting each clone gives instances of one
/// deployment: same keys, same identifiers, same (Redis) replay store.
#[derive(Clone)]
pub struct Config {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Worker threads answering requests.
    pub threads: usize,
    /// The URL clients know the deployment by (a load balancer's), which names the issuers,
    /// endpoints and resource: `<public_url>/idp`, `<public_url>/as`, `<public_url>/api`.
    /// `None`: this instance's own `http://127.0.0.1:<port>`.
    pub public_url: Option<String>,
    /// The Redis shared by every instance for replay records; `None`: in memory, this
    /// instance only. Needs the `redis` feature.
    pub redis_url: Option<String>,
    /// The IdP's keys: they sign ID tokens and ID-JAGs, and `/idp/jwks` publishes them.
    pub idp_keys: Arc<SigningKeySet>,
    /// The resource AS's key for access tokens.
    pub as_key: Arc<SigningKey>,
    /// Aria's public key, registered at the IdP for `private_key_jwt`.
    pub aria_public_key: VerificationKey,
    /// Aria's client secret at the resource AS, for `client_secret_basic`.
    pub aria_secret_at_as: String,
    /// The audit sink; `None` drops the records.
    pub audit: Option<AuditSink>,
}

/// What Aria holds: its private key for the IdP and its secret at the resource AS.
pub struct AriaCredentials {
    /// Signs Aria's client assertions at the IdP.
    pub private_key: Arc<SigningKey>,
    /// Aria's client secret at the resource AS.
    pub secret_at_as: String,
}

impl Config {
    /// A fresh deployment: new ES256 keys for the IdP, the resource AS and Aria, a random
    /// secret for Aria at the resource AS, an ephemeral port, four workers, no Redis, no audit.
    pub fn generate() -> Result<(Config, AriaCredentials), Box<dyn Error + Send + Sync>> {
        let idp_keys = SigningKeySet::new(SigningKey::generate(Algorithm::Es256)?, vec![])?;
        let as_key = SigningKey::generate(Algorithm::Es256)?;
        let aria_key = SigningKey::generate(Algorithm::Es256)?;
        let mut secret = [0u8; 24];
        openssl::rand::rand_bytes(&mut secret)?;
        let secret: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
        let config = Config {
            port: 0,
            threads: 4,
            public_url: None,
            redis_url: None,
            idp_keys: Arc::new(idp_keys),
            as_key: Arc::new(as_key),
            aria_public_key: aria_key.verification_key().clone(),
            aria_secret_at_as: secret.clone(),
            audit: None,
        };
        Ok((config, AriaCredentials { private_key: Arc::new(aria_key), secret_at_as: secret }))
    }
}

/// The identifiers and endpoint URLs of a deployment, all under its public URL.
#[derive(Clone, Debug)]
pub struct Urls {
    /// The IdP's issuer identifier.
    pub idp_issuer: String,
    /// The IdP's token endpoint: the `aud` of client assertions.
    pub idp_token: String,
    /// The IdP's JWKS.
    pub idp_jwks: String,
    /// The resource AS's issuer identifier: the `aud` of ID-JAGs.
    pub as_issuer: String,
    /// The resource AS's token endpoint.
    pub as_token: String,
    /// The expense API's resource indicator: the `aud` of access tokens.
    pub api: String,
}

impl Urls {
    fn under(public_url: &str) -> Self {
        let base = public_url.trim_end_matches('/');
        Urls {
            idp_issuer: format!("{base}/idp"),
            idp_token: format!("{base}/idp/token"),
            idp_jwks: format!("{base}/idp/jwks"),
            as_issuer: format!("{base}/as"),
            as_token: format!("{base}/as/token"),
            api: format!("{base}/api"),
        }
    }
}

/// Everything the handlers share.
struct State {
    urls: Urls,
    // The IdP.
    idp: IdentityProvider,
    idp_keys: Arc<SigningKeySet>,
    connections: Arc<MemoryConnections>,
    directory: MemoryDirectory,
    /// Client id to the public key its client assertions must verify with.
    idp_clients: HashMap<String, VerificationKey>,
    // The resource AS.
    resource: ResourceServer,
    issuers: TrustedIssuers,
    subjects: MemorySubjects,
    /// Client id to the SHA-256 of its secret.
    as_clients: HashMap<String, [u8; 32]>,
    tokens: AccessTokenIssuer,
    // The API.
    api: AccessTokenVerifier,
    audit: Option<AuditSink>,
}

impl State {
    fn new(config: &Config, urls: Urls) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let idp_public = config.idp_keys.verification_keys().clone();
        let idp = IdentityProvider::new(IdpConfig::new(&urls.idp_issuer), idp_public.clone());

        // The admin's policy: Aria, acting as an AI agent, may reach the expense API.
        let connections = MemoryConnections::new();
        let mut aria = Agent::new(AGENT);
        aria.actor = Some(Actor::new(AGENT).with_claim("sub_profile", "ai_agent".into()));
        connections.put_agent(aria);
        let mut connection = ManagedConnection::new(
            CONNECTION_ID,
            AGENT,
            &urls.as_issuer,
            AGENT_AT_AS,
            Scope::parse(SCOPE_CEILING)?,
        );
        connection.allowed_resources = vec![urls.api.clone()];
        connections.put_connection(connection);
        let directory = MemoryDirectory::new();
        let mut user = DirectoryUser::new(USER_B);
        user.verified_email = Some("b@acme.example".into());
        directory.put(&urls.as_issuer, user);
        let idp_clients = HashMap::from([(AGENT.to_owned(), config.aria_public_key.clone())]);

        // The expense app's authorization server trusts the IdP and knows B's account.
        let issuers = TrustedIssuers::new();
        issuers.insert(TrustedIssuer::new(&urls.idp_issuer, idp_public));
        let subjects = MemorySubjects::new();
        let b =
            SubjectKey { issuer: urls.idp_issuer.clone(), tenant: None, subject: USER_B.into() };
        subjects.link(b, ACCOUNT_OF_B);
        let resource = ResourceServer::new(
            ResourceServerConfig::new(&urls.as_issuer).with_served_resources([&urls.api]),
        );
        let as_clients =
            HashMap::from([(AGENT_AT_AS.to_owned(), sha256(config.aria_secret_at_as.as_bytes()))]);
        let tokens = AccessTokenIssuer::new(&urls.as_issuer, config.as_key.clone(), 3600);
        let as_public = KeySet::new(vec![config.as_key.verification_key().clone()])?;
        let api = AccessTokenVerifier::new(&urls.as_issuer, &urls.api, as_public);

        Ok(State {
            urls,
            idp,
            idp_keys: config.idp_keys.clone(),
            connections: Arc::new(connections),
            directory,
            idp_clients,
            resource,
            issuers,
            subjects,
            as_clients,
            tokens,
            api,
            audit: config.audit.clone(),
        })
    }

    fn audit(&self, record: &AuditRecord) {
        if let Some(sink) = &self.audit {
            sink(record);
        }
    }
}

/// One worker's replay stores: shared memory guards, or its own Redis connections.
#[derive(Clone)]
struct Guards {
    /// (`iss`, `jti`) of redeemed ID-JAGs.
    id_jags: Arc<dyn ReplayGuard>,
    /// (client id, `jti`) of client assertions at the IdP.
    client_assertions: Arc<dyn ReplayGuard>,
}

impl Guards {
    fn memory() -> Self {
        Guards {
            id_jags: Arc::new(MemoryReplayGuard::new(MEMORY_GUARD_CAPACITY)),
            client_assertions: Arc::new(MemoryReplayGuard::new(MEMORY_GUARD_CAPACITY)),
        }
    }

    #[cfg(feature = "redis")]
    fn redis(url: &str) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let guard = |namespace: &str| {
            RedisReplayGuard::new(url)
                .map(|guard| guard.with_namespace(namespace))
                .map_err(|_| format!("not a Redis URL: {url}"))
        };
        Ok(Guards {
            id_jags: Arc::new(guard(RedisReplayGuard::DEFAULT_NAMESPACE)?),
            client_assertions: Arc::new(guard(CLIENT_ASSERTION_NAMESPACE)?),
        })
    }

    #[cfg(not(feature = "redis"))]
    fn redis(_url: &str) -> Result<Self, Box<dyn Error + Send + Sync>> {
        Err("a Redis URL is configured but this build has no Redis support: \
             build with --features redis"
            .into())
    }

    /// Fail at start, not at the first redemption, when the store cannot be reached: record a
    /// random pair that Redis forgets a few seconds later.
    fn probe(&self) -> Result<(), Box<dyn Error + Send + Sync>> {
        let now = NumericDate::now_from_system_clock();
        let mut nonce = [0u8; 16];
        openssl::rand::rand_bytes(&mut nonce)?;
        let nonce: String = nonce.iter().map(|byte| format!("{byte:02x}")).collect();
        match self.id_jags.check_and_record(
            "startup-probe",
            &nonce,
            now.saturating_add_seconds(5),
            now,
        ) {
            Ok(ReplayVerdict::Fresh) => Ok(()),
            other => Err(format!("the replay store does not answer: {other:?}").into()),
        }
    }
}

/// A running server; dropping it (or [`Running::shutdown`]) stops it.
pub struct Running {
    local_url: String,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// Where this instance answers: `http://127.0.0.1:<port>`.
    pub fn local_url(&self) -> &str {
        &self.local_url
    }

    /// The deployment's identifiers and endpoint URLs (under the public URL).
    pub fn urls(&self) -> &Urls {
        &self.state.urls
    }

    /// The IdP's live registry of agents and managed connections: the admin's kill switches.
    pub fn connections(&self) -> &MemoryConnections {
        &self.state.connections
    }

    /// Block until the server stops (for `main`: never).
    pub fn wait(mut self) {
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }

    /// Stop accepting requests, let the workers finish the ones in hand, and join them.
    pub fn shutdown(mut self) {
        self.stop_workers();
    }

    fn stop_workers(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Each unblock wakes one worker waiting for a request; a busy worker sees the flag
        // when it comes back.
        for _ in &self.workers {
            self.server.unblock();
        }
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

/// Start a server on 127.0.0.1 (`config.port`, 0 for a free one) with `config.threads`
/// workers.
pub fn start(config: Config) -> Result<Running, Box<dyn Error + Send + Sync>> {
    let server = Arc::new(tiny_http::Server::http(("127.0.0.1", config.port))?);
    let port = server.server_addr().to_ip().map(|address| address.port()).ok_or("no IP address")?;
    let local_url = format!("http://127.0.0.1:{port}");
    let urls = Urls::under(config.public_url.as_deref().unwrap_or(&local_url));
    let state = Arc::new(State::new(&config, urls)?);

    let threads = config.threads.max(1);
    let guards: Vec<Guards> = match &config.redis_url {
        Some(url) => (0..threads).map(|_| Guards::redis(url)).collect::<Result<_, _>>()?,
        None => vec![Guards::memory(); threads],
    };
    if let Some(first) = guards.first() {
        first.probe()?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let workers = guards
        .into_iter()
        .map(|guards| {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // An error here is an unblock (stop is then set) or a failed accept.
                    if let Ok(request) = server.recv() {
                        serve(&state, &guards, request);
                    }
                }
            })
        })
        .collect();
    Ok(Running { local_url, state, stop, server, workers })
}

/// A response before it is written.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A token endpoint response: never cached, success or error (RFC 6749 §5.1).
    fn token(status: u16, body: String) -> Self {
        let headers = TOKEN_RESPONSE_HEADERS.iter().map(|(name, value)| (*name, (*value).into()));
        Reply { status, headers: headers.collect(), body: body.into_bytes() }
    }

    fn token_error(response: &ErrorResponse) -> Self {
        Reply::token(response.http_status(), response.to_json())
    }

    fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn serve(state: &State, guards: &Guards, mut request: tiny_http::Request) {
    let reply = route(state, guards, &mut request);
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    for (name, value) in &reply.headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    // The client may have gone; nothing to do about it.
    let _ = request.respond(response);
}

fn route(state: &State, guards: &Guards, request: &mut tiny_http::Request) -> Reply {
    let path = request.url().split('?').next().unwrap_or_default().to_owned();
    let method = request.method().as_str().to_owned();
    let allowed = match path.as_str() {
        "/idp/token" | "/as/token" => "POST",
        "/idp/jwks"
        | "/idp/.well-known/oauth-authorization-server"
        | "/as/.well-known/oauth-authorization-server"
        | "/api/expenses" => "GET",
        _ => return Reply::json(404, &json!({"error": "not_found"})),
    };
    if method != allowed {
        return Reply::json(405, &json!({"error": "method_not_allowed"}))
            .with_header("Allow", allowed);
    }
    let now = NumericDate::now_from_system_clock();
    match path.as_str() {
        "/idp/token" => idp_token(state, guards, request, now),
        "/as/token" => as_token(state, guards, request, now),
        "/idp/jwks" => Reply::json(200, &state.idp_keys.verification_keys().to_jwks()),
        "/idp/.well-known/oauth-authorization-server" => {
            let urls = &state.urls;
            let mut metadata =
                IdpMetadata::new(&urls.idp_issuer, &urls.idp_token, &urls.idp_jwks).to_json();
            if let Some(document) = metadata.as_object_mut() {
                document.insert(
                    "token_endpoint_auth_methods_supported".into(),
                    json!(["private_key_jwt"]),
                );
                let algorithms: Vec<&str> = AlgorithmSet::all().iter().map(|a| a.name()).collect();
                document.insert(
                    "token_endpoint_auth_signing_alg_values_supported".into(),
                    json!(algorithms),
                );
            }
            Reply::json(200, &metadata)
        }
        "/as/.well-known/oauth-authorization-server" => {
            let urls = &state.urls;
            let metadata = ResourceServerMetadata::new(&urls.as_issuer, &urls.as_token)
                .with_member(
                    "token_endpoint_auth_methods_supported",
                    json!(["client_secret_basic"]),
                );
            Reply::json(200, &metadata.to_json())
        }
        _ => api_expenses(state, request, now),
    }
}

/// The body, or `None` when it is over [`MAX_BODY`] or unreadable.
fn read_body(request: &mut tiny_http::Request) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY).ok()?.saturating_add(1);
    request.as_reader().take(limit).read_to_end(&mut body).ok()?;
    (body.len() <= MAX_BODY).then_some(body)
}

/// The value of a header that must appear at most once; `Err` when repeated.
fn single_header<'r>(
    request: &'r tiny_http::Request,
    name: &'static str,
) -> Result<Option<&'r str>, ()> {
    let mut values = request.headers().iter().filter(|header| header.field.equiv(name));
    let first = values.next().map(|header| header.value.as_str());
    if values.next().is_some() { Err(()) } else { Ok(first) }
}

/// The form parameters, each name at most once among those the host reads.
fn form_parameters(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).map(|(name, value)| (name.into(), value.into())).collect()
}

/// The one value of `name`; `Err` when it is repeated (RFC 6749 §3.2).
fn form_single<'f>(form: &'f [(String, String)], name: &str) -> Result<Option<&'f str>, ()> {
    let mut values = form.iter().filter(|(seen, _)| seen == name).map(|(_, value)| value.as_str());
    let first = values.next();
    if values.next().is_some() { Err(()) } else { Ok(first) }
}

/// Which client authentication methods a token request uses.
#[derive(PartialEq, Eq, Debug)]
enum Methods {
    None,
    /// An `Authorization` header of this scheme, and nothing in the body.
    Header(String),
    /// A client secret or assertion in the body, and no `Authorization` header.
    Body,
    /// More than one: RFC 6749 §2.3 forbids it, so the request is malformed.
    Several,
}

fn authentication_methods(request: &tiny_http::Request, form: &[(String, String)]) -> Methods {
    let in_body =
        form.iter().any(|(name, _)| name == "client_secret" || name == "client_assertion");
    match single_header(request, "Authorization") {
        Ok(None) if in_body => Methods::Body,
        Ok(None) => Methods::None,
        Ok(Some(_)) if in_body => Methods::Several,
        Ok(Some(value)) => {
            let scheme = value.trim().split(' ').next().unwrap_or_default();
            let known = scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            Methods::Header(if known && !scheme.is_empty() {
                scheme.into()
            } else {
                "Basic".into()
            })
        }
        Err(()) => Methods::Several,
    }
}

fn invalid_client() -> ErrorResponse {
    ErrorResponse::new(WireError::InvalidClient)
}

fn replay_store_failure(error: ReplayError) -> ErrorResponse {
    match error {
        ReplayError::Full => ErrorResponse::new(WireError::TemporarilyUnavailable),
        _ => ErrorResponse::new(WireError::ServerError),
    }
}

// ---------------------------------------------------------------------------------------------
// The IdP.

fn idp_token(
    state: &State,
    guards: &Guards,
    request: &mut tiny_http::Request,
    now: NumericDate,
) -> Reply {
    let Some(body) = read_body(request) else {
        return Reply::token_error(&ErrorResponse::new(WireError::InvalidRequest));
    };
    let form = form_parameters(&body);
    match authentication_methods(request, &form) {
        Methods::Several => {
            return Reply::token_error(&ErrorResponse::new(WireError::InvalidRequest));
        }
        // Not a method this endpoint takes (RFC 6749 §5.2): a 401 naming the scheme tried.
        Methods::Header(scheme) => {
            return Reply::token_error(&invalid_client())
                .with_header("WWW-Authenticate", format!("{scheme} realm=\"idp\""));
        }
        Methods::Body | Methods::None => {}
    }
    let client = match authenticate_private_key_jwt(state, guards, &form, now) {
        Ok(client) => client,
        Err(response) => return Reply::token_error(&response),
    };
    let hosts = ExchangeHosts {
        registry: state.connections.as_ref(),
        directory: &state.directory,
        tokens: &IdTokensOnly,
        signer: state.idp_keys.as_ref(),
    };
    let exchange = state.idp.exchange(&hosts, &body, &client, now);
    state.audit(&exchange.audit);
    match exchange.outcome {
        Ok(issued) => Reply::token(200, issued.token_response().to_json()),
        Err(denial) => Reply::token_error(&denial.error_response()),
    }
}

/// The claims of a client assertion this host reads; serde refuses a repeated member.
#[derive(serde::Deserialize)]
struct ClientAssertionClaims {
    iss: String,
    sub: String,
    aud: Value,
    exp: u64,
    jti: String,
    iat: Option<u64>,
    nbf: Option<u64>,
}

/// `private_key_jwt` (RFC 7523 §2.2 and §3): the assertion is signed by the key registered for
/// the client it names, `iss` = `sub` = that client, `aud` is this token endpoint, it has not
/// expired and lives at most [`MAX_ASSERTION_LIFETIME`], and its `jti` is used once.
fn authenticate_private_key_jwt(
    state: &State,
    guards: &Guards,
    form: &[(String, String)],
    now: NumericDate,
) -> Result<AuthenticatedClient, ErrorResponse> {
    let single = |name| form_single(form, name).map_err(|()| invalid_client());
    if single("client_assertion_type")? != Some(urn::CLIENT_ASSERTION_TYPE_JWT_BEARER) {
        return Err(invalid_client());
    }
    let assertion = single("client_assertion")?.ok_or_else(invalid_client)?;
    let named_client = single("client_id")?;

    let jws = CompactJws::parse(assertion, &ParseOptions::new(AlgorithmSet::all()))
        .map_err(|_| invalid_client())?;
    if let Some(typ) = jws.header().typ() {
        // Never another kind of JWT (an ID token, an ID-JAG) passed off as a client assertion.
        if !typ.eq_ignore_ascii_case("JWT")
            && !typ.eq_ignore_ascii_case("client-authentication+jwt")
        {
            return Err(invalid_client());
        }
    }
    let claims: ClientAssertionClaims =
        serde_json::from_slice(jws.unverified_payload()).map_err(|_| invalid_client())?;
    // Trust before cryptography: the key is the one registered for the client named.
    let key = state.idp_clients.get(&claims.iss).ok_or_else(invalid_client)?;
    jws.verify_with(key).map_err(|_| invalid_client())?;

    let audience_ok = match &claims.aud {
        Value::String(audience) => *audience == state.urls.idp_token,
        Value::Array(audiences) => {
            audiences.iter().any(|a| a.as_str() == Some(state.urls.idp_token.as_str()))
        }
        _ => false,
    };
    let now_s = now.as_unix_seconds();
    let acceptable = claims.sub == claims.iss
        && named_client.is_none_or(|named| named == claims.iss)
        && audience_ok
        && claims.exp > now_s
        && claims.exp - now_s <= MAX_ASSERTION_LIFETIME
        && claims.iat.is_none_or(|iat| iat <= now_s.saturating_add(LEEWAY))
        && claims.nbf.is_none_or(|nbf| nbf <= now_s.saturating_add(LEEWAY))
        && !claims.jti.is_empty();
    if !acceptable {
        return Err(invalid_client());
    }
    let expires_at = NumericDate::from_unix_seconds(claims.exp).map_err(|_| invalid_client())?;
    let keep_until = expires_at.saturating_add_seconds(LEEWAY);
    match guards.client_assertions.check_and_record(&claims.iss, &claims.jti, keep_until, now) {
        Ok(ReplayVerdict::Fresh) => Ok(AuthenticatedClient::confidential(claims.iss)),
        Ok(ReplayVerdict::Replayed) => Err(invalid_client()),
        Err(error) => Err(replay_store_failure(error)),
    }
}

// ---------------------------------------------------------------------------------------------
// The resource AS.

fn as_token(
    state: &State,
    guards: &Guards,
    request: &mut tiny_http::Request,
    now: NumericDate,
) -> Reply {
    // RFC 6749 §5.2: a failed Basic authentication is a 401 naming the scheme.
    let unauthorized = || {
        Reply::token_error(&invalid_client())
            .with_header("WWW-Authenticate", "Basic realm=\"expenses\"")
    };
    let Some(body) = read_body(request) else {
        return Reply::token_error(&ErrorResponse::new(WireError::InvalidRequest));
    };
    let form = form_parameters(&body);
    if authentication_methods(request, &form) == Methods::Several {
        return Reply::token_error(&ErrorResponse::new(WireError::InvalidRequest));
    }
    let Ok(Some(authorization)) = single_header(request, "Authorization") else {
        return unauthorized();
    };
    let Some(client) = authenticate_basic(state, authorization) else {
        return unauthorized();
    };
    // A `client_id` in the body, if any, must name the authenticated client.
    match form_single(&form, "client_id") {
        Ok(None) => {}
        Ok(Some(id)) if id == client.client_id() => {}
        _ => return Reply::token_error(&ErrorResponse::new(WireError::InvalidRequest)),
    }

    let hosts = RedeemHosts {
        issuers: &state.issuers,
        replay: guards.id_jags.as_ref(),
        subjects: &state.subjects,
        policy: &AllowAll,
    };
    let redemption = state.resource.redeem(&hosts, &body, &client, now);
    state.audit(&redemption.audit);
    match redemption.outcome {
        Ok(grant) => match state.tokens.mint(&grant, now) {
            Ok(issued) => Reply::token(200, issued.token_response(&grant).to_json()),
            Err(_) => Reply::token_error(&ErrorResponse::new(WireError::ServerError)),
        },
        Err(rejection) => Reply::token_error(&rejection.error_response()),
    }
}

/// `client_secret_basic` (RFC 6749 §2.3.1): `Basic base64(form-encoded id ":" form-encoded
/// secret)`, the secret compared in constant time.
fn authenticate_basic(state: &State, authorization: &str) -> Option<AuthenticatedClient> {
    use base64::Engine as _;
    let (scheme, credentials) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(credentials.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    let expected = state.as_clients.get(&id)?;
    openssl::memcmp::eq(expected, &sha256(secret.as_bytes()))
        .then(|| AuthenticatedClient::confidential(id))
}

/// Undo `application/x-www-form-urlencoded` encoding of one component; `None` if malformed.
fn form_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(rest.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = rest.get(2..)?;
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

// ---------------------------------------------------------------------------------------------
// The expense API.

fn api_expenses(state: &State, request: &tiny_http::Request, now: NumericDate) -> Reply {
    let challenge = |status: u16, error: Option<&str>| {
        let mut value = "Bearer realm=\"expenses\"".to_owned();
        if let Some(error) = error {
            value.push_str(&format!(", error=\"{error}\""));
            if error == "insufficient_scope" {
                value.push_str(&format!(", scope=\"{API_SCOPE}\""));
            }
        }
        Reply::json(status, &json!({"error": error.unwrap_or("unauthorized")}))
            .with_header("WWW-Authenticate", value)
    };
    let token = match single_header(request, "Authorization") {
        Ok(Some(value)) => match value.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => token.trim(),
            _ => return challenge(401, Some("invalid_token")),
        },
        // RFC 6750 §3.1: no credentials at all, no error code.
        Ok(None) => return challenge(401, None),
        Err(()) => return challenge(400, Some("invalid_request")),
    };
    let Ok(needed) = Scope::parse(API_SCOPE) else {
        return Reply::json(500, &json!({"error": "server_error"}));
    };
    match state.api.verify(token, Some(&needed), now) {
        Ok(verified) => Reply::json(
            200,
            &json!({
                "account": verified.subject,
                "agent": verified.actor,
                "expenses": [
                    {
                        "id": "exp-1041", "date": "2026-11-30", "merchant": "Rail Europe",
                        "amount": "212.40", "currency": "EUR",
                    },
                    {
                        "id": "exp-1042", "date": "2026-12-02", "merchant": "Hotel Lumen",
                        "amount": "389.00", "currency": "EUR",
                    },
                ],
            }),
        )
        .with_header("Cache-Control", "no-store"),
        Err(id_jag::resource::AccessTokenError::InsufficientScope) => {
            challenge(403, Some("insufficient_scope"))
        }
        Err(_) => challenge(401, Some("invalid_token")),
    }
}

// ---------------------------------------------------------------------------------------------

/// Serve on 127.0.0.1:`$PORT` (default 8080) with fresh keys until killed, with the Redis of
/// `$REDIS_URL` when set. Prints the endpoints on stderr and the audit trail on stdout, one JSON
/// line per decision. Aria's credentials live only in this process: the full flow is in
/// `tests/http.rs`.
#[allow(dead_code)]
fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| format!("PORT is not a port number: {port}"))?,
        Err(_) => 8080,
    };
    let (mut config, _aria) = Config::generate()?;
    config.port = port;
    config.redis_url = std::env::var("REDIS_URL").ok().filter(|url| !url.is_empty());
    config.audit = Some(Arc::new(|record: &AuditRecord| println!("{}", record.to_json_line())));
    let replay = if config.redis_url.is_some() { "Redis" } else { "memory" };
    let running = start(config)?;
    let urls = running.urls();
    eprintln!("listening on {} (replay store: {replay})", running.local_url());
    eprintln!("  IdP metadata  {}/.well-known/oauth-authorization-server", urls.idp_issuer);
    eprintln!("  IdP JWKS      {}", urls.idp_jwks);
    eprintln!("  IdP token     {} (private_key_jwt)", urls.idp_token);
    eprintln!("  AS metadata   {}/.well-known/oauth-authorization-server", urls.as_issuer);
    eprintln!("  AS token      {} (client_secret_basic)", urls.as_token);
    eprintln!("  API           {}/expenses", urls.api);
    running.wait();
    Ok(())
}
