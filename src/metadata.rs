//! Authorization server metadata fields for ID-JAG (draft §7, §8; RFC 8414).

use serde_json::{Map, Value};

use crate::urn;

/// RFC 8414 metadata of a resource authorization server that accepts ID-JAGs.
///
/// Advertising the grant profile always brings the jwt-bearer grant type with it (draft §8),
/// and nothing here can list the issuers the server trusts (draft §8 forbids revealing them).
#[derive(Clone, Debug)]
pub struct ResourceServerMetadata {
    issuer: String,
    token_endpoint: String,
    grant_types: Vec<String>,
    other: Map<String, Value>,
}

impl ResourceServerMetadata {
    /// Metadata for `issuer` with its `token_endpoint`, advertising the ID-JAG grant profile
    /// and the jwt-bearer grant type.
    pub fn new(issuer: impl Into<String>, token_endpoint: impl Into<String>) -> Self {
        ResourceServerMetadata {
            issuer: issuer.into(),
            token_endpoint: token_endpoint.into(),
            grant_types: vec![urn::GRANT_TYPE_JWT_BEARER.to_owned()],
            other: Map::new(),
        }
    }

    /// Add another grant type (`authorization_code`, `refresh_token`, ...).
    pub fn with_grant_type(mut self, grant_type: impl Into<String>) -> Self {
        let grant_type = grant_type.into();
        if !self.grant_types.contains(&grant_type) {
            self.grant_types.push(grant_type);
        }
        self
    }

    /// Add another metadata member. The members this type manages (`issuer`,
    /// `token_endpoint`, `grant_types_supported`, `authorization_grant_profiles_supported`)
    /// cannot be overridden this way.
    pub fn with_member(mut self, name: impl Into<String>, value: Value) -> Self {
        let name = name.into();
        let managed = [
            "issuer",
            "token_endpoint",
            "grant_types_supported",
            urn::METADATA_AUTHORIZATION_GRANT_PROFILES,
        ];
        if !managed.contains(&name.as_str()) {
            self.other.insert(name, value);
        }
        self
    }

    /// The metadata document.
    pub fn to_json(&self) -> Value {
        let mut document = Map::new();
        document.insert("issuer".to_owned(), Value::String(self.issuer.clone()));
        document.insert("token_endpoint".to_owned(), Value::String(self.token_endpoint.clone()));
        document.insert(
            "grant_types_supported".to_owned(),
            self.grant_types.iter().cloned().map(Value::String).collect(),
        );
        document.insert(
            urn::METADATA_AUTHORIZATION_GRANT_PROFILES.to_owned(),
            Value::Array(vec![Value::String(urn::GRANT_PROFILE_ID_JAG.to_owned())]),
        );
        document.extend(self.other.clone());
        Value::Object(document)
    }
}

/// RFC 8414 metadata of an IdP that issues ID-JAGs (draft §7): it lists the id-jag token type
/// in `identity_chaining_requested_token_types_supported` and the token-exchange grant type.
#[derive(Clone, Debug)]
pub struct IdpMetadata {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
    grant_types: Vec<String>,
}

impl IdpMetadata {
    /// Metadata for `issuer`, its `token_endpoint` and `jwks_uri`, advertising token exchange
    /// to ID-JAGs.
    pub fn new(
        issuer: impl Into<String>,
        token_endpoint: impl Into<String>,
        jwks_uri: impl Into<String>,
    ) -> Self {
        IdpMetadata {
            issuer: issuer.into(),
            token_endpoint: token_endpoint.into(),
            jwks_uri: jwks_uri.into(),
            grant_types: vec![urn::GRANT_TYPE_TOKEN_EXCHANGE.to_owned()],
        }
    }

    /// Add another grant type.
    pub fn with_grant_type(mut self, grant_type: impl Into<String>) -> Self {
        let grant_type = grant_type.into();
        if !self.grant_types.contains(&grant_type) {
            self.grant_types.push(grant_type);
        }
        self
    }

    /// The metadata document.
    pub fn to_json(&self) -> Value {
        let mut document = Map::new();
        document.insert("issuer".to_owned(), Value::String(self.issuer.clone()));
        document.insert("token_endpoint".to_owned(), Value::String(self.token_endpoint.clone()));
        document.insert("jwks_uri".to_owned(), Value::String(self.jwks_uri.clone()));
        document.insert(
            "grant_types_supported".to_owned(),
            self.grant_types.iter().cloned().map(Value::String).collect(),
        );
        document.insert(
            urn::METADATA_IDENTITY_CHAINING_REQUESTED_TOKEN_TYPES.to_owned(),
            Value::Array(vec![Value::String(urn::TOKEN_TYPE_ID_JAG.to_owned())]),
        );
        Value::Object(document)
    }
}
