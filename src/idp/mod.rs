//! The identity provider: issue ID-JAGs by token exchange under managed-connection policy
//! (draft §4.3, §4.5; RFC 8693).
//!
//! The IdP is the single place where an agent's access is granted, narrowed, audited and
//! switched off. A request is granted only when the agent, the managed connection, the user
//! and the user's assignment all allow it (deny by default), and the grant is narrowed to the
//! connection's ceiling. Disabling a connection, suspending a user or disabling an agent
//! takes effect on the very next request, since every request reads them afresh.
//!
//! Two ways in, one engine:
//! - staged: [`ExchangeRequest::from_form`], then [`IdentityProvider::validate_subject_token`]
//!   (or the host's own check of a refresh token or SAML assertion, then
//!   [`IdentityProvider::check_subject`]), then [`IdentityProvider::decide`] with the records
//!   the host loaded, then [`ExchangeDecision::issue`] with the host's signer;
//! - one call: [`IdentityProvider::exchange`] over the traits in [`ExchangeHosts`].
//!
//! ```
//! use id_jag::NumericDate;
//! use id_jag::authenticated::AuthenticatedClient;
//! use id_jag::idp::*;
//! use id_jag::jose::{Algorithm, SigningKey, SigningKeySet, sign_compact};
//! use id_jag::scope::Scope;
//!
//! let keys = SigningKeySet::new(SigningKey::generate(Algorithm::Es256)?, vec![])?;
//! let idp = IdentityProvider::new(
//!     IdpConfig::new("https://idp.example.com"),
//!     keys.verification_keys().clone(),
//! );
//! let registry = MemoryConnections::new();
//! registry.put_agent(Agent::new("aria"));
//! registry.put_connection(ManagedConnection::new(
//!     "aria-expenses",
//!     "aria",
//!     "https://as.expenses.example",
//!     "aria-at-expenses",
//!     Scope::parse("expenses.read expenses.write")?,
//! ));
//! let directory = MemoryDirectory::new();
//! directory.put("https://as.expenses.example", DirectoryUser::new("user-b"));
//! let hosts = ExchangeHosts {
//!     registry: &registry, directory: &directory, tokens: &IdTokensOnly, signer: &keys,
//! };
//!
//! // User B's ID token, issued by this IdP to Aria.
//! let now = NumericDate::from_unix_seconds(1_764_000_000)?;
//! let id_token = sign_compact(&keys, Some("JWT"), format!(
//!     r#"{{"iss":"https://idp.example.com","sub":"user-b","aud":"aria","iat":{0},"exp":{1}}}"#,
//!     now, now.saturating_add_seconds(600),
//! ).as_bytes())?;
//!
//! let body = format!(
//!     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
//!      &requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid-jag\
//!      &audience=https%3A%2F%2Fas.expenses.example&scope=expenses.read+admin\
//!      &subject_token={id_token}\
//!      &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"
//! );
//! let aria = AuthenticatedClient::confidential("aria");
//! let exchange = idp.exchange(&hosts, body.as_bytes(), &aria, now);
//! let issued = exchange.outcome?.into_id_jag().expect("an ID-JAG request");
//! // `admin` is outside the connection's ceiling: narrowed away, and the response says so.
//! assert_eq!(issued.claims().scope().map(|s| s.to_string()).as_deref(), Some("expenses.read"));
//! assert_eq!(issued.claims().client_id(), "aria-at-expenses");
//! assert!(issued.token_response().to_json().contains(r#""token_type":"N_A""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod deny;
mod policy;
mod request;
mod subject;

pub use deny::{Denial, DenyReason, StepUpChallenge};
pub use policy::{
    Agent, ConnectionLookup, ConnectionRegistry, DirectoryUser, ManagedConnection,
    MemoryConnections, MemoryDirectory, StepUpPolicy, UserDirectory,
};
pub use request::{
    ExchangeRequest, IdJagRequest, PresentedToken, SamlRefreshRequest, SubjectTokenType,
};
pub use subject::{HostTokens, IdTokensOnly, MintedRefreshToken, ValidatedSubject};

