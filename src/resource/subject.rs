//! Subject resolution (draft §3, §3.2.2, §4.4.1): from a verified ID-JAG to an account here.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::claims::{IdJagClaims, SamlNameId};

/// How the draft makes a user unique at the IdP: `iss` + `sub`, with `tenant` for a
/// multi-tenant IdP (draft §3).
#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize)]
pub struct SubjectKey {
    /// `iss`.
    pub issuer: String,
    /// `tenant`, when the IdP is multi-tenant.
    pub tenant: Option<String>,
    /// `sub`.
    pub subject: String,
}

/// What a verified ID-JAG says about its user, as far as the issuer's configuration lets it be
/// used for resolution.
#[derive(Clone, Copy, Debug)]
pub struct SubjectIdentity<'a> {
    claims: &'a IdJagClaims,
    saml_nameid: Option<&'a SamlNameId>,
    nameid_alone: bool,
}

impl<'a> SubjectIdentity<'a> {
    pub(crate) fn new(
        claims: &'a IdJagClaims,
        saml_nameid: Option<&'a SamlNameId>,
        nameid_alone: bool,
    ) -> Self {
        SubjectIdentity { claims, saml_nameid, nameid_alone }
    }

    /// `iss` + `tenant` + `sub`.
    pub fn subject_key(&self) -> SubjectKey {
        SubjectKey {
            issuer: self.claims.issuer().to_owned(),
            tenant: self.claims.tenant().map(str::to_owned),
            subject: self.claims.subject().to_owned(),
        }
    }

    /// `aud_sub`: the user's identifier at this resource app, if the IdP sent one.
    pub fn aud_sub(&self) -> Option<&'a str> {
        self.claims.aud_sub()
    }

    /// `aud_tenant`.
    pub fn aud_tenant(&self) -> Option<&'a str> {
        self.claims.aud_tenant()
    }

    /// `email` (the IdP sends it only when verified).
    pub fn email(&self) -> Option<&'a str> {
        self.claims.email()
    }

    /// The `sub_id` SAML NameID, only when its SAML issuer is associated with this IdP
    /// (draft §3.2.2); otherwise `None`, whatever the token says.
    pub fn saml_nameid(&self) -> Option<&'a SamlNameId> {
        self.saml_nameid
    }

    /// Whether the issuer allows matching a NameID by value alone.
    pub fn nameid_alone_allowed(&self) -> bool {
        self.nameid_alone
    }
}

/// What the host knows of the subject.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SubjectResolution {
    /// An active account here, by its local identifier.
    Active(String),
    /// A known account that is disabled: refused.
    Disabled,
    /// No account: refused.
    Unknown,
}

/// The host's account directory.
pub trait SubjectResolver: Send + Sync {
    /// Resolve the subject to an account here.
    fn resolve(&self, identity: &SubjectIdentity<'_>) -> SubjectResolution;
}

/// Every member of a SAML NameID that resolution compares (draft §3.2.2).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct NameIdKey {
    issuer: String,
    nameid: String,
    nameid_format: Option<String>,
    name_qualifier: Option<String>,
    sp_name_qualifier: Option<String>,
}

impl NameIdKey {
    fn of(id: &SamlNameId) -> Self {
        NameIdKey {
            issuer: id.issuer.clone(),
            nameid: id.nameid.clone(),
            nameid_format: id.nameid_format.clone(),
            name_qualifier: id.name_qualifier.clone(),
            sp_name_qualifier: id.sp_name_qualifier.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Directory {
    by_subject: HashMap<SubjectKey, String>,
    by_nameid: HashMap<NameIdKey, String>,
    by_nameid_value: HashMap<(String, String), String>,
    enabled: HashMap<String, bool>,
}

/// An in-memory [`SubjectResolver`]: accounts linked by `iss`/`tenant`/`sub` and optionally by
/// SAML NameID, each enabled or disabled.
///
/// Resolution tries `iss` + `tenant` + `sub`, then the full NameID (issuer, value, format and
/// both qualifiers compared), then the NameID value alone only where the issuer allows it.
/// `sp_provided_id` is not used for resolution: it is an alias the service provider chose.
#[derive(Debug, Default)]
pub struct MemorySubjects {
    directory: RwLock<Directory>,
}

impl MemorySubjects {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Link `key` to the enabled account `account`.
    pub fn link(&self, key: SubjectKey, account: impl Into<String>) {
        let account = account.into();
        let mut directory = self.write();
        directory.enabled.entry(account.clone()).or_insert(true);
        directory.by_subject.insert(key, account);
    }

    /// Link a SAML NameID to the enabled account `account`.
    pub fn link_saml(&self, nameid: &SamlNameId, account: impl Into<String>) {
        let account = account.into();
        let mut directory = self.write();
        directory.enabled.entry(account.clone()).or_insert(true);
        directory.by_nameid.insert(NameIdKey::of(nameid), account.clone());
        directory.by_nameid_value.insert((nameid.issuer.clone(), nameid.nameid.clone()), account);
    }

    /// Enable or disable an account; takes effect on the next redemption.
    pub fn set_enabled(&self, account: &str, enabled: bool) {
        self.write().enabled.insert(account.to_owned(), enabled);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Directory> {
        self.directory.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SubjectResolver for MemorySubjects {
    fn resolve(&self, identity: &SubjectIdentity<'_>) -> SubjectResolution {
        let directory = self.directory.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let by_nameid = identity.saml_nameid().and_then(|id| {
            directory.by_nameid.get(&NameIdKey::of(id)).or_else(|| {
                identity
                    .nameid_alone_allowed()
                    .then(|| directory.by_nameid_value.get(&(id.issuer.clone(), id.nameid.clone())))
                    .flatten()
            })
        });
        let account = directory.by_subject.get(&identity.subject_key()).or(by_nameid);
        match account {
            None => SubjectResolution::Unknown,
            Some(account) if directory.enabled.get(account) == Some(&true) => {
                SubjectResolution::Active(account.clone())
            }
            Some(_) => SubjectResolution::Disabled,
        }
    }
}
