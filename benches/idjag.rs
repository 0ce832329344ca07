//! Criterion benchmarks. Every figure of the crate is measured next to the raw OpenSSL
//! operation it rests on, on the same key and in the same run, so ratios hold on a noisy
//! machine. Run `cargo bench --bench idjag`, then `cargo run --example bench_summary` for the
//! ratios against their targets.
//!
//! Benchmark ids are fixed so results compare across versions:
//! - `verify/openssl_raw/ALG`, `verify/jws/ALG`, `verify/redeem/ALG` and `verify/redeem_full/ALG`
//!   for RS256, ES256, EdDSA. `redeem` is the redemption the target is set on: parse, trust
//!   lookup, signature, claims, in-memory replay check. `redeem_full` is the one-call API from
//!   the form body, adding form parsing, subject resolution, narrowing and the audit record;
//! - `verify/redeem_dpop/ALG`: `redeem` with a DPoP proof by a client key of the same algorithm
//!   (two signatures; target 2.2x one raw verify);
//! - `issue/openssl_raw/ALG` (one raw verify plus one raw sign) and `issue/exchange/ALG` (a full
//!   IdP token exchange with an ID-token subject) for RS256, ES256, EdDSA;
//! - `scale/redeem/1`, `scale/redeem/100`, `scale/redeem/10000` (trusted issuers, 100 keys each).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{BenchKey, bench_key, raw_sign, raw_verify};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{Actor, IdJagClaims, RequiredClaims};
use id_jag::dpop::{DpopContext, DpopProof, DpopVerifier};
use id_jag::idp::{
    Agent, DirectoryUser, ExchangeHosts, IdTokensOnly, IdentityProvider, IdpConfig,
    ManagedConnection, MemoryConnections, MemoryDirectory,
};
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, KeySet, ParseOptions, SigningKeySet, sign_compact,
};
use id_jag::resource::{
    AllowAll, MemoryReplayGuard, MemorySubjects, RedeemHosts, ResourceServer, ResourceServerConfig,
    SubjectKey, TrustedIssuer, TrustedIssuerStore, TrustedIssuers,
};
use id_jag::scope::Scope;

const IDP: &str = "https://idp.example.com";
const AS: &str = "https://as.expenses.example";
const NOW: u64 = 1_764_000_000;
const TOKEN_ENDPOINT: &str = "https://as.expenses.example/token";
/// Distinct ID-JAGs per algorithm; the replay guard is renewed (untimed) after each round. Small
/// enough to stay in cache, like the single input of the raw baselines.
const POOL: usize = 64;

fn now() -> NumericDate {
    NumericDate::from_unix_seconds(NOW).unwrap()
}

/// An Okta-shaped ID-JAG: `act` with `sub_profile`, email, scope.
fn id_jag(key: &BenchKey, issuer: &str, jwt_id: &str) -> String {
    let claims = IdJagClaims::builder(RequiredClaims {
        issuer: issuer.into(),
        subject: "00u8b2fc9a".into(),
        audience: AS.into(),
        client_id: "aria-expenses".into(),
        jwt_id: jwt_id.into(),
        issued_at: now(),
        expires_at: now().saturating_add_seconds(300),
    })
    .scope(Scope::parse("expenses.read expenses.write").unwrap())
    .email("b@example.com")
    .actor(Actor::new("wlp8x5q7mvH86KvFJ0g7").with_claim("sub_profile", "ai_agent".into()))
    .build()
    .unwrap();
    sign_compact(&key.key, Some("oauth-id-jag+jwt"), claims.to_json().as_bytes()).unwrap()
}

fn form(token: &str) -> Vec<u8> {
    format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={token}\
         &scope=expenses.read"
    )
    .into_bytes()
}