use crate::NumericDate;
use crate::audit::{AuditEvent, AuditRecord};
use crate::authenticated::AuthenticatedClient;
use crate::claims::{Actor, AuthorizationDetail, IdJagClaims, RequiredClaims, SubjectIdentifier};
use crate::error::WireError;
use crate::jose::{AlgorithmSet, KeySet, ParseOptions, Signer, sign_compact};
use crate::response::{TokenResponse, random_jwt_id};
use crate::scope::Scope;
use crate::urn;

/// The IdP's own settings.
#[derive(Clone, Debug)]
pub struct IdpConfig {
    issuer: String,
    algorithms: AlgorithmSet,
    leeway: u64,
    default_lifetime: u64,
    id_token_max_age: Option<u64>,
    max_token_len: usize,
    multi_tenant: bool,
    bad_subject_token_error: WireError,
}

impl IdpConfig {
    /// Settings for the IdP whose issuer identifier is `issuer`: every asymmetric algorithm for
    /// ID tokens, 60 s leeway, 300 s ID-JAGs (capped by each connection), no maximum ID token
    /// age, single-tenant, and `invalid_request` for a bad subject token.
    pub fn new(issuer: impl Into<String>) -> Self {
        IdpConfig {
            issuer: issuer.into(),
            algorithms: AlgorithmSet::all(),
            leeway: 60,
            default_lifetime: 300,
            id_token_max_age: None,
            max_token_len: ParseOptions::DEFAULT_MAX_LEN,
            multi_tenant: false,
            bad_subject_token_error: WireError::InvalidRequest,
        }
    }

    /// Algorithms accepted on ID tokens.
    pub fn with_algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// Clock leeway for subject tokens, in seconds.
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Default ID-JAG lifetime in seconds (each connection's lifetime caps it).
    pub fn with_default_lifetime(mut self, seconds: u64) -> Self {
        self.default_lifetime = seconds;
        self
    }

    /// Refuse ID tokens whose `auth_time` (or `iat`) is older than this many seconds.
    pub fn with_id_token_max_age(mut self, seconds: u64) -> Self {
        self.id_token_max_age = Some(seconds);
        self
    }

    /// A multi-tenant IdP puts the user's `tenant` in every ID-JAG (draft §3).
    pub fn with_multi_tenant(mut self, multi_tenant: bool) -> Self {
        self.multi_tenant = multi_tenant;
        self
    }

    /// The wire error for a refused subject token: `invalid_request` by default, as RFC 8693
    /// §2.2.2 says; `invalid_grant` for compatibility with IdPs that answer so.
    pub fn with_bad_subject_token_error(mut self, error: WireError) -> Self {
        self.bad_subject_token_error = error;
        self
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// The host's stores and signer, for [`IdentityProvider::exchange`].
#[derive(Clone, Copy)]
pub struct ExchangeHosts<'a> {
    /// Agents and managed connections.
    pub registry: &'a dyn ConnectionRegistry,
    /// Users.
    pub directory: &'a dyn UserDirectory,
    /// Validation of refresh tokens, SAML assertions and actor tokens.
    pub tokens: &'a dyn HostTokens,
    /// The signer: the same keys that sign the IdP's ID tokens.
    pub signer: &'a dyn Signer,
}

/// What narrowing the connection's ceiling did to a request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Narrowing {
    /// Requested scope tokens that were dropped.
    pub scope_dropped: Option<Scope>,
    /// Requested resources that were dropped.
    pub resources_dropped: Vec<String>,
    /// Requested authorization detail types that were dropped.
    pub authorization_detail_types_dropped: Vec<String>,
}

impl Narrowing {
    /// Whether anything was dropped.
    pub fn is_empty(&self) -> bool {
        self.scope_dropped.is_none()
            && self.resources_dropped.is_empty()
            && self.authorization_detail_types_dropped.is_empty()
    }
}

/// A granted exchange, not yet signed. Only [`IdentityProvider::decide`] builds one.
#[derive(Clone, Debug)]
pub struct ExchangeDecision {
    claims: IdJagClaims,
    user: String,
    connection_id: String,
    requested_scope: Option<Scope>,
    details_changed: bool,
    narrowing: Narrowing,
    lifetime: u64,
}

impl ExchangeDecision {
    /// The claims the ID-JAG will carry.
    pub fn claims(&self) -> &IdJagClaims {
        &self.claims
    }

