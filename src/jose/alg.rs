//! The signature algorithms this crate serves: asymmetric only, never `none`, never HMAC.

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037 §3.1).
///
/// Only asymmetric algorithms exist here: an ID-JAG is verified by a party that must not be
/// able to mint one, so `none` and the HMAC family cannot be named at all.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    Ps256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// EdDSA on Ed25519.
    EdDsa,
}

impl Algorithm {
    /// Every algorithm the crate implements.
    pub const ALL: [Algorithm; 5] =
        [Algorithm::Rs256, Algorithm::Ps256, Algorithm::Es256, Algorithm::Es384, Algorithm::EdDsa];

    /// The JOSE name (`"RS256"`, `"EdDSA"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm with this exact JOSE name; names are case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Self> {
        Algorithm::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The signature length when it does not depend on the key (RFC 7518 §3.4, RFC 8032 §5.1.6).
    /// RSA signatures are as long as the modulus.
    pub fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Algorithm::Es256 | Algorithm::EdDsa => Some(64),
            Algorithm::Es384 => Some(96),
            Algorithm::Rs256 | Algorithm::Ps256 => None,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Algorithm::Rs256 => 1,
            Algorithm::Ps256 => 2,
            Algorithm::Es256 => 4,
            Algorithm::Es384 => 8,
            Algorithm::EdDsa => 16,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Algorithm::Rs256 => 0,
            Algorithm::Ps256 => 1,
            Algorithm::Es256 => 2,
            Algorithm::Es384 => 3,
            Algorithm::EdDsa => 4,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An allow-list of algorithms, checked in constant time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlgorithmSet(u8);

impl AlgorithmSet {
    /// Every asymmetric algorithm the crate implements.
    pub fn all() -> Self {
        Self::only(&Algorithm::ALL)
    }

    /// Exactly these algorithms.
    pub fn only(algorithms: &[Algorithm]) -> Self {
        Self(algorithms.iter().fold(0, |bits, alg| bits | alg.bit()))
    }

    /// Whether `algorithm` is allowed.
    pub fn contains(self, algorithm: Algorithm) -> bool {
        self.0 & algorithm.bit() != 0
    }

    /// Whether no algorithm is allowed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The allowed algorithms, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL.into_iter().filter(move |alg| self.contains(*alg))
    }
}

impl Default for AlgorithmSet {
    fn default() -> Self {
        Self::all()
    }
}

impl std::fmt::Debug for AlgorithmSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(Algorithm::name)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        for refused in ["none", "None", "HS256", "rs256", "RS512", "ES512", "ES256K", ""] {
            assert_eq!(Algorithm::from_name(refused), None, "{refused}");
        }
    }

    #[test]
    fn sets() {
        let set = AlgorithmSet::only(&[Algorithm::Es256, Algorithm::EdDsa]);
        assert!(set.contains(Algorithm::Es256) && set.contains(Algorithm::EdDsa));
        assert!(!set.contains(Algorithm::Rs256));
        assert_eq!(set.iter().count(), 2);
        assert!(AlgorithmSet::only(&[]).is_empty());
        assert_eq!(AlgorithmSet::all().iter().count(), 5);
    }
}