struct Fixture {
    server: ResourceServer,
    issuers: TrustedIssuers,
    subjects: MemorySubjects,
    client: AuthenticatedClient,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            server: ResourceServer::new(ResourceServerConfig::new(AS)),
            issuers: TrustedIssuers::new(),
            subjects: MemorySubjects::new(),
            client: AuthenticatedClient::confidential("aria-expenses"),
        }
    }

    fn trust(&self, issuer: &str, keys: KeySet) {
        self.issuers.insert(TrustedIssuer::new(issuer, keys));
        let key = SubjectKey { issuer: issuer.into(), tenant: None, subject: "00u8b2fc9a".into() };
        self.subjects.link(key, "acct-b");
    }

    /// Time `iters` redemptions of the pool's tokens through the staged API (parse, trust
    /// lookup, signature, claims, replay check), renewing the replay guard between rounds
    /// outside the timed region.
    fn time_verifications(&self, tokens: &[String], iters: u64) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut remaining = iters;
        while remaining > 0 {
            let replay = MemoryReplayGuard::new(1 << 20);
            let round = usize::try_from(remaining).unwrap_or(usize::MAX).min(tokens.len());
            let start = Instant::now();
            for token in &tokens[..round] {
                let unverified = self.server.parse(token).unwrap();
                let issuer = self.issuers.trusted_issuer(unverified.issuer());
                let checked = self.server.verify(unverified, issuer, &self.client, now()).unwrap();
                black_box(checked.finish_with(&replay, now()).unwrap());
            }
            elapsed += start.elapsed();
            remaining -= round as u64;
        }
        elapsed
    }

    /// Like [`Fixture::time_verifications`], each token with a DPoP proof checked first by
    /// `verifier`, which lives as long as the benchmark as it would live as long as the server:
    /// the client's key is imported by the first proof it sees, before any sample.
    fn time_dpop_verifications(
        &self,
        verifier: &DpopVerifier,
        pairs: &[(String, String)],
        iters: u64,
    ) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut remaining = iters;
        while remaining > 0 {
            let replay = MemoryReplayGuard::new(1 << 20);
            let round = usize::try_from(remaining).unwrap_or(usize::MAX).min(pairs.len());
            let start = Instant::now();
            for (token, proof) in &pairs[..round] {
                let context = DpopContext {
                    proof,
                    token_endpoint: TOKEN_ENDPOINT,
                    verifier,
                    replay: &replay,
                };
                let proven = context.verify(now()).unwrap();
                let unverified = self.server.parse(token).unwrap();
                let issuer = self.issuers.trusted_issuer(unverified.issuer());
                let checked = self
                    .server
                    .verify_with_dpop(unverified, issuer, &self.client, Some(&proven), now())
                    .unwrap();
                black_box(checked.finish_with(&replay, now()).unwrap());
            }
            elapsed += start.elapsed();
            remaining -= round as u64;
        }
        elapsed
    }

    /// Time `iters` one-call redemptions of the pool's form bodies, renewing the replay guard
    /// between rounds outside the timed region.
    fn time_redemptions(&self, bodies: &[Vec<u8>], iters: u64) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut remaining = iters;
        while remaining > 0 {
            let replay = MemoryReplayGuard::new(1 << 20);
            let hosts = RedeemHosts {
                issuers: &self.issuers,
                replay: &replay,
                subjects: &self.subjects,
                policy: &AllowAll,
            };
            let round = usize::try_from(remaining).unwrap_or(usize::MAX).min(bodies.len());
            let start = Instant::now();
            for body in &bodies[..round] {
                let redemption = self.server.redeem(&hosts, body, &self.client, now());
                assert!(redemption.outcome.is_ok());
                black_box(redemption);
            }
            elapsed += start.elapsed();
            remaining -= round as u64;
        }
        elapsed
    }
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for algorithm in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
        let key = bench_key(algorithm, "k1");
        let tokens: Vec<String> = (0..POOL).map(|i| id_jag(&key, IDP, &format!("j{i}"))).collect();
        let jws = CompactJws::parse(&tokens[0], &ParseOptions::new(AlgorithmSet::all())).unwrap();
        let (message, signature) = (jws.signing_input().to_vec(), jws.signature().to_vec());
        assert!(raw_verify(key.algorithm, &key.raw, &message, &signature));
        let keys = KeySet::new(vec![key.key.verification_key().clone()]).unwrap();

        group.bench_function(BenchmarkId::new("openssl_raw", algorithm.name()), |b| {
            b.iter(|| {
                assert!(raw_verify(
                    key.algorithm,
                    &key.raw,
                    black_box(&message),
                    black_box(&signature)
                ))
            })
        });

        let options = ParseOptions::new(AlgorithmSet::all());
        group.bench_function(BenchmarkId::new("jws", algorithm.name()), |b| {
            b.iter(|| {
                let jws = CompactJws::parse(black_box(&tokens[0]), &options).unwrap();
                jws.verify_with_key_set(&keys).unwrap();
            })
        });

        let fixture = Fixture::new();
        fixture.trust(IDP, keys.clone());
        group.bench_function(BenchmarkId::new("redeem", algorithm.name()), |b| {
            b.iter_custom(|iters| fixture.time_verifications(&tokens, iters))
        });
        let client_key = bench_key(algorithm, "client");
        let pairs: Vec<(String, String)> = tokens
            .iter()
            .map(|token| {
                let proof = DpopProof::new("POST", TOKEN_ENDPOINT).sign(&client_key.key, now());
                (token.clone(), proof.unwrap())
            })
            .collect();
        let verifier = DpopVerifier::new();
        group.bench_function(BenchmarkId::new("redeem_dpop", algorithm.name()), |b| {
            b.iter_custom(|iters| fixture.time_dpop_verifications(&verifier, &pairs, iters))
        });
        let bodies: Vec<Vec<u8>> = tokens.iter().map(|t| form(t)).collect();
        group.bench_function(BenchmarkId::new("redeem_full", algorithm.name()), |b| {
            b.iter_custom(|iters| fixture.time_redemptions(&bodies, iters))
        });
    }
    group.finish();
}