    /// What was narrowed.
    pub fn narrowing(&self) -> &Narrowing {
        &self.narrowing
    }

    /// The managed connection that granted it.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// The user's id at the IdP (the ID-JAG's `sub` may be a pairwise alias of it).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Bind the ID-JAG to the key of a verified DPoP proof: `cnf.jkt` (draft §9.8, step 6 of
    /// SPEC leg 1). Without a proof there is no `cnf`.
    pub fn bind_to_dpop_key(mut self, proof: &crate::dpop::VerifiedDpopProof) -> Self {
        self.claims.bind_to_jkt(proof.jkt());
        self
    }

    /// Sign the ID-JAG (`typ` `oauth-id-jag+jwt`, the signer's `alg` and `kid`).
    pub fn issue(self, signer: &dyn Signer) -> Result<IssuedIdJag, Denial> {
        let payload = self.claims.to_json();
        let token = sign_compact(signer, Some(urn::TYP_ID_JAG), payload.as_bytes())
            .map_err(|_| Denial::new(DenyReason::SigningFailed))?;
        Ok(IssuedIdJag { token, decision: self })
    }
}

/// A signed ID-JAG and its token response. `Debug` hides the token.
#[derive(Clone)]
pub struct IssuedIdJag {
    token: String,
    decision: ExchangeDecision,
}

impl IssuedIdJag {
    /// The compact ID-JAG.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Its claims.
    pub fn claims(&self) -> &IdJagClaims {
        &self.decision.claims
    }

    /// What was narrowed.
    pub fn narrowing(&self) -> &Narrowing {
        &self.decision.narrowing
    }

    /// The managed connection that granted it.
    pub fn connection_id(&self) -> &str {
        &self.decision.connection_id
    }

    /// The user's id at the IdP (the ID-JAG's `sub` may be a pairwise alias of it).
    pub fn user(&self) -> &str {
        &self.decision.user
    }

    /// The RFC 8693 response (draft §4.3.2): the ID-JAG as `access_token`, `issued_token_type`
    /// id-jag, `token_type` `N_A`, `expires_in`, `scope` when it differs from the request,
    /// `authorization_details` when changed, and never a refresh token.
    pub fn token_response(&self) -> TokenResponse {
        let granted = self.decision.claims.scope().cloned();
        let scope = (granted != self.decision.requested_scope).then_some(granted).flatten();
        let authorization_details = self.decision.details_changed.then(|| {
            let details = self.decision.claims.authorization_details().unwrap_or_default();
            details.iter().map(AuthorizationDetail::to_value).collect()
        });
        TokenResponse {
            access_token: self.token.clone(),
            issued_token_type: Some(urn::TOKEN_TYPE_ID_JAG),
            token_type: urn::TOKEN_TYPE_N_A,
            expires_in: Some(self.decision.lifetime),
            scope,
            authorization_details,
        }
    }
}

impl std::fmt::Debug for IssuedIdJag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedIdJag")
            .field("token", &"<redacted>")
            .field("jwt_id", &self.decision.claims.jwt_id())
            .field("connection_id", &self.decision.connection_id)
            .finish()
    }
}

/// A granted SAML-to-refresh-token exchange (draft §4.5): the host mints the refresh token.
#[derive(Clone, Debug)]
pub struct SamlRefreshDecision {
    subject: ValidatedSubject,
    scope: Option<Scope>,
}

impl SamlRefreshDecision {
    /// The user.
    pub fn subject(&self) -> &ValidatedSubject {
        &self.subject
    }

    /// The scope asked for.
    pub fn requested_scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// The response carrying the refresh token the host minted: `access_token` is the refresh
    /// token, `issued_token_type` the refresh token URN, `token_type` `N_A` (draft §4.5), and
    /// `scope` when the host granted another scope than the one asked for.
    pub fn token_response(&self, minted: MintedRefreshToken) -> TokenResponse {
        let scope = (minted.scope != self.scope).then_some(minted.scope).flatten();
        TokenResponse {
            access_token: minted.token,
            issued_token_type: Some(urn::TOKEN_TYPE_REFRESH_TOKEN),
            token_type: urn::TOKEN_TYPE_N_A,
            expires_in: minted.expires_in,
            scope,
            authorization_details: None,
        }
    }
}

