//! The ID-JAG claim set (draft §3): typed, strictly parsed, and round-trip safe.
//!
//! ```
//! use id_jag::NumericDate;
//! use id_jag::claims::{IdJagClaims, RequiredClaims};
//! use id_jag::scope::Scope;
//!
//! let iat = NumericDate::from_unix_seconds(1_764_000_000)?;
//! let claims = IdJagClaims::builder(RequiredClaims {
//!     issuer: "https://idp.example.com".into(),
//!     subject: "00u1b2c3".into(),
//!     audience: "https://as.expenses.example".into(),
//!     client_id: "aria-at-expenses".into(),
//!     jwt_id: "9a1f0c3e".into(),
//!     issued_at: iat,
//!     expires_at: iat.saturating_add_seconds(300),
//! })
//! .scope(Scope::parse("expenses.read")?)
//! .email("b@example.com")
//! .build()?;
//!
//! let json = claims.to_json();
//! assert_eq!(IdJagClaims::from_json(json.as_bytes())?, claims);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::date::{NumericDate, NumericDateError};
use crate::json::{self, JsonError};
use crate::scope::{Scope, ScopeError};
use crate::urn;

/// Why a claim set was refused.
///
/// Claim names in errors are the crate's own constants, never text from the token.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// The payload is not JSON.
    #[error("claims are not JSON")]
    NotJson,
    /// The payload is JSON but not an object.
    #[error("claims are not a JSON object")]
    NotAnObject,
    /// An object in the payload repeats a member name.
    #[error("claims repeat a member name")]
    DuplicateMember,
    /// A required claim is absent.
    #[error("claim `{0}` is missing")]
    Missing(&'static str),
    /// A claim has the wrong JSON type (including `null`): never read as absent.
    #[error("claim `{0}` has the wrong type")]
    WrongType(&'static str),
    /// A string claim is empty, or an array claim has no element.
    #[error("claim `{0}` is empty")]
    Empty(&'static str),
    /// A date claim is not an acceptable NumericDate.
    #[error("claim `{claim}` is not a valid date: {error}")]
    InvalidDate {
        /// The claim.
        claim: &'static str,
        /// Why.
        error: NumericDateError,
    },
    /// `scope` does not follow RFC 6749 §3.3.
    #[error("claim `scope` is invalid: {0}")]
    InvalidScope(ScopeError),
    /// The inside of a structured claim (`act`, `sub_id`, `cnf`, `authorization_details`) is
    /// malformed, or `exp` is not after `iat` in a builder.
    #[error("claim `{0}` is malformed")]
    Invalid(&'static str),
    /// The builder was given a registered claim name as an extra claim.
    #[error("extra claim uses a registered claim name")]
    ReservedName,
}

impl ClaimsError {
    /// A stable, machine-readable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            ClaimsError::NotJson => "claims_not_json",
            ClaimsError::NotAnObject => "claims_not_object",
            ClaimsError::DuplicateMember => "claims_duplicate_member",
            ClaimsError::Missing(_) => "claim_missing",
            ClaimsError::WrongType(_) => "claim_wrong_type",
            ClaimsError::Empty(_) => "claim_empty",
            ClaimsError::InvalidDate { .. } => "claim_invalid_date",
            ClaimsError::InvalidScope(_) => "claim_invalid_scope",
            ClaimsError::Invalid(_) => "claim_invalid",
            ClaimsError::ReservedName => "claim_reserved_name",
        }
    }

    /// The claim concerned, when the error is about one.
    pub fn claim(self) -> Option<&'static str> {
        match self {
            ClaimsError::Missing(name)
            | ClaimsError::WrongType(name)
            | ClaimsError::Empty(name)
            | ClaimsError::Invalid(name)
            | ClaimsError::InvalidDate { claim: name, .. } => Some(name),
            ClaimsError::InvalidScope(_) => Some("scope"),
            _ => None,
        }
    }

    pub(crate) fn from_json(error: JsonError) -> Self {
        match error {
            JsonError::Syntax => ClaimsError::NotJson,
            JsonError::NotAnObject => ClaimsError::NotAnObject,
            JsonError::DuplicateMember => ClaimsError::DuplicateMember,
        }
    }
}

/// Every claim name this crate types; anything else is kept as an extra claim.
const REGISTERED: [&str; 21] = [
    "iss",
    "sub",
    "aud",
    "client_id",
    "jti",
    "exp",
    "iat",
    "nbf",
    "resource",
    "scope",
    "authorization_details",
    "act",
    "tenant",
    "auth_time",
    "acr",
    "amr",
    "aud_tenant",
    "aud_sub",
    "email",
    "sub_id",
    "cnf",
];

