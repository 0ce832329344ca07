//! Token exchange requests at the IdP (RFC 8693 §2.1, draft §4.3 and §4.5).

use serde_json::Value;

use super::{Denial, DenyReason};
use crate::claims::AuthorizationDetail;
use crate::form::{Form, FormError};
use crate::scope::Scope;
use crate::urn;

/// The kind of subject token a client presents.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubjectTokenType {
    /// An OpenID Connect ID token (draft §4.3: MUST be supported).
    IdToken,
    /// A refresh token this IdP issued (draft §4.3: MAY be supported).
    RefreshToken,
    /// A SAML 2.0 assertion.
    Saml2,
}

impl SubjectTokenType {
    /// Its token type URN.
    pub fn urn(self) -> &'static str {
        match self {
            SubjectTokenType::IdToken => urn::TOKEN_TYPE_ID_TOKEN,
            SubjectTokenType::RefreshToken => urn::TOKEN_TYPE_REFRESH_TOKEN,
            SubjectTokenType::Saml2 => urn::TOKEN_TYPE_SAML2,
        }
    }

    fn from_urn(value: &str) -> Option<Self> {
        [SubjectTokenType::IdToken, SubjectTokenType::RefreshToken, SubjectTokenType::Saml2]
            .into_iter()
            .find(|kind| kind.urn() == value)
    }
}

/// A token and its type, as presented. `Debug` hides the token.
#[derive(Clone)]
pub struct PresentedToken {
    token: String,
    token_type: String,
}