/// A refresh token the host minted on the SAML path, with its response and its user.
#[derive(Clone, Debug)]
pub struct SamlRefreshIssued {
    response: TokenResponse,
    user: String,
}

impl SamlRefreshIssued {
    /// The response carrying the refresh token.
    pub fn token_response(&self) -> &TokenResponse {
        &self.response
    }

    /// The user the refresh token is for.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// What a one-call exchange produced.
#[derive(Debug)]
pub enum Exchanged {
    /// An ID-JAG.
    IdJag(Box<IssuedIdJag>),
    /// An IdP refresh token for the SAML path.
    SamlRefresh(Box<SamlRefreshIssued>),
}

impl Exchanged {
    /// The ID-JAG, if that is what was issued.
    pub fn into_id_jag(self) -> Option<IssuedIdJag> {
        match self {
            Exchanged::IdJag(issued) => Some(*issued),
            Exchanged::SamlRefresh(_) => None,
        }
    }

    /// The token response to send.
    pub fn token_response(&self) -> TokenResponse {
        match self {
            Exchanged::IdJag(issued) => issued.token_response(),
            Exchanged::SamlRefresh(issued) => issued.response.clone(),
        }
    }
}

/// The outcome of a one-call exchange, with its audit record.
#[derive(Debug)]
pub struct Exchange {
    /// What was issued, or why not.
    pub outcome: Result<Exchanged, Denial>,
    /// The audit record of this decision.
    pub audit: AuditRecord,
}

/// The IdP's ID-JAG issuance engine. Stateless apart from its settings and its ID-token keys.
#[derive(Clone, Debug)]
pub struct IdentityProvider {
    config: IdpConfig,
    id_token_keys: KeySet,
}

impl IdentityProvider {
    /// An IdP with these settings, validating ID tokens with `id_token_keys` (its own public
    /// keys, the ones its JWKS publishes).
    pub fn new(config: IdpConfig, id_token_keys: KeySet) -> Self {
        IdentityProvider { config, id_token_keys }
    }

    /// Its settings.
    pub fn config(&self) -> &IdpConfig {
        &self.config
    }

    /// Swap in new ID-token keys after a rotation.
    pub fn replace_id_token_keys(&mut self, keys: KeySet) {
        self.id_token_keys = keys;
    }

    /// Validate the subject token of an ID-JAG request: an ID token here, a refresh token or a
    /// SAML assertion through `tokens`; then [`IdentityProvider::check_subject`].
    pub fn validate_subject_token(
        &self,
        request: &IdJagRequest,
        client: &AuthenticatedClient,
        tokens: &dyn HostTokens,
        now: NumericDate,
    ) -> Result<ValidatedSubject, Denial> {
        let subject = match request.subject_token_type() {
            SubjectTokenType::IdToken => {
                let rules = subject::IdTokenRules {
                    issuer: &self.config.issuer,
                    keys: &self.id_token_keys,
                    algorithms: self.config.algorithms,
                    leeway: self.config.leeway,
                    max_age: self.config.id_token_max_age,
                    max_len: self.config.max_token_len,
                };
                subject::validate_id_token(request.subject_token(), &rules, client, now)
                    .map_err(|reason| self.denial(reason))?
            }
            SubjectTokenType::RefreshToken => tokens
                .validate_refresh_token(request.subject_token(), client, now)
                .ok_or_else(|| self.denial(DenyReason::SubjectTokenRejected))?,
            SubjectTokenType::Saml2 => tokens
                .validate_saml_assertion(request.subject_token(), client, now)
                .ok_or_else(|| self.denial(DenyReason::SubjectTokenRejected))?,
        };
        self.check_subject(&subject, client)?;
        Ok(subject)
    }

