//! RFC 9068 JWT access tokens minted from a grant, for hosts that want JWT access tokens.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::Grant;
use crate::NumericDate;
use crate::jose::{JoseError, Signer, sign_compact};
use crate::response::{TokenResponse, random_jwt_id};
use crate::urn;

/// Mints RFC 9068 access tokens with the resource AS's own key.
pub struct AccessTokenIssuer {
    issuer: String,
    signer: Arc<dyn Signer>,
    lifetime: u64,
}

/// A minted access token. Its `Debug` output hides the token.
#[derive(Clone)]
pub struct IssuedAccessToken {
    token: String,
    jwt_id: String,
    expires_at: NumericDate,
    lifetime: u64,
}

impl IssuedAccessToken {
    /// The compact JWT.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Its `jti`.
    pub fn jwt_id(&self) -> &str {
        &self.jwt_id
    }

    /// Its `exp`.
    pub fn expires_at(&self) -> NumericDate {
        self.expires_at
    }

    /// The token response for it: `Bearer` (or `DPoP` when bound), `expires_in`, the granted
    /// `scope` and `authorization_details` (RFC 9396 §7), no refresh token (draft §4.4.2).
    pub fn token_response(&self, grant: &Grant) -> TokenResponse {
        let mut response =
            TokenResponse::bearer(self.token.clone(), self.lifetime, grant.scope().cloned());
        if grant.dpop_jkt().is_some() {
            response.token_type = urn::TOKEN_TYPE_DPOP;
        }
        response.authorization_details = granted_details(grant);
        response
    }
}

impl std::fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("token", &"<redacted>")
            .field("jwt_id", &self.jwt_id)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl AccessTokenIssuer {
    /// An issuer for `issuer` (this resource AS) signing with `signer`, tokens living
    /// `lifetime` seconds.
    pub fn new(issuer: impl Into<String>, signer: Arc<dyn Signer>, lifetime: u64) -> Self {
        AccessTokenIssuer { issuer: issuer.into(), signer, lifetime }
    }

    /// Mint an access token for `grant` (RFC 9068 §2.2): `typ` `at+jwt`; `iss`; `sub` (the
    /// account here); `aud` (the granted resources); `client_id`; `scope`; the granted
    /// `authorization_details`; `jti`; `iat`; `exp`; and the ID-JAG's `act`, so the resource
    /// server sees the agent too.
    pub fn mint(&self, grant: &Grant, now: NumericDate) -> Result<IssuedAccessToken, JoseError> {
        let jwt_id = random_jwt_id()?;
        let expires_at = now.saturating_add_seconds(self.lifetime);
        let mut claims = Map::new();
        let mut put = |name: &str, value: Value| {
            claims.insert(name.to_owned(), value);
        };
        put("iss", Value::String(self.issuer.clone()));
        put("sub", Value::String(grant.account().to_owned()));
        let audience: Vec<Value> =
            grant.resources().iter().map(|r| Value::String(r.clone())).collect();
        put(
            "aud",
            match <[Value; 1]>::try_from(audience) {
                Ok([single]) => single,
                Err(many) => Value::Array(many),
            },
        );
        put("client_id", Value::String(grant.client_id().to_owned()));
        if let Some(scope) = grant.scope() {
            put("scope", Value::String(scope.to_string()));
        }
        // RFC 9396 §9.1: the details granted travel in the token, so the API can enforce them.
        if let Some(details) = granted_details(grant) {
            put("authorization_details", details);
        }
        put("jti", Value::String(jwt_id.clone()));
        put("iat", Value::from(now.as_unix_seconds()));
        put("exp", Value::from(expires_at.as_unix_seconds()));
        if let Some(actor) = grant.id_jag().claims().actor() {
            put("act", actor.to_value());
        }
        // RFC 9449 §6: a DPoP-bound access token names its key.
        if let Some(jkt) = grant.dpop_jkt() {
            let mut cnf = Map::new();
            cnf.insert("jkt".to_owned(), Value::String(jkt.to_owned()));
            put("cnf", Value::Object(cnf));
        }
        let payload = Value::Object(claims).to_string();
        let token =
            sign_compact(self.signer.as_ref(), Some(urn::TYP_ACCESS_TOKEN), payload.as_bytes())?;
        Ok(IssuedAccessToken { token, jwt_id, expires_at, lifetime: self.lifetime })
    }
}

