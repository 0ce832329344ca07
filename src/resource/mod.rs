//! The resource authorization server: redeem ID-JAGs through the JWT bearer grant
//! (draft §4.4, RFC 7523, RFC 7521 §5.2).
//!
//! Verification runs in the order of the design notes: cheap structure first, trust before
//! cryptography, cryptography before claims.
//!
//! 1. size cap, three canonical base64url segments, JSON objects without duplicate members;
//! 2. header: `alg` in the allow-list, `typ` is `oauth-id-jag+jwt`, no `crit`, no embedded keys;
//! 3. `iss` bound to a configured, enabled trusted issuer (never this server itself);
//! 4. key chosen from that issuer's set by `kid`;
//! 5. signature;
//! 6. `aud`, `exp`/`nbf`/`iat` and the lifetime cap, `client_id`, tenant, client allow-list,
//!    `act`, `cnf`;
//! 7. replay on (`iss`, `jti`), then subject resolution, `authorization_details`, resource and
//!    scope narrowing.
//!
//! Every failure of the assertion is `invalid_grant` on the wire; the precise
//! [`RejectReason`] goes to logs and audit records only.
//!
//! Two ways in, one engine:
//! - staged, for hosts whose stores are async or remote: [`ResourceServer::parse`], then
//!   [`ResourceServer::verify`] with the issuer the host looked up, then
//!   [`CheckedIdJag::finish`] with the host's replay verdict, then [`ResourceServer::grant`]
//!   with the host's subject resolution;
//! - one call, [`ResourceServer::redeem`], over the small traits in [`RedeemHosts`].
//!
//! ```
//! use std::sync::Arc;
//! use id_jag::NumericDate;
//! use id_jag::authenticated::AuthenticatedClient;
//! use id_jag::claims::{IdJagClaims, RequiredClaims};
//! use id_jag::jose::{Algorithm, KeySet, SigningKey, sign_compact};
//! use id_jag::resource::*;
//! use id_jag::scope::Scope;
//!
//! // The IdP's key, as the resource AS knows it from the IdP's JWKS.
//! let idp_key = SigningKey::generate(Algorithm::Es256)?;
//! let issuers = TrustedIssuers::new();
//! let idp_keys = KeySet::new(vec![idp_key.verification_key().clone()])?;
//! issuers.insert(TrustedIssuer::new("https://idp.example.com", idp_keys));
//! let subjects = MemorySubjects::new();
//! subjects.link(
//!     SubjectKey { issuer: "https://idp.example.com".into(), tenant: None, subject: "u1".into() },
//!     "account-42",
//! );
//! let replay = MemoryReplayGuard::new(100_000);
//! let policy = AllowAll;
//! let hosts =
//!     RedeemHosts { issuers: &issuers, replay: &replay, subjects: &subjects, policy: &policy };
//! let server = ResourceServer::new(ResourceServerConfig::new("https://as.expenses.example"));
//!
//! // An ID-JAG the IdP issued to the agent.
//! let now = NumericDate::from_unix_seconds(1_764_000_000)?;
//! let claims = IdJagClaims::builder(RequiredClaims {
//!     issuer: "https://idp.example.com".into(),
//!     subject: "u1".into(),
//!     audience: "https://as.expenses.example".into(),
//!     client_id: "aria".into(),
//!     jwt_id: "jti-1".into(),
//!     issued_at: now,
//!     expires_at: now.saturating_add_seconds(300),
//! })
//! .scope(Scope::parse("expenses.read expenses.write")?)
//! .build()?;
//! let id_jag = sign_compact(&idp_key, Some("oauth-id-jag+jwt"), claims.to_json().as_bytes())?;
//!
//! let body = format!(
//!     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
//!      &assertion={id_jag}&scope=expenses.read"
//! );
//! let client = AuthenticatedClient::confidential("aria");
//! let redemption = server.redeem(&hosts, body.as_bytes(), &client, now);
//! let grant = redemption.outcome?;
//! assert_eq!(grant.account(), "account-42");
//! assert_eq!(grant.scope().map(|s| s.to_string()).as_deref(), Some("expenses.read"));
//! println!("{}", redemption.audit.to_json_line());
//!
//! // The same ID-JAG again: replayed.
//! let again = server.redeem(&hosts, body.as_bytes(), &client, now);
//! assert_eq!(again.outcome.unwrap_err().reason(), RejectReason::Replayed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "redis")]
mod redis_replay;
mod reject;
mod replay;
mod request;
mod subject;
mod token;
mod trust;

