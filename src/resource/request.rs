//! The jwt-bearer token request (RFC 7523 §2.1, draft §4.4).

use super::{RejectReason, Rejection};
use crate::form::{Form, FormError};
use crate::scope::Scope;
use crate::urn;

/// A parsed jwt-bearer token request. Its `Debug` output never shows the assertion: an ID-JAG
/// is a bearer credential.
#[derive(Clone)]
pub struct JwtBearerRequest {
    assertion: String,
    scope: Option<Scope>,
    dpop_grant: bool,
}

impl JwtBearerRequest {
    /// A request from its parts.
    pub fn new(assertion: impl Into<String>, scope: Option<Scope>) -> Self {
        JwtBearerRequest { assertion: assertion.into(), scope, dpop_grant: false }
    }

    /// Parse an `application/x-www-form-urlencoded` body.
    ///
    /// Refuses a body over 64 KiB and a repeated parameter (`invalid_request`), a missing
    /// `grant_type` or `assertion` (`invalid_request`), a grant type other than jwt-bearer
    /// (`unsupported_grant_type`; the draft's `jwt-dpop` grant type is accepted, and then a
    /// DPoP proof is required) and a malformed `scope` (`invalid_scope`). Client
    /// authentication parameters are the host's and are ignored here, as are unknown ones
    /// (RFC 6749 §3.2).
    pub fn from_form(body: &[u8]) -> Result<Self, Rejection> {
        let form = Form::parse(body, &[]).map_err(|error| match error {
            FormError::TooLarge => RejectReason::BodyTooLarge,
            FormError::Repeated => RejectReason::ParameterRepeated,
        })?;
        let dpop_grant = match form.get("grant_type") {
            None => return Err(RejectReason::GrantTypeMissing.into()),
            Some(urn::GRANT_TYPE_JWT_BEARER) => false,
            Some(urn::GRANT_TYPE_JWT_DPOP) => true,
            Some(_) => return Err(RejectReason::GrantTypeUnsupported.into()),
        };
        let assertion = form.get("assertion").ok_or(RejectReason::AssertionMissing)?;
        let scope = form
            .get("scope")
            .map(|text| Scope::parse(text).map_err(RejectReason::ScopeMalformed))
            .transpose()?;
        Ok(JwtBearerRequest { assertion: assertion.to_owned(), scope, dpop_grant })
    }

    /// The assertion (the ID-JAG).
    pub fn assertion(&self) -> &str {
        &self.assertion
    }

    /// The requested scope.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// Whether the grant type was the draft's `jwt-dpop` (§9.8), which requires a DPoP proof.
    pub fn is_dpop_grant(&self) -> bool {
        self.dpop_grant
    }
}

impl std::fmt::Debug for JwtBearerRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtBearerRequest")
            .field("assertion", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}
