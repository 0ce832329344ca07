//! Wire errors: the RFC 6749 §5.2 error codes (plus those of RFC 8693, RFC 8707, RFC 9396,
//! RFC 9449 and RFC 9470) and the JSON error response a token endpoint sends.
//!
//! The wire sees only these codes. Every refusal in the crate also carries a precise, stable
//! reason code for logs, metrics and audit records; that reason never reaches the wire.

use serde::Serialize;

/// An OAuth error code, as sent in the `error` member of an error response.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum WireError {
    /// `invalid_request` (RFC 6749 §5.2).
    InvalidRequest,
    /// `invalid_client` (RFC 6749 §5.2), sent with HTTP 401.
    InvalidClient,
    /// `invalid_grant` (RFC 6749 §5.2).
    InvalidGrant,
    /// `unauthorized_client` (RFC 6749 §5.2).
    UnauthorizedClient,
    /// `unsupported_grant_type` (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// `invalid_scope` (RFC 6749 §5.2).
    InvalidScope,
    /// `invalid_target` (RFC 8707 §2, RFC 8693 §2.2.2).
    InvalidTarget,
    /// `invalid_authorization_details` (RFC 9396 §5).
    InvalidAuthorizationDetails,
    /// `insufficient_user_authentication` (RFC 9470 §3).
    InsufficientUserAuthentication,
    /// `invalid_dpop_proof` (RFC 9449 §5).
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8).
    UseDpopNonce,
    /// `server_error`: the host's store failed; sent with HTTP 500.
    ServerError,
    /// `temporarily_unavailable`: a bounded store is full; sent with HTTP 503.
    TemporarilyUnavailable,
}

impl WireError {
    /// The code as it appears on the wire.
    pub fn code(self) -> &'static str {
        match self {
            WireError::InvalidRequest => "invalid_request",
            WireError::InvalidClient => "invalid_client",
            WireError::InvalidGrant => "invalid_grant",
            WireError::UnauthorizedClient => "unauthorized_client",
            WireError::UnsupportedGrantType => "unsupported_grant_type",
            WireError::InvalidScope => "invalid_scope",
            WireError::InvalidTarget => "invalid_target",
            WireError::InvalidAuthorizationDetails => "invalid_authorization_details",
            WireError::InsufficientUserAuthentication => "insufficient_user_authentication",
            WireError::InvalidDpopProof => "invalid_dpop_proof",
            WireError::UseDpopNonce => "use_dpop_nonce",
            WireError::ServerError => "server_error",
            WireError::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The code for a wire string, if it is one of these.
    pub fn from_code(code: &str) -> Option<Self> {
        const ALL: [WireError; 13] = [
            WireError::InvalidRequest,
            WireError::InvalidClient,
            WireError::InvalidGrant,
            WireError::UnauthorizedClient,
            WireError::UnsupportedGrantType,
            WireError::InvalidScope,
            WireError::InvalidTarget,
            WireError::InvalidAuthorizationDetails,
            WireError::InsufficientUserAuthentication,
            WireError::InvalidDpopProof,
            WireError::UseDpopNonce,
            WireError::ServerError,
            WireError::TemporarilyUnavailable,
        ];
        ALL.into_iter().find(|error| error.code() == code)
    }

    /// The HTTP status to send: 401 for `invalid_client` (RFC 6749 §5.2), 500 and 503 for
    /// the server's own trouble, 400 otherwise.
    pub fn http_status(self) -> u16 {
        match self {
            WireError::InvalidClient => 401,
            WireError::ServerError => 500,
            WireError::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// A fixed description that says what kind of failure happened and nothing about the
    /// server's configuration (which issuers, keys or users exist).
    pub fn generic_description(self) -> &'static str {
        match self {
            WireError::InvalidRequest => "the request is malformed",
            WireError::InvalidClient => "client authentication failed",
            WireError::InvalidGrant => "the assertion is not acceptable",
            WireError::UnauthorizedClient => "the client may not use this grant",
            WireError::UnsupportedGrantType => "the grant type is not supported",
            WireError::InvalidScope => "the requested scope is not acceptable",
            WireError::InvalidTarget => "the requested audience or resource is not acceptable",
            WireError::InvalidAuthorizationDetails => {
                "the authorization details are not acceptable"
            }
            WireError::InsufficientUserAuthentication => {
                "stronger or fresher user authentication is required"
            }
            WireError::InvalidDpopProof => "the DPoP proof is not acceptable",
            WireError::UseDpopNonce => "a DPoP nonce is required",
            WireError::ServerError => "the server could not complete the request",
            WireError::TemporarilyUnavailable => "the server cannot take the request now",
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// An RFC 6749 §5.2 error response, ready to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorResponse {
    /// `error`.
    #[serde(serialize_with = "serialize_code")]
    pub error: WireError,
    /// `error_description`: human-readable, never configuration-revealing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// `error_uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
    /// `max_age` for `insufficient_user_authentication` (RFC 9470 §3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// `acr_values` for `insufficient_user_authentication` (RFC 9470 §3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
}

fn serialize_code<S: serde::Serializer>(error: &WireError, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(error.code())
}

impl ErrorResponse {
    /// An error response with the code's generic description.
    pub fn new(error: WireError) -> Self {
        ErrorResponse {
            error,
            error_description: Some(error.generic_description().to_owned()),
            error_uri: None,
            max_age: None,
            acr_values: None,
        }
    }

    /// The HTTP status to send.
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The headers to send with it (see [`TOKEN_RESPONSE_HEADERS`]).
    pub fn headers(&self) -> &'static [(&'static str, &'static str)] {
        TOKEN_RESPONSE_HEADERS
    }
}

/// Headers every token endpoint response carries, success or error (RFC 6749 §5.1):
/// tokens must never be cached.
pub const TOKEN_RESPONSE_HEADERS: &[(&str, &str)] =
    &[("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")];