use std::sync::Arc;

#[cfg(feature = "redis")]
pub use redis_replay::RedisReplayGuard;
pub use reject::{RejectReason, Rejection};
pub use replay::{MemoryReplayGuard, ReplayError, ReplayGuard, ReplayVerdict};
pub use request::JwtBearerRequest;
pub use subject::{
    MemorySubjects, SubjectIdentity, SubjectKey, SubjectResolution, SubjectResolver,
};
pub use token::{
    AccessTokenError, AccessTokenIssuer, AccessTokenVerifier, IssuedAccessToken,
    VerifiedAccessToken,
};
pub use trust::{TrustedIssuer, TrustedIssuerStore, TrustedIssuers};

use crate::NumericDate;
use crate::audit::{AuditEvent, AuditRecord};
use crate::authenticated::AuthenticatedClient;
use crate::claims::{AuthorizationDetail, ClaimsError, IdJagClaims, SubjectIdentifier};
use crate::jose::{AlgorithmSet, CompactJws, JoseError, ParseOptions};
use crate::scope::Scope;
use crate::urn;

/// Whether an ID-JAG may be redeemed more than once (draft §4.4.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReplayPolicy {
    /// Each (`iss`, `jti`) redeems once; the default, and a MUST in the MCP enterprise
    /// profile. A stolen ID-JAG is worthless once its client has used it.
    #[default]
    SingleUse,
    /// The client may re-present an unexpired ID-JAG for a new access token, as draft §4.4.3
    /// allows. Cheaper for clients (no new exchange at the IdP), but a stolen ID-JAG then works
    /// until it expires, and the IdP's kill switches only bite at its next issuance.
    AllowRepresentation,
}

/// The resource AS's own settings.
#[derive(Clone, Debug)]
pub struct ResourceServerConfig {
    issuer: String,
    algorithms: AlgorithmSet,
    max_token_len: usize,
    replay_policy: ReplayPolicy,
    allow_public_clients: bool,
    served_resources: Vec<String>,
    sender_constraint_required: bool,
}

impl ResourceServerConfig {
    /// Settings for the resource AS whose issuer identifier is `issuer`: every asymmetric
    /// algorithm, 16 KiB tokens, single use, confidential clients only, and no `resource`
    /// served (an ID-JAG naming one is refused until resources are configured).
    pub fn new(issuer: impl Into<String>) -> Self {
        ResourceServerConfig {
            issuer: issuer.into(),
            algorithms: AlgorithmSet::all(),
            max_token_len: ParseOptions::DEFAULT_MAX_LEN,
            replay_policy: ReplayPolicy::SingleUse,
            allow_public_clients: false,
            served_resources: Vec::new(),
            sender_constraint_required: false,
        }
    }

    /// Require sender-constrained tokens: a request without a DPoP proof is refused, even for
    /// an unbound ID-JAG. Off by default (draft §9.8: bearer when neither side binds).
    pub fn with_sender_constraint_required(mut self, required: bool) -> Self {
        self.sender_constraint_required = required;
        self
    }

    /// Algorithms accepted from any issuer (each issuer may narrow them further).
    pub fn with_algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// Size cap of an assertion, in bytes.
    pub fn with_max_token_len(mut self, max_len: usize) -> Self {
        self.max_token_len = max_len;
        self
    }

    /// The replay policy; see [`ReplayPolicy`] for the trade-off.
    pub fn with_replay_policy(mut self, policy: ReplayPolicy) -> Self {
        self.replay_policy = policy;
        self
    }

    /// Accept public clients. The draft (§9.1) expects confidential clients only: a public
    /// client cannot prove it is the `client_id` the ID-JAG names.
    pub fn with_public_clients_allowed(mut self, allowed: bool) -> Self {
        self.allow_public_clients = allowed;
        self
    }

