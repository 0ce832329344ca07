//! The admin's policy: managed connections, agents and the directory view of users, with
//! in-memory stores whose kill switches take effect on the very next request.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::claims::{Actor, SamlNameId};
use crate::scope::Scope;

/// When a connection demands fresher or stronger user authentication (RFC 9470).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StepUpPolicy {
    /// The user must have authenticated within this many seconds (`auth_time`).
    pub max_age: Option<u64>,
    /// The user's `acr` must be one of these.
    pub acr_values: Vec<String>,
}

/// An admin-approved route: "this requesting app may act for users at this resource app, with
/// at most these scopes" (draft §1, the managed connection).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ManagedConnection {
    /// Its identifier, for audit records.
    pub id: String,
    /// The requesting client's id at the IdP.
    pub client_id: String,
    /// The resource AS's issuer identifier: the ID-JAG's `aud`.
    pub audience: String,
    /// Other names the IdP accepts for that audience in requests; rewritten to `audience`.
    pub audience_aliases: Vec<String>,
    /// The client's id *at the resource AS*: the ID-JAG's `client_id`.
    pub client_id_at_resource: String,
    /// The resources (RFC 8707) a request may name; others are dropped.
    pub allowed_resources: Vec<String>,
    /// The most scope an ID-JAG may carry.
    pub scope_ceiling: Scope,
    /// The scope granted when a request names none (within the ceiling).
    pub default_scope: Option<Scope>,
    /// The `authorization_details` types a request may carry; others are dropped.
    pub allowed_authorization_details_types: Vec<String>,
    /// The longest ID-JAG lifetime, in seconds.
    pub lifetime: u64,
    /// The step-up requirement, if any.
    pub step_up: Option<StepUpPolicy>,
    /// Whether the resource app signs users in with SAML: then `sub_id` carries their NameID.
    pub uses_saml_sso: bool,
    /// The kill switch: a disabled connection issues nothing.
    pub enabled: bool,
}

impl ManagedConnection {
    /// An enabled connection with no aliases, resources, default scope, detail types or
    /// step-up, issuing 300-second ID-JAGs.
    pub fn new(
        id: impl Into<String>,
        client_id: impl Into<String>,
        audience: impl Into<String>,
        client_id_at_resource: impl Into<String>,
        scope_ceiling: Scope,
    ) -> Self {
        ManagedConnection {
            id: id.into(),
            client_id: client_id.into(),
            audience: audience.into(),
            audience_aliases: Vec::new(),
            client_id_at_resource: client_id_at_resource.into(),
            allowed_resources: Vec::new(),
            scope_ceiling,
            default_scope: None,
            allowed_authorization_details_types: Vec::new(),
            lifetime: 300,
            step_up: None,
            uses_saml_sso: false,
            enabled: true,
        }
    }

    /// Whether `audience` names this connection's resource AS, directly or by alias.
    pub fn answers_to(&self, audience: &str) -> bool {
        self.audience == audience || self.audience_aliases.iter().any(|alias| alias == audience)
    }
}

/// The requesting client as the IdP knows it: an agent that can be switched off.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Agent {
    /// Its client id at the IdP.
    pub client_id: String,
    /// The kill switch for everything this agent does.
    pub enabled: bool,
    /// The `act` claim to put in its ID-JAGs (Okta sends one for every AI agent).
    pub actor: Option<Actor>,
}

impl Agent {
    /// An enabled agent with no actor claim.
    pub fn new(client_id: impl Into<String>) -> Self {
        Agent { client_id: client_id.into(), enabled: true, actor: None }
    }
}

/// The directory's view of one user for one resource app.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DirectoryUser {
    /// The user's id at the IdP (the ID token's `sub`).
    pub subject: String,
    /// The kill switch for the user: a suspended user gets nothing.
    pub active: bool,
    /// Whether the user is assigned to the resource app.
    pub assigned: bool,
    /// The IdP tenant, for a multi-tenant IdP.
    pub tenant: Option<String>,
    /// The user's email, only when verified.
    pub verified_email: Option<String>,
    /// The `sub` to use for this resource app (pairwise identifiers); defaults to `subject`.
    pub resource_subject: Option<String>,
    /// The user's id at the resource app.
    pub aud_sub: Option<String>,
    /// The user's tenant at the resource app.
    pub aud_tenant: Option<String>,
    /// The SAML NameID the resource app knows the user by.
    pub saml_nameid: Option<SamlNameId>,
}

