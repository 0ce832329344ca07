//! Compact JWS (RFC 7515 §7.1), strictly: size cap, exactly three canonical base64url
//! segments, a header without duplicate members, and header rules that keep every key choice
//! on the verifier's side. The payload is bytes here: the claim set's parser
//! ([`crate::claims::IdJagClaims::from_json`]) reads it as strictly.

use serde_json::{Map, Value};

use super::{Algorithm, AlgorithmSet, JoseError, KeySet, Signer, VerificationKey};
use super::{b64_decode, b64_encode, verify_signature};
use crate::json::{self, JsonError, Members};

/// Limits and allow-list for parsing a compact JWS.
#[derive(Clone, Copy, Debug)]
pub struct ParseOptions {
    max_len: usize,
    allowed: AlgorithmSet,
    header_jwk: bool,
}

impl ParseOptions {
    /// The default size cap: 16 KiB, far above any real ID-JAG and far below anything costly.
    pub const DEFAULT_MAX_LEN: usize = 16 * 1024;

    /// Options allowing exactly `allowed`, with the default size cap.
    pub fn new(allowed: AlgorithmSet) -> Self {
        Self { max_len: Self::DEFAULT_MAX_LEN, allowed, header_jwk: false }
    }

    /// Change the size cap (in bytes of the compact serialization).
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// Accept a `jwk` header member and keep it (RFC 9449 §4.2): only a DPoP proof carries its
    /// key, and only the DPoP verifier turns this on. `jku`, `x5u` and `x5c` stay refused.
    pub(crate) fn with_header_jwk(mut self) -> Self {
        self.header_jwk = true;
        self
    }

    /// The allowed algorithms.
    pub fn allowed(&self) -> AlgorithmSet {
        self.allowed
    }
}

/// The JOSE header of a compact JWS, as far as this crate reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwsHeader {
    algorithm: Algorithm,
    typ: Option<String>,
    kid: Option<String>,
    cty: Option<String>,
    jwk: Option<Map<String, Value>>,
}

impl JwsHeader {
    /// `alg`, already checked against the allow-list.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `typ`, as sent.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// `kid`, as sent.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `cty`, as sent.
    pub fn cty(&self) -> Option<&str> {
        self.cty.as_deref()
    }

    /// The `jwk` member, present only when parsing a DPoP proof.
    pub(crate) fn jwk(&self) -> Option<&Map<String, Value>> {
        self.jwk.as_ref()
    }

    /// Whether `typ` is the media type `expected` (see [`media_type_matches`]).
    pub fn typ_is(&self, expected: &str) -> bool {
        self.typ.as_deref().is_some_and(|typ| media_type_matches(typ, expected))
    }

    fn from_members(mut header: Members<'_>, options: &ParseOptions) -> Result<Self, JoseError> {
        let allowed = options.allowed;
        let member = |name: &str| header.iter().find(|(n, _)| n == name).map(|(_, value)| value);

        // RFC 7515 §4.1.1 and RFC 8725 §3.1: alg is required and must be one the caller allows.
        let algorithm = match member("alg") {
            None => return Err(JoseError::AlgorithmMissing),
            Some(Value::String(name)) => {
                Algorithm::from_name(name).ok_or(JoseError::AlgorithmUnsupported)?
            }
            Some(_) => return Err(JoseError::HeaderMemberType("alg")),
        };
        if !allowed.contains(algorithm) {
            return Err(JoseError::AlgorithmNotAllowed);
        }

        // RFC 7515 §4.1.11: crit must not be empty, and we understand no extension.
        if let Some(crit) = member("crit") {
            let Value::Array(names) = crit else {
                return Err(JoseError::HeaderMemberType("crit"));
            };
            if names.iter().any(|name| !name.is_string()) {
                return Err(JoseError::HeaderMemberType("crit"));
            }
            return Err(if names.is_empty() {
                JoseError::CritEmpty
            } else {
                JoseError::CritUnsupported
            });
        }

        // RFC 7797: an unencoded payload changes what is signed; never for an ID-JAG.
        if member("b64").is_some() {
            return Err(JoseError::B64Unsupported);
        }

        // RFC 8725 §3.10: a key named or carried by the token proves nothing about its signer.
        // Only a DPoP proof may carry its own key, and only where the caller asked for that.
        if ["jku", "x5u", "x5c"].iter().any(|name| member(name).is_some()) {
            return Err(JoseError::EmbeddedKey);
        }
        let jwk = match member("jwk") {
            None => None,
            Some(_) if !options.header_jwk => return Err(JoseError::EmbeddedKey),
            Some(Value::Object(jwk)) => Some(jwk.clone()),
            Some(_) => return Err(JoseError::HeaderMemberType("jwk")),
        };

        // Move the strings out rather than copy them.
        let mut string = |name: &'static str| match header
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.take())
        {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(JoseError::HeaderMemberType(name)),
        };
        let (typ, kid, cty) = (string("typ")?, string("kid")?, string("cty")?);
        Ok(Self { algorithm, typ, kid, cty, jwk })
    }
}