    /// The resource indicators this resource AS serves (RFC 8707), compared exactly. The first
    /// is the default audience of access tokens when the ID-JAG names no resource.
    pub fn with_served_resources<I, S>(mut self, resources: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.served_resources = resources.into_iter().map(Into::into).collect();
        self
    }

    /// This resource AS's issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// The host's policy over what an ID-JAG may grant here.
pub trait GrantPolicy: Send + Sync {
    /// The most scope this client may get for this subject; `None` means no limit beyond the
    /// ID-JAG's own scope.
    fn scope_ceiling(&self, id_jag: &VerifiedIdJag, client: &AuthenticatedClient) -> Option<Scope> {
        let _ = (id_jag, client);
        None
    }

    /// Accept (possibly narrowed) the ID-JAG's `authorization_details`, or refuse them with
    /// `None`. The default refuses: a host that does not understand a detail type must not
    /// grant it.
    fn authorization_details(
        &self,
        details: &[AuthorizationDetail],
    ) -> Option<Vec<AuthorizationDetail>> {
        let _ = details;
        None
    }
}

/// A [`GrantPolicy`] that limits nothing beyond the ID-JAG itself and refuses
/// `authorization_details`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl GrantPolicy for AllowAll {}

/// An ID-JAG parsed from the wire, nothing about it trusted yet.
#[derive(Debug)]
pub struct UnverifiedIdJag<'a> {
    jws: CompactJws<'a>,
    claims: IdJagClaims,
}

impl UnverifiedIdJag<'_> {
    /// The unverified `iss`, for the host to look up its trust configuration.
    pub fn issuer(&self) -> &str {
        self.claims.issuer()
    }

    /// The unverified `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.jws.header().kid()
    }
}

/// An ID-JAG whose signature and claims passed; the replay check is still to come.
#[derive(Debug)]
pub struct CheckedIdJag {
    claims: IdJagClaims,
    dpop_jkt: Option<String>,
    keep_until: NumericDate,
    replay_policy: ReplayPolicy,
    issuer: Arc<TrustedIssuer>,
}

impl CheckedIdJag {
    /// The verified claims.
    pub fn claims(&self) -> &IdJagClaims {
        &self.claims
    }

    /// Whether [`CheckedIdJag::finish`] needs a replay verdict (single-use policy).
    pub fn needs_replay_check(&self) -> bool {
        self.replay_policy == ReplayPolicy::SingleUse
    }

    /// Until when the replay record must be kept: `exp` plus the issuer's leeway, so that it
    /// never expires before the token does.
    pub fn replay_keep_until(&self) -> NumericDate {
        self.keep_until
    }

    /// Run the replay check against `guard` and finish.
    pub fn finish_with(
        self,
        guard: &dyn ReplayGuard,
        now: NumericDate,
    ) -> Result<VerifiedIdJag, Rejection> {
        let verdict = self.needs_replay_check().then(|| {
            guard.check_and_record(self.claims.issuer(), self.claims.jwt_id(), self.keep_until, now)
        });
        self.finish(verdict)
    }

    /// Finish with the host's replay verdict for (`iss`, `jti`) kept until
    /// [`CheckedIdJag::replay_keep_until`]. Under the single-use policy a missing verdict is
    /// refused ([`RejectReason::ReplayNotChecked`]); a replay or a store failure always is.
    pub fn finish(
        self,
        verdict: Option<Result<ReplayVerdict, ReplayError>>,
    ) -> Result<VerifiedIdJag, Rejection> {
        let refusal = match verdict {
            Some(Ok(ReplayVerdict::Fresh)) => None,
            None if !self.needs_replay_check() => None,
            None => Some(RejectReason::ReplayNotChecked),
            Some(Ok(ReplayVerdict::Replayed)) => Some(RejectReason::Replayed),
            Some(Err(ReplayError::Full)) => Some(RejectReason::ReplayStoreFull),
            Some(Err(ReplayError::Unavailable)) => Some(RejectReason::ReplayStoreUnavailable),
        };
        if let Some(reason) = refusal {
            return Err(Rejection::new(reason).with_claims(&self.claims, true));
        }
        Ok(VerifiedIdJag { claims: self.claims, dpop_jkt: self.dpop_jkt, issuer: self.issuer })
    }
}