impl DirectoryUser {
    /// An active, assigned user with nothing else known.
    pub fn new(subject: impl Into<String>) -> Self {
        DirectoryUser {
            subject: subject.into(),
            active: true,
            assigned: true,
            tenant: None,
            verified_email: None,
            resource_subject: None,
            aud_sub: None,
            aud_tenant: None,
            saml_nameid: None,
        }
    }
}

/// What the registry holds for a client and an audience.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectionLookup {
    /// The connection (enabled or not).
    Found(Box<ManagedConnection>),
    /// The audience is a known resource app, but this client has no connection to it.
    NoConnection,
    /// No resource app answers to that audience.
    UnknownAudience,
}

/// The admin's registry of agents and managed connections.
pub trait ConnectionRegistry: Send + Sync {
    /// The agent with this client id.
    fn agent(&self, client_id: &str) -> Option<Agent>;
    /// The connection from this client to this audience (or alias).
    fn connection(&self, client_id: &str, audience: &str) -> ConnectionLookup;
}

/// The IdP's user directory.
pub trait UserDirectory: Send + Sync {
    /// The user's record for the resource app whose issuer is `audience`.
    fn user(&self, subject: &str, audience: &str) -> Option<DirectoryUser>;
    /// Whether the user exists and is active (for the SAML refresh path, which names no app).
    fn is_active(&self, subject: &str) -> Option<bool>;
}

/// An in-memory [`ConnectionRegistry`].
#[derive(Debug, Default)]
pub struct MemoryConnections {
    agents: RwLock<HashMap<String, Agent>>,
    connections: RwLock<Vec<ManagedConnection>>,
}

impl MemoryConnections {
    /// An empty registry: every request is denied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace an agent.
    pub fn put_agent(&self, agent: Agent) {
        write(&self.agents).insert(agent.client_id.clone(), agent);
    }

    /// Add or replace (by id) a connection.
    pub fn put_connection(&self, connection: ManagedConnection) {
        let mut connections = write(&self.connections);
        connections.retain(|existing| existing.id != connection.id);
        connections.push(connection);
    }

    /// Kill switch: enable or disable a connection by id. Returns whether it exists.
    pub fn set_connection_enabled(&self, id: &str, enabled: bool) -> bool {
        let mut connections = write(&self.connections);
        let found = connections.iter_mut().find(|connection| connection.id == id);
        found.map(|connection| connection.enabled = enabled).is_some()
    }

    /// Kill switch: enable or disable an agent. Returns whether it exists.
    pub fn set_agent_enabled(&self, client_id: &str, enabled: bool) -> bool {
        write(&self.agents).get_mut(client_id).map(|agent| agent.enabled = enabled).is_some()
    }
}

impl ConnectionRegistry for MemoryConnections {
    fn agent(&self, client_id: &str) -> Option<Agent> {
        read(&self.agents).get(client_id).cloned()
    }

    fn connection(&self, client_id: &str, audience: &str) -> ConnectionLookup {
        let connections = read(&self.connections);
        let mut known_audience = false;
        for connection in connections.iter().filter(|c| c.answers_to(audience)) {
            known_audience = true;
            if connection.client_id == client_id {
                return ConnectionLookup::Found(Box::new(connection.clone()));
            }
        }
        if known_audience {
            ConnectionLookup::NoConnection
        } else {
            ConnectionLookup::UnknownAudience
        }
    }
}

/// An in-memory [`UserDirectory`]: one record per user and resource app.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    users: RwLock<HashMap<(String, String), DirectoryUser>>,
    suspended: RwLock<HashMap<String, bool>>,
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace the user's record for the resource app whose issuer is `audience`.
    pub fn put(&self, audience: impl Into<String>, user: DirectoryUser) {
        write(&self.suspended).entry(user.subject.clone()).or_insert(false);
        write(&self.users).insert((user.subject.clone(), audience.into()), user);
    }

    /// Kill switch: suspend or reinstate a user everywhere. Returns whether the user exists.
    pub fn set_suspended(&self, subject: &str, suspended: bool) -> bool {
        write(&self.suspended).get_mut(subject).map(|flag| *flag = suspended).is_some()
    }
}

impl UserDirectory for MemoryDirectory {
    fn user(&self, subject: &str, audience: &str) -> Option<DirectoryUser> {
        let suspended = read(&self.suspended).get(subject).copied().unwrap_or(false);
        let mut user =
            read(&self.users).get(&(subject.to_owned(), audience.to_owned())).cloned()?;
        user.active &= !suspended;
        Some(user)
    }

    fn is_active(&self, subject: &str) -> Option<bool> {
        let suspended = *read(&self.suspended).get(subject)?;
        let users = read(&self.users);
        let any_active = users.iter().any(|((who, _), user)| who == subject && user.active);
        Some(!suspended && any_active)
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