impl std::fmt::Debug for AccessTokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenIssuer")
            .field("issuer", &self.issuer)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Why a resource server refused an access token.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessTokenError {
    /// Malformed, wrong header, unknown key or bad signature.
    #[error("access token is not a valid JWS: {0}")]
    Jose(JoseError),
    /// `typ` is not `at+jwt` (RFC 9068 §4).
    #[error("access token typ is not at+jwt")]
    TypMismatch,
    /// The claims are not a JSON object of the expected shape.
    #[error("access token claims are malformed")]
    Malformed,
    /// `iss` is not the expected authorization server.
    #[error("access token issuer mismatch")]
    IssuerMismatch,
    /// `aud` does not include this resource.
    #[error("access token audience mismatch")]
    AudienceMismatch,
    /// `exp` has passed.
    #[error("access token expired")]
    Expired,
    /// A required scope is missing.
    #[error("access token lacks a required scope")]
    InsufficientScope,
    /// The token is DPoP-bound and no proof came with it (RFC 9449 §7.1).
    #[error("DPoP-bound access token presented without a proof")]
    DpopProofMissing,
    /// The proof is invalid (including `ath` not matching this token).
    #[error("DPoP proof invalid: {0}")]
    DpopProofInvalid(crate::dpop::DpopError),
    /// The proof's key is not the one the token is bound to.
    #[error("DPoP proof key does not match the token's binding")]
    DpopKeyMismatch,
    /// The token is bound by a method other than DPoP (such as mTLS `x5t#S256`), which this
    /// verifier cannot check: it is never taken as a bearer token.
    #[error("access token bound by an unsupported method")]
    UnsupportedBinding,
}

impl AccessTokenError {
    /// A stable, machine-readable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            AccessTokenError::Jose(error) => error.reason(),
            AccessTokenError::TypMismatch => "at_typ_mismatch",
            AccessTokenError::Malformed => "at_malformed",
            AccessTokenError::IssuerMismatch => "at_issuer_mismatch",
            AccessTokenError::AudienceMismatch => "at_aud_mismatch",
            AccessTokenError::Expired => "at_expired",
            AccessTokenError::InsufficientScope => "at_insufficient_scope",
            AccessTokenError::DpopProofMissing => "at_dpop_proof_missing",
            AccessTokenError::DpopProofInvalid(error) => error.reason(),
            AccessTokenError::DpopKeyMismatch => "at_dpop_key_mismatch",
            AccessTokenError::UnsupportedBinding => "at_binding_unsupported",
        }
    }
}

/// The claims of an access token that passed [`AccessTokenVerifier::verify`].
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedAccessToken {
    /// `sub`: the account.
    pub subject: String,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `scope`.
    pub scope: Option<crate::scope::Scope>,
    /// `exp`.
    pub expires_at: NumericDate,
    /// `act.sub`: the agent acting for the user, when there is one.
    pub actor: Option<String>,
    /// Every claim, as sent.
    pub claims: Map<String, Value>,
}

/// A resource server's check of RFC 9068 JWT access tokens from one authorization server.
#[derive(Debug)]
pub struct AccessTokenVerifier {
    issuer: String,
    resource: String,
    keys: crate::jose::KeySet,
}

impl AccessTokenVerifier {
    /// Accept tokens issued by `issuer`, signed with `keys`, for the resource `resource`.
    pub fn new(
        issuer: impl Into<String>,
        resource: impl Into<String>,
        keys: crate::jose::KeySet,
    ) -> Self {
        AccessTokenVerifier { issuer: issuer.into(), resource: resource.into(), keys }
    }

    /// RFC 9068 §4: `typ` `at+jwt`, signature with the AS's keys, `iss` exact, `aud`
    /// containing this resource, `exp` in the future; then the scopes the call needs. A
    /// sender-constrained token (`cnf`) is refused here: check it with its proof through
    /// [`AccessTokenVerifier::verify_with_proof`].
    pub fn verify(
        &self,
        token: &str,
        required_scope: Option<&crate::scope::Scope>,
        now: NumericDate,
    ) -> Result<VerifiedAccessToken, AccessTokenError> {
        let verified = self.verify_unbound(token, required_scope, now)?;
        match verified.claims.get("cnf") {
            None => Ok(verified),
            Some(cnf) if dpop_jkt_only(cnf).is_some() => Err(AccessTokenError::DpopProofMissing),
            Some(_) => Err(AccessTokenError::UnsupportedBinding),
        }
    }