/// A claim that is one string or an array of strings (`aud` per RFC 7519 §4.1.3, `resource`).
/// The wire shape is kept so that a round trip reproduces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OneOrMany {
    /// A single string.
    One(String),
    /// A non-empty array of strings.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let values: &[String] = match self {
            OneOrMany::One(value) => std::slice::from_ref(value),
            OneOrMany::Many(values) => values,
        };
        values.iter().map(String::as_str)
    }

    /// The single value: the string, or the only element of a one-element array. `None` when
    /// there are several, so that no caller can slip into any-of matching.
    pub fn single(&self) -> Option<&str> {
        match self {
            OneOrMany::One(value) => Some(value),
            OneOrMany::Many(values) => match values.as_slice() {
                [value] => Some(value),
                _ => None,
            },
        }
    }

    /// How many values.
    pub fn len(&self) -> usize {
        match self {
            OneOrMany::One(_) => 1,
            OneOrMany::Many(values) => values.len(),
        }
    }

    /// Whether there are no values. The parser and the claim-set builder refuse an empty array,
    /// so this is false for every value read from a token or built into a claim set; only a
    /// `OneOrMany::Many(vec![])` made by hand is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn from_value(value: Value, claim: &'static str) -> Result<Self, ClaimsError> {
        match value {
            Value::String(text) if text.is_empty() => Err(ClaimsError::Empty(claim)),
            Value::String(text) => Ok(OneOrMany::One(text)),
            Value::Array(items) if items.is_empty() => Err(ClaimsError::Empty(claim)),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) if text.is_empty() => Err(ClaimsError::Empty(claim)),
                    Value::String(text) => Ok(text),
                    _ => Err(ClaimsError::WrongType(claim)),
                })
                .collect::<Result<_, _>>()
                .map(OneOrMany::Many),
            _ => Err(ClaimsError::WrongType(claim)),
        }
    }
}

/// An RFC 8693 §4.1 actor (`act`): who acts on the subject's behalf, possibly itself acting
/// for another (nested `act`). Okta sends `sub` and `sub_profile` for AI agents.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Actor {
    sub: Option<String>,
    iss: Option<String>,
    act: Option<Box<Actor>>,
    other: Map<String, Value>,
}

impl Actor {
    /// An actor identified by `sub`.
    pub fn new(subject: impl Into<String>) -> Self {
        Actor { sub: Some(subject.into()), ..Actor::default() }
    }

    /// Set the actor's `iss`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.iss = Some(issuer.into());
        self
    }

    /// Set the actor this actor acts for (the prior link in the delegation chain).
    pub fn with_actor(mut self, actor: Actor) -> Self {
        self.act = Some(Box::new(actor));
        self
    }

    /// Add another claim (such as `sub_profile`). `sub`, `iss` and `act` are ignored here.
    pub fn with_claim(mut self, name: impl Into<String>, value: Value) -> Self {
        let name = name.into();
        if !matches!(name.as_str(), "sub" | "iss" | "act") {
            self.other.insert(name, value);
        }
        self
    }

    /// The actor's `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The actor's `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// The nested actor.
    pub fn actor(&self) -> Option<&Actor> {
        self.act.as_deref()
    }

    /// Another claim of the actor, such as `sub_profile`.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.other.get(name)
    }

    fn from_value(value: Value) -> Result<Self, ClaimsError> {
        let Value::Object(mut members) = value else {
            return Err(ClaimsError::WrongType("act"));
        };
        let sub =
            optional_nonempty(&mut members, "sub").map_err(|_| ClaimsError::Invalid("act"))?;
        let iss =
            optional_nonempty(&mut members, "iss").map_err(|_| ClaimsError::Invalid("act"))?;
        let act = match members.shift_remove("act") {
            None => None,
            Some(nested @ Value::Object(_)) => Some(Box::new(Actor::from_value(nested)?)),
            Some(_) => return Err(ClaimsError::Invalid("act")),
        };
        Ok(Actor { sub, iss, act, other: members })
    }

    /// The actor as a JSON object, as it appears in `act`.
    pub fn to_value(&self) -> Value {
        let mut members = Map::new();
        if let Some(sub) = &self.sub {
            members.insert("sub".to_owned(), Value::String(sub.clone()));
        }
        if let Some(iss) = &self.iss {
            members.insert("iss".to_owned(), Value::String(iss.clone()));
        }
        members.extend(self.other.iter().map(|(name, value)| (name.clone(), value.clone())));
        if let Some(act) = &self.act {
            members.insert("act".to_owned(), act.to_value());
        }
        Value::Object(members)
    }
}

/// An [`Actor`] serialized as it appears in `act`, member by member, without building a
/// `Value` first; the same members in the same order as [`Actor::to_value`].
struct ActorJson<'a>(&'a Actor);

impl Serialize for ActorJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let actor = self.0;
        let mut map = serializer.serialize_map(None)?;
        if let Some(sub) = &actor.sub {
            map.serialize_entry("sub", sub)?;
        }
        if let Some(iss) = &actor.iss {
            map.serialize_entry("iss", iss)?;
        }
        // `other` never holds `sub`, `iss` or `act`: `with_claim` and parsing keep them out.
        for (name, value) in &actor.other {
            map.serialize_entry(name, value)?;
        }
        if let Some(act) = &actor.act {
            map.serialize_entry("act", &ActorJson(act))?;
        }
        map.end()
    }
}

