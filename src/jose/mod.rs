//! Strict compact JWS, algorithms, keys, key sets and RFC 7638 thumbprints.
//!
//! This module is the only place in the crate that talks to josekit, and the only one that
//! verifies or makes signatures through OpenSSL (elsewhere the crate asks OpenSSL only for
//! SHA-256 and random bytes). josekit is used for the signature primitives and key
//! construction only (RS256 verification calls OpenSSL's RSA primitive directly); every
//! rule above them (compact parsing, header rules, key vetting, key selection) is written
//! here, because a general JWT library leaves ID-JAG-relevant policy holes (see `JOSEKIT.md`
//! in the design notes).
//!
//! ```
//! use id_jag::jose::{Algorithm, AlgorithmSet, CompactJws, ParseOptions, SigningKey, sign_compact};
//!
//! let key = SigningKey::generate(Algorithm::Es256)?;
//! let token = sign_compact(&key, Some("oauth-id-jag+jwt"), br#"{"iss":"https://idp.example"}"#)?;
//!
//! let options = ParseOptions::new(AlgorithmSet::only(&[Algorithm::Es256]));
//! let jws = CompactJws::parse(&token, &options)?;
//! jws.verify_with(key.verification_key())?;
//! assert_eq!(jws.header().typ(), Some("oauth-id-jag+jwt"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alg;
mod compact;
mod error;
mod key;
mod key_set;

pub use alg::{Algorithm, AlgorithmSet};
pub(crate) use compact::sign_compact_with;
pub use compact::{CompactJws, JwsHeader, ParseOptions, media_type_matches, sign_compact};
pub use error::{JoseError, KeyError};
pub use key::{
    KeyOperation, Signer, SigningKey, VerificationKey, generate_private_jwk, verify_signature,
};
pub(crate) use key::{Vetted, vet_metadata_and_material_text, vet_public_jwk};
pub use key_set::{KeySet, KeySetImport, RejectedKey, SigningKeySet};

/// Base64url without padding, strict: padding, whitespace and non-canonical trailing bits are
/// refused (RFC 7515 §2 and §C).
pub(crate) fn b64_decode(text: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// Base64url without padding.
pub(crate) fn b64_encode(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
