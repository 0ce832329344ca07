//! Subject tokens (draft §4.3.1): ID tokens validated here with the IdP's own keys; refresh
//! tokens, SAML assertions and actor tokens validated by the host.

use serde_json::Value;

use super::DenyReason;
use crate::NumericDate;
use crate::authenticated::AuthenticatedClient;
use crate::claims::{self, Actor, ClaimsError, OneOrMany, SamlNameId};
use crate::jose::{AlgorithmSet, CompactJws, KeySet, ParseOptions, media_type_matches};
use crate::scope::Scope;

/// The user behind a valid subject token, and what the token says about their sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedSubject {
    /// The user's id at the IdP.
    pub subject: String,
    /// The client the token was issued to (ID token `aud`/`azp`, SAML Audience mapped to a
    /// client id, the refresh token's client).
    pub issued_to: String,
    /// When the user authenticated.
    pub auth_time: Option<NumericDate>,
    /// The authentication context class.
    pub acr: Option<String>,
    /// The authentication methods.
    pub amr: Option<Vec<String>>,
    /// For a SAML assertion: the NameID it asserts, with its attributes (`Format`,
    /// `NameQualifier`, `SPNameQualifier`, `SPProvidedID`), for the host minting the refresh
    /// token on the SAML path (draft §4.5).
    pub saml_nameid: Option<SamlNameId>,
    /// For a refresh token: the scope it was granted. A request beyond it is refused, and a
    /// request naming no scope gets no more than it (RFC 6749 §6, draft §4.3.1).
    pub token_scope: Option<Scope>,
}

impl ValidatedSubject {
    /// A subject issued to `issued_to`, with nothing known of the sign-in.
    pub fn new(subject: impl Into<String>, issued_to: impl Into<String>) -> Self {
        ValidatedSubject {
            subject: subject.into(),
            issued_to: issued_to.into(),
            auth_time: None,
            acr: None,
            amr: None,
            saml_nameid: None,
            token_scope: None,
        }
    }

    /// With the SAML NameID the assertion carries.
    pub fn with_saml_nameid(mut self, nameid: SamlNameId) -> Self {
        self.saml_nameid = Some(nameid);
        self
    }

    /// With the scope the refresh token was granted.
    pub fn with_token_scope(mut self, scope: Scope) -> Self {
        self.token_scope = Some(scope);
        self
    }
}

/// The host's validation of the tokens the crate cannot check itself. Every method refuses by
/// default.
pub trait HostTokens: Send + Sync {
    /// A refresh token as a subject token: exactly the checks of a refresh grant (issued by
    /// this IdP, bound to this client, unexpired, unrevoked), then the user's current
    /// attributes (draft §4.3.1).
    fn validate_refresh_token(
        &self,
        token: &str,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Option<ValidatedSubject> {
        let _ = (token, client, now);
        None
    }

    /// A SAML 2.0 assertion (signature, conditions, subject confirmation); `issued_to` is its
    /// Audience mapped to a client id (draft §4.5).
    fn validate_saml_assertion(
        &self,
        assertion: &str,
        client: &AuthenticatedClient,
        now: NumericDate,
    ) -> Option<ValidatedSubject> {
        let _ = (assertion, client, now);
        None
    }

    /// Whether this host processes actor tokens at all; when not, a request carrying one is
    /// refused as unsupported rather than as invalid.
    fn accepts_actor_tokens(&self) -> bool {
        true
    }

    /// An actor token (RFC 8693 §2.1): its processing is the deployment's (draft §4.3).
    fn validate_actor_token(&self, token: &str, token_type: &str) -> Option<Actor> {
        let _ = (token, token_type);
        None
    }

    /// Mint an IdP refresh token for the SAML path (draft §4.5) for the requested `scope`:
    /// the token, its lifetime, and the scope actually granted (reported in the response when
    /// it differs from the request).
    fn mint_refresh_token(
        &self,
        subject: &ValidatedSubject,
        client: &AuthenticatedClient,
        scope: Option<&crate::scope::Scope>,
    ) -> Option<MintedRefreshToken> {
        let _ = (subject, client, scope);
        None
    }
}

/// A refresh token the host minted on the SAML path.
#[derive(Clone, PartialEq, Eq)]
pub struct MintedRefreshToken {
    /// The refresh token.
    pub token: String,
    /// Its lifetime in seconds, if it has one.
    pub expires_in: Option<u64>,
    /// The scope it carries.
    pub scope: Option<crate::scope::Scope>,
}

impl std::fmt::Debug for MintedRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedRefreshToken")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The [`HostTokens`] that accepts only ID tokens.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdTokensOnly;

impl HostTokens for IdTokensOnly {
    fn accepts_actor_tokens(&self) -> bool {
        false
    }
}

/// How ID tokens are checked.
pub(crate) struct IdTokenRules<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) keys: &'a KeySet,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) leeway: u64,
    pub(crate) max_age: Option<u64>,
    pub(crate) max_len: usize,
}

/// The ID token claims [`validate_id_token`] reads, as found.
#[derive(Default)]
struct IdTokenSlots {
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    azp: Option<Value>,
    exp: Option<Value>,
    iat: Option<Value>,
    nbf: Option<Value>,
    auth_time: Option<Value>,
    acr: Option<Value>,
    amr: Option<Value>,
}