/// A [`OneOrMany`] in its wire shape: a string or an array of strings.
struct OneOrManyJson<'a>(&'a OneOrMany);

impl Serialize for OneOrManyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            OneOrMany::One(value) => serializer.serialize_str(value),
            OneOrMany::Many(values) => values.serialize(serializer),
        }
    }
}

/// A `sub_id` of format `saml-nameid` (draft §3.2): the SAML NameID that names the same user as
/// `sub`. The optional members are present exactly when the NameID carries that attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlNameId {
    /// The SAML issuer (entity ID) that asserted the NameID.
    pub issuer: String,
    /// The NameID value.
    pub nameid: String,
    /// The NameID `Format` attribute.
    pub nameid_format: Option<String>,
    /// The NameID `NameQualifier` attribute.
    pub name_qualifier: Option<String>,
    /// The NameID `SPNameQualifier` attribute.
    pub sp_name_qualifier: Option<String>,
    /// The NameID `SPProvidedID` attribute.
    pub sp_provided_id: Option<String>,
    /// Members the draft does not define, kept for a faithful round trip.
    pub extra: Map<String, Value>,
}

/// An RFC 9493 subject identifier (`sub_id`).
#[derive(Clone, Debug, PartialEq)]
pub enum SubjectIdentifier {
    /// Format `saml-nameid` (draft §3.2), typed.
    SamlNameId(SamlNameId),
    /// Any other format, kept as sent (it has a string `format` member).
    Other(Map<String, Value>),
}

impl SubjectIdentifier {
    /// The `format` member.
    pub fn format(&self) -> &str {
        match self {
            SubjectIdentifier::SamlNameId(_) => urn::SUBJECT_ID_FORMAT_SAML_NAMEID,
            SubjectIdentifier::Other(members) => {
                members.get("format").and_then(Value::as_str).unwrap_or_default()
            }
        }
    }

    fn from_value(value: Value) -> Result<Self, ClaimsError> {
        const CLAIM: &str = "sub_id";
        let Value::Object(mut members) = value else {
            return Err(ClaimsError::WrongType(CLAIM));
        };
        let format = match members.get("format") {
            Some(Value::String(format)) if !format.is_empty() => format.as_str(),
            _ => return Err(ClaimsError::Invalid(CLAIM)),
        };
        if format != urn::SUBJECT_ID_FORMAT_SAML_NAMEID {
            return Ok(SubjectIdentifier::Other(members));
        }
        members.shift_remove("format");
        let invalid = |_| ClaimsError::Invalid(CLAIM);
        let issuer = optional_nonempty(&mut members, "issuer").map_err(invalid)?;
        let nameid = optional_nonempty(&mut members, "nameid").map_err(invalid)?;
        let (Some(issuer), Some(nameid)) = (issuer, nameid) else {
            return Err(ClaimsError::Invalid(CLAIM));
        };
        Ok(SubjectIdentifier::SamlNameId(SamlNameId {
            issuer,
            nameid,
            nameid_format: optional_nonempty(&mut members, "nameid_format").map_err(invalid)?,
            name_qualifier: optional_nonempty(&mut members, "name_qualifier").map_err(invalid)?,
            sp_name_qualifier: optional_nonempty(&mut members, "sp_name_qualifier")
                .map_err(invalid)?,
            sp_provided_id: optional_nonempty(&mut members, "sp_provided_id").map_err(invalid)?,
            extra: members,
        }))
    }

    fn to_value(&self) -> Value {
        let SubjectIdentifier::SamlNameId(id) = self else {
            let SubjectIdentifier::Other(members) = self else { return Value::Null };
            return Value::Object(members.clone());
        };
        let mut members = Map::new();
        let mut put = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                members.insert(name.to_owned(), Value::String(value.clone()));
            }
        };
        put("format", &Some(urn::SUBJECT_ID_FORMAT_SAML_NAMEID.to_owned()));
        put("issuer", &Some(id.issuer.clone()));
        put("nameid", &Some(id.nameid.clone()));
        put("nameid_format", &id.nameid_format);
        put("name_qualifier", &id.name_qualifier);
        put("sp_name_qualifier", &id.sp_name_qualifier);
        put("sp_provided_id", &id.sp_provided_id);
        members.extend(id.extra.iter().map(|(name, value)| (name.clone(), value.clone())));
        Value::Object(members)
    }
}

/// The RFC 7800 confirmation claim (`cnf`); `jkt` is the RFC 9449 §6 DPoP key thumbprint.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the key the token is bound to.
    pub jkt: Option<String>,
    /// Other confirmation methods, kept as sent.
    pub extra: Map<String, Value>,
}

impl Confirmation {
    fn from_value(value: Value) -> Result<Self, ClaimsError> {
        let Value::Object(mut members) = value else {
            return Err(ClaimsError::WrongType("cnf"));
        };
        let jkt =
            optional_nonempty(&mut members, "jkt").map_err(|_| ClaimsError::Invalid("cnf"))?;
        Ok(Confirmation { jkt, extra: members })
    }

