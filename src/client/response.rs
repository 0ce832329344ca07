//! Reading token endpoint responses: both legs, the SAML path's first step, and errors
//! (RFC 6749 §5, RFC 8693 §2.2).

use serde_json::{Map, Value};

use super::{ClientError, SubjectToken, TokenExchangeRequest};
use crate::NumericDate;
use crate::claims::IdJagClaims;
use crate::error::WireError;
use crate::jose::{AlgorithmSet, CompactJws, ParseOptions};
use crate::scope::Scope;
use crate::urn;

/// Response bodies above this size are refused unread.
const MAX_RESPONSE: usize = 64 * 1024;

/// An RFC 6749 §5.2 error response as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// `error`, as sent.
    pub error: String,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `error_uri`.
    pub error_uri: Option<String>,
    /// `max_age`, for `insufficient_user_authentication` (RFC 9470).
    pub max_age: Option<u64>,
    /// `acr_values`, for `insufficient_user_authentication` (RFC 9470).
    pub acr_values: Option<String>,
}

impl TokenErrorResponse {
    /// The error code, when it is one this crate knows.
    pub fn wire_error(&self) -> Option<WireError> {
        WireError::from_code(&self.error)
    }
}

/// A successful leg-1 response, checked: the ID-JAG and what it says (read without verifying
/// the signature: the client is not its audience). `Debug` hides the token.
#[derive(Clone, PartialEq)]
pub struct IdJagResponse {
    id_jag: String,
    claims: IdJagClaims,
    expires_in: Option<u64>,
    scope: Option<Scope>,
    refresh_token_sent: bool,
}

impl IdJagResponse {
    /// The ID-JAG, to redeem at the resource AS.
    pub fn id_jag(&self) -> &str {
        &self.id_jag
    }

    /// Its claims, unverified.
    pub fn claims(&self) -> &IdJagClaims {
        &self.claims
    }

    /// When it expires (`exp`).
    pub fn expires_at(&self) -> NumericDate {
        self.claims.expires_at()
    }

    /// `expires_in`, as sent.
    pub fn expires_in(&self) -> Option<u64> {
        self.expires_in
    }

    /// The granted scope: the response's, or the ID-JAG's.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref().or(self.claims.scope())
    }

    /// Whether the IdP sent a refresh token, which the draft says it should not (§4.3.2).
    pub fn unexpected_refresh_token(&self) -> bool {
        self.refresh_token_sent
    }
}

impl std::fmt::Debug for IdJagResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdJagResponse")
            .field("id_jag", &"<redacted>")
            .field("jwt_id", &self.claims.jwt_id())
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// A successful leg-2 response. `Debug` hides the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessTokenResponse {
    /// `access_token`.
    pub access_token: String,
    /// `token_type` as sent (`Bearer` or `DPoP`, any case).
    pub token_type: String,
    /// `expires_in`.
    pub expires_in: Option<u64>,
    /// `scope`.
    pub scope: Option<Scope>,
    /// `refresh_token`, if the server sent one: the draft says it should not (§4.4.2), since
    /// the ID-JAG replaces it.
    pub refresh_token: Option<String>,
}

impl AccessTokenResponse {
    /// Whether a refresh token came, against the draft's advice.
    pub fn unexpected_refresh_token(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// When the access token expires, given when the response arrived.
    pub fn expires_at(&self, received_at: NumericDate) -> Option<NumericDate> {
        self.expires_in.map(|seconds| received_at.saturating_add_seconds(seconds))
    }
}

impl std::fmt::Debug for AccessTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A successful answer to a [`SamlRefreshTokenRequest`](super::SamlRefreshTokenRequest) (the
/// SAML path's first step, draft §4.5): the IdP refresh token to use as the subject token of
/// leg 1. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenResponse {
    refresh_token: String,
    expires_in: Option<u64>,
    scope: Option<Scope>,
}

impl RefreshTokenResponse {
    /// The refresh token (sent as `access_token`).
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// `expires_in`, as sent.
    pub fn expires_in(&self) -> Option<u64> {
        self.expires_in
    }

    /// `scope`, when the IdP sent one: RFC 8693 §2.2.1 lets it omit the scope when it granted
    /// the one asked for.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// When the refresh token expires, given when the response arrived.
    pub fn expires_at(&self, received_at: NumericDate) -> Option<NumericDate> {
        self.expires_in.map(|seconds| received_at.saturating_add_seconds(seconds))
    }