    /// The checks the crate applies to every subject, whoever validated its token: a
    /// confidential client (draft §9.1), and a token issued to that client (draft §4.3.1).
    pub fn check_subject(
        &self,
        subject: &ValidatedSubject,
        client: &AuthenticatedClient,
    ) -> Result<(), Denial> {
        if !client.is_confidential() {
            return Err(Denial::new(DenyReason::PublicClient));
        }
        if subject.issued_to != client.client_id() {
            return Err(self.denial(DenyReason::SubjectTokenAudience));
        }
        Ok(())
    }

    /// Decide an ID-JAG request from the records the host loaded, deny by default:
    /// agent, connection, user and assignment must all allow it; step-up is enforced; resources,
    /// scope and authorization details are narrowed to the connection's ceiling.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &self,
        request: &IdJagRequest,
        subject: &ValidatedSubject,
        client: &AuthenticatedClient,
        agent: Option<&Agent>,
        connection: ConnectionLookup,
        user: Option<&DirectoryUser>,
        actor: Option<Actor>,
        now: NumericDate,
    ) -> Result<ExchangeDecision, Denial> {
        self.check_subject(subject, client)?;
        let user_id = Some(subject.subject.as_str());
        check_agent(agent, client, user_id)?;
        let connection = match connection {
            ConnectionLookup::Found(c)
                if c.client_id == client.client_id() && c.answers_to(request.audience()) =>
            {
                c
            }
            ConnectionLookup::UnknownAudience => {
                return Err(Denial::new(DenyReason::AudienceUnknown).with_context(None, user_id));
            }
            _ => return Err(Denial::new(DenyReason::NoConnection).with_context(None, user_id)),
        };
        let deny =
            |reason: DenyReason| Denial::new(reason).with_context(Some(&connection.id), user_id);
        if !connection.enabled {
            return Err(deny(DenyReason::ConnectionDisabled));
        }
        let user = match user {
            Some(user) if user.subject == subject.subject => user,
            _ => return Err(deny(DenyReason::UserUnknown)),
        };
        if !user.active {
            return Err(deny(DenyReason::UserSuspended));
        }
        if !user.assigned {
            return Err(deny(DenyReason::UserNotAssigned));
        }

        // draft §9.2, RFC 9470: the sign-in must be fresh and strong enough for this app.
        if let Some(step_up) = &connection.step_up {
            let too_old = step_up.max_age.is_some_and(|max_age| {
                subject
                    .auth_time
                    .is_none_or(|at| now.seconds_since(at).is_some_and(|age| age > max_age))
            });
            let too_weak = !step_up.acr_values.is_empty()
                && subject.acr.as_ref().is_none_or(|acr| !step_up.acr_values.contains(acr));
            if too_old || too_weak {
                let challenge = StepUpChallenge {
                    max_age: step_up.max_age,
                    acr_values: (!step_up.acr_values.is_empty())
                        .then(|| step_up.acr_values.join(" ")),
                };
                return Err(deny(DenyReason::StepUpRequired).with_step_up(challenge));
            }
        }

        // draft §4.3.1 item 4: narrow each request dimension to the connection's ceiling.
        let mut narrowing = Narrowing::default();
        let requested_resources = request.resources();
        let (resources, dropped): (Vec<String>, Vec<String>) = requested_resources
            .iter()
            .cloned()
            .partition(|r| connection.allowed_resources.contains(r));
        if !requested_resources.is_empty() && resources.is_empty() {
            return Err(deny(DenyReason::ResourceNotAllowed));
        }
        // A request that names no resource gets the connection's resources, never none: an
        // ID-JAG without `resource` would let the resource AS choose any it serves.
        let resources = if requested_resources.is_empty() {
            connection.allowed_resources.clone()
        } else {
            resources
        };
        narrowing.resources_dropped = dropped;

        // RFC 6749 §6: a refresh token presented as subject token grants no more than it was
        // granted; an ID token carries no scope of its own.
        let held = subject.token_scope.as_ref();
        if request.scope().zip(held).is_some_and(|(requested, held)| !requested.is_subset(held)) {
            return Err(deny(DenyReason::ScopeBeyondSubjectToken));
        }

        let scope = match request.scope() {
            Some(requested) => {
                let granted = requested.intersection(&connection.scope_ceiling);
                if granted.is_empty() {
                    return Err(deny(DenyReason::ScopeNotAllowed));
                }
                let dropped = requested.difference(&granted);
                narrowing.scope_dropped = (!dropped.is_empty()).then_some(dropped);
                Some(granted)
            }
            None => connection
                .default_scope
                .as_ref()
                .map(|default| default.intersection(&connection.scope_ceiling))
                .map(|granted| match held {
                    Some(held) => granted.intersection(held),
                    None => granted,
                })
                .filter(|granted| !granted.is_empty()),
        };

        let (details, details_changed) = match request.authorization_details() {
            None => (None, false),
            Some(requested) => {
                let allowed = &connection.allowed_authorization_details_types;
                let (kept, dropped): (Vec<_>, Vec<_>) = requested
                    .iter()
                    .cloned()
                    .partition(|detail| allowed.iter().any(|t| t == detail.detail_type()));
                if !requested.is_empty() && kept.is_empty() {
                    return Err(deny(DenyReason::AuthorizationDetailsNotAllowed));
                }
                narrowing.authorization_detail_types_dropped =
                    dropped.iter().map(|d| d.detail_type().to_owned()).collect();
                let changed = !dropped.is_empty();
                (Some(kept), changed)
            }
        };

        // draft §4.3.1 item 5 and §3: the claims of the ID-JAG.
        let lifetime = self.config.default_lifetime.min(connection.lifetime).max(1);
        let jwt_id = random_jwt_id().map_err(|_| deny(DenyReason::SigningFailed))?;
        let mut builder = IdJagClaims::builder(RequiredClaims {
            issuer: self.config.issuer.clone(),
            subject: user.resource_subject.clone().unwrap_or_else(|| user.subject.clone()),
            audience: connection.audience.clone(),
            client_id: connection.client_id_at_resource.clone(),
            jwt_id,
            issued_at: now,
            expires_at: now.saturating_add_seconds(lifetime),
        })
        .resources(resources);
        if let Some(scope) = scope {
            builder = builder.scope(scope);
        }
        if let Some(details) = details {
            builder = builder.authorization_details(details);
        }
        // draft §3: on a multi-tenant IdP only iss + tenant + sub names the user.
        if self.config.multi_tenant {
            let tenant = user.tenant.clone().ok_or_else(|| deny(DenyReason::UserTenantMissing))?;
            builder = builder.tenant(tenant);
        }
        if let Some(auth_time) = subject.auth_time {
            builder = builder.auth_time(auth_time);
        }
        if let Some(acr) = &subject.acr {
            builder = builder.acr(acr.clone());
        }
        if let Some(amr) = &subject.amr {
            builder = builder.amr(amr.clone());
        }
        if let Some(email) = &user.verified_email {
            builder = builder.email(email.clone());
        }
        if let Some(aud_sub) = &user.aud_sub {
            builder = builder.aud_sub(aud_sub.clone());
        }
        if let Some(aud_tenant) = &user.aud_tenant {
            builder = builder.aud_tenant(aud_tenant.clone());
        }
        if let Some(nameid) = user.saml_nameid.as_ref().filter(|_| connection.uses_saml_sso) {
            builder = builder.sub_id(SubjectIdentifier::SamlNameId(nameid.clone()));
        }
        if let Some(actor) = actor.or_else(|| agent.and_then(|a| a.actor.clone())) {
            builder = builder.actor(actor);
        }
        // A directory record with an empty string would fail here, not produce a bad token.
        let claims = builder.build().map_err(|_| deny(DenyReason::SigningFailed))?;
        Ok(ExchangeDecision {
            claims,
            user: subject.subject.clone(),
            connection_id: connection.id.clone(),
            requested_scope: request.scope().cloned(),
            details_changed,
            narrowing,
            lifetime,
        })
    }

