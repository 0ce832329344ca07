//! Key sets: hash lookup by `kid`, JWKS import that reports every refused key, JWKS
//! export with public members only, and a signing set with one active key for rotation.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Algorithm, JoseError, KeyError, Signer, SigningKey, VerificationKey};
use crate::json::{self, JsonError};

/// Keys of one algorithm that can be chosen without a `kid`.
#[derive(Clone, Copy, Debug)]
enum Sole {
    None,
    One(usize),
    Many,
}

/// An immutable set of verification keys, for example one issuer's JWKS.
///
/// Build a new set on every refresh rather than changing one in place: a set never changes
/// after it is built, so a key that left the JWKS cannot linger in an index.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
    by_kid: HashMap<String, usize>,
    sole_by_algorithm: [Sole; 5],
}

/// The outcome of importing a JWKS: the usable keys, and each refused key with its reason.
#[derive(Debug)]
pub struct KeySetImport {
    /// The keys that passed vetting.
    pub keys: KeySet,
    /// The keys that did not, in document order.
    pub rejected: Vec<RejectedKey>,
}

/// A key of a JWKS that was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedKey {
    /// Its position in the `keys` array.
    pub index: usize,
    /// Its `kid`, when it had a string one.
    pub kid: Option<String>,
    /// Why it was refused.
    pub reason: KeyError,
}

impl KeySet {
    /// The largest JWK Set document [`KeySet::from_jwks`] reads: 1 MiB.
    pub const MAX_JWKS_LEN: usize = 1024 * 1024;

    /// A set of these keys; two keys with the same `kid` are refused.
    pub fn new(keys: Vec<VerificationKey>) -> Result<Self, KeyError> {
        let mut by_kid = HashMap::with_capacity(keys.len());
        let mut sole_by_algorithm = [Sole::None; 5];
        for (position, key) in keys.iter().enumerate() {
            if let Some(kid) = key.kid() {
                if by_kid.insert(kid.to_owned(), position).is_some() {
                    return Err(KeyError::DuplicateKid);
                }
            }
            let slot = &mut sole_by_algorithm[key.algorithm().index()];
            *slot = match slot {
                Sole::None => Sole::One(position),
                Sole::One(_) | Sole::Many => Sole::Many,
            };
        }
        Ok(Self { keys, by_kid, sole_by_algorithm })
    }

    /// An empty set.
    pub fn empty() -> Self {
        Self { keys: Vec::new(), by_kid: HashMap::new(), sole_by_algorithm: [Sole::None; 5] }
    }

    /// Import a JWK Set document (RFC 7517 §5).
    ///
    /// Real IdP key sets carry encryption keys and algorithms this crate does not serve: each
    /// such key is left out and reported in [`KeySetImport::rejected`], and the rest are kept.
    /// Only a document that is not a JWK Set at all is an error. A later key repeating an
    /// earlier key's `kid` is refused ([`KeyError::DuplicateKid`]).
    pub fn from_jwks(document: &[u8]) -> Result<KeySetImport, KeyError> {
        // Far above any real IdP's JWKS, far below anything costly to parse.
        if document.len() > Self::MAX_JWKS_LEN {
            return Err(KeyError::NotAKeySet);
        }
        let mut root = json::parse_object(document).map_err(|error| match error {
            JsonError::DuplicateMember => KeyError::DuplicateMember,
            JsonError::Syntax | JsonError::NotAnObject => KeyError::NotAKeySet,
        })?;
        let Some(Value::Array(entries)) = root.remove("keys") else {
            return Err(KeyError::NotAKeySet);
        };
        let mut keys: Vec<VerificationKey> = Vec::with_capacity(entries.len());
        let mut kids = std::collections::HashSet::new();
        let mut rejected = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let imported = match &entry {
                Value::Object(jwk) => VerificationKey::from_jwk_map(jwk, None),
                _ => Err(KeyError::Malformed),
            };
            match imported {
                Ok(key) if key.kid().is_some_and(|k| !kids.insert(k.to_owned())) => {
                    rejected.push(RejectedKey { index, kid, reason: KeyError::DuplicateKid });
                }
                Ok(key) => keys.push(key),
                Err(reason) => rejected.push(RejectedKey { index, kid, reason }),
            }
        }
        Ok(KeySetImport { keys: KeySet::new(keys)?, rejected })
    }

    /// The key for a token with this `alg` and `kid` (RFC 7515 §4.1.4).
    ///
    /// With a `kid`, exactly that key, which must be for `algorithm`. Without one, the only key
    /// of `algorithm` in the set; several make the choice ambiguous and are refused.
    pub fn select(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<&VerificationKey, JoseError> {
        let key = match kid {
            Some(kid) => self.get(kid).ok_or(JoseError::KeyNotFound)?,
            None => match self.sole_by_algorithm[algorithm.index()] {
                Sole::One(position) => self.keys.get(position).ok_or(JoseError::KeyNotFound)?,
                Sole::Many => return Err(JoseError::KidRequired),
                Sole::None => return Err(JoseError::NoKeyForAlgorithm),
            },
        };
        if key.algorithm() != algorithm {
            return Err(JoseError::KeyAlgorithmMismatch);
        }
        Ok(key)
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerificationKey> {
        self.by_kid.get(kid).and_then(|position| self.keys.get(*position))
    }

    /// Whether a key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The keys, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &VerificationKey> {
        self.keys.iter()
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The JWK Set document with public members only.
    pub fn to_jwks(&self) -> Value {
        let keys = self.keys.iter().map(|key| Value::Object(key.to_jwk())).collect();
        let mut document = Map::new();
        document.insert("keys".to_owned(), Value::Array(keys));
        Value::Object(document)
    }
}

/// The keys an issuer signs with: one active signing key, plus public keys it still publishes
/// (the previous key during a rotation, the next one before it becomes active).
///
/// It implements [`Signer`] with the active key and its `kid`.
#[derive(Debug)]
pub struct SigningKeySet {
    active: SigningKey,
    published: KeySet,
}

impl SigningKeySet {
    /// A set that signs with `active` and publishes its public key along with `also_published`.
    pub fn new(active: SigningKey, also_published: Vec<VerificationKey>) -> Result<Self, KeyError> {
        let mut keys = vec![active.verification_key().clone()];
        keys.extend(also_published.into_iter().filter(|key| !active.same_public_key(key)));
        Ok(Self { published: KeySet::new(keys)?, active })
    }

    /// The key that signs.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// Every published public key, the active one first: what the JWKS endpoint serves.
    pub fn verification_keys(&self) -> &KeySet {
        &self.published
    }
}

impl Signer for SigningKeySet {
    fn algorithm(&self) -> Algorithm {
        Signer::algorithm(&self.active)
    }

    fn key_id(&self) -> Option<&str> {
        self.active.kid()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        self.active.sign(signing_input)
    }
}
