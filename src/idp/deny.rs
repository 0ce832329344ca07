//! Why a token exchange was refused: one precise reason per denial, one wire error per reason.

use crate::claims::ClaimsError;
use crate::error::{ErrorResponse, WireError};
use crate::jose::JoseError;
use crate::scope::ScopeError;

/// The precise, stable reason the IdP refused a token exchange.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum DenyReason {
    /// The form body is over the size cap.
    BodyTooLarge,
    /// A parameter other than `resource` appears more than once (RFC 6749 §3.2).
    ParameterRepeated,
    /// No `grant_type`.
    GrantTypeMissing,
    /// A `grant_type` other than token exchange.
    GrantTypeUnsupported,
    /// No `requested_token_type` (draft §4.3 makes it REQUIRED).
    RequestedTokenTypeMissing,
    /// A `requested_token_type` this IdP does not issue.
    RequestedTokenTypeUnsupported,
    /// No `audience` (draft §4.3 makes it REQUIRED).
    AudienceMissing,
    /// A `resource` that is not an absolute URI without fragment (RFC 8707 §2).
    ResourceMalformed,
    /// The `scope` parameter breaks the RFC 6749 §3.3 grammar.
    ScopeMalformed(ScopeError),
    /// `authorization_details` is not a JSON array of objects with a `type` (RFC 9396 §2).
    AuthorizationDetailsMalformed,
    /// No `subject_token`.
    SubjectTokenMissing,
    /// No `subject_token_type`.
    SubjectTokenTypeMissing,
    /// A `subject_token_type` this IdP does not accept for this request.
    SubjectTokenTypeUnsupported,
    /// `actor_token` without `actor_token_type`, or the reverse (RFC 8693 §2.1).
    ActorTokenIncomplete,
    /// An `actor_token` and no host validator for it.
    ActorTokenUnsupported,
    /// The host's validator refused the actor token.
    ActorTokenRejected,
    /// The client is public (draft §9.1: confidential clients only).
    PublicClient,
    /// The ID token is not a well-formed, validly signed JWS from this IdP's keys.
    SubjectTokenJose(JoseError),
    /// The ID token's claims are malformed.
    SubjectTokenClaims(ClaimsError),
    /// The subject token's `typ` says it is something else (an ID-JAG, an access token, ...).
    SubjectTokenTypeConfusion,
    /// The ID token was not issued by this IdP.
    SubjectTokenIssuer,
    /// The subject token was not issued to the authenticated client (draft §4.3.1).
    SubjectTokenAudience,
    /// The subject token has expired.
    SubjectTokenExpired,
    /// The ID token's `iat` or `nbf` is in the future.
    SubjectTokenIssuedInFuture,
    /// The ID token is older than the configured maximum age.
    SubjectTokenTooOld,
    /// The host's validator refused the refresh token or SAML assertion.
    SubjectTokenRejected,
    /// The client is not a known agent.
    AgentUnknown,
    /// The agent is disabled (kill switch).
    AgentDisabled,
    /// `audience` names no resource authorization server this IdP knows.
    AudienceUnknown,
    /// No managed connection from this client to that audience.
    NoConnection,
    /// The managed connection is disabled (kill switch).
    ConnectionDisabled,
    /// The user is not in the directory.
    UserUnknown,
    /// The user is suspended (kill switch).
    UserSuspended,
    /// The user is not assigned to the resource app.
    UserNotAssigned,
    /// No requested `resource` is allowed by the connection.
    ResourceNotAllowed,
    /// No requested scope is allowed by the connection.
    ScopeNotAllowed,
    /// The request asks for scope the refresh token presented as subject token was not
    /// granted (RFC 6749 §6).
    ScopeBeyondSubjectToken,
    /// A multi-tenant IdP's directory names no tenant for the user: the ID-JAG could not name
    /// the user uniquely (draft §3, `iss` + `tenant` + `sub`).
    UserTenantMissing,
    /// No requested authorization detail type is allowed by the connection.
    AuthorizationDetailsNotAllowed,
    /// The user's authentication is too old or too weak for the connection (RFC 9470).
    StepUpRequired,
    /// The DPoP proof that came with the request is invalid (RFC 9449 §5).
    DpopProofInvalid(crate::dpop::DpopError),
    /// The signer failed.
    SigningFailed,
}