    /// The refresh token as the subject of a leg-1 [`TokenExchangeRequest`] (draft §4.5).
    pub fn into_subject_token(self) -> SubjectToken {
        SubjectToken::RefreshToken(self.refresh_token)
    }
}

impl std::fmt::Debug for RefreshTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenResponse")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Read the IdP's answer to `request` (leg 1).
///
/// A non-2xx status is [`ClientError::Refused`] with the typed error. A success must say
/// `issued_token_type` id-jag and `token_type` `N_A` (any case); its token must be an ID-JAG
/// (`typ`, claims) whose `aud` is the audience asked for and whose `resource` and `scope` are
/// what was asked or a narrowing of it. When the request named no resource (or no scope), the
/// IdP's choice is accepted: it is the IdP's default, not a widening. A `scope` in the response
/// must equal the ID-JAG's.
pub fn read_exchange_response(
    request: &TokenExchangeRequest,
    status: u16,
    body: &[u8],
) -> Result<IdJagResponse, ClientError> {
    // draft §4.3.2: the token is an ID-JAG and token_type is N_A.
    let ExchangeAnswer { access_token, expires_in, scope, refresh_token_sent } =
        read_exchange_answer(status, body, urn::TOKEN_TYPE_ID_JAG)?;

    let jws = CompactJws::parse(&access_token, &ParseOptions::new(AlgorithmSet::all()))
        .map_err(|_| ClientError::NotAnIdJag)?;
    if !jws.header().typ_is(urn::TYP_ID_JAG) {
        return Err(ClientError::NotAnIdJag);
    }
    let claims =
        IdJagClaims::from_json(jws.unverified_payload()).map_err(|_| ClientError::NotAnIdJag)?;

    if claims.audience().single() != Some(request.audience_to_expect()) {
        return Err(ClientError::AudienceMismatch);
    }
    let requested_resources = request.requested_resources();
    if let Some(resources) = claims.resource() {
        let narrowed = resources.iter().all(|r| requested_resources.iter().any(|q| q == r));
        if !requested_resources.is_empty() && !narrowed {
            return Err(ClientError::ResourceMismatch);
        }
    }
    if let (Some(requested), Some(granted)) = (request.requested_scope(), claims.scope()) {
        if !granted.is_subset(requested) {
            return Err(ClientError::ScopeMismatch);
        }
    }
    // The response's scope, when sent, must be the ID-JAG's and within what was asked.
    if let Some(reported) = &scope {
        if claims.scope() != Some(reported) {
            return Err(ClientError::ScopeMismatch);
        }
    }
    // draft §9.8: a proof went with the request, so the ID-JAG must be bound to its key.
    if let Some(expected) = request.expected_jkt() {
        match claims.confirmation().and_then(|cnf| cnf.jkt.as_deref()) {
            None => return Err(ClientError::DpopBindingMissing),
            Some(jkt) if jkt != expected => return Err(ClientError::DpopBindingMismatch),
            Some(_) => {}
        }
    }
    Ok(IdJagResponse { id_jag: access_token, claims, expires_in, scope, refresh_token_sent })
}

/// Read the IdP's answer to a [`SamlRefreshTokenRequest`](super::SamlRefreshTokenRequest)
/// (draft §4.5).
///
/// A non-2xx status is [`ClientError::Refused`] with the typed error. A success must say
/// `issued_token_type` refresh token and `token_type` `N_A` (any case), and carries the
/// refresh token in `access_token`.
///
/// ```
/// use id_jag::client::{TokenExchangeRequest, read_refresh_token_exchange_response};
///
/// let body = br#"{"access_token":"rt-1","token_type":"N_A","expires_in":86400,
///     "issued_token_type":"urn:ietf:params:oauth:token-type:refresh_token"}"#;
/// let response = read_refresh_token_exchange_response(200, body)?;
/// assert_eq!(response.expires_in(), Some(86_400));
///
/// // draft §4.5: the refresh token is the subject token of leg 1.
/// let leg_one = TokenExchangeRequest::new(response.into_subject_token(), "https://as.example");
/// # Ok::<(), id_jag::client::ClientError>(())
/// ```
pub fn read_refresh_token_exchange_response(
    status: u16,
    body: &[u8],
) -> Result<RefreshTokenResponse, ClientError> {
    // draft §4.5: the token is a refresh token, carried in access_token, and token_type is N_A.
    let answer = read_exchange_answer(status, body, urn::TOKEN_TYPE_REFRESH_TOKEN)?;
    let ExchangeAnswer { access_token: refresh_token, expires_in, scope, .. } = answer;
    Ok(RefreshTokenResponse { refresh_token, expires_in, scope })
}

/// The members of a successful token-exchange answer (RFC 8693 §2.2.1), once its
/// `issued_token_type` is `issued` and its `token_type` is `N_A` in any case.
struct ExchangeAnswer {
    access_token: String,
    expires_in: Option<u64>,
    scope: Option<Scope>,
    refresh_token_sent: bool,
}

fn read_exchange_answer(
    status: u16,
    body: &[u8],
    issued: &str,
) -> Result<ExchangeAnswer, ClientError> {
    let mut members = read_body(status, body)?;
    let access_token = required_string(&mut members, "access_token")?;
    let issued_token_type = required_string(&mut members, "issued_token_type")?;
    let token_type = required_string(&mut members, "token_type")?;
    let expires_in = optional_u64(&mut members, "expires_in")?;
    let scope = optional_scope(&mut members)?;
    if issued_token_type != issued {
        return Err(ClientError::WrongIssuedTokenType);
    }
    if !token_type.eq_ignore_ascii_case(urn::TOKEN_TYPE_N_A) {
        return Err(ClientError::WrongTokenType);
    }
    let refresh_token_sent = members.contains_key("refresh_token");
    Ok(ExchangeAnswer { access_token, expires_in, scope, refresh_token_sent })
}

/// Read the resource AS's answer to the jwt-bearer grant (leg 2): an ordinary token response
/// whose `token_type` is `Bearer` or `DPoP` (any case).
pub fn read_jwt_bearer_response(
    status: u16,
    body: &[u8],
) -> Result<AccessTokenResponse, ClientError> {
    let mut members = read_body(status, body)?;
    let access_token = required_string(&mut members, "access_token")?;
    let token_type = required_string(&mut members, "token_type")?;
    if !token_type.eq_ignore_ascii_case(urn::TOKEN_TYPE_BEARER)
        && !token_type.eq_ignore_ascii_case(urn::TOKEN_TYPE_DPOP)
    {
        return Err(ClientError::WrongTokenType);
    }
    Ok(AccessTokenResponse {
        access_token,
        token_type,
        expires_in: optional_u64(&mut members, "expires_in")?,
        scope: optional_scope(&mut members)?,
        refresh_token: optional_string(&mut members, "refresh_token")?,
    })
}

/// The JSON object of a response; an error response becomes [`ClientError::Refused`].
fn read_body(status: u16, body: &[u8]) -> Result<Map<String, Value>, ClientError> {
    if body.len() > MAX_RESPONSE {
        return Err(ClientError::MalformedResponse("body"));
    }
    let mut members =
        crate::json::parse_object(body).map_err(|_| ClientError::MalformedResponse("body"))?;
    if (200..300).contains(&status) {
        return Ok(members);
    }

    // RFC 6749 §5.2: `error` is REQUIRED and is what the caller acts on, so it must be there. The
    // other members are OPTIONAL and advisory: one that is null, empty or of the wrong type is
    // dropped rather than losing the code (RFC 9470 §3 members included).
    let error = TokenErrorResponse {
        status,
        error: required_string(&mut members, "error")?,
        error_description: advisory(optional_string(&mut members, "error_description")),
        error_uri: advisory(optional_string(&mut members, "error_uri")),
        max_age: advisory(optional_u64(&mut members, "max_age")),
        acr_values: advisory(optional_string(&mut members, "acr_values")),
    };
    Err(ClientError::Refused(Box::new(error)))
}

/// An OPTIONAL error-response member, or nothing when it is unusable.
fn advisory<T>(member: Result<Option<T>, ClientError>) -> Option<T> {
    member.ok().flatten()
}

fn required_string(m: &mut Map<String, Value>, name: &'static str) -> Result<String, ClientError> {
    optional_string(m, name)?.ok_or(ClientError::MalformedResponse(name))
}

fn optional_string(
    m: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, ClientError> {
    match m.remove(name) {
        None => Ok(None),
        Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
        Some(_) => Err(ClientError::MalformedResponse(name)),
    }
}

/// `scope` (RFC 6749 §3.3): space-separated tokens, when present.
fn optional_scope(m: &mut Map<String, Value>) -> Result<Option<Scope>, ClientError> {
    optional_string(m, "scope")?
        .map(|text| Scope::parse(&text).map_err(|_| ClientError::MalformedResponse("scope")))
        .transpose()
}

fn optional_u64(
    m: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, ClientError> {
    match m.remove(name) {
        None => Ok(None),
        Some(Value::Number(number)) => {
            number.as_u64().map(Some).ok_or(ClientError::MalformedResponse(name))
        }
        Some(_) => Err(ClientError::MalformedResponse(name)),
    }
}