/// Whether a `typ` or `cty` value names the media type `expected`, given in its short form
/// (`oauth-id-jag+jwt`): compared case-insensitively, with or without the `application/` prefix
/// (RFC 7515 §4.1.9).
pub fn media_type_matches(value: &str, expected: &str) -> bool {
    const PREFIX: &[u8] = b"application/";
    let value = value.as_bytes();
    if value.eq_ignore_ascii_case(expected.as_bytes()) {
        return true;
    }
    match (value.get(..PREFIX.len()), value.get(PREFIX.len()..)) {
        (Some(prefix), Some(rest)) => {
            prefix.eq_ignore_ascii_case(PREFIX) && rest.eq_ignore_ascii_case(expected.as_bytes())
        }
        _ => false,
    }
}

/// A parsed, not yet verified, compact JWS.
///
/// Holding one proves only that the structure and header rules passed; the payload is
/// attacker-controlled until [`CompactJws::verify_with`] or
/// [`CompactJws::verify_with_key_set`] succeeds.
#[derive(Clone)]
pub struct CompactJws<'a> {
    signing_input: &'a str,
    header: JwsHeader,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    /// Parse `token` under `options`.
    ///
    /// Refuses, in this order: a token over the size cap; anything but three dot-separated
    /// segments; a segment that is not canonical unpadded base64url; a header that is not a
    /// JSON object or repeats a member; the header rules (`alg` missing, unsupported or not
    /// allowed, `crit`, `b64`, `jwk`/`jku`/`x5u`/`x5c`, members of the wrong type); a
    /// signature of the wrong length for a fixed-length algorithm.
    pub fn parse(token: &'a str, options: &ParseOptions) -> Result<Self, JoseError> {
        let Segments { header_b64, payload_b64, signature_b64, signing_input } =
            Segments::split(token, options)?;
        let header_bytes = b64_decode(header_b64).ok_or(JoseError::Base64)?;
        let payload = b64_decode(payload_b64).ok_or(JoseError::Base64)?;
        let signature = b64_decode(signature_b64).ok_or(JoseError::Base64)?;

        let header_members = json::parse_members(&header_bytes).map_err(|error| match error {
            JsonError::DuplicateMember => JoseError::HeaderDuplicateMember,
            JsonError::Syntax | JsonError::NotAnObject => JoseError::HeaderNotJson,
        })?;
        let header = JwsHeader::from_members(header_members, options)?;

        // Refuse a wrong-length signature before any key lookup or big-number arithmetic.
        if let Some(expected) = header.algorithm.fixed_signature_len() {
            if signature.len() != expected {
                return Err(JoseError::SignatureLength);
            }
        }

        Ok(Self { signing_input, header, payload, signature })
    }

    /// For a caller that parsed and checked this token's exact header segment before and kept
    /// its `alg` (the DPoP verifier, for a client key it has seen): the rules of
    /// [`CompactJws::parse`] that do not depend on the header's content, in the same order
    /// (size cap, segments, canonical base64url, `alg` allowed, signature length), without
    /// decoding and parsing the header again.
    pub(crate) fn parse_after_known_header(
        token: &'a str,
        options: &ParseOptions,
        algorithm: Algorithm,
    ) -> Result<JwsBody<'a>, JoseError> {
        let Segments { payload_b64, signature_b64, signing_input, .. } =
            Segments::split(token, options)?;
        let payload = b64_decode(payload_b64).ok_or(JoseError::Base64)?;
        let signature = b64_decode(signature_b64).ok_or(JoseError::Base64)?;
        if !options.allowed.contains(algorithm) {
            return Err(JoseError::AlgorithmNotAllowed);
        }
        if algorithm.fixed_signature_len().is_some_and(|expected| signature.len() != expected) {
            return Err(JoseError::SignatureLength);
        }
        Ok(JwsBody { signing_input, algorithm, payload, signature })
    }

    /// Keep what follows the header: signing input, payload and signature.
    pub(crate) fn into_body(self) -> JwsBody<'a> {
        JwsBody {
            signing_input: self.signing_input,
            algorithm: self.header.algorithm,
            payload: self.payload,
            signature: self.signature,
        }
    }

    /// The protected header.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The decoded payload. Unverified until a `verify_*` method has succeeded, and not parsed:
    /// read it with a strict parser (duplicate members refused), such as
    /// [`IdJagClaims::from_json`](crate::claims::IdJagClaims::from_json).
    pub fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// Consume the parse and keep the decoded payload bytes.
    pub fn into_unverified_payload(self) -> Vec<u8> {
        self.payload
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Verify with this key; its algorithm must be the header's `alg`.
    pub fn verify_with(&self, key: &VerificationKey) -> Result<(), JoseError> {
        verify_signature(key, self.header.algorithm, self.signing_input(), &self.signature)
    }

    /// Select the key by `alg` and `kid` (see [`KeySet::select`]) and verify with it.
    pub fn verify_with_key_set<'k>(
        &self,
        keys: &'k KeySet,
    ) -> Result<&'k VerificationKey, JoseError> {
        let key = keys.select(self.header.algorithm, self.header.kid())?;
        self.verify_with(key)?;
        Ok(key)
    }
}