    fn to_value(&self) -> Value {
        let mut members = Map::new();
        if let Some(jkt) = &self.jkt {
            members.insert("jkt".to_owned(), Value::String(jkt.clone()));
        }
        members.extend(self.extra.iter().map(|(name, value)| (name.clone(), value.clone())));
        Value::Object(members)
    }
}

/// One RFC 9396 authorization details object: a JSON object with a string `type`.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationDetail(Map<String, Value>);

impl AuthorizationDetail {
    /// An authorization detail from a JSON value; it must be an object with a non-empty
    /// string `type` (RFC 9396 §2).
    pub fn from_value(value: Value) -> Result<Self, ClaimsError> {
        const CLAIM: &str = "authorization_details";
        let Value::Object(members) = value else {
            return Err(ClaimsError::Invalid(CLAIM));
        };
        match members.get("type") {
            Some(Value::String(kind)) if !kind.is_empty() => Ok(AuthorizationDetail(members)),
            _ => Err(ClaimsError::Invalid(CLAIM)),
        }
    }

    /// Its `type`.
    pub fn detail_type(&self) -> &str {
        self.0.get("type").and_then(Value::as_str).unwrap_or_default()
    }

    /// All its members.
    pub fn members(&self) -> &Map<String, Value> {
        &self.0
    }

    /// As a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

/// The claims of an ID-JAG (draft §3).
///
/// Built by [`IdJagClaims::builder`] (which cannot omit a required claim) or parsed by
/// [`IdJagClaims::from_json`] (which refuses a missing or mistyped one). Claims the crate does
/// not know are kept and survive a round trip.
#[derive(Clone, Debug, PartialEq)]
pub struct IdJagClaims {
    iss: String,
    sub: String,
    aud: OneOrMany,
    client_id: String,
    jti: String,
    exp: NumericDate,
    iat: NumericDate,
    nbf: Option<NumericDate>,
    resource: Option<OneOrMany>,
    scope: Option<Scope>,
    authorization_details: Option<Vec<AuthorizationDetail>>,
    act: Option<Actor>,
    tenant: Option<String>,
    auth_time: Option<NumericDate>,
    acr: Option<String>,
    amr: Option<Vec<String>>,
    aud_tenant: Option<String>,
    aud_sub: Option<String>,
    email: Option<String>,
    sub_id: Option<SubjectIdentifier>,
    cnf: Option<Confirmation>,
    extra: Map<String, Value>,
}

/// The claims every ID-JAG must carry (draft §3); handing them over as one value is what makes
/// a claim set without them impossible to build.
#[derive(Clone, Debug)]
pub struct RequiredClaims {
    /// `iss`: the IdP's issuer identifier.
    pub issuer: String,
    /// `sub`: the user, as the IdP names them for this resource app.
    pub subject: String,
    /// `aud`: the resource authorization server's issuer identifier.
    pub audience: String,
    /// `client_id`: the client's identifier *at the resource authorization server*.
    pub client_id: String,
    /// `jti`: a unique token identifier.
    pub jwt_id: String,
    /// `iat`.
    pub issued_at: NumericDate,
    /// `exp`.
    pub expires_at: NumericDate,
}

/// Builds an [`IdJagClaims`]; see [`IdJagClaims::builder`].
#[derive(Clone, Debug)]
pub struct IdJagClaimsBuilder {
    claims: IdJagClaims,
    reserved_name_used: bool,
}

impl IdJagClaimsBuilder {
    /// `resource`: one resource indicator (RFC 8707).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.claims.resource = Some(OneOrMany::One(resource.into()));
        self
    }

    /// `resource`: several resource indicators, emitted as an array (one is emitted as a
    /// string).
    pub fn resources(mut self, resources: Vec<String>) -> Self {
        self.claims.resource = match resources.len() {
            0 => None,
            1 => resources.into_iter().next().map(OneOrMany::One),
            _ => Some(OneOrMany::Many(resources)),
        };
        self
    }