/// Validate an ID token as a subject token (draft §4.3.1, OpenID Connect Core §3.1.3.7).
pub(crate) fn validate_id_token(
    token: &str,
    rules: &IdTokenRules<'_>,
    client: &AuthenticatedClient,
    now: NumericDate,
) -> Result<ValidatedSubject, DenyReason> {
    let options = ParseOptions::new(rules.algorithms).with_max_len(rules.max_len);
    let jws = CompactJws::parse(token, &options).map_err(DenyReason::SubjectTokenJose)?;

    // draft §4.3.1 item 3: never one token type in place of another. An ID token is typed
    // `JWT` or not at all; an ID-JAG, an `at+jwt` access token or anything else is refused.
    if jws.header().typ().is_some_and(|typ| !media_type_matches(typ, "jwt")) {
        return Err(DenyReason::SubjectTokenTypeConfusion);
    }
    jws.verify_with_key_set(rules.keys).map_err(DenyReason::SubjectTokenJose)?;

    let members = crate::json::parse_members(jws.unverified_payload())
        .map_err(|error| DenyReason::SubjectTokenClaims(ClaimsError::from_json(error)))?;
    // An untyped JWT signed with the same keys could be something else: RFC 9068 access tokens
    // and ID-JAGs always carry `client_id`, which an ID token never does.
    if members.iter().any(|(name, _)| name == "client_id") {
        return Err(DenyReason::SubjectTokenTypeConfusion);
    }
    // One pass moves each claim read here into its slot (names are unique: the parser refused
    // repeats); the claims are then checked in a fixed order, whatever the document's.
    let mut slots = IdTokenSlots::default();
    for (name, value) in members {
        let slot = match name.as_ref() {
            "iss" => &mut slots.iss,
            "sub" => &mut slots.sub,
            "aud" => &mut slots.aud,
            "azp" => &mut slots.azp,
            "exp" => &mut slots.exp,
            "iat" => &mut slots.iat,
            "nbf" => &mut slots.nbf,
            "auth_time" => &mut slots.auth_time,
            "acr" => &mut slots.acr,
            "amr" => &mut slots.amr,
            _ => continue,
        };
        *slot = Some(value);
    }
    let claims_error = DenyReason::SubjectTokenClaims;
    let issuer = claims::required_string(slots.iss, "iss").map_err(claims_error)?;
    let subject = claims::required_string(slots.sub, "sub").map_err(claims_error)?;
    let audience = slots.aud.ok_or(ClaimsError::Missing("aud"));
    let audience = OneOrMany::from_value(audience.map_err(claims_error)?, "aud");
    let audience = audience.map_err(claims_error)?;
    let authorized_party = claims::optional_string(slots.azp, "azp").map_err(claims_error)?;
    let expires_at = claims::optional_date(slots.exp.as_ref(), "exp").map_err(claims_error)?;
    let expires_at =
        expires_at.ok_or(DenyReason::SubjectTokenClaims(ClaimsError::Missing("exp")))?;
    let issued_at = claims::optional_date(slots.iat.as_ref(), "iat").map_err(claims_error)?;
    let issued_at = issued_at.ok_or(DenyReason::SubjectTokenClaims(ClaimsError::Missing("iat")))?;
    let not_before = claims::optional_date(slots.nbf.as_ref(), "nbf").map_err(claims_error)?;
    let auth_time =
        claims::optional_date(slots.auth_time.as_ref(), "auth_time").map_err(claims_error)?;
    let acr = claims::optional_string(slots.acr, "acr").map_err(claims_error)?;
    let amr = match slots.amr {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .map(|item| match item {
                    Value::String(method) => Ok(method),
                    _ => Err(DenyReason::SubjectTokenClaims(ClaimsError::WrongType("amr"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(DenyReason::SubjectTokenClaims(ClaimsError::WrongType("amr"))),
    };

    // OIDC Core §3.1.3.7 item 2: issued by this IdP.
    if issuer != rules.issuer {
        return Err(DenyReason::SubjectTokenIssuer);
    }
    // draft §4.3.1: the ID token's audience is the authenticated client, as a string or a
    // one-element array; with several audiences, azp names it (OIDC Core §3.1.3.7 items 3-5).
    let client_id = client.client_id();
    let issued_to_client = match (&audience, audience.single()) {
        (_, Some(only)) => only == client_id,
        (OneOrMany::Many(all), None) => {
            all.iter().any(|a| a == client_id) && authorized_party.as_deref() == Some(client_id)
        }
        (OneOrMany::One(_), None) => false,
    };
    let azp_consistent = authorized_party.as_deref().is_none_or(|azp| azp == client_id);
    if !issued_to_client || !azp_consistent {
        return Err(DenyReason::SubjectTokenAudience);
    }
    if now >= expires_at.saturating_add_seconds(rules.leeway) {
        return Err(DenyReason::SubjectTokenExpired);
    }
    // RFC 7519 §4.1.5: not before nbf; and not issued in the future.
    let ahead = |date: NumericDate| date > now.saturating_add_seconds(rules.leeway);
    if ahead(issued_at) || not_before.is_some_and(ahead) {
        return Err(DenyReason::SubjectTokenIssuedInFuture);
    }
    if let Some(max_age) = rules.max_age {
        let since = auth_time.unwrap_or(issued_at);
        if now.seconds_since(since).is_some_and(|age| age > max_age) {
            return Err(DenyReason::SubjectTokenTooOld);
        }
    }
    Ok(ValidatedSubject {
        subject,
        issued_to: client_id.to_owned(),
        auth_time,
        acr,
        amr,
        saml_nameid: None,
        token_scope: None,
    })
}
