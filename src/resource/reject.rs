//! Why a redemption was refused: one precise reason per failure, one wire error per reason.

use crate::claims::{ClaimsError, IdJagClaims};
use crate::error::{ErrorResponse, WireError};
use crate::jose::JoseError;
use crate::scope::ScopeError;

/// The precise, stable reason a jwt-bearer redemption was refused.
///
/// Reasons are for logs, metrics and audit records. The wire sees only
/// [`RejectReason::wire_error`], which is `invalid_grant` for every failure of the assertion
/// itself, so the response is no oracle for which issuers, keys or users exist.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum RejectReason {
    /// The form body is over the size cap.
    BodyTooLarge,
    /// A request parameter appears more than once (RFC 6749 §3.2).
    ParameterRepeated,
    /// No `grant_type`.
    GrantTypeMissing,
    /// A `grant_type` other than jwt-bearer.
    GrantTypeUnsupported,
    /// No `assertion` (RFC 7523 §2.1).
    AssertionMissing,
    /// The `scope` parameter breaks the RFC 6749 §3.3 grammar.
    ScopeMalformed(ScopeError),
    /// The client is public and public clients are not allowed (draft §9.1).
    PublicClient,
    /// The compact JWS is malformed, its header breaks a rule, or its signature fails.
    Jose(JoseError),
    /// The claim set is malformed.
    Claims(ClaimsError),
    /// `typ` is not `oauth-id-jag+jwt` (draft §3).
    TypMismatch,
    /// `iss` is not a configured trusted issuer.
    IssuerUntrusted,
    /// `iss` is configured but disabled.
    IssuerDisabled,
    /// `iss` is this resource AS itself, not configured as crossing a trust domain (draft §9.3).
    IssuerIsSelf,
    /// `alg` is not among the issuer's allowed algorithms.
    AlgorithmNotAllowedForIssuer,
    /// `aud` is not exactly this resource AS's issuer identifier (draft §4.4.1).
    AudienceMismatch,
    /// `aud` is an array of more than one element; any-of matching is never done.
    AudienceMultiple,
    /// `exp` has passed, leeway included.
    Expired,
    /// `nbf` is still ahead, leeway included.
    NotYetValid,
    /// `iat` is in the future, leeway included.
    IssuedInFuture,
    /// `exp` is not after `iat`.
    LifetimeInvalid,
    /// `exp - iat` exceeds the issuer's maximum ID-JAG lifetime.
    LifetimeExceeded,
    /// `client_id` is not the authenticated client (draft §4.4.1).
    ClientIdMismatch,
    /// The authenticated client is not in the issuer's client allow-list.
    ClientNotAllowed,
    /// `tenant` is not the tenant pinned for the issuer.
    TenantMismatch,
    /// `act` is present and the issuer is not configured to accept actors.
    ActorRefused,
    /// `cnf` is present without `jkt` (a binding other than DPoP, such as mTLS): refused, so a
    /// bound token is never redeemed as a bearer one.
    ConfirmationUnsupported,
    /// The DPoP proof that came with the request is invalid (RFC 9449 §5).
    DpopProofInvalid(crate::dpop::DpopError),
    /// The ID-JAG is bound (`cnf.jkt`) or the grant type is jwt-dpop, and no proof came
    /// (draft §9.8).
    DpopProofMissing,
    /// The proof's key is not the one the ID-JAG is bound to (draft §9.8).
    DpopKeyMismatch,
    /// This resource AS requires sender-constrained tokens and the request has no proof.
    SenderConstraintRequired,
    /// `authorization_details` is present and the host's policy refused it.
    AuthorizationDetailsRefused,
    /// A `resource` of the ID-JAG is not one this resource AS serves.
    ResourceNotServed,
    /// The (`iss`, `jti`) pair was already redeemed.
    Replayed,
    /// The replay store is full of live records.
    ReplayStoreFull,
    /// The replay store could not be reached; the redemption fails closed.
    ReplayStoreUnavailable,
    /// The host skipped the replay check that the single-use policy requires.
    ReplayNotChecked,
    /// The subject does not resolve to an account here.
    SubjectUnknown,
    /// The subject's account here is disabled.
    SubjectDisabled,
    /// The requested scope is not within the ID-JAG's scope.
    ScopeNotGranted,
    /// Nothing of the scope remains after the host's policy.
    ScopeEmpty,
}