    /// `scope`; an empty set is not emitted.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.claims.scope = (!scope.is_empty()).then_some(scope);
        self
    }

    /// `authorization_details` (RFC 9396).
    pub fn authorization_details(mut self, details: Vec<AuthorizationDetail>) -> Self {
        self.claims.authorization_details = Some(details);
        self
    }

    /// `act`: the actor acting for the subject.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.claims.act = Some(actor);
        self
    }

    /// `tenant`: the IdP tenant of the subject.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.claims.tenant = Some(tenant.into());
        self
    }

    /// `auth_time`: when the user authenticated.
    pub fn auth_time(mut self, auth_time: NumericDate) -> Self {
        self.claims.auth_time = Some(auth_time);
        self
    }

    /// `acr`: the authentication context class reference.
    pub fn acr(mut self, acr: impl Into<String>) -> Self {
        self.claims.acr = Some(acr.into());
        self
    }

    /// `amr`: the authentication methods references.
    pub fn amr(mut self, amr: Vec<String>) -> Self {
        self.claims.amr = Some(amr);
        self
    }

    /// `aud_tenant`: the subject's tenant at the resource app.
    pub fn aud_tenant(mut self, aud_tenant: impl Into<String>) -> Self {
        self.claims.aud_tenant = Some(aud_tenant.into());
        self
    }

    /// `aud_sub`: the subject's identifier at the resource app.
    pub fn aud_sub(mut self, aud_sub: impl Into<String>) -> Self {
        self.claims.aud_sub = Some(aud_sub.into());
        self
    }

    /// `email`: only ever a verified address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.claims.email = Some(email.into());
        self
    }

    /// `sub_id` (RFC 9493, draft §3.2).
    pub fn sub_id(mut self, sub_id: SubjectIdentifier) -> Self {
        self.claims.sub_id = Some(sub_id);
        self
    }

    /// `cnf` with `jkt`: binds the ID-JAG to a DPoP key (draft §9.8).
    pub fn cnf_jkt(mut self, thumbprint: impl Into<String>) -> Self {
        self.claims.cnf = Some(Confirmation { jkt: Some(thumbprint.into()), ..Default::default() });
        self
    }

    /// `nbf`.
    pub fn not_before(mut self, nbf: NumericDate) -> Self {
        self.claims.nbf = Some(nbf);
        self
    }

    /// A claim this crate does not type. Registered names are refused by
    /// [`IdJagClaimsBuilder::build`] with [`ClaimsError::ReservedName`].
    pub fn extra_claim(mut self, name: impl Into<String>, value: Value) -> Self {
        let name = name.into();
        if REGISTERED.contains(&name.as_str()) {
            // Remembered so that build() can refuse it; a silent drop would surprise.
            self.reserved_name_used = true;
        } else {
            self.claims.extra.insert(name, value);
        }
        self
    }

    /// The claim set, once every string is non-empty, every optional value well-formed and
    /// `exp` after `iat`.
    pub fn build(self) -> Result<IdJagClaims, ClaimsError> {
        if self.reserved_name_used {
            return Err(ClaimsError::ReservedName);
        }
        let claims = self.claims;
        // The parser's rules, checked directly (tests/properties.rs holds the two together).
        claims.validate()?;
        if claims.exp <= claims.iat {
            return Err(ClaimsError::Invalid("exp"));
        }
        Ok(claims)
    }
}

impl IdJagClaims {
    /// Start a claim set from the claims every ID-JAG must carry.
    pub fn builder(required: RequiredClaims) -> IdJagClaimsBuilder {
        IdJagClaimsBuilder {
            claims: IdJagClaims {
                iss: required.issuer,
                sub: required.subject,
                aud: OneOrMany::One(required.audience),
                client_id: required.client_id,
                jti: required.jwt_id,
                exp: required.expires_at,
                iat: required.issued_at,
                nbf: None,
                resource: None,
                scope: None,
                authorization_details: None,
                act: None,
                tenant: None,
                auth_time: None,
                acr: None,
                amr: None,
                aud_tenant: None,
                aud_sub: None,
                email: None,
                sub_id: None,
                cnf: None,
                extra: Map::new(),
            },
            reserved_name_used: false,
        }
    }