/// An ID-JAG that passed every check of draft §4.4 and RFC 7523 §3, replay included. Only the
/// verifier constructs one.
#[derive(Debug)]
pub struct VerifiedIdJag {
    claims: IdJagClaims,
    dpop_jkt: Option<String>,
    issuer: Arc<TrustedIssuer>,
}

impl VerifiedIdJag {
    /// The verified claims.
    pub fn claims(&self) -> &IdJagClaims {
        &self.claims
    }

    /// The DPoP key thumbprint the access token must be bound to, when a proof came.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// What the ID-JAG says about its user, within what the issuer's configuration lets be
    /// used: `sub_id` only when its SAML issuer is associated with this IdP (draft §3.2.2).
    pub fn subject_identity(&self) -> SubjectIdentity<'_> {
        let saml = match self.claims.sub_id() {
            Some(SubjectIdentifier::SamlNameId(id))
                if self.issuer.is_associated_saml_issuer(&id.issuer) =>
            {
                Some(id)
            }
            _ => None,
        };
        SubjectIdentity::new(&self.claims, saml, self.issuer.allows_nameid_alone())
    }
}

/// What a redemption grants: issue an access token from this.
#[derive(Debug)]
pub struct Grant {
    id_jag: VerifiedIdJag,
    account: String,
    client_id: String,
    scope: Option<Scope>,
    resources: Vec<String>,
    authorization_details: Option<Vec<AuthorizationDetail>>,
}

impl Grant {
    /// The verified ID-JAG.
    pub fn id_jag(&self) -> &VerifiedIdJag {
        &self.id_jag
    }

    /// The subject's account here.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The client.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The granted scope (report it in the token response).
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// The granted resources: the access token's audience.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// The granted authorization details.
    pub fn authorization_details(&self) -> Option<&[AuthorizationDetail]> {
        self.authorization_details.as_deref()
    }

    /// The DPoP key thumbprint the access token is bound to (`token_type` `DPoP`), if any.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.id_jag.dpop_jkt()
    }
}

/// The host's stores and policy, for [`ResourceServer::redeem`].
#[derive(Clone, Copy)]
pub struct RedeemHosts<'a> {
    /// The trusted issuers.
    pub issuers: &'a dyn TrustedIssuerStore,
    /// The replay guard.
    pub replay: &'a dyn ReplayGuard,
    /// The account directory.
    pub subjects: &'a dyn SubjectResolver,
    /// The grant policy.
    pub policy: &'a dyn GrantPolicy,
}

/// The outcome of a one-call redemption, with its audit record.
#[derive(Debug)]
pub struct Redemption {
    /// The grant, or why not.
    pub outcome: Result<Grant, Rejection>,
    /// The audit record of this decision.
    pub audit: AuditRecord,
}

/// The resource authorization server's ID-JAG redemption engine. Stateless apart from its
/// settings: share one across threads.
#[derive(Clone, Debug)]
pub struct ResourceServer {
    config: ResourceServerConfig,
}

impl ResourceServer {
    /// A server with these settings.
    pub fn new(config: ResourceServerConfig) -> Self {
        ResourceServer { config }
    }

    /// Its settings.
    pub fn config(&self) -> &ResourceServerConfig {
        &self.config
    }

