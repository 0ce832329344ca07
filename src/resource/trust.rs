//! Trusted issuers: one configuration per IdP, looked up by exact issuer string, with key sets
//! that the host refreshes and the crate swaps atomically.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::NumericDate;
use crate::jose::{AlgorithmSet, KeySet};

/// Defaults of a trusted issuer.
impl TrustedIssuer {
    /// Default clock leeway: 60 seconds.
    pub const DEFAULT_LEEWAY: u64 = 60;
    /// Default cap on `exp - iat`: 600 seconds (IdPs issue 300-second ID-JAGs).
    pub const DEFAULT_MAX_LIFETIME: u64 = 600;
    /// Default minimum time between two JWKS refetches triggered by unknown `kid`s: 30 seconds.
    pub const DEFAULT_REFETCH_COOLDOWN: u64 = 30;
}

/// One IdP whose ID-JAGs this resource AS accepts, and how.
///
/// Nothing here means "any": no issuer is trusted unless configured, a disabled issuer is
/// refused, and an empty client allow-list allows no client.
#[derive(Debug)]
pub struct TrustedIssuer {
    issuer: String,
    keys: RwLock<Arc<KeySet>>,
    algorithms: AlgorithmSet,
    enabled: AtomicBool,
    leeway: u64,
    max_lifetime: u64,
    tenant: Option<String>,
    allowed_clients: Option<HashSet<String>>,
    saml_issuers: HashSet<String>,
    nameid_alone: bool,
    accepts_actor: bool,
    crosses_trust_domain: bool,
    refetch_cooldown: u64,
    // Seconds since the epoch of the last allowed refetch, plus one (0: never).
    last_refetch: AtomicU64,
}

impl TrustedIssuer {
    /// Trust `issuer` (compared exactly: no normalisation, trailing slashes matter) with these
    /// keys, all asymmetric algorithms, enabled, default leeway and lifetime cap, no tenant
    /// pinning, any client, actors accepted, no SAML issuer associated.
    pub fn new(issuer: impl Into<String>, keys: KeySet) -> Self {
        TrustedIssuer {
            issuer: issuer.into(),
            keys: RwLock::new(Arc::new(keys)),
            algorithms: AlgorithmSet::all(),
            enabled: AtomicBool::new(true),
            leeway: Self::DEFAULT_LEEWAY,
            max_lifetime: Self::DEFAULT_MAX_LIFETIME,
            tenant: None,
            allowed_clients: None,
            saml_issuers: HashSet::new(),
            nameid_alone: false,
            accepts_actor: true,
            crosses_trust_domain: false,
            refetch_cooldown: Self::DEFAULT_REFETCH_COOLDOWN,
            last_refetch: AtomicU64::new(0),
        }
    }

    /// Allow only these algorithms for this issuer (intersected with the server's own list).
    pub fn with_algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// Clock leeway in seconds for `exp`, `nbf` and `iat`.
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Maximum `exp - iat` in seconds.
    pub fn with_max_lifetime(mut self, seconds: u64) -> Self {
        self.max_lifetime = seconds;
        self
    }

    /// Accept only ID-JAGs whose `tenant` is exactly `tenant` (for a multi-tenant IdP).
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Accept only ID-JAGs for these clients (their ids at this resource AS). An empty list
    /// accepts none.
    pub fn with_allowed_clients<I, S>(mut self, client_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_clients = Some(client_ids.into_iter().map(Into::into).collect());
        self
    }

    /// Associate SAML issuers with this IdP, so `sub_id` NameIDs they assert may be used for
    /// subject resolution (draft §3.2.2). Without an association `sub_id` is ignored.
    pub fn with_saml_issuers<I, S>(mut self, saml_issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.saml_issuers = saml_issuers.into_iter().map(Into::into).collect();
        self
    }

    /// Let subject resolvers match a SAML NameID by its value alone, ignoring format and
    /// qualifiers. Off by default: two IdP-side namespaces can hold the same NameID value.
    pub fn with_nameid_alone(mut self, allowed: bool) -> Self {
        self.nameid_alone = allowed;
        self
    }

    /// Whether ID-JAGs carrying `act` (an agent acting for the user) are accepted. On by
    /// default, since agent traffic is what ID-JAG is for.
    pub fn with_actor_accepted(mut self, accepted: bool) -> Self {
        self.accepts_actor = accepted;
        self
    }

    /// Mark this issuer as crossing a trust domain even though it is this resource AS's own
    /// issuer identifier (draft §9.3). Off by default.
    pub fn with_crossing_trust_domain(mut self, crosses: bool) -> Self {
        self.crosses_trust_domain = crosses;
        self
    }