    /// Every check of [`AccessTokenVerifier::verify`] but the binding.
    fn verify_unbound(
        &self,
        token: &str,
        required_scope: Option<&crate::scope::Scope>,
        now: NumericDate,
    ) -> Result<VerifiedAccessToken, AccessTokenError> {
        use crate::jose::{AlgorithmSet, CompactJws, ParseOptions};
        let jws = CompactJws::parse(token, &ParseOptions::new(AlgorithmSet::all()))
            .map_err(AccessTokenError::Jose)?;
        if !jws.header().typ_is(urn::TYP_ACCESS_TOKEN) {
            return Err(AccessTokenError::TypMismatch);
        }
        jws.verify_with_key_set(&self.keys).map_err(AccessTokenError::Jose)?;
        let claims = crate::json::parse_object(jws.unverified_payload())
            .map_err(|_| AccessTokenError::Malformed)?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("iss") != Some(self.issuer.as_str()) {
            return Err(AccessTokenError::IssuerMismatch);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(audience)) => *audience == self.resource,
            Some(Value::Array(audiences)) => {
                audiences.iter().any(|a| a.as_str() == Some(self.resource.as_str()))
            }
            _ => false,
        };
        if !audience_ok {
            return Err(AccessTokenError::AudienceMismatch);
        }
        let expires_at = claims
            .get("exp")
            .ok_or(AccessTokenError::Malformed)
            .and_then(|exp| NumericDate::from_json(exp).map_err(|_| AccessTokenError::Malformed))?;
        if now >= expires_at {
            return Err(AccessTokenError::Expired);
        }
        // A claim of the wrong type is malformed, never absent.
        let optional = |name: &str| match claims.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.as_str())),
            Some(_) => Err(AccessTokenError::Malformed),
        };
        let scope = match optional("scope")? {
            Some(scope) => {
                Some(crate::scope::Scope::parse(scope).map_err(|_| AccessTokenError::Malformed)?)
            }
            None => None,
        };
        if let Some(required) = required_scope {
            if !scope.as_ref().is_some_and(|held| required.is_subset(held)) {
                return Err(AccessTokenError::InsufficientScope);
            }
        }
        let subject = text("sub").ok_or(AccessTokenError::Malformed)?.to_owned();
        let client_id = optional("client_id")?.map(str::to_owned);
        let actor = match claims.get("act") {
            None => None,
            Some(Value::Object(act)) => match act.get("sub") {
                None => None,
                Some(Value::String(sub)) => Some(sub.clone()),
                Some(_) => return Err(AccessTokenError::Malformed),
            },
            Some(_) => return Err(AccessTokenError::Malformed),
        };
        Ok(VerifiedAccessToken { subject, client_id, scope, expires_at, actor, claims })
    }

    /// [`AccessTokenVerifier::verify`] together with the request's DPoP proof (RFC 9449 §7):
    /// a bound token (`cnf.jkt`) needs a proof for this request (`htm`, `htu`) by its key, whose
    /// `ath` is this token's hash. An unbound token is accepted with or without a proof.
    #[allow(clippy::too_many_arguments)]
    pub fn verify_with_proof(
        &self,
        token: &str,
        required_scope: Option<&crate::scope::Scope>,
        proof: Option<&str>,
        method: &str,
        uri: &str,
        dpop: &crate::dpop::DpopVerifier,
        replay: &dyn crate::resource::ReplayGuard,
        now: NumericDate,
    ) -> Result<VerifiedAccessToken, AccessTokenError> {
        let verified = self.verify_unbound(token, required_scope, now)?;
        let Some(cnf) = verified.claims.get("cnf") else {
            return Ok(verified);
        };
        let bound_to = dpop_jkt_only(cnf).ok_or(AccessTokenError::UnsupportedBinding)?;
        let proof = proof.ok_or(AccessTokenError::DpopProofMissing)?;
        let checked = dpop
            .verify(proof, method, uri, Some(token), now, replay)
            .map_err(AccessTokenError::DpopProofInvalid)?;
        if bound_to != checked.jkt() {
            return Err(AccessTokenError::DpopKeyMismatch);
        }
        Ok(verified)
    }
}

/// The `authorization_details` a grant carries, as the JSON array the token and the response
/// hold (RFC 9396 §2).
fn granted_details(grant: &Grant) -> Option<Value> {
    let details = grant.authorization_details()?;
    Some(Value::Array(details.iter().map(crate::claims::AuthorizationDetail::to_value).collect()))
}

/// The DPoP thumbprint of a `cnf` that binds by DPoP alone: any other member (mTLS
/// `x5t#S256`, ...) is a binding this verifier cannot check.
fn dpop_jkt_only(cnf: &Value) -> Option<&str> {
    match cnf {
        Value::Object(members) if members.len() == 1 => members.get("jkt")?.as_str(),
        _ => None,
    }
}