    /// Steps 1 and 2: structure, header and claim syntax, trusting nothing.
    pub fn parse<'a>(&self, assertion: &'a str) -> Result<UnverifiedIdJag<'a>, Rejection> {
        let options =
            ParseOptions::new(self.config.algorithms).with_max_len(self.config.max_token_len);
        let jws = CompactJws::parse(assertion, &options).map_err(RejectReason::Jose)?;
        let claims =
            IdJagClaims::from_json(jws.unverified_payload()).map_err(RejectReason::Claims)?;
        // draft §3: typ is required and says this is an ID-JAG (RFC 8725 §3.11 explicit typing).
        if !jws.header().typ_is(urn::TYP_ID_JAG) {
            return Err(Rejection::new(RejectReason::TypMismatch).with_claims(&claims, false));
        }
        Ok(UnverifiedIdJag { jws, claims })
    }

    /// Steps 3 to 6: trust, key, signature, claims, for the client the host authenticated.
    ///
    /// `issuer` is what the host's registry holds for [`UnverifiedIdJag::issuer`]: `None` when
    /// it holds nothing. When the token names a `kid` the issuer's keys lack, the rejection's
    /// [`Rejection::may_refetch_keys`] says whether the host may refetch the JWKS now (at most
    /// once per cooldown); after [`TrustedIssuer::replace_keys`], parse and verify again.
    pub fn verify(
        &self,
        id_jag: UnverifiedIdJag<'_>,
        issuer: Option<Arc<TrustedIssuer>>,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Result<CheckedIdJag, Rejection> {
        self.verify_with_dpop(id_jag, issuer, client, None, now)
    }

    /// [`ResourceServer::verify`] for a request that may carry a DPoP proof, already checked
    /// with [`crate::dpop::DpopContext::verify`]. The four cases of draft §9.8: a bound
    /// ID-JAG needs a proof by its key; a bound ID-JAG without a proof is refused; a proof
    /// without a binding binds the access token to the proof's key; neither is a bearer
    /// redemption unless this server requires sender constraint.
    ///
    /// A `jwt-dpop` request ([`JwtBearerRequest::is_dpop_grant`]) must carry a proof: the
    /// one-call API refuses one without ([`RejectReason::DpopProofMissing`]); a staged host
    /// checks that before calling this.
    pub fn verify_with_dpop(
        &self,
        id_jag: UnverifiedIdJag<'_>,
        issuer: Option<Arc<TrustedIssuer>>,
        client: &AuthenticatedClient,
        dpop: Option<&crate::dpop::VerifiedDpopProof>,
        now: NumericDate,
    ) -> Result<CheckedIdJag, Rejection> {
        let UnverifiedIdJag { jws, claims } = id_jag;
        let unverified = |reason: RejectReason| Rejection::new(reason).with_claims(&claims, false);

        // draft §9.1: the client must prove it is the client_id the ID-JAG names.
        if !client.is_confidential() && !self.config.allow_public_clients {
            return Err(unverified(RejectReason::PublicClient));
        }

        // RFC 7523 §3 item 1: iss is bound to a configured, enabled issuer before any key is
        // touched; an unknown issuer is never "any".
        let Some(issuer) = issuer.filter(|trusted| trusted.issuer() == claims.issuer()) else {
            return Err(unverified(RejectReason::IssuerUntrusted));
        };
        if !issuer.is_enabled() {
            return Err(unverified(RejectReason::IssuerDisabled));
        }
        // draft §9.3: never accept an ID-JAG we issued ourselves within one trust domain.
        if claims.issuer() == self.config.issuer && !issuer.crosses_trust_domain() {
            return Err(unverified(RejectReason::IssuerIsSelf));
        }
        if !issuer.algorithms().contains(jws.header().algorithm()) {
            return Err(unverified(RejectReason::AlgorithmNotAllowedForIssuer));
        }

        // Key by kid from this issuer's set only, then the signature.
        let keys = issuer.keys();
        if let Err(error) = jws.verify_with_key_set(&keys) {
            let rejection = unverified(RejectReason::Jose(error));
            let refetch = error == JoseError::KeyNotFound && issuer.try_begin_refetch(now);
            return Err(if refetch { rejection.allowing_key_refetch() } else { rejection });
        }
        let refused = |reason: RejectReason| Rejection::new(reason).with_claims(&claims, true);

        // draft §4.4.1, RFC 7523 §3 item 3: aud is exactly our issuer identifier, as a string
        // or the only element of an array; never a prefix, never any-of.
        match claims.audience().single() {
            None => return Err(refused(RejectReason::AudienceMultiple)),
            Some(audience) if audience != self.config.issuer => {
                return Err(refused(RejectReason::AudienceMismatch));
            }
            Some(_) => {}
        }

        // RFC 7523 §3 items 4-6: exp in the future, nbf passed, iat not in the future, all with
        // leeway; the lifetime cap also bounds how old iat can be.
        let leeway = issuer.leeway();
        if now >= claims.expires_at().saturating_add_seconds(leeway) {
            return Err(refused(RejectReason::Expired));
        }
        if claims.not_before().is_some_and(|nbf| nbf > now.saturating_add_seconds(leeway)) {
            return Err(refused(RejectReason::NotYetValid));
        }
        if claims.issued_at() > now.saturating_add_seconds(leeway) {
            return Err(refused(RejectReason::IssuedInFuture));
        }
        match claims.expires_at().seconds_since(claims.issued_at()) {
            None | Some(0) => return Err(refused(RejectReason::LifetimeInvalid)),
            Some(lifetime) if lifetime > issuer.max_lifetime() => {
                return Err(refused(RejectReason::LifetimeExceeded));
            }
            Some(_) => {}
        }

        // draft §4.4.1: client_id is the client that authenticated here.
        if claims.client_id() != client.client_id() {
            return Err(refused(RejectReason::ClientIdMismatch));
        }
        if !issuer.allows_client(client.client_id()) {
            return Err(refused(RejectReason::ClientNotAllowed));
        }
        if issuer.tenant().is_some_and(|pinned| claims.tenant() != Some(pinned)) {
            return Err(refused(RejectReason::TenantMismatch));
        }
        if claims.actor().is_some() && !issuer.accepts_actor() {
            return Err(refused(RejectReason::ActorRefused));
        }
        // draft §9.8: a key-bound ID-JAG is never redeemed as a bearer token.
        // Any confirmation method besides `jkt` (mTLS `x5t#S256`, ...) cannot be checked here:
        // refused, even next to a `jkt`, so no binding is ever half-enforced.
        let bound_to = match claims.confirmation() {
            None => None,
            Some(cnf) => match &cnf.jkt {
                Some(jkt) if cnf.extra.is_empty() => Some(jkt.as_str()),
                _ => return Err(refused(RejectReason::ConfirmationUnsupported)),
            },
        };
        let dpop_jkt = match (bound_to, dpop) {
            (Some(jkt), Some(proof)) if proof.jkt() == jkt => Some(jkt.to_owned()),
            (Some(_), Some(_)) => return Err(refused(RejectReason::DpopKeyMismatch)),
            (Some(_), None) => return Err(refused(RejectReason::DpopProofMissing)),
            (None, Some(proof)) => Some(proof.jkt().to_owned()),
            (None, None) if self.config.sender_constraint_required => {
                return Err(refused(RejectReason::SenderConstraintRequired));
            }
            (None, None) => None,
        };

        let keep_until = claims.expires_at().saturating_add_seconds(leeway);
        let replay_policy = self.config.replay_policy;
        Ok(CheckedIdJag { claims, dpop_jkt, keep_until, replay_policy, issuer })
    }

    /// Step 7 after replay: subject, `authorization_details`, resources and scope.
    ///
    /// `subject` is the host's resolution of [`VerifiedIdJag::subject_identity`];
    /// `requested_scope` is the request's `scope`. The granted scope is the requested scope
    /// (or, when none is requested, the ID-JAG's) within the ID-JAG's scope and the policy's
    /// ceiling; asking for more than the ID-JAG holds is `invalid_scope`.
    pub fn grant(
        &self,
        id_jag: VerifiedIdJag,
        subject: SubjectResolution,
        requested_scope: Option<&Scope>,
        client: &AuthenticatedClient,
        policy: &dyn GrantPolicy,
    ) -> Result<Grant, Rejection> {
        let refused = |reason: RejectReason, claims: &IdJagClaims| {
            Rejection::new(reason).with_claims(claims, true)
        };
        let account = match subject {
            SubjectResolution::Active(account) => account,
            SubjectResolution::Disabled => {
                return Err(refused(RejectReason::SubjectDisabled, &id_jag.claims));
            }
            SubjectResolution::Unknown => {
                return Err(refused(RejectReason::SubjectUnknown, &id_jag.claims));
            }
        };

        let authorization_details = match id_jag.claims.authorization_details() {
            None => None,
            Some(details) => match policy.authorization_details(details) {
                Some(granted) => Some(granted),
                None => {
                    return Err(refused(RejectReason::AuthorizationDetailsRefused, &id_jag.claims));
                }
            },
        };

        // RFC 8707: every resource the ID-JAG names must be one this server serves.
        let resources: Vec<String> = match id_jag.claims.resource() {
            Some(named) => {
                if !named.iter().all(|r| self.config.served_resources.iter().any(|s| s == r)) {
                    return Err(refused(RejectReason::ResourceNotServed, &id_jag.claims));
                }
                named.iter().map(str::to_owned).collect()
            }
            None => self
                .config
                .served_resources
                .first()
                .map_or_else(|| vec![self.config.issuer.clone()], |first| vec![first.clone()]),
        };

        // draft §4.4.1 item 7 and RFC 6749 §3.3: grant a subset, never more than the ID-JAG.
        let held = id_jag.claims.scope();
        let asked = match (requested_scope, held) {
            (Some(requested), Some(held)) if requested.is_subset(held) => Some(requested.clone()),
            (Some(_), _) => return Err(refused(RejectReason::ScopeNotGranted, &id_jag.claims)),
            (None, held) => held.cloned(),
        };
        let scope = match (asked, policy.scope_ceiling(&id_jag, client)) {
            (Some(asked), Some(ceiling)) => {
                let granted = asked.intersection(&ceiling);
                if granted.is_empty() {
                    return Err(refused(RejectReason::ScopeEmpty, &id_jag.claims));
                }
                Some(granted)
            }
            (asked, _) => asked,
        };

        Ok(Grant {
            account,
            client_id: client.client_id().to_owned(),
            scope,
            resources,
            authorization_details,
            id_jag,
        })
    }

    /// One call: parse the form body, verify, check replay, resolve the subject and narrow, with
    /// one key refetch through [`TrustedIssuerStore::refetch_keys`] when a `kid` is unknown and
    /// the cooldown allows. Always yields an audit record.
    pub fn redeem(
        &self,
        hosts: &RedeemHosts<'_>,
        form_body: &[u8],
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Redemption {
        self.redeem_with_dpop(hosts, form_body, None, client, now)
    }

    /// [`ResourceServer::redeem`] for a request that may carry a DPoP proof (the `DPoP`
    /// header): the proof is checked first, then the four cases of
    /// [`ResourceServer::verify_with_dpop`] apply, and a bound grant yields a DPoP-bound access
    /// token.
    pub fn redeem_with_dpop(
        &self,
        hosts: &RedeemHosts<'_>,
        form_body: &[u8],
        dpop: Option<crate::dpop::DpopContext<'_>>,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Redemption {
        let request = match JwtBearerRequest::from_form(form_body) {
            Ok(request) => request,
            Err(rejection) => return self.audited(Err(rejection), client, None, now),
        };
        let outcome = self
            .redeem_request_with_dpop(hosts, &request, dpop, client, now)
            .map_err(|rejection| self.with_unverified_claims(rejection, request.assertion()));
        self.audited(outcome, client, request.scope(), now)
    }

    /// A refusal decided before the assertion is read (a public client, a DPoP proof missing
    /// or invalid) still names, in its audit record, the issuer, subject and `jti` the
    /// assertion claims, marked unverified.
    fn with_unverified_claims(&self, rejection: Rejection, assertion: &str) -> Rejection {
        let before_the_assertion = matches!(
            rejection.reason(),
            RejectReason::PublicClient
                | RejectReason::DpopProofInvalid(_)
                | RejectReason::DpopProofMissing
        );
        match self.parse(assertion) {
            Ok(unverified) if before_the_assertion && rejection.claims().is_none() => {
                rejection.with_claims(&unverified.claims, false)
            }
            _ => rejection,
        }
    }

    /// One call from an already parsed request (see [`ResourceServer::redeem`]).
    pub fn redeem_request(
        &self,
        hosts: &RedeemHosts<'_>,
        request: &JwtBearerRequest,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Result<Grant, Rejection> {
        self.redeem_request_with_dpop(hosts, request, None, client, now)
    }

    /// [`ResourceServer::redeem_request`] with an optional DPoP proof.
    pub fn redeem_request_with_dpop(
        &self,
        hosts: &RedeemHosts<'_>,
        request: &JwtBearerRequest,
        dpop: Option<crate::dpop::DpopContext<'_>>,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Result<Grant, Rejection> {
        // A public client is refused before any work on a key it chose (draft §9.1).
        if !client.is_confidential() && !self.config.allow_public_clients {
            return Err(RejectReason::PublicClient.into());
        }
        let proof = dpop
            .map(|context| context.verify(now).map_err(RejectReason::DpopProofInvalid))
            .transpose()?;
        if request.is_dpop_grant() && proof.is_none() {
            return Err(RejectReason::DpopProofMissing.into());
        }
        let proof = proof.as_ref();
        let checked = match self.verify_once(hosts, request.assertion(), client, proof, now) {
            Err(rejection) if rejection.may_refetch_keys() => {
                let issuer = rejection
                    .claims()
                    .and_then(|claims| hosts.issuers.trusted_issuer(claims.issuer()));
                let refreshed = issuer.as_ref().and_then(|issuer| {
                    let keys = hosts.issuers.refetch_keys(issuer)?;
                    issuer.replace_keys(keys);
                    Some(())
                });
                match refreshed {
                    Some(()) => self.verify_once(hosts, request.assertion(), client, proof, now)?,
                    None => return Err(rejection),
                }
            }
            other => other?,
        };
        let verified = checked.finish_with(hosts.replay, now)?;
        let subject = hosts.subjects.resolve(&verified.subject_identity());
        self.grant(verified, subject, request.scope(), client, hosts.policy)
    }

    fn verify_once(
        &self,
        hosts: &RedeemHosts<'_>,
        assertion: &str,
        client: &AuthenticatedClient,
        dpop: Option<&crate::dpop::VerifiedDpopProof>,
        now: NumericDate,
    ) -> Result<CheckedIdJag, Rejection> {
        let unverified = self.parse(assertion)?;
        let issuer = hosts.issuers.trusted_issuer(unverified.issuer());
        self.verify_with_dpop(unverified, issuer, client, dpop, now)
    }

    /// The audit record of a staged or one-call redemption outcome.
    pub fn audit_record(
        &self,
        outcome: &Result<Grant, Rejection>,
        client: &AuthenticatedClient,
        requested_scope: Option<&Scope>,
        now: NumericDate,
    ) -> AuditRecord {
        let (event, claims, verified) = match outcome {
            Ok(grant) => (AuditEvent::IdJagRedeemed, Some(grant.id_jag.claims()), true),
            Err(rejection) => {
                (AuditEvent::IdJagRejected, rejection.claims(), rejection.signature_verified())
            }
        };
        let mut record = AuditRecord::new(event, now);
        record.client_id = Some(client.client_id().to_owned());
        record.audience = Some(self.config.issuer.clone());
        record.requested_scope = requested_scope.map(Scope::to_string);
        record.claims_verified = verified;
        if let Some(claims) = claims {
            record.issuer = Some(claims.issuer().to_owned());
            record.subject = Some(claims.subject().to_owned());
            record.jwt_id = Some(claims.jwt_id().to_owned());
            record.actor = claims.actor().and_then(|actor| actor.subject()).map(str::to_owned);
            record.resource =
                claims.resource().map_or_else(Vec::new, |r| r.iter().map(str::to_owned).collect());
        }
        match outcome {
            Ok(grant) => {
                record.account = Some(grant.account.clone());
                record.granted_scope = grant.scope.as_ref().map(Scope::to_string);
                record.resource = grant.resources.clone();
            }
            Err(rejection) => {
                record.reason = Some(rejection.reason().code());
                record.wire_error = Some(rejection.wire_error().code());
            }
        }
        record
    }

    fn audited(
        &self,
        outcome: Result<Grant, Rejection>,
        client: &AuthenticatedClient,
        requested_scope: Option<&Scope>,
        now: NumericDate,
    ) -> Redemption {
        let audit = self.audit_record(&outcome, client, requested_scope, now);
        Redemption { outcome, audit }
    }
}

impl From<ClaimsError> for RejectReason {
    fn from(error: ClaimsError) -> Self {
        RejectReason::Claims(error)
    }
}