    /// Minimum seconds between two refetches of this issuer's JWKS.
    pub fn with_refetch_cooldown(mut self, seconds: u64) -> Self {
        self.refetch_cooldown = seconds;
        self
    }

    /// Start disabled or enabled.
    pub fn with_enabled(self, enabled: bool) -> Self {
        self.enabled.store(enabled, Ordering::SeqCst);
        self
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The current key set.
    pub fn keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swap in a new key set, atomically: keys missing from it stop verifying at once.
    pub fn replace_keys(&self, keys: KeySet) {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut current) => *current = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// Enable or disable the issuer; takes effect on the next redemption.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
    }

    /// Whether the issuer is enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// The allowed algorithms.
    pub fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// Clock leeway in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// Maximum ID-JAG lifetime in seconds.
    pub fn max_lifetime(&self) -> u64 {
        self.max_lifetime
    }

    /// The pinned tenant.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Whether `client_id` passes the client allow-list (no list: every client).
    pub fn allows_client(&self, client_id: &str) -> bool {
        self.allowed_clients.as_ref().is_none_or(|allowed| allowed.contains(client_id))
    }

    /// Whether `saml_issuer` is associated with this IdP for `sub_id`.
    pub fn is_associated_saml_issuer(&self, saml_issuer: &str) -> bool {
        self.saml_issuers.contains(saml_issuer)
    }

    /// Whether NameID-alone matching is allowed.
    pub fn allows_nameid_alone(&self) -> bool {
        self.nameid_alone
    }

    /// Whether `act` is accepted.
    pub fn accepts_actor(&self) -> bool {
        self.accepts_actor
    }

    /// Whether this issuer crosses a trust domain (draft §9.3).
    pub fn crosses_trust_domain(&self) -> bool {
        self.crosses_trust_domain
    }

    /// Claim the right to refetch the JWKS now: true at most once per cooldown, so a flood of
    /// tokens with random `kid`s turns into at most one fetch per cooldown.
    pub fn try_begin_refetch(&self, now: NumericDate) -> bool {
        let now_mark = now.as_unix_seconds().saturating_add(1);
        let mut last = self.last_refetch.load(Ordering::SeqCst);
        loop {
            let due = last == 0 || now_mark.saturating_sub(last) >= self.refetch_cooldown;
            if !due {
                return false;
            }
            match self.last_refetch.compare_exchange(
                last,
                now_mark,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(current) => last = current,
            }
        }
    }
}

/// Where the resource AS finds its trusted issuers: the host's registry.
pub trait TrustedIssuerStore: Send + Sync {
    /// The configuration for exactly this issuer string, if any.
    fn trusted_issuer(&self, issuer: &str) -> Option<Arc<TrustedIssuer>>;

    /// Fetch the issuer's JWKS again, for hosts that can do so synchronously; called by the
    /// one-call API at most once per cooldown per issuer. The default fetches nothing.
    fn refetch_keys(&self, issuer: &TrustedIssuer) -> Option<KeySet> {
        let _ = issuer;
        None
    }
}

/// An in-memory [`TrustedIssuerStore`]: a hash map from exact issuer string to configuration.
#[derive(Debug, Default)]
pub struct TrustedIssuers {
    issuers: RwLock<HashMap<String, Arc<TrustedIssuer>>>,
}

impl TrustedIssuers {
    /// An empty store, which trusts nobody.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace an issuer; returns the shared handle.
    pub fn insert(&self, issuer: TrustedIssuer) -> Arc<TrustedIssuer> {
        let issuer = Arc::new(issuer);
        let name = issuer.issuer().to_owned();
        match self.issuers.write() {
            Ok(mut map) => map.insert(name, Arc::clone(&issuer)),
            Err(poisoned) => poisoned.into_inner().insert(name, Arc::clone(&issuer)),
        };
        issuer
    }

    /// Remove an issuer.
    pub fn remove(&self, issuer: &str) -> Option<Arc<TrustedIssuer>> {
        match self.issuers.write() {
            Ok(mut map) => map.remove(issuer),
            Err(poisoned) => poisoned.into_inner().remove(issuer),
        }
    }

    /// How many issuers are configured.
    pub fn len(&self) -> usize {
        match self.issuers.read() {
            Ok(map) => map.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Whether no issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TrustedIssuerStore for TrustedIssuers {
    fn trusted_issuer(&self, issuer: &str) -> Option<Arc<TrustedIssuer>> {
        match self.issuers.read() {
            Ok(map) => map.get(issuer).cloned(),
            Err(poisoned) => poisoned.into_inner().get(issuer).cloned(),
        }
    }
}
