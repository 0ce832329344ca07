//! The Redis replay guard (feature `redis`) against a real `redis-server` on loopback: first use
//! wins, replays are refused, records expire when the token does, independent clients racing
//! on one `jti` produce exactly one winner, and a dead server fails closed.
#![cfg(feature = "redis")]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{IdJagClaims, RequiredClaims};
use id_jag::jose::{Algorithm, KeySet, SigningKey, sign_compact};
use id_jag::resource::{
    AllowAll, MemorySubjects, RedeemHosts, RedisReplayGuard, RejectReason, ReplayError,
    ReplayGuard, ReplayVerdict, ResourceServer, ResourceServerConfig, SubjectKey, TrustedIssuer,
    TrustedIssuers,
};
use redis_server::RedisServer;

const IDP: &str = "https://idp.example.com";

/// A namespace per test run, so runs sharing one Redis never see each other's keys.
fn guard(url: &str) -> RedisReplayGuard {
    let run =
        format!("id-jag-test:{}:{}:", std::process::id(), NumericDate::now_from_system_clock());
    RedisReplayGuard::new(url).unwrap().with_namespace(run)
}

fn in_seconds(seconds: u64) -> NumericDate {
    NumericDate::now_from_system_clock().saturating_add_seconds(seconds)
}

#[test]
fn first_use_wins_and_a_replay_is_refused() {
    let Some(server) = RedisServer::start() else { return };
    let guard = guard(&server.url);
    let now = NumericDate::now_from_system_clock();
    let verdict = |iss, jti| guard.check_and_record(iss, jti, in_seconds(60), now);
    assert_eq!(verdict(IDP, "jti-1"), Ok(ReplayVerdict::Fresh));
    assert_eq!(verdict(IDP, "jti-1"), Ok(ReplayVerdict::Replayed));
    // Keyed on the issuer too: the same jti from another IdP is another token.
    assert_eq!(verdict("https://other-idp.example", "jti-1"), Ok(ReplayVerdict::Fresh));
    assert_eq!(verdict(IDP, "jti-2"), Ok(ReplayVerdict::Fresh));
}

#[test]
fn a_record_expires_when_the_token_can_no_longer_be_presented() {
    let Some(server) = RedisServer::start() else { return };
    let guard = guard(&server.url);
    let now = NumericDate::now_from_system_clock();
    assert_eq!(guard.check_and_record(IDP, "short", in_seconds(1), now), Ok(ReplayVerdict::Fresh));
    assert_eq!(
        guard.check_and_record(IDP, "short", in_seconds(1), now),
        Ok(ReplayVerdict::Replayed)
    );
    std::thread::sleep(Duration::from_millis(2_100));
    let later = NumericDate::now_from_system_clock();
    assert_eq!(
        guard.check_and_record(IDP, "short", in_seconds(1), later),
        Ok(ReplayVerdict::Fresh)
    );
}

#[test]
fn debug_output_names_the_namespace_never_the_url_or_its_password() {
    let url = "redis://replay-user:s3cret-password@127.0.0.1:1/2";
    let guard = RedisReplayGuard::new(url).unwrap().with_namespace("tenant-a:");
    let debug = format!("{guard:?}");
    assert!(debug.starts_with("RedisReplayGuard"), "{debug}");
    assert!(debug.contains("tenant-a:") && debug.contains("timeout"), "{debug}");
    assert!(!debug.contains("s3cret") && !debug.contains("replay-user"), "{debug}");
}

/// A loopback server speaking just enough RESP: `+OK` to every command but `SET`, which gets
/// `reply`.
fn fake_redis(reply: &'static [u8]) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else { return };
        let mut buffer = [0u8; 8192];
        while let Ok(read @ 1..) = stream.read(&mut buffer) {
            let chunk = &buffer[..read];
            // Each command is a RESP array: a `*` at the start of a line.
            let commands = (0..read)
                .filter(|&i| chunk[i] == b'*' && (i == 0 || chunk[i - 1] == b'\n'))
                .count();
            let is_set = chunk.windows(9).any(|w| w.eq_ignore_ascii_case(b"$3\r\nSET\r\n"));
            let answer: &[u8] = if is_set { reply } else { b"+OK\r\n" };
            if (0..commands).any(|_| stream.write_all(answer).is_err()) {
                break;
            }
        }
    });
    (url, server)
}

