//! Audit records: one per decision, at the IdP and at the resource AS, serializable to one JSON
//! line. They carry identifiers and reason codes, never tokens, secrets or keys.

use serde::Serialize;

use crate::NumericDate;

/// What happened.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditEvent {
    /// The resource AS accepted an ID-JAG.
    IdJagRedeemed,
    /// The resource AS refused an ID-JAG.
    IdJagRejected,
    /// The IdP issued an ID-JAG.
    IdJagIssued,
    /// The IdP issued a refresh token for a SAML assertion (draft §4.5).
    RefreshTokenIssued,
    /// The IdP refused a token exchange.
    ExchangeDenied,
}

/// One decision, for the trail an admin reads after an incident.
///
/// Strings taken from a token are serialized as JSON strings, so they cannot break the line
/// format. `claims_verified` says whether they came from a verified signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// When, as the host's clock said.
    pub time: NumericDate,
    /// What happened.
    pub event: AuditEvent,
    /// The IdP's issuer identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The user, as the issuer of the decision names them: the IdP's own user id in IdP
    /// records (even when the ID-JAG carries a pairwise `sub`), the ID-JAG's `sub` in resource
    /// AS records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The user's account at the resource app, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The agent (client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The actor (`act.sub`), when an agent acts for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The resource app's authorization server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The resources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// The resources the request asked for, at the IdP; `resource` holds those decided on, so a
    /// narrowed request shows what was dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requested_resource: Vec<String>,
    /// The scope asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_scope: Option<String>,
    /// The scope granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_scope: Option<String>,
    /// The managed connection that decided (IdP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_connection: Option<String>,
    /// The ID-JAG's `jti`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_id: Option<String>,
    /// The stable reason code, for a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The wire error sent, for a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire_error: Option<&'static str>,
    /// Whether the identifiers above come from a verified signature.
    pub claims_verified: bool,
}

impl AuditRecord {
    /// An empty record of `event` at `time`.
    pub fn new(event: AuditEvent, time: NumericDate) -> Self {
        AuditRecord {
            time,
            event,
            issuer: None,
            subject: None,
            account: None,
            client_id: None,
            actor: None,
            audience: None,
            resource: Vec::new(),
            requested_resource: Vec::new(),
            requested_scope: None,
            granted_scope: None,
            managed_connection: None,
            jwt_id: None,
            reason: None,
            wire_error: None,
            claims_verified: false,
        }
    }

    /// The record as one line of JSON, without a trailing newline.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
