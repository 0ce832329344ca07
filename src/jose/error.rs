//! Errors of the JOSE layer. Every variant has a stable reason code for logs and metrics, and no
//! message ever repeats text taken from a token or a key.

/// Why a compact JWS was refused, or could not be produced.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The token is longer than the configured cap.
    #[error("token exceeds the size limit")]
    TooLarge,
    /// The token is not exactly three dot-separated segments.
    #[error("token is not three dot-separated segments")]
    SegmentCount,
    /// A segment is not canonical unpadded base64url (padding, whitespace, stray bits, ...).
    #[error("a segment is not canonical base64url")]
    Base64,
    /// The protected header is not a JSON object.
    #[error("header is not a JSON object")]
    HeaderNotJson,
    /// The protected header repeats a member name.
    #[error("header repeats a member name")]
    HeaderDuplicateMember,
    /// A header member has the wrong JSON type; the member name is the crate's own constant.
    #[error("header member `{0}` has the wrong type")]
    HeaderMemberType(&'static str),
    /// The header has no `alg`.
    #[error("header has no alg")]
    AlgorithmMissing,
    /// `alg` names an algorithm this crate never accepts (`none`, HMAC, unknown names).
    #[error("alg is not supported")]
    AlgorithmUnsupported,
    /// `alg` is supported but not in the caller's allow-list.
    #[error("alg is not allowed here")]
    AlgorithmNotAllowed,
    /// `crit` is present but empty (RFC 7515 §4.1.11 forbids the empty list).
    #[error("crit is empty")]
    CritEmpty,
    /// `crit` names an extension this crate does not understand.
    #[error("crit names an unsupported extension")]
    CritUnsupported,
    /// `b64` (RFC 7797 unencoded payload) is present.
    #[error("b64 is not supported")]
    B64Unsupported,
    /// The header carries or points to a key (`jwk`, `jku`, `x5u`, `x5c`); keys never come
    /// from the token.
    #[error("header carries or points to a key")]
    EmbeddedKey,
    /// `typ` is missing or not the expected media type.
    #[error("typ is missing or unexpected")]
    TypMismatch,
    /// No key in the set has the token's `kid`.
    #[error("no key with that kid")]
    KeyNotFound,
    /// The token has no `kid` and the set has several keys for its algorithm.
    #[error("kid required: several keys fit")]
    KidRequired,
    /// The token has no `kid` and the set has no key for its algorithm.
    #[error("no key for that algorithm")]
    NoKeyForAlgorithm,
    /// The selected key is for another algorithm than the token's `alg`.
    #[error("key and alg disagree")]
    KeyAlgorithmMismatch,
    /// The signature has the wrong length for the algorithm and key.
    #[error("signature has the wrong length")]
    SignatureLength,
    /// The signature does not verify.
    #[error("signature is invalid")]
    SignatureInvalid,
    /// The signing backend failed.
    #[error("signing failed")]
    SigningFailed,
}

impl JoseError {
    /// A stable, machine-readable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            JoseError::TooLarge => "jws_too_large",
            JoseError::SegmentCount => "jws_segment_count",
            JoseError::Base64 => "jws_base64",
            JoseError::HeaderNotJson => "jws_header_not_json",
            JoseError::HeaderDuplicateMember => "jws_header_duplicate_member",
            JoseError::HeaderMemberType(_) => "jws_header_member_type",
            JoseError::AlgorithmMissing => "jws_alg_missing",
            JoseError::AlgorithmUnsupported => "jws_alg_unsupported",
            JoseError::AlgorithmNotAllowed => "jws_alg_not_allowed",
            JoseError::CritEmpty => "jws_crit_empty",
            JoseError::CritUnsupported => "jws_crit_unsupported",
            JoseError::B64Unsupported => "jws_b64_unsupported",
            JoseError::EmbeddedKey => "jws_embedded_key",
            JoseError::TypMismatch => "jws_typ_mismatch",
            JoseError::KeyNotFound => "jws_kid_unknown",
            JoseError::KidRequired => "jws_kid_required",
            JoseError::NoKeyForAlgorithm => "jws_no_key_for_alg",
            JoseError::KeyAlgorithmMismatch => "jws_key_alg_mismatch",
            JoseError::SignatureLength => "jws_signature_length",
            JoseError::SignatureInvalid => "jws_signature_invalid",
            JoseError::SigningFailed => "jws_signing_failed",
        }
    }
}