#[test]
fn an_unexpected_reply_fails_closed() {
    // SET NX answers OK (set) or nil (exists); anything else, such as QUEUED inside a MULTI,
    // says nothing about whether the record was written: the check fails closed.
    for reply in [&b"+QUEUED\r\n"[..], b"$2\r\nno\r\n", b":1\r\n"] {
        let (url, server) = fake_redis(reply);
        let guard = RedisReplayGuard::new(&url).unwrap();
        let now = NumericDate::now_from_system_clock();
        let verdict = guard.check_and_record(IDP, "jti-odd", in_seconds(300), now);
        assert_eq!(verdict, Err(ReplayError::Unavailable), "{}", String::from_utf8_lossy(reply));
        drop(guard);
        server.join().unwrap();
    }
    // The same fake server answering OK is a first use: the refusal above is the reply's.
    let (url, server) = fake_redis(b"+OK\r\n");
    let guard = RedisReplayGuard::new(&url).unwrap();
    let now = NumericDate::now_from_system_clock();
    let verdict = guard.check_and_record(IDP, "jti-ok", in_seconds(300), now);
    assert_eq!(verdict, Ok(ReplayVerdict::Fresh));
    drop(guard);
    server.join().unwrap();
}

#[test]
fn keys_hold_no_token_material() {
    let guard = RedisReplayGuard::new("redis://127.0.0.1:1/").unwrap().with_namespace("ns:");
    let key = guard.key(IDP, "a-very-recognisable-jti");
    assert!(key.starts_with("ns:"));
    assert_eq!(key.len(), "ns:".len() + 64);
    assert!(!key.contains("recognisable") && !key.contains("idp.example"));
    // The issuer and the jti cannot trade characters into a collision.
    assert_ne!(guard.key("ab", "c"), guard.key("a", "bc"));
}

#[test]
fn independent_clients_racing_on_one_jti_produce_exactly_one_winner() {
    let Some(server) = RedisServer::start() else { return };
    let run =
        format!("id-jag-race:{}:{}:", std::process::id(), NumericDate::now_from_system_clock());
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 200;
    let guards: Vec<Arc<RedisReplayGuard>> = (0..CLIENTS)
        .map(|_| Arc::new(RedisReplayGuard::new(&server.url).unwrap().with_namespace(run.clone())))
        .collect();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = guards
        .into_iter()
        .map(|guard| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let now = NumericDate::now_from_system_clock();
                (0..ROUNDS)
                    .map(|round| {
                        barrier.wait();
                        let verdict = guard.check_and_record(
                            IDP,
                            &format!("race-{round}"),
                            in_seconds(60),
                            now,
                        );
                        verdict == Ok(ReplayVerdict::Fresh)
                    })
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let wins: Vec<Vec<bool>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for round in 0..ROUNDS {
        let winners = wins.iter().filter(|client| client[round]).count();
        assert_eq!(winners, 1, "round {round}: {winners} winners");
    }
}

#[test]
fn a_stopped_server_fails_closed() {
    let Some(mut server) = RedisServer::start_private() else { return };
    let guard = guard(&server.url);
    let now = NumericDate::now_from_system_clock();
    assert_eq!(
        guard.check_and_record(IDP, "before", in_seconds(60), now),
        Ok(ReplayVerdict::Fresh)
    );
    server.stop();
    // The open connection breaks, and reconnecting fails: never "fresh".
    for jti in ["after-1", "after-2", "before"] {
        assert_eq!(
            guard.check_and_record(IDP, jti, in_seconds(60), now),
            Err(ReplayError::Unavailable),
            "{jti}"
        );
    }
}

#[test]
fn a_redemption_with_redis_down_is_refused_not_accepted() {
    // Nothing listens on port 1: the redemption must fail closed.
    let down = RedisReplayGuard::new("redis://127.0.0.1:1/").unwrap();
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let issuers = TrustedIssuers::new();
    issuers.insert(TrustedIssuer::new(
        IDP,
        KeySet::new(vec![key.verification_key().clone()]).unwrap(),
    ));
    let subjects = MemorySubjects::new();
    subjects.link(SubjectKey { issuer: IDP.into(), tenant: None, subject: "u".into() }, "acct");
    let hosts =
        RedeemHosts { issuers: &issuers, replay: &down, subjects: &subjects, policy: &AllowAll };
    let server = ResourceServer::new(ResourceServerConfig::new("https://as.example"));
    let now = NumericDate::now_from_system_clock();
    let claims = IdJagClaims::builder(RequiredClaims {
        issuer: IDP.into(),
        subject: "u".into(),
        audience: "https://as.example".into(),
        client_id: "aria".into(),
        jwt_id: "j".into(),
        issued_at: now,
        expires_at: now.saturating_add_seconds(300),
    })
    .build()
    .unwrap();
    let token = sign_compact(&key, Some("oauth-id-jag+jwt"), claims.to_json().as_bytes()).unwrap();
    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={token}"
    );
    let outcome =
        server.redeem(&hosts, body.as_bytes(), &AuthenticatedClient::confidential("aria"), now);
    let rejection = outcome.outcome.unwrap_err();
    assert_eq!(rejection.reason(), RejectReason::ReplayStoreUnavailable);
    assert_eq!(rejection.error_response().http_status(), 500);
}