/// The three segments of a compact JWS, still encoded, after the size cap; and the signing
/// input they make.
struct Segments<'a> {
    header_b64: &'a str,
    payload_b64: &'a str,
    signature_b64: &'a str,
    signing_input: &'a str,
}

impl<'a> Segments<'a> {
    /// The size cap, then exactly three dot-separated segments.
    fn split(token: &'a str, options: &ParseOptions) -> Result<Self, JoseError> {
        if token.len() > options.max_len {
            return Err(JoseError::TooLarge);
        }
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (segments.next(), segments.next(), segments.next(), segments.next())
        else {
            return Err(JoseError::SegmentCount);
        };
        // Both dots are present, so the signing input ends before the second one.
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        let signing_input = token.get(..signing_input_len).ok_or(JoseError::SegmentCount)?;
        Ok(Segments { header_b64, payload_b64, signature_b64, signing_input })
    }
}

/// A compact JWS past its header: what the signature covers, what it says, and the signature.
/// The payload is unverified until [`JwsBody::verify_with`] succeeds.
pub(crate) struct JwsBody<'a> {
    signing_input: &'a str,
    algorithm: Algorithm,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl JwsBody<'_> {
    /// Verify with this key; its algorithm must be the header's `alg`.
    pub(crate) fn verify_with(&self, key: &VerificationKey) -> Result<(), JoseError> {
        verify_signature(key, self.algorithm, self.signing_input.as_bytes(), &self.signature)
    }

    /// The decoded payload. Unverified until [`JwsBody::verify_with`] has succeeded.
    pub(crate) fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }
}

impl std::fmt::Debug for CompactJws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token may be a bearer credential: show the header only.
        f.debug_struct("CompactJws").field("header", &self.header).finish_non_exhaustive()
    }
}

/// Sign `payload` into a compact JWS whose header is `alg`, `typ` (when given) and `kid` (when
/// the signer has one), in that order.
pub fn sign_compact(
    signer: &dyn Signer,
    typ: Option<&str>,
    payload: &[u8],
) -> Result<String, JoseError> {
    sign_compact_with(signer, typ, None, payload)
}

/// The header [`sign_compact_with`] writes, serialized member by member in a fixed order: no
/// map to build, no hashing.
struct SigningHeader<'a> {
    algorithm: Algorithm,
    typ: Option<&'a str>,
    kid: Option<&'a str>,
    jwk: Option<&'a Map<String, Value>>,
}

impl serde::Serialize for SigningHeader<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("alg", self.algorithm.name())?;
        if let Some(typ) = self.typ {
            map.serialize_entry("typ", typ)?;
        }
        if let Some(kid) = self.kid {
            map.serialize_entry("kid", kid)?;
        }
        if let Some(jwk) = self.jwk {
            map.serialize_entry("jwk", jwk)?;
        }
        map.end()
    }
}

/// [`sign_compact`] with a `jwk` header member after `alg`, `typ` and `kid` (a DPoP proof's
/// public key).
pub(crate) fn sign_compact_with(
    signer: &dyn Signer,
    typ: Option<&str>,
    jwk: Option<&Map<String, Value>>,
    payload: &[u8],
) -> Result<String, JoseError> {
    let header = SigningHeader { algorithm: signer.algorithm(), typ, kid: signer.key_id(), jwk };
    // Strings and a map of JSON values always serialize.
    let header = serde_json::to_vec(&header).map_err(|_| JoseError::SigningFailed)?;
    let mut token = b64_encode(&header);
    token.push('.');
    token.push_str(&b64_encode(payload));
    let signature = signer.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64_encode(signature));
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(media_type_matches("oauth-id-jag+jwt", "oauth-id-jag+jwt"));
        assert!(media_type_matches("OAuth-ID-JAG+JWT", "oauth-id-jag+jwt"));
        assert!(media_type_matches("application/oauth-id-jag+jwt", "oauth-id-jag+jwt"));
        assert!(media_type_matches("Application/OAUTH-id-jag+jwt", "oauth-id-jag+jwt"));
        assert!(!media_type_matches("JWT", "oauth-id-jag+jwt"));
        assert!(!media_type_matches("application/oauth-id-jag+jwt ", "oauth-id-jag+jwt"));
        assert!(!media_type_matches("app/oauth-id-jag+jwt", "oauth-id-jag+jwt"));
        assert!(!media_type_matches("é", "oauth-id-jag+jwt"));
        assert!(!media_type_matches("application/ééoauth-id-jag+jwt", "oauth-id-jag+jwt"));
    }
}
