//! The client as the host's client authentication established it.

/// A client the host has authenticated at its token endpoint, or a public client that sent
/// only its `client_id`. The crate never authenticates clients itself.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AuthenticatedClient {
    client_id: String,
    confidential: bool,
}

impl AuthenticatedClient {
    /// A confidential client that authenticated (`private_key_jwt`, `client_secret_*`, mTLS).
    pub fn confidential(client_id: impl Into<String>) -> Self {
        AuthenticatedClient { client_id: client_id.into(), confidential: true }
    }

    /// A public client: identified, not authenticated. Refused unless explicitly allowed.
    pub fn public(client_id: impl Into<String>) -> Self {
        AuthenticatedClient { client_id: client_id.into(), confidential: false }
    }

    /// The client identifier at this server.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Whether the client authenticated.
    pub fn is_confidential(&self) -> bool {
        self.confidential
    }
}
