//! Replay protection keyed on (`iss`, `jti`) (draft §4.4, RFC 7523 §3 item 7).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::Mutex;

use crate::NumericDate;

/// What a replay check found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplayVerdict {
    /// First use: the record is now stored.
    Fresh,
    /// A live record already exists: refuse.
    Replayed,
}

/// Why a replay check could not answer. Both make the redemption fail closed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store is full of live records and will not forget one to make room.
    #[error("replay store is full")]
    Full,
    /// The store could not be reached.
    #[error("replay store is unavailable")]
    Unavailable,
}

/// An atomic check-and-record of (`issuer`, `jwt_id`) pairs.
///
/// The first caller for a pair wins; every later caller sees [`ReplayVerdict::Replayed`] until
/// `keep_until` has passed. It maps directly onto a Redis `SET key value NX PXAT keep_until` or
/// a database insert under a unique constraint with an expiry column; keying on the issuer as
/// well as the `jti` keeps one IdP from burning another's identifiers.
pub trait ReplayGuard: Send + Sync {
    /// Record the pair unless a live record exists; say which happened.
    fn check_and_record(
        &self,
        issuer: &str,
        jwt_id: &str,
        keep_until: NumericDate,
        now: NumericDate,
    ) -> Result<ReplayVerdict, ReplayError>;
}

const SHARDS: usize = 16;

/// A bounded in-memory [`ReplayGuard`] for one process.
///
/// Records are 128-bit keyed hashes of (`iss`, `jti`) with their expiry: about 80 bytes each
/// with index and expiry queue, so a million live records fit in well under 128 MiB. Expired
/// records are purged as time passes. When a shard is full of live records the guard refuses
/// new redemptions ([`ReplayError::Full`]) rather than forget a live one; with uniform keys a
/// shard fills within a fraction of a percent of the total capacity.
///
/// Several instances behind a load balancer need a shared store instead.
pub struct MemoryReplayGuard {
    shards: Vec<Mutex<Shard>>,
    shard_capacity: usize,
    hashers: [RandomState; 2],
}

/// The record keys are already keyed SipHash outputs: the shard's map uses them as they are
/// instead of hashing them again.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u64; 2]` hashes its elements through here as raw bytes: fold them all in.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_usize(&mut self, _length: usize) {
        // The array length prefix carries no information.
    }
}

#[derive(Default)]
struct Shard {
    live: HashMap<[u64; 2], u64, BuildHasherDefault<PassThrough>>,
    expiries: BinaryHeap<Reverse<(u64, [u64; 2])>>,
}

impl Shard {
    fn purge(&mut self, now: u64) {
        while let Some(Reverse((expiry, key))) = self.expiries.peek().copied() {
            if expiry > now {
                break;
            }
            self.expiries.pop();
            // A key recorded again after expiring has a later expiry: keep that record.
            if self.live.get(&key) == Some(&expiry) {
                self.live.remove(&key);
            }
        }
    }
}

impl MemoryReplayGuard {
    /// A guard holding at most about `capacity` live records.
    pub fn new(capacity: usize) -> Self {
        let shard_capacity = capacity.div_ceil(SHARDS).max(1);
        MemoryReplayGuard {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_capacity,
            hashers: [RandomState::new(), RandomState::new()],
        }
    }

