//! Successful token responses (RFC 6749 §5.1, RFC 8693 §2.2.1), as the servers send them.

use serde::Serialize;

use crate::error::TOKEN_RESPONSE_HEADERS;
use crate::scope::Scope;
use crate::urn;

/// A successful token endpoint response. It never carries a refresh token: at the IdP the
/// draft forbids one (§4.3.2), at the resource AS the ID-JAG replaces it (§4.4.2).
/// Its `Debug` output hides the token.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// `access_token`: the access token, or the ID-JAG for a token exchange.
    pub access_token: String,
    /// `issued_token_type` (token exchange only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// `token_type`: `Bearer`, `DPoP`, or `N_A` for an ID-JAG.
    pub token_type: &'static str,
    /// `expires_in` in seconds; left out when the lifetime is not known (a host-minted refresh
    /// token may have none), never sent as 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// `scope`, when it must be reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// `authorization_details`, when it must be reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<serde_json::Value>,
}

impl TokenResponse {
    /// A bearer access token response (RFC 6750).
    pub fn bearer(access_token: String, expires_in: u64, scope: Option<Scope>) -> Self {
        TokenResponse {
            access_token,
            issued_token_type: None,
            token_type: urn::TOKEN_TYPE_BEARER,
            expires_in: Some(expires_in),
            scope,
            authorization_details: None,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The headers to send: JSON, and never cached (RFC 6749 §5.1).
    pub fn headers(&self) -> &'static [(&'static str, &'static str)] {
        TOKEN_RESPONSE_HEADERS
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A new random identifier (`jti`) with 128 bits from OpenSSL's CSPRNG, base64url.
pub(crate) fn random_jwt_id() -> Result<String, crate::jose::JoseError> {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).map_err(|_| crate::jose::JoseError::SigningFailed)?;
    Ok(crate::jose::b64_encode(bytes))
}