impl RejectReason {
    /// A stable, machine-readable reason code.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::BodyTooLarge => "body_too_large",
            RejectReason::ParameterRepeated => "parameter_repeated",
            RejectReason::GrantTypeMissing => "grant_type_missing",
            RejectReason::GrantTypeUnsupported => "grant_type_unsupported",
            RejectReason::AssertionMissing => "assertion_missing",
            RejectReason::ScopeMalformed(_) => "scope_malformed",
            RejectReason::PublicClient => "public_client",
            RejectReason::Jose(error) => error.reason(),
            RejectReason::Claims(error) => error.reason(),
            RejectReason::TypMismatch => "typ_mismatch",
            RejectReason::IssuerUntrusted => "issuer_untrusted",
            RejectReason::IssuerDisabled => "issuer_disabled",
            RejectReason::IssuerIsSelf => "issuer_is_self",
            RejectReason::AlgorithmNotAllowedForIssuer => "alg_not_allowed_for_issuer",
            RejectReason::AudienceMismatch => "aud_mismatch",
            RejectReason::AudienceMultiple => "aud_multiple",
            RejectReason::Expired => "expired",
            RejectReason::NotYetValid => "not_yet_valid",
            RejectReason::IssuedInFuture => "iat_in_future",
            RejectReason::LifetimeInvalid => "lifetime_invalid",
            RejectReason::LifetimeExceeded => "lifetime_exceeded",
            RejectReason::ClientIdMismatch => "client_id_mismatch",
            RejectReason::ClientNotAllowed => "client_not_allowed",
            RejectReason::TenantMismatch => "tenant_mismatch",
            RejectReason::ActorRefused => "actor_refused",
            RejectReason::ConfirmationUnsupported => "cnf_unsupported",
            RejectReason::DpopProofInvalid(error) => error.reason(),
            RejectReason::DpopProofMissing => "dpop_proof_missing",
            RejectReason::DpopKeyMismatch => "dpop_key_mismatch",
            RejectReason::SenderConstraintRequired => "sender_constraint_required",
            RejectReason::AuthorizationDetailsRefused => "authorization_details_refused",
            RejectReason::ResourceNotServed => "resource_not_served",
            RejectReason::Replayed => "replayed",
            RejectReason::ReplayStoreFull => "replay_store_full",
            RejectReason::ReplayStoreUnavailable => "replay_store_unavailable",
            RejectReason::ReplayNotChecked => "replay_not_checked",
            RejectReason::SubjectUnknown => "subject_unknown",
            RejectReason::SubjectDisabled => "subject_disabled",
            RejectReason::ScopeNotGranted => "scope_not_granted",
            RejectReason::ScopeEmpty => "scope_empty",
        }
    }

    /// The error code for the wire.
    pub fn wire_error(self) -> WireError {
        match self {
            RejectReason::BodyTooLarge
            | RejectReason::ParameterRepeated
            | RejectReason::GrantTypeMissing
            | RejectReason::AssertionMissing => WireError::InvalidRequest,
            RejectReason::GrantTypeUnsupported => WireError::UnsupportedGrantType,
            RejectReason::ScopeMalformed(_)
            | RejectReason::ScopeNotGranted
            | RejectReason::ScopeEmpty => WireError::InvalidScope,
            RejectReason::PublicClient => WireError::UnauthorizedClient,
            RejectReason::ReplayStoreFull => WireError::TemporarilyUnavailable,
            RejectReason::DpopProofInvalid(error) => error.wire_error(),
            RejectReason::ReplayStoreUnavailable | RejectReason::ReplayNotChecked => {
                WireError::ServerError
            }
            // RFC 7521 §5.2, draft §4.4: every failure of the assertion is invalid_grant.
            _ => WireError::InvalidGrant,
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused redemption: the reason, whether the host may refetch the issuer's keys, and what
/// was read from the assertion (for the audit record; unverified unless the signature passed).
#[derive(Clone, Debug)]
pub struct Rejection {
    reason: RejectReason,
    may_refetch_keys: bool,
    claims: Option<Box<IdJagClaims>>,
    signature_verified: bool,
}

impl Rejection {
    pub(crate) fn new(reason: RejectReason) -> Self {
        Rejection { reason, may_refetch_keys: false, claims: None, signature_verified: false }
    }

    pub(crate) fn with_claims(mut self, claims: &IdJagClaims, signature_verified: bool) -> Self {
        self.claims = Some(Box::new(claims.clone()));
        self.signature_verified = signature_verified;
        self
    }

    pub(crate) fn allowing_key_refetch(mut self) -> Self {
        self.may_refetch_keys = true;
        self
    }

    /// The precise reason.
    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    /// Whether the host may fetch the issuer's JWKS again now and retry: true only when the
    /// token named a `kid` the issuer's set lacks and the issuer's refetch cooldown has passed.
    pub fn may_refetch_keys(&self) -> bool {
        self.may_refetch_keys
    }

    /// The claims read from the assertion, when it got that far.
    pub fn claims(&self) -> Option<&IdJagClaims> {
        self.claims.as_deref()
    }

    /// Whether the claims above were signed by a trusted issuer's key.
    pub fn signature_verified(&self) -> bool {
        self.signature_verified
    }

    /// The wire error code.
    pub fn wire_error(&self) -> WireError {
        self.reason.wire_error()
    }

    /// The error response to send: the wire code and its generic description only.
    pub fn error_response(&self) -> ErrorResponse {
        ErrorResponse::new(self.wire_error())
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.wire_error(), self.reason)
    }
}

impl std::error::Error for Rejection {}

impl From<RejectReason> for Rejection {
    fn from(reason: RejectReason) -> Self {
        Rejection::new(reason)
    }
}
