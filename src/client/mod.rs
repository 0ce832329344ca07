//! The requesting client (the AI agent): build both legs, read both responses, decide what to
//! do next, and discover servers. No HTTP here: requests come out as a form body plus headers
//! for any HTTP client, and responses go in as a status and body.
//!
//! ```
//! use std::sync::Arc;
//! use id_jag::NumericDate;
//! use id_jag::client::*;
//! use id_jag::scope::Scope;
//!
//! let now = NumericDate::from_unix_seconds(1_764_000_000)?;
//! let request = TokenExchangeRequest::new(
//!     SubjectToken::IdToken("eyJhbGciOi...".into()),
//!     "https://as.expenses.example",
//! )
//! .scope(Scope::parse("expenses.read")?);
//! let auth = ClientAuthentication::SecretBasic {
//!     client_id: "aria".into(),
//!     client_secret: "s3cret".into(),
//! };
//! let http = request.to_http(&auth, now)?;
//! let grant_type = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange";
//! assert!(http.body.starts_with(grant_type));
//! assert!(http.headers.iter().any(|(name, _)| *name == "Authorization"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With a real HTTP client, both legs are a few lines. With `reqwest` (blocking), for example:
//!
//! ```text
//! fn post(http: &reqwest::blocking::Client, url: &str, request: FormRequest)
//!     -> reqwest::Result<(u16, Vec<u8>)> {
//!     let mut call = http.post(url).body(request.body);
//!     for (name, value) in request.headers { call = call.header(name, value); }
//!     let response = call.send()?;
//!     Ok((response.status().as_u16(), response.bytes()?.to_vec()))
//! }
//!
//! // Leg 1 at the IdP: the ID token for an ID-JAG, checked on arrival.
//! let (status, body) = post(&http, idp_token_endpoint, leg1.to_http(&idp_auth, now)?)?;
//! let id_jag = read_exchange_response(&leg1, status, &body)?;
//!
//! // Leg 2 at the resource AS: the ID-JAG for an access token.
//! let leg2 = JwtBearerGrantRequest::new(id_jag.id_jag());
//! let (status, body) = post(&http, as_token_endpoint, leg2.to_http(&as_auth, now)?)?;
//! let access = read_jwt_bearer_response(status, &body)?;
//! ```

mod auth;
mod discovery;
mod renewal;
mod response;

pub use auth::ClientAuthentication;
pub use discovery::{AuthorizationServerMetadata, ClientMetadata, ProtectedResourceMetadata};
pub use renewal::{HeldTokens, NextStep, next_step};
pub use response::{
    AccessTokenResponse, IdJagResponse, RefreshTokenResponse, TokenErrorResponse,
    read_exchange_response, read_jwt_bearer_response, read_refresh_token_exchange_response,
};

use crate::NumericDate;
use crate::claims::AuthorizationDetail;
use crate::error::WireError;
use crate::scope::Scope;
use crate::urn;

/// What went wrong on the client's side.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an OAuth error. `Display` names the code only when it is a
    /// known one: the server's text is never echoed.
    #[error(
        "the server refused: {}",
        .0.wire_error().map_or("an unrecognised error", |e| e.code())
    )]
    Refused(Box<TokenErrorResponse>),
    /// The response body is not the JSON object it should be (not JSON, duplicate members,
    /// over 64 KiB, a member of the wrong type, a required member missing); the name says which.
    /// In an error response only `error` counts: unusable optional members are dropped.
    #[error("malformed response: {0}")]
    MalformedResponse(&'static str),
    /// `issued_token_type` is not the one asked for: the id-jag URN (leg 1), or the refresh
    /// token URN (the SAML path's first step, draft §4.5).
    #[error("the IdP issued another token type")]
    WrongIssuedTokenType,
    /// `token_type` is not `N_A` (leg 1 and the SAML path's first step) or not `Bearer`/`DPoP`
    /// (leg 2).
    #[error("unexpected token_type")]
    WrongTokenType,
    /// The returned token is not an ID-JAG (`typ`, structure or claims).
    #[error("the returned token is not an ID-JAG")]
    NotAnIdJag,
    /// The ID-JAG's `aud` is not the audience asked for.
    #[error("the ID-JAG is for another audience")]
    AudienceMismatch,
    /// The ID-JAG's `resource` is not what was asked or a narrowing of it.
    #[error("the ID-JAG names resources that were not requested")]
    ResourceMismatch,
    /// The ID-JAG's `scope` is not what was asked or a narrowing of it, or disagrees with the
    /// response's `scope`.
    #[error("the ID-JAG's scope was not requested")]
    ScopeMismatch,
    /// The client assertion could not be signed.
    #[error("signing the client assertion failed")]
    SigningFailed,
    /// Metadata `issuer` (or `resource`) is not exactly the expected one.
    #[error("metadata names another issuer or resource")]
    MetadataIssuerMismatch,
    /// A DPoP proof went with the request, and the ID-JAG came back without `cnf.jkt`: a
    /// downgrade to a bearer token (draft §9.8).
    #[error("the ID-JAG is not bound to the client's DPoP key")]
    DpopBindingMissing,
    /// The ID-JAG is bound to another key than the client's.
    #[error("the ID-JAG is bound to another DPoP key")]
    DpopBindingMismatch,
}

