//! Client authentication at a token endpoint (RFC 6749 §2.3.1, RFC 7523 §2.2).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::ClientError;
use crate::NumericDate;
use crate::jose::{Signer, sign_compact};
use crate::response::random_jwt_id;
use crate::urn;

/// How the client authenticates to a token endpoint. `Debug` never shows a secret.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuthentication {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    SecretBasic {
        /// The client id at that server.
        client_id: String,
        /// The client secret.
        client_secret: String,
    },
    /// `client_secret_post`: id and secret in the form body.
    SecretPost {
        /// The client id at that server.
        client_id: String,
        /// The client secret.
        client_secret: String,
    },
    /// `private_key_jwt` (RFC 7523 §2.2): a fresh assertion signed with the client's key for
    /// every request: `iss` = `sub` = client id, `aud` = the token endpoint, random `jti`,
    /// `exp` shortly after `iat`.
    PrivateKeyJwt {
        /// The client id at that server.
        client_id: String,
        /// The token endpoint URL: the assertion's audience.
        token_endpoint: String,
        /// The client's key.
        signer: Arc<dyn Signer>,
        /// Seconds the assertion lives (60 is a good default).
        lifetime: u64,
    },
    /// A client assertion obtained elsewhere (a workload identity, say), sent as is.
    ClientAssertion {
        /// The assertion.
        assertion: String,
    },
    /// No authentication: a public client identified by `client_id` only. Servers following
    /// the draft (§9.1) refuse it.
    None {
        /// The client id.
        client_id: String,
    },
}

impl ClientAuthentication {
    /// `private_key_jwt` with a 60-second assertion.
    pub fn private_key_jwt(
        client_id: impl Into<String>,
        token_endpoint: impl Into<String>,
        signer: Arc<dyn Signer>,
    ) -> Self {
        ClientAuthentication::PrivateKeyJwt {
            client_id: client_id.into(),
            token_endpoint: token_endpoint.into(),
            signer,
            lifetime: 60,
        }
    }

    /// Add this authentication to a request: form parameters appended after the request's own,
    /// and headers.
    pub(crate) fn apply(
        &self,
        pairs: &mut Vec<(&'static str, String)>,
        headers: &mut Vec<(&'static str, String)>,
        now: NumericDate,
    ) -> Result<(), ClientError> {
        match self {
            ClientAuthentication::SecretBasic { client_id, client_secret } => {
                headers.push(("Authorization", basic_authorization(client_id, client_secret)));
            }
            ClientAuthentication::SecretPost { client_id, client_secret } => {
                pairs.push(("client_id", client_id.clone()));
                pairs.push(("client_secret", client_secret.clone()));
            }
            ClientAuthentication::PrivateKeyJwt { client_id, token_endpoint, signer, lifetime } => {
                let assertion =
                    client_assertion(client_id, token_endpoint, signer.as_ref(), *lifetime, now)?;
                pairs.push(("client_assertion_type", urn::CLIENT_ASSERTION_TYPE_JWT_BEARER.into()));
                pairs.push(("client_assertion", assertion));
            }
            ClientAuthentication::ClientAssertion { assertion } => {
                pairs.push(("client_assertion_type", urn::CLIENT_ASSERTION_TYPE_JWT_BEARER.into()));
                pairs.push(("client_assertion", assertion.clone()));
            }
            ClientAuthentication::None { client_id } => {
                pairs.push(("client_id", client_id.clone()))
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for ClientAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuthentication::SecretBasic { client_id, .. } => {
                f.debug_struct("SecretBasic").field("client_id", client_id).finish_non_exhaustive()
            }
            ClientAuthentication::SecretPost { client_id, .. } => {
                f.debug_struct("SecretPost").field("client_id", client_id).finish_non_exhaustive()
            }
            ClientAuthentication::PrivateKeyJwt { client_id, token_endpoint, .. } => f
                .debug_struct("PrivateKeyJwt")
                .field("client_id", client_id)
                .field("token_endpoint", token_endpoint)
                .finish_non_exhaustive(),
            ClientAuthentication::ClientAssertion { .. } => {
                f.debug_struct("ClientAssertion").finish_non_exhaustive()
            }
            ClientAuthentication::None { client_id } => {
                f.debug_struct("None").field("client_id", client_id).finish()
            }
        }
    }
}

/// RFC 6749 §2.3.1: the id and the secret are each form-encoded, joined by a colon, and the
/// result base64-encoded, so a colon or non-ASCII character in either survives.
fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    use base64::Engine as _;
    let encode =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(client_id), encode(client_secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials))
}

/// RFC 7523 §2.2 and §3: a client authentication assertion.
fn client_assertion(
    client_id: &str,
    token_endpoint: &str,
    signer: &dyn Signer,
    lifetime: u64,
    now: NumericDate,
) -> Result<String, ClientError> {
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::String(client_id.into()));
    claims.insert("sub".into(), Value::String(client_id.into()));
    claims.insert("aud".into(), Value::String(token_endpoint.into()));
    let jwt_id = random_jwt_id().map_err(|_| ClientError::SigningFailed)?;
    claims.insert("jti".into(), Value::String(jwt_id));
    claims.insert("iat".into(), Value::from(now.as_unix_seconds()));
    claims
        .insert("exp".into(), Value::from(now.saturating_add_seconds(lifetime).as_unix_seconds()));
    let payload = Value::Object(claims).to_string();
    sign_compact(signer, None, payload.as_bytes()).map_err(|_| ClientError::SigningFailed)
}