fn issue(c: &mut Criterion) {
    let mut group = c.benchmark_group("issue");
    for algorithm in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
        let BenchKey { algorithm, raw, key } = bench_key(algorithm, "idp-1");
        let keys = SigningKeySet::new(key, vec![]).unwrap();
        let idp = IdentityProvider::new(IdpConfig::new(IDP), keys.verification_keys().clone());
        let registry = MemoryConnections::new();
        let mut agent = Agent::new("aria");
        agent.actor =
            Some(Actor::new("wlp8x5q7mvH86KvFJ0g7").with_claim("sub_profile", "ai_agent".into()));
        registry.put_agent(agent);
        let mut connection = ManagedConnection::new(
            "aria-expenses",
            "aria",
            AS,
            "aria-expenses",
            Scope::parse("expenses.read expenses.write").unwrap(),
        );
        connection.allowed_resources = vec!["https://api.expenses.example".into()];
        registry.put_connection(connection);
        let directory = MemoryDirectory::new();
        let mut user = DirectoryUser::new("00u8b2fc9a");
        user.verified_email = Some("b@example.com".into());
        directory.put(AS, user);
        let hosts = ExchangeHosts {
            registry: &registry,
            directory: &directory,
            tokens: &IdTokensOnly,
            signer: &keys,
        };
        let id_token_claims = format!(
            concat!(
                r#"{{"iss":"{issuer}","sub":"00u8b2fc9a","aud":"aria","iat":{now},"exp":{expiry},"#,
                r#""auth_time":{now},"amr":["pwd","mfa"],"email":"b@example.com","name":"B"}}"#,
            ),
            issuer = IDP,
            now = NOW,
            expiry = NOW + 3600,
        );
        let id_token = sign_compact(&keys, Some("JWT"), id_token_claims.as_bytes()).unwrap();
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid-jag\
             &audience=https%3A%2F%2Fas.expenses.example\
             &resource=https%3A%2F%2Fapi.expenses.example\
             &scope=expenses.read+expenses.write&subject_token={id_token}\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"
        )
        .into_bytes();
        let client = AuthenticatedClient::confidential("aria");
        let issued = idp.exchange(&hosts, &body, &client, now()).outcome.unwrap();
        let issued = issued.into_id_jag().unwrap();

        // The baseline: verify the same ID token signature and sign an ID-JAG-sized input.
        let id_token_jws =
            CompactJws::parse(&id_token, &ParseOptions::new(AlgorithmSet::all())).unwrap();
        let (message, signature) =
            (id_token_jws.signing_input().to_vec(), id_token_jws.signature().to_vec());
        let issued_jws =
            CompactJws::parse(issued.token(), &ParseOptions::new(AlgorithmSet::all())).unwrap();
        let to_sign = issued_jws.signing_input().to_vec();
        // The raw key must be the IdP's: check it verifies what the IdP signed.
        assert!(raw_verify(algorithm, &raw, &message, &signature));
        group.bench_function(BenchmarkId::new("openssl_raw", algorithm.name()), |b| {
            b.iter(|| {
                assert!(raw_verify(algorithm, &raw, black_box(&message), black_box(&signature)));
                black_box(raw_sign(algorithm, &raw, black_box(&to_sign)));
            })
        });
        group.bench_function(BenchmarkId::new("exchange", algorithm.name()), |b| {
            b.iter(|| {
                let exchange = idp.exchange(&hosts, black_box(&body), &client, now());
                black_box(exchange.outcome.unwrap());
            })
        });
    }
    group.finish();
}

fn scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale");
    // 100 ES256 keys per issuer; every issuer holds its own copy of the set.
    let keys: Vec<BenchKey> =
        (0..100).map(|i| bench_key(Algorithm::Es256, &format!("k{i}"))).collect();
    let key_set =
        KeySet::new(keys.iter().map(|k| k.key.verification_key().clone()).collect()).unwrap();
    let signer = &keys[57];
    for issuer_count in [1usize, 100, 10_000] {
        let fixture = Fixture::new();
        for i in 0..issuer_count {
            fixture.trust(&format!("https://idp{i}.example.com"), key_set.clone());
        }
        let issuer = format!("https://idp{}.example.com", issuer_count / 2);
        let tokens: Vec<String> =
            (0..POOL).map(|i| id_jag(signer, &issuer, &format!("j{i}"))).collect();
        group.bench_function(BenchmarkId::new("redeem", issuer_count), |b| {
            b.iter_custom(|iters| fixture.time_verifications(&tokens, iters))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    targets = verify, issue, scale
}
criterion_main!(benches);