/// A request to send: the form body and the headers.
#[derive(Clone, PartialEq, Eq)]
pub struct FormRequest {
    /// `application/x-www-form-urlencoded` body.
    pub body: String,
    /// Headers to send with it (`Content-Type`, `Accept`, and `Authorization` for
    /// `client_secret_basic`).
    pub headers: Vec<(&'static str, String)>,
}

impl FormRequest {
    /// Add a `DPoP` header carrying `proof` (see [`crate::dpop::DpopProof`]).
    pub fn with_dpop_proof(mut self, proof: String) -> Self {
        self.headers.push(("DPoP", proof));
        self
    }
}

impl std::fmt::Debug for FormRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body carries tokens and perhaps a secret; header names only.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("FormRequest")
            .field("body_len", &self.body.len())
            .field("headers", &names)
            .finish()
    }
}

fn form_request(
    mut pairs: Vec<(&'static str, String)>,
    auth: &ClientAuthentication,
    now: NumericDate,
) -> Result<FormRequest, ClientError> {
    let mut headers = vec![
        ("Content-Type", "application/x-www-form-urlencoded".to_owned()),
        ("Accept", "application/json".to_owned()),
    ];
    auth.apply(&mut pairs, &mut headers, now)?;
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &pairs {
        serializer.append_pair(name, value);
    }
    Ok(FormRequest { body: serializer.finish(), headers })
}

/// The subject of a token exchange. `Debug` hides the token.
#[derive(Clone)]
pub enum SubjectToken {
    /// An OpenID Connect ID token.
    IdToken(String),
    /// A refresh token the IdP issued (for instance on the SAML path, draft §4.5).
    RefreshToken(String),
    /// A SAML 2.0 assertion.
    Saml2(String),
}

impl SubjectToken {
    fn parts(&self) -> (&str, &'static str) {
        match self {
            SubjectToken::IdToken(token) => (token, urn::TOKEN_TYPE_ID_TOKEN),
            SubjectToken::RefreshToken(token) => (token, urn::TOKEN_TYPE_REFRESH_TOKEN),
            SubjectToken::Saml2(token) => (token, urn::TOKEN_TYPE_SAML2),
        }
    }
}

impl std::fmt::Debug for SubjectToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.parts().1)
    }
}

/// Leg 1: a token exchange for an ID-JAG (draft §4.3). `Debug` hides the subject and actor
/// tokens.
#[derive(Clone)]
pub struct TokenExchangeRequest {
    subject: SubjectToken,
    dpop_jkt: Option<String>,
    audience: String,
    expected_audience: Option<String>,
    resources: Vec<String>,
    scope: Option<Scope>,
    authorization_details: Option<Vec<AuthorizationDetail>>,
    actor: Option<(String, String)>,
}

impl TokenExchangeRequest {
    /// An ID-JAG request for `audience` (the resource AS's issuer identifier).
    pub fn new(subject: SubjectToken, audience: impl Into<String>) -> Self {
        TokenExchangeRequest {
            subject,
            dpop_jkt: None,
            audience: audience.into(),
            expected_audience: None,
            resources: Vec::new(),
            scope: None,
            authorization_details: None,
            actor: None,
        }
    }

    /// Add a `resource` (RFC 8707); may be called several times.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Set `scope`.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Set `authorization_details` (RFC 9396), sent as a JSON string.
    pub fn authorization_details(mut self, details: Vec<AuthorizationDetail>) -> Self {
        self.authorization_details = Some(details);
        self
    }

    /// Add an `actor_token` with its type.
    pub fn actor_token(mut self, token: impl Into<String>, token_type: impl Into<String>) -> Self {
        self.actor = Some((token.into(), token_type.into()));
        self
    }

    /// The request goes with a DPoP proof by the key whose thumbprint is `jkt`: the returned
    /// ID-JAG must be bound to it (`cnf.jkt`), or reading the response fails (downgrade
    /// detection, draft §9.8).
    pub fn bound_to(mut self, jkt: impl Into<String>) -> Self {
        self.dpop_jkt = Some(jkt.into());
        self
    }

    /// When `audience` is an alias the IdP rewrites, the issuer identifier the ID-JAG's `aud`
    /// will carry.
    pub fn expecting_audience(mut self, issuer: impl Into<String>) -> Self {
        self.expected_audience = Some(issuer.into());
        self
    }