    /// How many records are held (live, or expired and not yet purged).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).live.len()).sum()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Two independently keyed SipHash values: collisions cannot be searched for offline, and
    /// no token material is stored.
    fn key(&self, issuer: &str, jwt_id: &str) -> [u64; 2] {
        let pair = (issuer, jwt_id);
        [self.hashers[0].hash_one(pair), self.hashers[1].hash_one(pair)]
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic while holding the lock cannot leave a half-written record: keep going.
    shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ReplayGuard for MemoryReplayGuard {
    fn check_and_record(
        &self,
        issuer: &str,
        jwt_id: &str,
        keep_until: NumericDate,
        now: NumericDate,
    ) -> Result<ReplayVerdict, ReplayError> {
        let key = self.key(issuer, jwt_id);
        let now = now.as_unix_seconds();
        let keep_until = keep_until.as_unix_seconds();
        let index = usize::try_from(key[0] % SHARDS as u64).unwrap_or(0);
        let Some(shard) = self.shards.get(index) else {
            return Err(ReplayError::Unavailable);
        };
        let mut shard = lock(shard);
        shard.purge(now);
        if shard.live.get(&key).is_some_and(|expiry| *expiry > now) {
            return Ok(ReplayVerdict::Replayed);
        }
        if shard.live.len() >= self.shard_capacity {
            return Err(ReplayError::Full);
        }
        shard.live.insert(key, keep_until);
        shard.expiries.push(Reverse((keep_until, key)));
        Ok(ReplayVerdict::Fresh)
    }
}

impl std::fmt::Debug for MemoryReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayGuard")
            .field("records", &self.len())
            .field("capacity", &(self.shard_capacity * SHARDS))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> NumericDate {
        NumericDate::from_unix_seconds(seconds).unwrap()
    }

    #[test]
    fn first_use_wins_until_expiry() {
        let guard = MemoryReplayGuard::new(100);
        assert_eq!(guard.check_and_record("a", "1", at(200), at(100)), Ok(ReplayVerdict::Fresh));
        assert_eq!(guard.check_and_record("a", "1", at(200), at(150)), Ok(ReplayVerdict::Replayed));
        assert_eq!(guard.check_and_record("a", "1", at(200), at(199)), Ok(ReplayVerdict::Replayed));
        // The same jti from another issuer is another token (kept live past the next step, so
        // the count below does not depend on which shard purges first).
        assert_eq!(guard.check_and_record("b", "1", at(400), at(150)), Ok(ReplayVerdict::Fresh));
        // After keep_until the record is gone: the pair is fresh again, and one record remains
        // for it.
        assert_eq!(guard.check_and_record("a", "1", at(300), at(200)), Ok(ReplayVerdict::Fresh));
        assert_eq!(guard.len(), 2);
    }

    /// The shard maps hash keys with `PassThrough`: it must keep their entropy, or every record
    /// would share a bucket and each check would scan them all (correct, but a denial of
    /// service at scale).
    #[test]
    fn pass_through_hashing_keeps_keys_apart() {
        let guard = MemoryReplayGuard::new(16);
        let build = BuildHasherDefault::<PassThrough>::default();
        let hashes: std::collections::HashSet<u64> = (0..10_000)
            .map(|jti| build.hash_one(guard.key("https://idp.example", &jti.to_string())))
            .collect();
        assert_eq!(hashes.len(), 10_000);
        // The map picks buckets by the low bits and tags entries with the high ones: both must
        // stay uniform (folding with `|` or `&` would skew them towards ones or zeros).
        for shift in [0, 56] {
            let bytes: std::collections::HashSet<u64> =
                hashes.iter().map(|hash| (hash >> shift) & 0xff).collect();
            assert_eq!(bytes.len(), 256, "byte at bit {shift}");
        }
    }

    #[test]
    fn size_and_debug_output() {
        let guard = MemoryReplayGuard::new(100);
        assert!(guard.is_empty());
        assert_eq!(guard.check_and_record("a", "1", at(200), at(100)), Ok(ReplayVerdict::Fresh));
        assert!(!guard.is_empty());
        assert_eq!(guard.len(), 1);
        // 100 records over 16 shards: 7 per shard, 112 in all. No key material is shown.
        assert_eq!(format!("{guard:?}"), "MemoryReplayGuard { records: 1, capacity: 112 }");
    }

    #[test]
    fn full_of_live_records_refuses_and_never_forgets() {
        let guard = MemoryReplayGuard::new(SHARDS);
        let mut full = 0;
        for jti in 0..200 {
            match guard.check_and_record("a", &jti.to_string(), at(1_000), at(10)) {
                Ok(ReplayVerdict::Fresh) => {}
                Err(ReplayError::Full) => full += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(full > 0);
        assert!(guard.len() <= SHARDS);
        // Every recorded token is still refused.
        for jti in 0..200 {
            let verdict = guard.check_and_record("a", &jti.to_string(), at(1_000), at(11));
            assert_ne!(verdict, Ok(ReplayVerdict::Fresh));
        }
        // Once they expire there is room again.
        assert_eq!(
            guard.check_and_record("a", "x", at(3_000), at(1_000)),
            Ok(ReplayVerdict::Fresh)
        );
    }
}