impl PresentedToken {
    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token type URN, as sent.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedToken")
            .field("token", &"<redacted>")
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// A token exchange request for an ID-JAG (draft §4.3).
#[derive(Clone, Debug)]
pub struct IdJagRequest {
    audience: String,
    resources: Vec<String>,
    scope: Option<Scope>,
    authorization_details: Option<Vec<AuthorizationDetail>>,
    subject_token: PresentedToken,
    subject_token_type: SubjectTokenType,
    actor_token: Option<PresentedToken>,
}

impl IdJagRequest {
    /// `audience`: the resource AS issuer (or an alias the IdP accepts).
    pub fn audience(&self) -> &str {
        &self.audience
    }
    /// `resource` values, in order.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }
    /// `scope`.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }
    /// `authorization_details`.
    pub fn authorization_details(&self) -> Option<&[AuthorizationDetail]> {
        self.authorization_details.as_deref()
    }
    /// `subject_token`.
    pub fn subject_token(&self) -> &str {
        self.subject_token.token()
    }
    /// `subject_token_type`.
    pub fn subject_token_type(&self) -> SubjectTokenType {
        self.subject_token_type
    }
    /// `actor_token` with its type.
    pub fn actor_token(&self) -> Option<&PresentedToken> {
        self.actor_token.as_ref()
    }
}

/// The first step of the SAML path (draft §4.5): a SAML 2.0 assertion exchanged for an IdP
/// refresh token, which then serves as the subject token of an ID-JAG request.
#[derive(Clone, Debug)]
pub struct SamlRefreshRequest {
    assertion: PresentedToken,
    scope: Option<Scope>,
}

impl SamlRefreshRequest {
    /// The SAML assertion (base64url of the XML, RFC 8693 §3).
    pub fn assertion(&self) -> &str {
        self.assertion.token()
    }
    /// `scope`; the draft's example asks for `openid offline_access`.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }
}

/// A parsed token exchange request.
#[derive(Clone, Debug)]
pub enum ExchangeRequest {
    /// For an ID-JAG.
    IdJag(IdJagRequest),
    /// A SAML assertion for a refresh token (draft §4.5).
    SamlRefresh(SamlRefreshRequest),
}

impl ExchangeRequest {
    /// Parse an `application/x-www-form-urlencoded` token exchange body.
    ///
    /// Refuses: a body over 64 KiB, any repeated parameter but `resource`, a missing
    /// `grant_type`, `requested_token_type`, `audience`, `subject_token` or
    /// `subject_token_type` (`invalid_request`); a foreign grant type
    /// (`unsupported_grant_type`); a malformed `resource` (`invalid_target`), `scope`
    /// (`invalid_scope`) or `authorization_details` (`invalid_authorization_details`); an
    /// `actor_token` without its type or the reverse.
    pub fn from_form(body: &[u8]) -> Result<Self, Denial> {
        let form = Form::parse(body, &["resource"]).map_err(|error| match error {
            FormError::TooLarge => DenyReason::BodyTooLarge,
            FormError::Repeated => DenyReason::ParameterRepeated,
        })?;
        match form.get("grant_type") {
            None => return Err(DenyReason::GrantTypeMissing.into()),
            Some(urn::GRANT_TYPE_TOKEN_EXCHANGE) => {}
            Some(_) => return Err(DenyReason::GrantTypeUnsupported.into()),
        }
        let scope = form
            .get("scope")
            .map(|text| Scope::parse(text).map_err(DenyReason::ScopeMalformed))
            .transpose()?;
        let subject_token = form.get("subject_token").ok_or(DenyReason::SubjectTokenMissing)?;
        let subject_token_type =
            form.get("subject_token_type").ok_or(DenyReason::SubjectTokenTypeMissing)?;
        let subject = PresentedToken {
            token: subject_token.to_owned(),
            token_type: subject_token_type.to_owned(),
        };
        let kind = SubjectTokenType::from_urn(subject_token_type)
            .ok_or(DenyReason::SubjectTokenTypeUnsupported)?;
        // RFC 8693 §2.1: actor_token_type is REQUIRED with actor_token and forbidden without.
        let actor_token = match (form.get("actor_token"), form.get("actor_token_type")) {
            (None, None) => None,
            (Some(token), Some(token_type)) => {
                Some(PresentedToken { token: token.to_owned(), token_type: token_type.to_owned() })
            }
            _ => return Err(DenyReason::ActorTokenIncomplete.into()),
        };

        match form.get("requested_token_type") {
            None => Err(DenyReason::RequestedTokenTypeMissing.into()),
            // draft §4.5: SAML assertion in, IdP refresh token out.
            Some(urn::TOKEN_TYPE_REFRESH_TOKEN) => {
                if kind != SubjectTokenType::Saml2 {
                    return Err(DenyReason::SubjectTokenTypeUnsupported.into());
                }
                // The refresh token is the user's own, not an agent's delegation: an actor has
                // no meaning here, and ignoring one would be a surprise.
                if actor_token.is_some() {
                    return Err(DenyReason::ActorTokenUnsupported.into());
                }
                Ok(ExchangeRequest::SamlRefresh(SamlRefreshRequest { assertion: subject, scope }))
            }
            Some(urn::TOKEN_TYPE_ID_JAG) => {
                let audience = form.get("audience").ok_or(DenyReason::AudienceMissing)?;
                let resources = form.all("resource");
                // RFC 8707 §2: an absolute URI without a fragment.
                for resource in &resources {
                    let valid = url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none());
                    if !valid {
                        return Err(DenyReason::ResourceMalformed.into());
                    }
                }
                // An empty array asks for nothing (RFC 9396 §2): taken as absent, so no
                // ID-JAG carries an empty `authorization_details`.
                let authorization_details = form
                    .get("authorization_details")
                    .map(parse_authorization_details)
                    .transpose()?
                    .filter(|details| !details.is_empty());
                Ok(ExchangeRequest::IdJag(IdJagRequest {
                    audience: audience.to_owned(),
                    resources,
                    scope,
                    authorization_details,
                    subject_token: subject,
                    subject_token_type: kind,
                    actor_token,
                }))
            }
            Some(_) => Err(DenyReason::RequestedTokenTypeUnsupported.into()),
        }
    }
}

/// RFC 9396 §2: a JSON array of objects, each with a string `type`.
fn parse_authorization_details(text: &str) -> Result<Vec<AuthorizationDetail>, DenyReason> {
    let malformed = DenyReason::AuthorizationDetailsMalformed;
    let Ok(Value::Array(items)) = crate::json::parse_value(text.as_bytes()) else {
        return Err(malformed);
    };
    items
        .into_iter()
        .map(|item| AuthorizationDetail::from_value(item).map_err(|_| malformed))
        .collect()
}