    /// Decide a SAML-to-refresh-token request (draft §4.5) for a subject the host validated:
    /// confidential client, assertion Audience mapped to this client, agent enabled, user
    /// active.
    pub fn decide_saml_refresh(
        &self,
        request: &SamlRefreshRequest,
        subject: ValidatedSubject,
        client: &AuthenticatedClient,
        agent: Option<&Agent>,
        user_active: Option<bool>,
    ) -> Result<SamlRefreshDecision, Denial> {
        self.check_subject(&subject, client)?;
        let user_id = Some(subject.subject.as_str());
        check_agent(agent, client, user_id)?;
        match user_active {
            Some(true) => {}
            Some(false) => {
                return Err(Denial::new(DenyReason::UserSuspended).with_context(None, user_id));
            }
            None => return Err(Denial::new(DenyReason::UserUnknown).with_context(None, user_id)),
        }
        Ok(SamlRefreshDecision { subject, scope: request.scope().cloned() })
    }

    /// One call: parse, validate the subject token, load the records, decide, sign; or for the
    /// SAML path, validate, decide and have the host mint the refresh token. Always yields an
    /// audit record.
    pub fn exchange(
        &self,
        hosts: &ExchangeHosts<'_>,
        form_body: &[u8],
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Exchange {
        self.exchange_with_dpop(hosts, form_body, None, client, now)
    }

    /// [`IdentityProvider::exchange`] for a request that may carry a DPoP proof: a valid proof
    /// (`htm` POST, `htu` this token endpoint) binds the ID-JAG to its key (`cnf.jkt`); an
    /// invalid one refuses the exchange (`invalid_dpop_proof`).
    pub fn exchange_with_dpop(
        &self,
        hosts: &ExchangeHosts<'_>,
        form_body: &[u8],
        dpop: Option<crate::dpop::DpopContext<'_>>,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Exchange {
        let request = ExchangeRequest::from_form(form_body);
        let outcome = match &request {
            Err(denial) => Err(denial.clone()),
            Ok(ExchangeRequest::IdJag(request)) => self
                .exchange_id_jag(hosts, request, dpop, client, now)
                .map(|issued| Exchanged::IdJag(Box::new(issued))),
            Ok(ExchangeRequest::SamlRefresh(request)) => self
                .exchange_saml(hosts, request, dpop, client, now)
                .map(|issued| Exchanged::SamlRefresh(Box::new(issued))),
        };
        let audit = self.audit_record(request.as_ref().ok(), &outcome, client, now);
        Exchange { outcome, audit }
    }

    fn exchange_id_jag(
        &self,
        hosts: &ExchangeHosts<'_>,
        request: &IdJagRequest,
        dpop: Option<crate::dpop::DpopContext<'_>>,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Result<IssuedIdJag, Denial> {
        if !client.is_confidential() {
            return Err(Denial::new(DenyReason::PublicClient));
        }
        let proof = dpop
            .map(|context| context.verify(now).map_err(DenyReason::DpopProofInvalid))
            .transpose()?;
        let subject = self.validate_subject_token(request, client, hosts.tokens, now)?;
        let actor = match request.actor_token() {
            None => None,
            Some(_) if !hosts.tokens.accepts_actor_tokens() => {
                return Err(Denial::new(DenyReason::ActorTokenUnsupported));
            }
            Some(token) => Some(
                hosts
                    .tokens
                    .validate_actor_token(token.token(), token.token_type())
                    .ok_or(DenyReason::ActorTokenRejected)?,
            ),
        };
        let agent = hosts.registry.agent(client.client_id());
        let connection = hosts.registry.connection(client.client_id(), request.audience());
        let audience = match &connection {
            ConnectionLookup::Found(connection) => connection.audience.clone(),
            _ => request.audience().to_owned(),
        };
        let user = hosts.directory.user(&subject.subject, &audience);
        let decision = self.decide(
            request,
            &subject,
            client,
            agent.as_ref(),
            connection,
            user.as_ref(),
            actor,
            now,
        )?;
        let decision = match &proof {
            Some(proof) => decision.bind_to_dpop_key(proof),
            None => decision,
        };
        decision.issue(hosts.signer)
    }

    fn exchange_saml(
        &self,
        hosts: &ExchangeHosts<'_>,
        request: &SamlRefreshRequest,
        dpop: Option<crate::dpop::DpopContext<'_>>,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Result<SamlRefreshIssued, Denial> {
        if !client.is_confidential() {
            return Err(Denial::new(DenyReason::PublicClient));
        }
        // RFC 9449 §5: an invalid proof refuses the request whatever it asks for. Binding the
        // refresh token to the proof's key is the host's, when it mints it.
        if let Some(context) = dpop {
            context.verify(now).map_err(DenyReason::DpopProofInvalid)?;
        }
        let subject = hosts
            .tokens
            .validate_saml_assertion(request.assertion(), client, now)
            .ok_or_else(|| self.denial(DenyReason::SubjectTokenRejected))?;
        let agent = hosts.registry.agent(client.client_id());
        let active = hosts.directory.is_active(&subject.subject);
        let decision =
            self.decide_saml_refresh(request, subject, client, agent.as_ref(), active)?;
        let minted = hosts
            .tokens
            .mint_refresh_token(decision.subject(), client, request.scope())
            .ok_or(DenyReason::SigningFailed)?;
        let response = decision.token_response(minted);
        Ok(SamlRefreshIssued { response, user: decision.subject.subject })
    }

    /// The audit record of an exchange outcome: user, agent, resource app, resources,
    /// requested and granted scope, connection, `jti` when issued, reason when denied.
    pub fn audit_record(
        &self,
        request: Option<&ExchangeRequest>,
        outcome: &Result<Exchanged, Denial>,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> AuditRecord {
        let event = match outcome {
            Ok(Exchanged::IdJag(_)) => AuditEvent::IdJagIssued,
            Ok(Exchanged::SamlRefresh(_)) => AuditEvent::RefreshTokenIssued,
            Err(_) => AuditEvent::ExchangeDenied,
        };
        let mut record = AuditRecord::new(event, now);
        record.issuer = Some(self.config.issuer.clone());
        record.client_id = Some(client.client_id().to_owned());
        match request {
            Some(ExchangeRequest::IdJag(request)) => {
                record.audience = Some(request.audience().to_owned());
                record.resource = request.resources().to_vec();
                record.requested_resource = request.resources().to_vec();
                record.requested_scope = request.scope().map(Scope::to_string);
            }
            Some(ExchangeRequest::SamlRefresh(request)) => {
                record.requested_scope = request.scope().map(Scope::to_string);
            }
            None => {}
        }
        match outcome {
            Ok(Exchanged::IdJag(issued)) => {
                let claims = issued.claims();
                record.claims_verified = true;
                record.subject = Some(issued.user().to_owned());
                record.audience = claims.audience().single().map(str::to_owned);
                record.resource = claims
                    .resource()
                    .map_or_else(Vec::new, |r| r.iter().map(str::to_owned).collect());
                record.granted_scope = claims.scope().map(Scope::to_string);
                record.managed_connection = Some(issued.connection_id().to_owned());
                record.jwt_id = Some(claims.jwt_id().to_owned());
                record.actor = claims.actor().and_then(Actor::subject).map(str::to_owned);
            }
            Ok(Exchanged::SamlRefresh(issued)) => {
                record.claims_verified = true;
                record.subject = Some(issued.user().to_owned());
            }
            Err(denial) => {
                record.subject = denial.subject().map(str::to_owned);
                record.claims_verified = denial.subject().is_some();
                record.managed_connection = denial.connection_id().map(str::to_owned);
                record.reason = Some(denial.reason().code());
                record.wire_error = Some(denial.wire_error().code());
            }
        }
        record
    }

    fn denial(&self, reason: DenyReason) -> Denial {
        let denial = Denial::new(reason);
        if reason.is_bad_subject_token() {
            denial.with_wire_error(self.config.bad_subject_token_error)
        } else {
            denial
        }
    }
}

/// The agent's kill switch: the client must be a known, enabled agent.
fn check_agent(
    agent: Option<&Agent>,
    client: &AuthenticatedClient,
    user_id: Option<&str>,
) -> Result<(), Denial> {
    match agent {
        Some(agent) if agent.client_id == client.client_id() && agent.enabled => Ok(()),
        Some(agent) if agent.client_id == client.client_id() => {
            Err(Denial::new(DenyReason::AgentDisabled).with_context(None, user_id))
        }
        _ => Err(Denial::new(DenyReason::AgentUnknown).with_context(None, user_id)),
    }
}