    /// The form body and headers, parameters in the draft's order (§4.3 example).
    pub fn to_http(
        &self,
        auth: &ClientAuthentication,
        now: NumericDate,
    ) -> Result<FormRequest, ClientError> {
        let (subject_token, subject_token_type) = self.subject.parts();
        let mut pairs = vec![
            ("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE.to_owned()),
            ("requested_token_type", urn::TOKEN_TYPE_ID_JAG.to_owned()),
            ("audience", self.audience.clone()),
        ];
        pairs.extend(self.resources.iter().map(|resource| ("resource", resource.clone())));
        if let Some(scope) = &self.scope {
            pairs.push(("scope", scope.to_string()));
        }
        if let Some(details) = &self.authorization_details {
            let values: Vec<_> = details.iter().map(AuthorizationDetail::to_value).collect();
            pairs.push(("authorization_details", serde_json::Value::Array(values).to_string()));
        }
        pairs.push(("subject_token", subject_token.to_owned()));
        pairs.push(("subject_token_type", subject_token_type.to_owned()));
        if let Some((token, token_type)) = &self.actor {
            pairs.push(("actor_token", token.clone()));
            pairs.push(("actor_token_type", token_type.clone()));
        }
        form_request(pairs, auth, now)
    }

    pub(crate) fn audience_to_expect(&self) -> &str {
        self.expected_audience.as_deref().unwrap_or(&self.audience)
    }

    pub(crate) fn requested_resources(&self) -> &[String] {
        &self.resources
    }

    pub(crate) fn requested_scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    pub(crate) fn expected_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }
}

impl std::fmt::Debug for TokenExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchangeRequest")
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("expected_audience", &self.expected_audience)
            .field("resources", &self.resources)
            .field("scope", &self.scope)
            .field("authorization_details", &self.authorization_details)
            .field("actor_token_type", &self.actor.as_ref().map(|(_, token_type)| token_type))
            .field("dpop_jkt", &self.dpop_jkt)
            .finish()
    }
}

/// The first step of the SAML path (draft §4.5): a SAML assertion for an IdP refresh token,
/// asking for `openid offline_access`. Read the answer with
/// [`read_refresh_token_exchange_response`].
#[derive(Clone)]
pub struct SamlRefreshTokenRequest {
    assertion: String,
    scope: Scope,
}

impl SamlRefreshTokenRequest {
    /// A request for the refresh token, with scope `openid offline_access`.
    pub fn new(assertion: impl Into<String>) -> Self {
        let scope = Scope::from_tokens(["openid", "offline_access"]).unwrap_or_default();
        SamlRefreshTokenRequest { assertion: assertion.into(), scope }
    }

    /// The form body and headers.
    pub fn to_http(
        &self,
        auth: &ClientAuthentication,
        now: NumericDate,
    ) -> Result<FormRequest, ClientError> {
        let pairs = vec![
            ("grant_type", urn::GRANT_TYPE_TOKEN_EXCHANGE.to_owned()),
            ("requested_token_type", urn::TOKEN_TYPE_REFRESH_TOKEN.to_owned()),
            ("scope", self.scope.to_string()),
            ("subject_token", self.assertion.clone()),
            ("subject_token_type", urn::TOKEN_TYPE_SAML2.to_owned()),
        ];
        form_request(pairs, auth, now)
    }
}

impl std::fmt::Debug for SamlRefreshTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlRefreshTokenRequest")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Leg 2: the JWT bearer grant with an ID-JAG (draft §4.4).
#[derive(Clone)]
pub struct JwtBearerGrantRequest {
    id_jag: String,
    scope: Option<Scope>,
    dpop_grant_type: bool,
}

impl JwtBearerGrantRequest {
    /// Redeem `id_jag`.
    pub fn new(id_jag: impl Into<String>) -> Self {
        JwtBearerGrantRequest { id_jag: id_jag.into(), scope: None, dpop_grant_type: false }
    }

    /// Ask for less scope than the ID-JAG carries.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Use the draft's `jwt-dpop` grant type (§9.8) instead of jwt-bearer; send a DPoP proof
    /// with it ([`FormRequest::with_dpop_proof`]).
    pub fn with_dpop_grant_type(mut self) -> Self {
        self.dpop_grant_type = true;
        self
    }

    /// The form body and headers, parameters in the draft's order (§4.4 example).
    pub fn to_http(
        &self,
        auth: &ClientAuthentication,
        now: NumericDate,
    ) -> Result<FormRequest, ClientError> {
        let grant_type = if self.dpop_grant_type {
            urn::GRANT_TYPE_JWT_DPOP
        } else {
            urn::GRANT_TYPE_JWT_BEARER
        };
        let mut pairs =
            vec![("grant_type", grant_type.to_owned()), ("assertion", self.id_jag.clone())];
        if let Some(scope) = &self.scope {
            pairs.push(("scope", scope.to_string()));
        }
        form_request(pairs, auth, now)
    }
}

impl std::fmt::Debug for JwtBearerGrantRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtBearerGrantRequest").field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// Whether an error response from an IdP means "your subject token was refused": IdPs answer
/// that with `invalid_request` (RFC 8693) or `invalid_grant` (the draft's example and several
/// deployments), so both count. A malformed request also gets `invalid_request`; the
/// description, if any, is the only way to tell them apart.
pub fn is_subject_token_refusal(error: &TokenErrorResponse) -> bool {
    matches!(error.wire_error(), Some(WireError::InvalidRequest | WireError::InvalidGrant))
}