    /// Parse a claim set from JSON, strictly: one object, no repeated member at any depth,
    /// every required claim present, every claim of its registered type. A claim of the wrong
    /// type (`null` included) is an error, never "absent". Refusals come in this order: the
    /// JSON itself (repeated names, syntax, not an object), then the first mistyped or
    /// malformed claim in document order, then the first missing required claim.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ClaimsError> {
        // One pass: each member is typed into its slot as the parser reads it.
        let mut claims = PartialClaims::default();
        json::parse_object_into(bytes, &mut claims).map_err(ClaimsError::from_json)?;
        claims.finish()
    }

    /// Bind to a DPoP key (draft §9.8): `cnf.jkt`.
    pub(crate) fn bind_to_jkt(&mut self, jkt: &str) {
        self.cnf = Some(Confirmation { jkt: Some(jkt.to_owned()), ..Confirmation::default() });
    }

    /// Every rule [`IdJagClaims::from_json`] enforces that the types alone do not: non-empty
    /// strings and arrays, well-formed `act`, `sub_id` and `cnf`.
    fn validate(&self) -> Result<(), ClaimsError> {
        let required = [
            ("iss", &self.iss),
            ("sub", &self.sub),
            ("client_id", &self.client_id),
            ("jti", &self.jti),
        ];
        for (name, value) in required {
            if value.is_empty() {
                return Err(ClaimsError::Empty(name));
            }
        }
        let optional = [
            ("tenant", &self.tenant),
            ("acr", &self.acr),
            ("aud_tenant", &self.aud_tenant),
            ("aud_sub", &self.aud_sub),
            ("email", &self.email),
        ];
        for (name, value) in optional {
            if value.as_ref().is_some_and(String::is_empty) {
                return Err(ClaimsError::Empty(name));
            }
        }
        let some_empty = |values: &OneOrMany| values.is_empty() || values.iter().any(str::is_empty);
        if some_empty(&self.aud) {
            return Err(ClaimsError::Empty("aud"));
        }
        if self.resource.as_ref().is_some_and(some_empty) {
            return Err(ClaimsError::Empty("resource"));
        }
        let mut actor = self.act.as_ref();
        while let Some(link) = actor {
            let empty = |value: &Option<String>| value.as_ref().is_some_and(String::is_empty);
            if empty(&link.sub) || empty(&link.iss) {
                return Err(ClaimsError::Invalid("act"));
            }
            actor = link.act.as_deref();
        }
        let well_formed_sub_id = match &self.sub_id {
            None => true,
            Some(SubjectIdentifier::SamlNameId(id)) => {
                let optional = [
                    &id.nameid_format,
                    &id.name_qualifier,
                    &id.sp_name_qualifier,
                    &id.sp_provided_id,
                ];
                !id.issuer.is_empty()
                    && !id.nameid.is_empty()
                    && optional.iter().all(|value| value.as_ref().is_none_or(|v| !v.is_empty()))
            }
            Some(SubjectIdentifier::Other(members)) => {
                matches!(members.get("format"), Some(Value::String(format)) if !format.is_empty())
            }
        };
        if !well_formed_sub_id {
            return Err(ClaimsError::Invalid("sub_id"));
        }
        if self.cnf.as_ref().is_some_and(|cnf| cnf.jkt.as_ref().is_some_and(String::is_empty)) {
            return Err(ClaimsError::Invalid("cnf"));
        }
        Ok(())
    }

    /// The claim set as compact JSON: registered claims first, in a fixed order, then the
    /// extra claims in the order they came.
    pub fn to_json(&self) -> String {
        // Serializing a map of strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.iss
    }
    /// `sub`.
    pub fn subject(&self) -> &str {
        &self.sub
    }
    /// `aud`, in its wire shape.
    pub fn audience(&self) -> &OneOrMany {
        &self.aud
    }
    /// `client_id`: the client's identifier at the resource authorization server.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// `jti`.
    pub fn jwt_id(&self) -> &str {
        &self.jti
    }
    /// `exp`.
    pub fn expires_at(&self) -> NumericDate {
        self.exp
    }
    /// `iat`.
    pub fn issued_at(&self) -> NumericDate {
        self.iat
    }
    /// `nbf`.
    pub fn not_before(&self) -> Option<NumericDate> {
        self.nbf
    }
    /// `resource`.
    pub fn resource(&self) -> Option<&OneOrMany> {
        self.resource.as_ref()
    }
    /// `scope`.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }
    /// `authorization_details`.
    pub fn authorization_details(&self) -> Option<&[AuthorizationDetail]> {
        self.authorization_details.as_deref()
    }
    /// `act`.
    pub fn actor(&self) -> Option<&Actor> {
        self.act.as_ref()
    }
    /// `tenant`.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
    /// `auth_time`.
    pub fn auth_time(&self) -> Option<NumericDate> {
        self.auth_time
    }
    /// `acr`.
    pub fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }
    /// `amr`.
    pub fn amr(&self) -> Option<&[String]> {
        self.amr.as_deref()
    }
    /// `aud_tenant`.
    pub fn aud_tenant(&self) -> Option<&str> {
        self.aud_tenant.as_deref()
    }
    /// `aud_sub`.
    pub fn aud_sub(&self) -> Option<&str> {
        self.aud_sub.as_deref()
    }
    /// `email`.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    /// `sub_id`.
    pub fn sub_id(&self) -> Option<&SubjectIdentifier> {
        self.sub_id.as_ref()
    }
    /// `cnf`.
    pub fn confirmation(&self) -> Option<&Confirmation> {
        self.cnf.as_ref()
    }
    /// A claim this crate does not type, by name.
    pub fn extra_claim(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }
    /// Every claim this crate does not type, in the order they came.
    pub fn extra_claims(&self) -> &Map<String, Value> {
        &self.extra
    }
}

/// The claims found so far while parsing; every required one is checked at the end.
#[derive(Default)]
struct PartialClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<OneOrMany>,
    client_id: Option<String>,
    jti: Option<String>,
    exp: Option<NumericDate>,
    iat: Option<NumericDate>,
    nbf: Option<NumericDate>,
    resource: Option<OneOrMany>,
    scope: Option<Scope>,
    authorization_details: Option<Vec<AuthorizationDetail>>,
    act: Option<Actor>,
    tenant: Option<String>,
    auth_time: Option<NumericDate>,
    acr: Option<String>,
    amr: Option<Vec<String>>,
    aud_tenant: Option<String>,
    aud_sub: Option<String>,
    email: Option<String>,
    sub_id: Option<SubjectIdentifier>,
    cnf: Option<Confirmation>,
    extra: Map<String, Value>,
    /// The registered claims met so far, one bit per [`Registered`] claim.
    seen: u32,
    /// The first mistyped or malformed claim, in document order.
    error: Option<ClaimsError>,
}