/// Why a key (JWK, PEM) was refused on import.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a JSON object, or not valid PEM.
    #[error("key is not well-formed")]
    Malformed,
    /// The JWK repeats a member name.
    #[error("key repeats a member name")]
    DuplicateMember,
    /// A required member is missing; the name is the crate's own constant.
    #[error("key member `{0}` is missing")]
    MissingMember(&'static str),
    /// A member has the wrong type or is not canonical base64url.
    #[error("key member `{0}` is invalid")]
    InvalidMember(&'static str),
    /// `kty` is `oct`: symmetric keys are never accepted.
    #[error("symmetric keys are not accepted")]
    SymmetricKey,
    /// `kty` is not RSA, EC or OKP.
    #[error("key type is not supported")]
    UnsupportedKeyType,
    /// The JWK `alg` is not one of the crate's algorithms (an encryption algorithm, HMAC, ...).
    #[error("key algorithm is not supported")]
    UnsupportedAlgorithm,
    /// The JWK `alg`, the key type or the curve disagree with the algorithm asked for.
    #[error("key does not fit the algorithm")]
    AlgorithmMismatch,
    /// The curve is not P-256, P-384 or Ed25519.
    #[error("curve is not supported")]
    UnsupportedCurve,
    /// `use` is present and is not `sig`.
    #[error("key use is not sig")]
    UseNotSig,
    /// `key_ops` is present and does not allow the operation.
    #[error("key_ops does not allow this operation")]
    KeyOpsForbid,
    /// Private members (`d`, `p`, `q`, ...) where a public key was expected.
    #[error("private members in a public key")]
    PrivateMembers,
    /// A signing key without its private part.
    #[error("private key material is missing")]
    MissingPrivateKey,
    /// RSA modulus under 2048 bits.
    #[error("RSA modulus is shorter than 2048 bits")]
    RsaModulusTooSmall,
    /// RSA modulus over 16384 bits (a verification-cost attack).
    #[error("RSA modulus is longer than 16384 bits")]
    RsaModulusTooLarge,
    /// RSA modulus is even, so not a product of two odd primes.
    #[error("RSA modulus is even")]
    RsaModulusEven,
    /// RSA modulus has the ROCA fingerprint (CVE-2017-15361): it can be factored.
    #[error("RSA modulus has the ROCA fingerprint")]
    RsaRocaWeak,
    /// RSA public exponent even, below 3, or over 32 bits.
    #[error("RSA public exponent is unacceptable")]
    RsaExponent,
    /// An integer member has leading zero octets (RFC 7518 §6.3.1 requires minimal encoding).
    #[error("integer member is not minimally encoded")]
    NonMinimalInteger,
    /// EC coordinates are not exactly the curve's field length.
    #[error("EC coordinate has the wrong length")]
    EcCoordinateLength,
    /// The EC point is not on the curve (refused by OpenSSL).
    #[error("EC point is invalid")]
    EcPointInvalid,
    /// An Ed25519 key is not exactly 32 octets.
    #[error("OKP key has the wrong length")]
    OkpKeyLength,
    /// The cryptographic backend refused the key for another reason.
    #[error("key refused by the cryptographic backend")]
    BackendRejected,
    /// The private part does not produce signatures the public part verifies.
    #[error("private and public parts of the key do not match")]
    PairMismatch,
    /// Two keys in one set have the same `kid`.
    #[error("duplicate kid in the key set")]
    DuplicateKid,
    /// A JWK Set is not an object with a `keys` array.
    #[error("not a JWK Set")]
    NotAKeySet,
}

impl KeyError {
    /// A stable, machine-readable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            KeyError::Malformed => "key_malformed",
            KeyError::DuplicateMember => "key_duplicate_member",
            KeyError::MissingMember(_) => "key_missing_member",
            KeyError::InvalidMember(_) => "key_invalid_member",
            KeyError::SymmetricKey => "key_symmetric",
            KeyError::UnsupportedKeyType => "key_unsupported_kty",
            KeyError::UnsupportedAlgorithm => "key_unsupported_alg",
            KeyError::AlgorithmMismatch => "key_alg_mismatch",
            KeyError::UnsupportedCurve => "key_unsupported_curve",
            KeyError::UseNotSig => "key_use_not_sig",
            KeyError::KeyOpsForbid => "key_ops_forbid",
            KeyError::PrivateMembers => "key_private_members",
            KeyError::MissingPrivateKey => "key_missing_private",
            KeyError::RsaModulusTooSmall => "rsa_modulus_too_small",
            KeyError::RsaModulusTooLarge => "rsa_modulus_too_large",
            KeyError::RsaModulusEven => "rsa_modulus_even",
            KeyError::RsaRocaWeak => "rsa_roca_weak",
            KeyError::RsaExponent => "rsa_exponent",
            KeyError::NonMinimalInteger => "key_non_minimal_integer",
            KeyError::EcCoordinateLength => "ec_coordinate_length",
            KeyError::EcPointInvalid => "ec_point_invalid",
            KeyError::OkpKeyLength => "okp_key_length",
            KeyError::BackendRejected => "key_backend_rejected",
            KeyError::PairMismatch => "key_pair_mismatch",
            KeyError::DuplicateKid => "key_duplicate_kid",
            KeyError::NotAKeySet => "jwks_malformed",
        }
    }
}