impl DenyReason {
    /// A stable, machine-readable reason code.
    pub fn code(self) -> &'static str {
        match self {
            DenyReason::BodyTooLarge => "body_too_large",
            DenyReason::ParameterRepeated => "parameter_repeated",
            DenyReason::GrantTypeMissing => "grant_type_missing",
            DenyReason::GrantTypeUnsupported => "grant_type_unsupported",
            DenyReason::RequestedTokenTypeMissing => "requested_token_type_missing",
            DenyReason::RequestedTokenTypeUnsupported => "requested_token_type_unsupported",
            DenyReason::AudienceMissing => "audience_missing",
            DenyReason::ResourceMalformed => "resource_malformed",
            DenyReason::ScopeMalformed(_) => "scope_malformed",
            DenyReason::AuthorizationDetailsMalformed => "authorization_details_malformed",
            DenyReason::SubjectTokenMissing => "subject_token_missing",
            DenyReason::SubjectTokenTypeMissing => "subject_token_type_missing",
            DenyReason::SubjectTokenTypeUnsupported => "subject_token_type_unsupported",
            DenyReason::ActorTokenIncomplete => "actor_token_incomplete",
            DenyReason::ActorTokenUnsupported => "actor_token_unsupported",
            DenyReason::ActorTokenRejected => "actor_token_rejected",
            DenyReason::PublicClient => "public_client",
            DenyReason::SubjectTokenJose(_) => "subject_token_invalid",
            DenyReason::SubjectTokenClaims(_) => "subject_token_claims",
            DenyReason::SubjectTokenTypeConfusion => "subject_token_type_confusion",
            DenyReason::SubjectTokenIssuer => "subject_token_issuer",
            DenyReason::SubjectTokenAudience => "subject_token_audience",
            DenyReason::SubjectTokenExpired => "subject_token_expired",
            DenyReason::SubjectTokenIssuedInFuture => "subject_token_iat_in_future",
            DenyReason::SubjectTokenTooOld => "subject_token_too_old",
            DenyReason::SubjectTokenRejected => "subject_token_rejected",
            DenyReason::AgentUnknown => "agent_unknown",
            DenyReason::AgentDisabled => "agent_disabled",
            DenyReason::AudienceUnknown => "audience_unknown",
            DenyReason::NoConnection => "no_connection",
            DenyReason::ConnectionDisabled => "connection_disabled",
            DenyReason::UserUnknown => "user_unknown",
            DenyReason::UserSuspended => "user_suspended",
            DenyReason::UserNotAssigned => "user_not_assigned",
            DenyReason::ResourceNotAllowed => "resource_not_allowed",
            DenyReason::ScopeNotAllowed => "scope_not_allowed",
            DenyReason::ScopeBeyondSubjectToken => "scope_beyond_subject_token",
            DenyReason::UserTenantMissing => "user_tenant_missing",
            DenyReason::AuthorizationDetailsNotAllowed => "authorization_details_not_allowed",
            DenyReason::StepUpRequired => "step_up_required",
            DenyReason::DpopProofInvalid(_) => "dpop_proof_invalid",
            DenyReason::SigningFailed => "signing_failed",
        }
    }

    /// The finer reason inside a subject-token failure, for logs: the JOSE or claims reason.
    pub fn detail(self) -> Option<&'static str> {
        match self {
            DenyReason::SubjectTokenJose(error) => Some(error.reason()),
            DenyReason::SubjectTokenClaims(error) => Some(error.reason()),
            DenyReason::ScopeMalformed(error) => Some(error.reason()),
            DenyReason::DpopProofInvalid(error) => Some(error.reason()),
            _ => None,
        }
    }

    /// Whether this is a refusal of the subject token itself, whose wire error is configurable
    /// (RFC 8693 §2.2.2 says `invalid_request`; some deployed IdPs say `invalid_grant`).
    pub fn is_bad_subject_token(self) -> bool {
        matches!(
            self,
            DenyReason::SubjectTokenJose(_)
                | DenyReason::SubjectTokenClaims(_)
                | DenyReason::SubjectTokenTypeConfusion
                | DenyReason::SubjectTokenIssuer
                | DenyReason::SubjectTokenAudience
                | DenyReason::SubjectTokenExpired
                | DenyReason::SubjectTokenIssuedInFuture
                | DenyReason::SubjectTokenTooOld
                | DenyReason::SubjectTokenRejected
        )
    }

    /// The wire error, with a bad subject token answered as `invalid_request` (RFC 8693).
    pub fn wire_error(self) -> WireError {
        match self {
            DenyReason::GrantTypeUnsupported => WireError::UnsupportedGrantType,
            DenyReason::ScopeMalformed(_)
            | DenyReason::ScopeNotAllowed
            | DenyReason::ScopeBeyondSubjectToken => WireError::InvalidScope,
            DenyReason::ResourceMalformed
            | DenyReason::AudienceUnknown
            | DenyReason::ResourceNotAllowed => WireError::InvalidTarget,
            DenyReason::AuthorizationDetailsMalformed
            | DenyReason::AuthorizationDetailsNotAllowed => WireError::InvalidAuthorizationDetails,
            DenyReason::PublicClient
            | DenyReason::AgentUnknown
            | DenyReason::AgentDisabled
            | DenyReason::NoConnection
            | DenyReason::ConnectionDisabled => WireError::UnauthorizedClient,
            DenyReason::UserUnknown
            | DenyReason::UserSuspended
            | DenyReason::UserNotAssigned
            | DenyReason::UserTenantMissing => WireError::InvalidGrant,
            DenyReason::StepUpRequired => WireError::InsufficientUserAuthentication,
            DenyReason::SigningFailed => WireError::ServerError,
            DenyReason::DpopProofInvalid(error) => error.wire_error(),
            _ => WireError::InvalidRequest,
        }
    }
}