/// The claims this crate types (the names of [`REGISTERED`]), for [`PartialClaims`].
#[derive(Clone, Copy)]
enum Registered {
    Iss,
    Sub,
    Aud,
    ClientId,
    Jti,
    Exp,
    Iat,
    Nbf,
    Resource,
    Scope,
    AuthorizationDetails,
    Act,
    Tenant,
    AuthTime,
    Acr,
    Amr,
    AudTenant,
    AudSub,
    Email,
    SubId,
    Cnf,
}

impl Registered {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "iss" => Registered::Iss,
            "sub" => Registered::Sub,
            "aud" => Registered::Aud,
            "client_id" => Registered::ClientId,
            "jti" => Registered::Jti,
            "exp" => Registered::Exp,
            "iat" => Registered::Iat,
            "nbf" => Registered::Nbf,
            "resource" => Registered::Resource,
            "scope" => Registered::Scope,
            "authorization_details" => Registered::AuthorizationDetails,
            "act" => Registered::Act,
            "tenant" => Registered::Tenant,
            "auth_time" => Registered::AuthTime,
            "acr" => Registered::Acr,
            "amr" => Registered::Amr,
            "aud_tenant" => Registered::AudTenant,
            "aud_sub" => Registered::AudSub,
            "email" => Registered::Email,
            "sub_id" => Registered::SubId,
            "cnf" => Registered::Cnf,
            _ => return None,
        })
    }

    /// Its bit in [`PartialClaims::seen`]: 21 claims, 32 bits.
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A member's name as [`PartialClaims`] took it.
enum ClaimName {
    Registered(Registered),
    Extra(String),
}

impl<'de> json::MemberSink<'de> for PartialClaims {
    type Name = ClaimName;

    fn name(&mut self, name: Cow<'de, str>) -> Option<ClaimName> {
        match Registered::from_name(&name) {
            Some(claim) if self.seen & claim.bit() != 0 => None,
            Some(claim) => {
                self.seen |= claim.bit();
                Some(ClaimName::Registered(claim))
            }
            None if self.extra.contains_key(name.as_ref()) => None,
            None => Some(ClaimName::Extra(name.into_owned())),
        }
    }

    fn value(&mut self, name: ClaimName, value: Value) {
        match name {
            // Kept even after a refusal, so that a later repeat of the name is still found.
            ClaimName::Extra(name) => {
                self.extra.insert(name, value);
            }
            ClaimName::Registered(_) if self.error.is_some() => {}
            ClaimName::Registered(claim) => {
                if let Err(error) = self.put(claim, value) {
                    self.error = Some(error);
                }
            }
        }
    }
}

impl PartialClaims {
    /// Type one registered claim into its slot.
    fn put(&mut self, claim: Registered, value: Value) -> Result<(), ClaimsError> {
        match claim {
            Registered::Iss => self.iss = Some(string_value(value, "iss")?),
            Registered::Sub => self.sub = Some(string_value(value, "sub")?),
            Registered::Aud => self.aud = Some(OneOrMany::from_value(value, "aud")?),
            Registered::ClientId => self.client_id = Some(string_value(value, "client_id")?),
            Registered::Jti => self.jti = Some(string_value(value, "jti")?),
            Registered::Exp => self.exp = Some(date_value(&value, "exp")?),
            Registered::Iat => self.iat = Some(date_value(&value, "iat")?),
            Registered::Nbf => self.nbf = Some(date_value(&value, "nbf")?),
            Registered::Resource => {
                self.resource = Some(OneOrMany::from_value(value, "resource")?);
            }
            Registered::Scope => {
                let text = string_value(value, "scope")?;
                self.scope = Some(Scope::parse(&text).map_err(ClaimsError::InvalidScope)?);
            }
            Registered::AuthorizationDetails => {
                let Value::Array(items) = value else {
                    return Err(ClaimsError::WrongType("authorization_details"));
                };
                let details = items.into_iter().map(AuthorizationDetail::from_value);
                self.authorization_details = Some(details.collect::<Result<_, _>>()?);
            }
            Registered::Act => self.act = Some(Actor::from_value(value)?),
            Registered::Tenant => self.tenant = Some(string_value(value, "tenant")?),
            Registered::AuthTime => self.auth_time = Some(date_value(&value, "auth_time")?),
            Registered::Acr => self.acr = Some(string_value(value, "acr")?),
            Registered::Amr => {
                let Value::Array(items) = value else {
                    return Err(ClaimsError::WrongType("amr"));
                };
                let methods = items.into_iter().map(|item| match item {
                    Value::String(method) => Ok(method),
                    _ => Err(ClaimsError::WrongType("amr")),
                });
                self.amr = Some(methods.collect::<Result<_, _>>()?);
            }
            Registered::AudTenant => self.aud_tenant = Some(string_value(value, "aud_tenant")?),
            Registered::AudSub => self.aud_sub = Some(string_value(value, "aud_sub")?),
            Registered::Email => self.email = Some(string_value(value, "email")?),
            Registered::SubId => self.sub_id = Some(SubjectIdentifier::from_value(value)?),
            Registered::Cnf => self.cnf = Some(Confirmation::from_value(value)?),
        }
        Ok(())
    }

