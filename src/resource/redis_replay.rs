//! A [`ReplayGuard`] on a shared Redis (feature `redis`), so that every instance of a resource
//! AS behind a load balancer sees every redemption.

use std::sync::Mutex;

use super::{ReplayError, ReplayGuard, ReplayVerdict};
use crate::NumericDate;

/// Each (`iss`, `jti`) pair becomes one key, set with `SET key 1 NX PXAT <keep_until>`: the
/// first instance to set it wins, atomically, and Redis forgets it when the token can no longer
/// be presented. The key is `<namespace>` followed by the hex SHA-256 of the issuer and the
/// `jti`, so no token material is stored and no issuer can collide with another's `jti`s.
///
/// Connection failures, timeouts and unexpected replies fail closed with
/// [`ReplayError::Unavailable`]: a redemption is never accepted without a recorded first use.
pub struct RedisReplayGuard {
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
    namespace: String,
    timeout: std::time::Duration,
}

impl RedisReplayGuard {
    /// The default key prefix.
    pub const DEFAULT_NAMESPACE: &'static str = "id-jag:replay:";

    /// A guard on the Redis at `url` (`redis://host:port/db`), with the default namespace and
    /// a one-second timeout. No connection is made until the first check.
    pub fn new(url: &str) -> Result<Self, ReplayError> {
        let client = redis::Client::open(url).map_err(|_| ReplayError::Unavailable)?;
        Ok(RedisReplayGuard {
            client,
            connection: Mutex::new(None),
            namespace: Self::DEFAULT_NAMESPACE.to_owned(),
            timeout: std::time::Duration::from_secs(1),
        })
    }

    /// Put keys under another prefix (several resource AS deployments on one Redis).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How long a Redis round trip may take before the check fails closed.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The Redis key for a pair: no raw token material, the issuer and `jti` separated so that
    /// no two pairs share a key.
    pub fn key(&self, issuer: &str, jwt_id: &str) -> String {
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(&(issuer.len() as u64).to_be_bytes());
        hasher.update(issuer.as_bytes());
        hasher.update(jwt_id.as_bytes());
        let digest = hasher.finish();
        let mut key = String::with_capacity(self.namespace.len() + 64);
        key.push_str(&self.namespace);
        for byte in digest {
            key.push_str(&format!("{byte:02x}"));
        }
        key
    }

    fn connect(&self) -> Result<redis::Connection, ReplayError> {
        let connection = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|_| ReplayError::Unavailable)?;
        connection.set_read_timeout(Some(self.timeout)).map_err(|_| ReplayError::Unavailable)?;
        connection.set_write_timeout(Some(self.timeout)).map_err(|_| ReplayError::Unavailable)?;
        Ok(connection)
    }
}

impl ReplayGuard for RedisReplayGuard {
    fn check_and_record(
        &self,
        issuer: &str,
        jwt_id: &str,
        keep_until: NumericDate,
        now: NumericDate,
    ) -> Result<ReplayVerdict, ReplayError> {
        // An already-expired record needs no keeping; Redis would refuse a PXAT in the past.
        if keep_until <= now {
            return Ok(ReplayVerdict::Replayed);
        }
        let key = self.key(issuer, jwt_id);
        let expires_at_ms = keep_until.as_unix_seconds().saturating_mul(1000);
        let mut slot = self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut connection = match slot.take() {
            Some(connection) => connection,
            None => self.connect()?,
        };
        // SET key 1 NX PXAT t: "OK" when this call set it, nil when it existed.
        let reply: redis::RedisResult<Option<String>> = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PXAT")
            .arg(expires_at_ms)
            .query(&mut connection);
        match reply {
            Ok(Some(ok)) if ok == "OK" => {
                *slot = Some(connection);
                Ok(ReplayVerdict::Fresh)
            }
            Ok(None) => {
                *slot = Some(connection);
                Ok(ReplayVerdict::Replayed)
            }
            // Anything else, a broken connection included, fails closed; the connection is
            // dropped so the next check reconnects.
            Ok(Some(_)) | Err(_) => Err(ReplayError::Unavailable),
        }
    }
}

impl std::fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
