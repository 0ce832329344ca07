//! Discovery: RFC 8414 authorization server metadata, RFC 9728 protected resource metadata,
//! and RFC 7591 client metadata advertising the ID-JAG profile (draft §7, §8).

use serde_json::{Map, Value};

use super::ClientError;
use crate::urn;

/// Metadata documents above this size are refused.
const MAX_METADATA: usize = 256 * 1024;

/// RFC 8414 authorization server metadata, as far as ID-JAG needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationServerMetadata {
    issuer: String,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    grant_types: Option<Vec<String>>,
    grant_profiles: Option<Vec<String>>,
    requested_token_types: Option<Vec<String>>,
    other: Map<String, Value>,
}

impl AuthorizationServerMetadata {
    /// Parse a metadata document fetched for `expected_issuer`. Its `issuer` must be exactly
    /// that string (RFC 8414 §3.3): no normalisation, a trailing slash matters.
    pub fn parse(document: &[u8], expected_issuer: &str) -> Result<Self, ClientError> {
        let mut members = parse_document(document)?;
        let issuer =
            string(&mut members, "issuer")?.ok_or(ClientError::MalformedResponse("issuer"))?;
        if issuer != expected_issuer {
            return Err(ClientError::MetadataIssuerMismatch);
        }
        Ok(AuthorizationServerMetadata {
            issuer,
            token_endpoint: string(&mut members, "token_endpoint")?,
            jwks_uri: string(&mut members, "jwks_uri")?,
            grant_types: strings(&mut members, "grant_types_supported")?,
            grant_profiles: strings(&mut members, urn::METADATA_AUTHORIZATION_GRANT_PROFILES)?,
            requested_token_types: strings(
                &mut members,
                urn::METADATA_IDENTITY_CHAINING_REQUESTED_TOKEN_TYPES,
            )?,
            other: members,
        })
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> Option<&str> {
        self.token_endpoint.as_deref()
    }

    /// The JWKS URI.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// `grant_types_supported`, defaulting to `authorization_code` and `implicit` when absent
    /// (RFC 8414 §2).
    pub fn grant_types(&self) -> Vec<&str> {
        match &self.grant_types {
            Some(types) => types.iter().map(String::as_str).collect(),
            None => vec!["authorization_code", "implicit"],
        }
    }

    /// Does this resource AS accept ID-JAGs? It must list the grant profile and the jwt-bearer
    /// grant type (draft §8).
    pub fn accepts_id_jag(&self) -> bool {
        let profile = self
            .grant_profiles
            .as_ref()
            .is_some_and(|profiles| profiles.iter().any(|p| p == urn::GRANT_PROFILE_ID_JAG));
        profile && self.grant_types().contains(&urn::GRANT_TYPE_JWT_BEARER)
    }

    /// Does this IdP issue ID-JAGs? It lists the id-jag token type (draft §7).
    pub fn issues_id_jag(&self) -> bool {
        let listed = self
            .requested_token_types
            .as_ref()
            .is_some_and(|types| types.iter().any(|t| t == urn::TOKEN_TYPE_ID_JAG));
        listed && self.grant_types().contains(&urn::GRANT_TYPE_TOKEN_EXCHANGE)
    }

    /// Any other member.
    pub fn member(&self, name: &str) -> Option<&Value> {
        self.other.get(name)
    }
}

/// RFC 9728 protected resource metadata, as far as ID-JAG needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtectedResourceMetadata {
    resource: String,
    authorization_servers: Vec<String>,
}

impl ProtectedResourceMetadata {
    /// Parse a document fetched for `expected_resource`; its `resource` must be exactly that
    /// (RFC 9728 §3.3).
    pub fn parse(document: &[u8], expected_resource: &str) -> Result<Self, ClientError> {
        let mut members = parse_document(document)?;
        let resource =
            string(&mut members, "resource")?.ok_or(ClientError::MalformedResponse("resource"))?;
        if resource != expected_resource {
            return Err(ClientError::MetadataIssuerMismatch);
        }
        let authorization_servers =
            strings(&mut members, "authorization_servers")?.unwrap_or_default();
        Ok(ProtectedResourceMetadata { resource, authorization_servers })
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The authorization servers' issuer identifiers.
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }
}

/// RFC 7591 client metadata for a client that uses ID-JAGs: advertising the grant profile
/// always lists both token exchange and jwt-bearer in `grant_types` (draft §8).
#[derive(Clone, Debug, Default)]
pub struct ClientMetadata {
    grant_types: Vec<String>,
    members: Map<String, Value>,
}

impl ClientMetadata {
    /// Client metadata advertising the ID-JAG profile.
    pub fn new() -> Self {
        ClientMetadata {
            grant_types: vec![
                urn::GRANT_TYPE_TOKEN_EXCHANGE.to_owned(),
                urn::GRANT_TYPE_JWT_BEARER.to_owned(),
            ],
            members: Map::new(),
        }
    }

    /// Add a grant type.
    pub fn with_grant_type(mut self, grant_type: impl Into<String>) -> Self {
        let grant_type = grant_type.into();
        if !self.grant_types.contains(&grant_type) {
            self.grant_types.push(grant_type);
        }
        self
    }

    /// Set a member (`client_name`, `jwks_uri`, `token_endpoint_auth_method`, ...). The
    /// members this type manages (`grant_types`, `authorization_grant_profiles_supported`)
    /// cannot be set this way.
    pub fn with_member(mut self, name: impl Into<String>, value: Value) -> Self {
        let name = name.into();
        if name != "grant_types" && name != urn::METADATA_AUTHORIZATION_GRANT_PROFILES {
            self.members.insert(name, value);
        }
        self
    }

    /// The metadata document.
    pub fn to_json(&self) -> Value {
        let mut document = self.members.clone();
        document.insert(
            "grant_types".to_owned(),
            self.grant_types.iter().cloned().map(Value::String).collect(),
        );
        document.insert(
            urn::METADATA_AUTHORIZATION_GRANT_PROFILES.to_owned(),
            Value::Array(vec![Value::String(urn::GRANT_PROFILE_ID_JAG.to_owned())]),
        );
        Value::Object(document)
    }
}

fn parse_document(document: &[u8]) -> Result<Map<String, Value>, ClientError> {
    if document.len() > MAX_METADATA {
        return Err(ClientError::MalformedResponse("body"));
    }
    crate::json::parse_object(document).map_err(|_| ClientError::MalformedResponse("body"))
}

fn string(m: &mut Map<String, Value>, name: &'static str) -> Result<Option<String>, ClientError> {
    match m.remove(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ClientError::MalformedResponse(name)),
    }
}

fn strings(
    m: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<Vec<String>>, ClientError> {
    match m.remove(name) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(ClientError::MalformedResponse(name)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ClientError::MalformedResponse(name)),
    }
}