    /// The claim set, or the first refusal: a mistyped claim, then a missing required one.
    fn finish(self) -> Result<IdJagClaims, ClaimsError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(IdJagClaims {
            iss: self.iss.ok_or(ClaimsError::Missing("iss"))?,
            sub: self.sub.ok_or(ClaimsError::Missing("sub"))?,
            aud: self.aud.ok_or(ClaimsError::Missing("aud"))?,
            client_id: self.client_id.ok_or(ClaimsError::Missing("client_id"))?,
            jti: self.jti.ok_or(ClaimsError::Missing("jti"))?,
            exp: self.exp.ok_or(ClaimsError::Missing("exp"))?,
            iat: self.iat.ok_or(ClaimsError::Missing("iat"))?,
            nbf: self.nbf,
            resource: self.resource,
            scope: self.scope,
            authorization_details: self.authorization_details,
            act: self.act,
            tenant: self.tenant,
            auth_time: self.auth_time,
            acr: self.acr,
            amr: self.amr,
            aud_tenant: self.aud_tenant,
            aud_sub: self.aud_sub,
            email: self.email,
            sub_id: self.sub_id,
            cnf: self.cnf,
            extra: self.extra,
        })
    }
}

/// A string claim: non-empty, and a string (`null` is the wrong type, never "absent").
fn string_value(value: Value, name: &'static str) -> Result<String, ClaimsError> {
    match value {
        Value::String(text) if text.is_empty() => Err(ClaimsError::Empty(name)),
        Value::String(text) => Ok(text),
        _ => Err(ClaimsError::WrongType(name)),
    }
}

/// A NumericDate claim.
fn date_value(value: &Value, name: &'static str) -> Result<NumericDate, ClaimsError> {
    NumericDate::from_json(value).map_err(|error| ClaimsError::InvalidDate { claim: name, error })
}

impl Serialize for IdJagClaims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("iss", &self.iss)?;
        map.serialize_entry("sub", &self.sub)?;
        map.serialize_entry("aud", &OneOrManyJson(&self.aud))?;
        map.serialize_entry("client_id", &self.client_id)?;
        map.serialize_entry("jti", &self.jti)?;
        map.serialize_entry("exp", &self.exp)?;
        map.serialize_entry("iat", &self.iat)?;
        if let Some(nbf) = &self.nbf {
            map.serialize_entry("nbf", nbf)?;
        }
        if let Some(resource) = &self.resource {
            map.serialize_entry("resource", &OneOrManyJson(resource))?;
        }
        if let Some(scope) = &self.scope {
            map.serialize_entry("scope", scope)?;
        }
        if let Some(details) = &self.authorization_details {
            let values: Vec<Value> = details.iter().map(AuthorizationDetail::to_value).collect();
            map.serialize_entry("authorization_details", &values)?;
        }
        if let Some(act) = &self.act {
            map.serialize_entry("act", &ActorJson(act))?;
        }
        let strings = [
            ("tenant", &self.tenant),
            ("acr", &self.acr),
            ("aud_tenant", &self.aud_tenant),
            ("aud_sub", &self.aud_sub),
            ("email", &self.email),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                map.serialize_entry(name, value)?;
            }
        }
        if let Some(auth_time) = &self.auth_time {
            map.serialize_entry("auth_time", auth_time)?;
        }
        if let Some(amr) = &self.amr {
            map.serialize_entry("amr", amr)?;
        }
        if let Some(sub_id) = &self.sub_id {
            map.serialize_entry("sub_id", &sub_id.to_value())?;
        }
        if let Some(cnf) = &self.cnf {
            map.serialize_entry("cnf", &cnf.to_value())?;
        }
        for (name, value) in &self.extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A required string claim taken from its slot: present, a string, not empty.
pub(crate) fn required_string(
    value: Option<Value>,
    name: &'static str,
) -> Result<String, ClaimsError> {
    optional_string(value, name)?.ok_or(ClaimsError::Missing(name))
}

/// An optional string claim taken from its slot: when present, a non-empty string (`null` is
/// the wrong type, never "absent").
pub(crate) fn optional_string(
    value: Option<Value>,
    name: &'static str,
) -> Result<Option<String>, ClaimsError> {
    value.map(|value| string_value(value, name)).transpose()
}

/// An optional non-empty string member of a nested object; the error is mapped by the caller.
fn optional_nonempty(m: &mut Map<String, Value>, name: &'static str) -> Result<Option<String>, ()> {
    match m.shift_remove(name) {
        None => Ok(None),
        Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
        Some(_) => Err(()),
    }
}

/// An optional NumericDate claim taken from its slot.
pub(crate) fn optional_date(
    value: Option<&Value>,
    name: &'static str,
) -> Result<Option<NumericDate>, ClaimsError> {
    value.map(|value| date_value(value, name)).transpose()
}
