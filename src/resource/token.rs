//! RFC 9068 JWT access tokens minted from a grant, for hosts that want JWT access tokens.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::Grant;
use crate::NumericDate;
use crate::jose::{JoseError, Signer, sign_compact};
use crate::response::{TokenResponse, random_jwt_id};
use crate::urn;

/// Mints RFC 9068 access tokens with the resource AS's own key.
pub struct AccessTokenIssuer {
    issuer: String,
    signer: Arc<dyn Signer>,
    lifetime: u64,
}

/// A minted access token. Its `Debug` output hides the token.
#[derive(Clone)]
pub struct IssuedAccessToken {
    token: String,
    jwt_id: String,
    expires_at: NumericDate,
    lifetime: u64,
}

impl IssuedAccessToken {
    /// The compact JWT.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Its `jti`.
    pub fn jwt_id(&self) -> &str {
        &self.jwt_id
    }

    /// Its `exp`.
    pub fn expires_at(&self) -> NumericDate {
        self.expires_at
    }

    /// The token response for it: `Bearer`, `expires_in`, the granted `scope`, no refresh
    /// token (draft §4.4.2).
    pub fn token_response(&self, grant: &Grant) -> TokenResponse {
        TokenResponse::bearer(self.token.clone(), self.lifetime, grant.scope().cloned())
    }
}

impl std::fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("token", &"<redacted>")
            .field("jwt_id", &self.jwt_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl AccessTokenIssuer {
    /// An issuer for `issuer` (this resource AS) signing with `signer`, tokens living
    /// `lifetime` seconds.
    pub fn new(issuer: impl Into<String>, signer: Arc<dyn Signer>, lifetime: u64) -> Self {
        AccessTokenIssuer { issuer: issuer.into(), signer, lifetime }
    }

    /// Mint an access token for `grant` (RFC 9068 §2.2): `typ` `at+jwt`; `iss`; `sub` (the
    /// account here); `aud` (the granted resources); `client_id`; `scope`; `jti`; `iat`;
    /// `exp`; and the ID-JAG's `act`, so the resource server sees the agent too.
    pub fn mint(&self, grant: &Grant, now: NumericDate) -> Result<IssuedAccessToken, JoseError> {
        let jwt_id = random_jwt_id()?;
        let expires_at = now.saturating_add_seconds(self.lifetime);
        let mut claims = Map::new();
        let mut put = |name: &str, value: Value| {
            claims.insert(name.to_owned(), value);
        };
        put("iss", Value::String(self.issuer.clone()));
        put("sub", Value::String(grant.account().to_owned()));
        let audience: Vec<Value> =
            grant.resources().iter().map(|r| Value::String(r.clone())).collect();
        put(
            "aud",
            match <[Value; 1]>::try_from(audience) {
                Ok([single]) => single,
                Err(many) => Value::Array(many),
            },
        );
        put("client_id", Value::String(grant.client_id().to_owned()));
        if let Some(scope) = grant.scope() {
            put("scope", Value::String(scope.to_string()));
        }
        put("jti", Value::String(jwt_id.clone()));
        put("iat", Value::from(now.as_unix_seconds()));
        put("exp", Value::from(expires_at.as_unix_seconds()));
        if let Some(actor) = grant.id_jag().claims().actor() {
            put("act", actor.to_value());
        }
        let payload = Value::Object(claims).to_string();
        let token =
            sign_compact(self.signer.as_ref(), Some(urn::TYP_ACCESS_TOKEN), payload.as_bytes())?;
        Ok(IssuedAccessToken { token, jwt_id, expires_at, lifetime: self.lifetime })
    }
}

impl std::fmt::Debug for AccessTokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenIssuer")
            .field("issuer", &self.issuer)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}