impl std::fmt::Display for DenyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// What a step-up denial asks for (RFC 9470 §3).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StepUpChallenge {
    /// `max_age`: the user must have authenticated within this many seconds.
    pub max_age: Option<u64>,
    /// `acr_values`: space-separated acceptable authentication context classes.
    pub acr_values: Option<String>,
}

/// A refused token exchange.
#[derive(Clone, Debug)]
pub struct Denial {
    reason: DenyReason,
    wire_error: WireError,
    // Boxed: most denials carry no context, and a small error keeps `Result`s small.
    context: Box<DenialContext>,
}

#[derive(Clone, Debug, Default)]
struct DenialContext {
    step_up: Option<StepUpChallenge>,
    connection_id: Option<String>,
    subject: Option<String>,
}

impl Denial {
    pub(crate) fn new(reason: DenyReason) -> Self {
        Denial { reason, wire_error: reason.wire_error(), context: Box::default() }
    }

    pub(crate) fn with_wire_error(mut self, wire_error: WireError) -> Self {
        self.wire_error = wire_error;
        self
    }

    pub(crate) fn with_step_up(mut self, challenge: StepUpChallenge) -> Self {
        self.context.step_up = Some(challenge);
        self
    }

    pub(crate) fn with_context(
        mut self,
        connection_id: Option<&str>,
        subject: Option<&str>,
    ) -> Self {
        self.context.connection_id = connection_id.map(str::to_owned);
        self.context.subject = subject.map(str::to_owned);
        self
    }

    /// The precise reason.
    pub fn reason(&self) -> DenyReason {
        self.reason
    }

    /// The wire error.
    pub fn wire_error(&self) -> WireError {
        self.wire_error
    }

    /// The step-up challenge, for `insufficient_user_authentication`.
    pub fn step_up(&self) -> Option<&StepUpChallenge> {
        self.context.step_up.as_ref()
    }

    /// The managed connection that decided, when one was found.
    pub fn connection_id(&self) -> Option<&str> {
        self.context.connection_id.as_deref()
    }

    /// The user, when the subject token was valid.
    pub fn subject(&self) -> Option<&str> {
        self.context.subject.as_deref()
    }

    /// The error response to send (with `max_age`/`acr_values` for a step-up).
    pub fn error_response(&self) -> ErrorResponse {
        let mut response = ErrorResponse::new(self.wire_error);
        if let Some(challenge) = &self.context.step_up {
            response.max_age = challenge.max_age;
            response.acr_values = challenge.acr_values.clone();
        }
        response
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.wire_error, self.reason)
    }
}

impl std::error::Error for Denial {}

impl From<DenyReason> for Denial {
    fn from(reason: DenyReason) -> Self {
        Denial::new(reason)
    }
}
