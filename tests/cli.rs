//! The `idjag` command-line tool, run as a process: exit codes, output lines and what the
//! library makes of what the tool writes.
#![cfg(feature = "cli")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use id_jag::jose::{KeySet, SigningKey};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "https://as.expenses.example";
const CLIENT_ID: &str = "aria";
const IAT: u64 = 1_764_000_000;
const EXP: u64 = IAT + 300;
const NOW: u64 = IAT + 10;

/// A finished run of the tool.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!("stdout is not one JSON document ({error}): {:?}", self.stdout)
        })
    }
}

fn idjag(args: &[&str]) -> Run {
    idjag_with_stdin(args, "")
}

fn idjag_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_idjag"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the idjag binary runs");
    child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes()).expect("stdin");
    let Output { status, stdout, stderr } = child.wait_with_output().expect("idjag finishes");
    Run {
        code: status.code().expect("idjag exits, not killed"),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// A fresh directory for one test's files.
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a test file");
    path.to_str().expect("UTF-8 path").to_owned()
}

fn keygen(alg: &str) -> String {
    let run = idjag(&["keygen", "--alg", alg]);
    assert_eq!(run.code, 0, "keygen {alg}: {}", run.stderr);
    run.stdout.trim().to_owned()
}

fn claims(jti: &str) -> Value {
    json!({
        "iss": ISSUER,
        "sub": "u1",
        "aud": AUDIENCE,
        "client_id": CLIENT_ID,
        "jti": jti,
        "iat": IAT,
        "exp": EXP,
        "scope": "expenses.read",
    })
}

/// An IdP's key and JWKS on disk, and a way to mint with the key.
struct Idp {
    dir: PathBuf,
    key: String,
    jwks: String,
}

impl Idp {
    fn new(test: &str) -> Self {
        let dir = workdir(test);
        let key = write(&dir, "idp.jwk", &keygen("ES256"));
        let run = idjag(&["jwks", &key]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let jwks = write(&dir, "idp.jwks", &run.stdout);
        Idp { dir, key, jwks }
    }

    fn mint(&self, claims: &Value) -> String {
        let file = write(&self.dir, "claims.json", &claims.to_string());
        let run = idjag(&["mint", "--key", &self.key, "--claims", &file]);
        assert_eq!(run.code, 0, "mint: {}", run.stderr);
        assert_eq!(run.lines().len(), 1);
        run.stdout.trim().to_owned()
    }

    /// `idjag verify` with the standard settings, `extra` options, and `stdin`.
    fn verify(&self, extra: &[&str], stdin: &str) -> Run {
        self.verify_as(AUDIENCE, CLIENT_ID, NOW, extra, stdin)
    }

    /// `idjag verify` as the resource AS `audience`, for client `client_id`, at `now`.
    fn verify_as(
        &self,
        audience: &str,
        client_id: &str,
        now: u64,
        extra: &[&str],
        stdin: &str,
    ) -> Run {
        let now = now.to_string();
        let mut args = vec!["verify", "--jwks", &self.jwks, "--issuer", ISSUER];
        args.extend_from_slice(&["--audience", audience, "--client-id", client_id, "--now", &now]);
        args.extend_from_slice(extra);
        idjag_with_stdin(&args, stdin)
    }
}

fn rejection(reason: &str) -> Value {
    json!({ "error": "invalid_grant", "reason": reason })
}

#[test]
fn keygen_gives_an_importable_private_jwk_for_every_algorithm() {
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let jwk_text = keygen(alg);
        assert_eq!(jwk_text.lines().count(), 1, "{alg}: one line");
        let jwk: Value = serde_json::from_str(&jwk_text).expect("keygen prints JSON");
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["use"], "sig");
        assert!(jwk.get("d").is_some(), "{alg}: private");

        let key = SigningKey::from_jwk(jwk_text.as_bytes(), None).expect("importable");
        assert_eq!(key.kid(), Some(key.verification_key().thumbprint()), "{alg}: kid");
        assert_eq!(key.verification_key().algorithm().name(), alg);
    }
}

#[test]
fn keygen_takes_a_kid() {
    let run = idjag(&["keygen", "--alg", "EdDSA", "--kid", "2026-01"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let key = SigningKey::from_jwk(run.stdout.trim().as_bytes(), None).expect("importable");
    assert_eq!(key.kid(), Some("2026-01"));
}

#[test]
fn jwks_publishes_public_members_only() {
    let dir = workdir("jwks_public");
    let ec = write(&dir, "ec.jwk", &keygen("ES256"));
    let rsa = write(&dir, "rsa.jwk", &keygen("RS256"));

    let run = idjag(&["jwks", &ec, &rsa]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.lines().len(), 1);
    let set = run.json();
    let keys = set["keys"].as_array().expect("a keys array");
    assert_eq!(keys.len(), 2);
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(key.get(private).is_none(), "{private} published");
        }
    }
    let import = KeySet::from_jwks(run.stdout.as_bytes()).expect("a JWK Set");
    assert!(import.rejected.is_empty());
    assert_eq!(import.keys.len(), 2);

    // Its own output (a public set) is an input too, and a key given twice is published once.
    let published = write(&dir, "published.jwks", &run.stdout);
    let again = idjag(&["jwks", &published, &ec]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json(), set);
}

#[test]
fn jwks_names_the_file_and_reason_of_a_refused_key() {
    let dir = workdir("jwks_refused");
    let good = write(&dir, "good.jwk", &keygen("ES256"));
    let symmetric = write(&dir, "hmac.jwk", r#"{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}"#);

    let run = idjag(&["jwks", &good, &symmetric]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "nothing published: {}", run.stdout);
    assert!(
        run.stderr.contains("hmac.jwk") && run.stderr.contains("key_symmetric"),
        "{}",
        run.stderr
    );

    let missing = dir.join("absent.jwk");
    let run = idjag(&["jwks", missing.to_str().expect("UTF-8 path")]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("absent.jwk"), "{}", run.stderr);
}

#[test]
fn mint_then_verify_round_trip() {
    let idp = Idp::new("round_trip");
    let token = idp.mint(&claims("jti-1"));

    let run = idp.verify(&[&token], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.lines().len(), 1);
    assert_eq!(run.json(), claims("jti-1"));

    // The header: typ, and alg and kid from the key.
    let key = SigningKey::from_jwk(&std::fs::read(&idp.key).expect("key file"), None)
        .expect("importable");
    let inspected = idjag(&["inspect", &token]).json();
    assert_eq!(inspected["header"]["typ"], "oauth-id-jag+jwt");
    assert_eq!(inspected["header"]["alg"], "ES256");
    assert_eq!(inspected["header"]["kid"].as_str(), key.kid());
}

#[test]
fn verify_rejects_another_audience() {
    let idp = Idp::new("wrong_audience");
    let token = idp.mint(&claims("jti-1"));
    let run = idp.verify_as("https://as.other.example", CLIENT_ID, NOW, &[&token], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("aud_mismatch"));
}

#[test]
fn verify_rejects_an_expired_token_past_the_leeway() {
    let idp = Idp::new("expired");
    let token = idp.mint(&claims("jti-1"));

    // The default leeway is 60 seconds: still good 30 seconds after exp, not 60.
    let run = idp.verify_as(AUDIENCE, CLIENT_ID, EXP + 30, &[&token], "");
    assert_eq!(run.code, 0, "{}", run.stdout);

    let run = idp.verify_as(AUDIENCE, CLIENT_ID, EXP + 60, &[&token], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("expired"));

    let run = idp.verify_as(AUDIENCE, CLIENT_ID, EXP + 30, &["--leeway", "0", &token], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("expired"));
}

#[test]
fn verify_rejects_another_client_and_a_long_lifetime() {
    let idp = Idp::new("wrong_client");
    let token = idp.mint(&claims("jti-1"));
    let run = idp.verify_as(AUDIENCE, "someone-else", NOW, &[&token], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("client_id_mismatch"));

    let run = idp.verify(&["--max-lifetime", "299", &token], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("lifetime_exceeded"));

    // The issuer named on the command line is the only one trusted.
    let run = idjag(&[
        "verify",
        "--jwks",
        &idp.jwks,
        "--issuer",
        "https://idp.other.example",
        "--audience",
        AUDIENCE,
        "--client-id",
        CLIENT_ID,
        "--now",
        &NOW.to_string(),
        &token,
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("issuer_untrusted"));
}

#[test]
fn verify_batch_from_stdin_answers_each_token_in_order() {
    let idp = Idp::new("batch");
    let first = idp.mint(&claims("jti-1"));
    let second = idp.mint(&claims("jti-2"));

    // The second token's payload under the first token's signature.
    let segments: Vec<&str> = first.split('.').collect();
    let other_payload = second.split('.').nth(1).expect("a payload segment");
    let tampered = format!("{}.{}.{}", segments[0], other_payload, segments[2]);

    let stdin = format!("{first}\n\n{tampered}\r\n  {second}  \n\n");
    let run = idp.verify(&["-"], &stdin);
    assert_eq!(run.code, 1, "one rejection fails the batch");
    let lines = run.lines();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let parsed: Vec<Value> =
        lines.iter().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert_eq!(parsed[0], claims("jti-1"));
    assert_eq!(parsed[1], rejection("jws_signature_invalid"));
    assert_eq!(parsed[2], claims("jti-2"));

    // No TOKEN at all also reads stdin; all good is exit 0.
    let run = idp.verify(&[], &format!("{first}\n{second}\n"));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.lines().len(), 2);
}

#[test]
fn single_use_refuses_the_second_presentation() {
    let idp = Idp::new("single_use");
    let token = idp.mint(&claims("jti-1"));
    let twice = format!("{token}\n{token}\n");

    let run = idp.verify(&["--single-use"], &twice);
    assert_eq!(run.code, 1);
    let lines = run.lines();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert_eq!(serde_json::from_str::<Value>(lines[0]).expect("JSON"), claims("jti-1"));
    assert_eq!(serde_json::from_str::<Value>(lines[1]).expect("JSON"), rejection("replayed"));

    // Without --single-use, re-presentation is allowed (draft §4.4.3).
    let run = idp.verify(&[], &twice);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.lines().len(), 2);
}

#[test]
fn mint_refuses_a_claim_set_without_jti() {
    let idp = Idp::new("mint_refuses");
    let mut incomplete = claims("jti-1");
    incomplete.as_object_mut().expect("an object").remove("jti");
    let file = write(&idp.dir, "incomplete.json", &incomplete.to_string());

    let run = idjag(&["mint", "--key", &idp.key, "--claims", &file]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "nothing signed: {}", run.stdout);
    assert!(run.stderr.contains("claim_missing") && run.stderr.contains("jti"), "{}", run.stderr);

    // A public key cannot sign.
    let complete = write(&idp.dir, "complete.json", &claims("jti-1").to_string());
    let run = idjag(&["mint", "--key", &idp.jwks, "--claims", &complete]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let cases: [&[&str]; 15] = [
        &[],
        &["sign"],
        &["--verbose"],
        &["keygen"],
        &["keygen", "--alg", "HS256"],
        &["keygen", "--alg", "ES256", "--bits", "4096"],
        &["keygen", "--alg", "ES256", "extra"],
        &["jwks"],
        &["mint", "--key", "k.jwk"],
        &["mint", "--key"],
        &["verify", "--jwks", "j", "--audience", "a", "--client-id", "c"],
        &[
            "verify",
            "--jwks",
            "j",
            "--issuer",
            "i",
            "--audience",
            "a",
            "--client-id",
            "c",
            "--now",
            "soon",
        ],
        &["verify", "--jwks=j", "--issuer=i", "--audience=a", "--client-id=c", "--single-use=yes"],
        &[
            "verify",
            "--jwks=j",
            "--issuer=i",
            "--audience=a",
            "--client-id=c",
            "--now=1",
            "--now=2",
        ],
        &["inspect", "a.b.c", "d.e.f"],
    ];
    for args in cases {
        let run = idjag(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}");
        assert!(run.stderr.contains("usage: idjag"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn help_exits_0_everywhere() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["help", "verify"],
        &["keygen", "--help"],
        &["jwks", "--help"],
        &["mint", "--help"],
        &["verify", "--help"],
        &["inspect", "--help"],
        &["verify", "--jwks", "j", "-h"],
    ] {
        let run = idjag(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stdout.starts_with("usage: idjag"), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn inspect_decodes_without_a_key_and_says_unverified() {
    let idp = Idp::new("inspect");
    let token = idp.mint(&claims("jti-1"));

    for run in [idjag(&["inspect", &token]), idjag_with_stdin(&["inspect", "-"], &token)] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report = run.json();
        assert!(report["warning"].as_str().is_some_and(|w| w.contains("UNVERIFIED")));
        assert_eq!(report["header"]["typ"], "oauth-id-jag+jwt");
        assert_eq!(report["payload"], claims("jti-1"));
        assert_eq!(report["syntax"], "ok");
    }

    // An algorithm the crate never accepts is still shown, and named as the refusal.
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&claims("j").to_string()));
    let run = idjag(&["inspect", &unsigned]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["header"]["alg"], "none");
    assert_eq!(report["payload"]["jti"], "j");
    assert_eq!(report["syntax"], "jws_alg_unsupported");

    // Control characters from the token never reach the terminal raw.
    let hostile = format!("{}.{}.", b64("{\"alg\":\"none\",\"x\":\"\u{9b}2J\"}"), b64("{}"));
    let run = idjag(&["inspect", &hostile]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains('\u{9b}'));
    assert_eq!(run.json()["header"]["x"], "\u{9b}2J");

    for malformed in ["not-a-token", "a.b", "e30.e30.e30.e30", "!!.e30.", "e30.bm90IGpzb24."] {
        let run = idjag(&["inspect", malformed]);
        assert_eq!(run.code, 1, "{malformed}");
        assert!(run.stdout.is_empty(), "{malformed}");
        assert!(run.stderr.contains("cannot inspect"), "{malformed}: {}", run.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// DPoP: `idjag dpop make`, `idjag dpop check`, and `idjag verify --dpop-proof`
// ---------------------------------------------------------------------------------------------

const IDP_TOKEN_ENDPOINT: &str = "https://idp.example.com/oauth2/v1/token";
const AS_TOKEN_ENDPOINT: &str = "https://as.expenses.example/oauth2/token";

/// A client's DPoP key on disk, and its RFC 7638 thumbprint.
fn client_key(dir: &Path, name: &str, alg: &str) -> (String, String) {
    let path = write(dir, name, &keygen(alg));
    let key =
        SigningKey::from_jwk(&std::fs::read(&path).expect("key file"), None).expect("importable");
    (path, key.verification_key().thumbprint().to_owned())
}

/// `idjag dpop make` with `extra` options, insisting on success: the proof.
fn dpop_make(key: &str, htm: &str, htu: &str, now: u64, extra: &[&str]) -> String {
    let now = now.to_string();
    let mut args = vec!["dpop", "make", "--key", key, "--htm", htm, "--htu", htu, "--now", &now];
    args.extend_from_slice(extra);
    let run = idjag(&args);
    assert_eq!(run.code, 0, "dpop make: {}", run.stderr);
    assert_eq!(run.lines().len(), 1, "{}", run.stdout);
    run.stdout.trim().to_owned()
}

/// `idjag dpop check` for `htm` and `htu` at `now`, with `extra` options and `stdin`.
fn dpop_check(htm: &str, htu: &str, now: u64, extra: &[&str], stdin: &str) -> Run {
    let now = now.to_string();
    let mut args = vec!["dpop", "check", "--htm", htm, "--htu", htu, "--now", &now];
    args.extend_from_slice(extra);
    idjag_with_stdin(&args, stdin)
}

fn dpop_refusal(reason: &str) -> Value {
    json!({ "error": "invalid_dpop_proof", "reason": reason })
}

#[test]
fn dpop_make_then_check_names_the_key() {
    let dir = workdir("dpop_round_trip");
    for alg in ["ES256", "RS256", "EdDSA"] {
        let (key, jkt) = client_key(&dir, &format!("{alg}.jwk"), alg);
        let proof = dpop_make(&key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);

        // The header: typed, the public key only, no kid.
        let inspected = idjag(&["inspect", &proof]).json();
        assert_eq!(inspected["header"]["typ"], "dpop+jwt", "{alg}");
        assert_eq!(inspected["header"]["alg"], alg);
        assert!(inspected["header"].get("kid").is_none(), "{alg}: {inspected}");
        let jwk = &inspected["header"]["jwk"];
        assert!(jwk.get("d").is_none() && jwk.get("kid").is_none(), "{alg}: {jwk}");
        assert_eq!(inspected["payload"]["htm"], "POST");
        assert_eq!(inspected["payload"]["htu"], AS_TOKEN_ENDPOINT);
        assert_eq!(inspected["payload"]["iat"], NOW);

        let run = dpop_check("POST", AS_TOKEN_ENDPOINT, NOW + 10, &[&proof], "");
        assert_eq!(run.code, 0, "{alg}: {} {}", run.stdout, run.stderr);
        assert_eq!(run.json(), json!({ "jkt": jkt }));

        // The library agrees.
        let guard = id_jag::resource::MemoryReplayGuard::new(10);
        let now = id_jag::NumericDate::from_unix_seconds(NOW).expect("a date");
        let verified = id_jag::dpop::DpopVerifier::new()
            .verify(&proof, "POST", AS_TOKEN_ENDPOINT, None, now, &guard)
            .expect("the library accepts the tool's proof");
        assert_eq!(verified.jkt(), jkt);
    }
}

#[test]
fn dpop_make_binds_an_access_token_and_a_nonce() {
    let dir = workdir("dpop_ath_nonce");
    let (key, jkt) = client_key(&dir, "client.jwk", "ES256");
    let api = "https://api.expenses.example/v1/reports";
    let token = "an-access-token";
    let extra = ["--ath-token", token, "--nonce", "nonce-1"];
    let proof = dpop_make(&key, "GET", &format!("{api}?month=11#top"), NOW, &extra);
    let payload = &idjag(&["inspect", &proof]).json()["payload"];
    assert_eq!(payload["htu"], api, "no query, no fragment");
    assert_eq!(payload["ath"], id_jag::dpop::access_token_hash(token));
    assert_eq!(payload["nonce"], "nonce-1");

    let good = ["--access-token", token, "--nonce", "nonce-1", &proof];
    let run = dpop_check("GET", api, NOW, &good, "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json(), json!({ "jkt": jkt }));

    let run = dpop_check("GET", api, NOW, &["--access-token", "another-token", &proof], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), dpop_refusal("dpop_ath_mismatch"));

    // A missing or wrong nonce asks for the server's nonce.
    let run = dpop_check("GET", api, NOW, &["--nonce", "nonce-2", &proof], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), json!({ "error": "use_dpop_nonce", "reason": "dpop_nonce_mismatch" }));
    let plain = dpop_make(&key, "GET", api, NOW, &[]);
    let run = dpop_check("GET", api, NOW, &["--nonce", "nonce-1", &plain], "");
    assert_eq!(run.json(), json!({ "error": "use_dpop_nonce", "reason": "dpop_nonce_mismatch" }));
    // Without --access-token, ath is not looked at; without --nonce, neither is nonce.
    let run = dpop_check("GET", api, NOW, &[&plain], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn dpop_check_refuses_with_the_exact_reason() {
    let dir = workdir("dpop_refusals");
    let (key, _) = client_key(&dir, "client.jwk", "ES256");
    let proof = dpop_make(&key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);

    let cases: [(&str, &str, u64, &str); 7] = [
        ("GET", AS_TOKEN_ENDPOINT, NOW, "dpop_htm_mismatch"),
        ("POST", IDP_TOKEN_ENDPOINT, NOW, "dpop_htu_mismatch"),
        ("POST", "http://as.expenses.example/oauth2/token", NOW, "dpop_htu_mismatch"),
        ("POST", AS_TOKEN_ENDPOINT, NOW + 61, "dpop_iat_out_of_window"),
        ("POST", AS_TOKEN_ENDPOINT, NOW - 6, "dpop_iat_out_of_window"),
        ("POST", "HTTPS://AS.expenses.example:443/oauth2/token?x=1", NOW + 60, "-"),
        ("POST", AS_TOKEN_ENDPOINT, NOW - 5, "-"),
    ];
    for (htm, htu, now, reason) in cases {
        let run = dpop_check(htm, htu, now, &[&proof], "");
        if reason == "-" {
            assert_eq!(run.code, 0, "{htm} {htu} {now}: {}", run.stdout);
        } else {
            assert_eq!(run.code, 1, "{htm} {htu} {now}");
            assert_eq!(run.json(), dpop_refusal(reason), "{htm} {htu} {now}");
        }
    }

    // The payload of one proof under another's signature; not a JWS at all; an ID-JAG.
    let other = dpop_make(&key, "POST", IDP_TOKEN_ENDPOINT, NOW, &[]);
    let parts: Vec<&str> = proof.split('.').collect();
    let swapped =
        format!("{}.{}.{}", parts[0], other.split('.').nth(1).expect("payload"), parts[2]);
    let run = dpop_check("POST", IDP_TOKEN_ENDPOINT, NOW, &[&swapped], "");
    assert_eq!(run.json(), dpop_refusal("jws_signature_invalid"));
    let run = dpop_check("POST", AS_TOKEN_ENDPOINT, NOW, &["not-a-proof"], "");
    assert_eq!(run.json(), dpop_refusal("jws_segment_count"));
    let idp = Idp::new("dpop_refusals_idp");
    let id_jag = idp.mint(&claims("jti-1"));
    let run = dpop_check("POST", AS_TOKEN_ENDPOINT, NOW, &[&id_jag], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), dpop_refusal("dpop_typ_mismatch"));
}

#[test]
fn dpop_check_batch_refuses_a_replayed_proof() {
    let dir = workdir("dpop_batch");
    let (key, jkt) = client_key(&dir, "client.jwk", "ES256");
    let (other_key, other_jkt) = client_key(&dir, "other.jwk", "EdDSA");
    let first = dpop_make(&key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);
    let second = dpop_make(&other_key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);

    let stdin = format!("{first}\n\n{second}\r\n  {first}  \n");
    let run = dpop_check("POST", AS_TOKEN_ENDPOINT, NOW, &["-"], &stdin);
    assert_eq!(run.code, 1, "one refusal fails the batch");
    let lines: Vec<Value> =
        run.lines().iter().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert_eq!(
        lines,
        vec![json!({ "jkt": jkt }), json!({ "jkt": other_jkt }), dpop_refusal("dpop_replayed")]
    );

    // Each run has its own replay memory; no PROOF at all also reads stdin.
    let run = dpop_check("POST", AS_TOKEN_ENDPOINT, NOW, &[], &format!("{first}\n"));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json(), json!({ "jkt": jkt }));
}

/// An ID-JAG bound to `jkt`.
fn bound_claims(jti: &str, jkt: &str) -> Value {
    let mut claims = claims(jti);
    claims["cnf"] = json!({ "jkt": jkt });
    claims
}

#[test]
fn verify_applies_the_four_dpop_cases() {
    let idp = Idp::new("verify_dpop");
    let (key, jkt) = client_key(&idp.dir, "client.jwk", "ES256");
    let (thief_key, _) = client_key(&idp.dir, "thief.jwk", "ES256");
    let bound = idp.mint(&bound_claims("jti-1", &jkt));
    let unbound = idp.mint(&claims("jti-2"));
    let with_proof = |proof: &str, token: &str| {
        idp.verify(&["--dpop-proof", proof, "--token-endpoint", AS_TOKEN_ENDPOINT, token], "")
    };

    // Bound and proven with the same key.
    let proof = dpop_make(&key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);
    let run = with_proof(&proof, &bound);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    assert_eq!(run.json(), bound_claims("jti-1", &jkt));

    // Bound and unproven.
    let run = idp.verify(&[&bound], "");
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("dpop_proof_missing"));

    // Bound and proven with another key.
    let proof = dpop_make(&thief_key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);
    let run = with_proof(&proof, &bound);
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), rejection("dpop_key_mismatch"));

    // Proven and unbound; and neither.
    let proof = dpop_make(&thief_key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);
    let run = with_proof(&proof, &unbound);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json(), claims("jti-2"));
    let run = idp.verify(&[&unbound], "");
    assert_eq!(run.code, 0, "{}", run.stdout);

    // A token with a binding other than DPoP is refused either way.
    let mut mtls = claims("jti-3");
    mtls["cnf"] = json!({ "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" });
    let run = idp.verify(&[&idp.mint(&mtls)], "");
    assert_eq!(run.json(), rejection("cnf_unsupported"));
}

#[test]
fn verify_refuses_an_invalid_dpop_proof() {
    let idp = Idp::new("verify_dpop_invalid");
    let (key, jkt) = client_key(&idp.dir, "client.jwk", "ES256");
    let bound = idp.mint(&bound_claims("jti-1", &jkt));
    let unbound = idp.mint(&claims("jti-2"));
    let cases = [
        (dpop_make(&key, "POST", IDP_TOKEN_ENDPOINT, NOW, &[]), "dpop_htu_mismatch"),
        (dpop_make(&key, "GET", AS_TOKEN_ENDPOINT, NOW, &[]), "dpop_htm_mismatch"),
        (dpop_make(&key, "POST", AS_TOKEN_ENDPOINT, NOW - 61, &[]), "dpop_iat_out_of_window"),
        ("not-a-proof".to_owned(), "jws_segment_count"),
    ];
    for (proof, reason) in &cases {
        for token in [&bound, &unbound] {
            let extra = ["--dpop-proof", proof, "--token-endpoint", AS_TOKEN_ENDPOINT, token];
            let run = idp.verify(&extra, "");
            assert_eq!(run.code, 1, "{reason}");
            assert_eq!(run.json(), dpop_refusal(reason));
        }
    }
}

#[test]
fn verify_checks_the_dpop_proof_once_for_a_batch() {
    let idp = Idp::new("verify_dpop_batch");
    let (key, jkt) = client_key(&idp.dir, "client.jwk", "ES256");
    let first = idp.mint(&bound_claims("jti-1", &jkt));
    let second = idp.mint(&bound_claims("jti-2", &jkt));
    let proof = dpop_make(&key, "POST", AS_TOKEN_ENDPOINT, NOW, &[]);
    let extra = ["--dpop-proof", &proof, "--token-endpoint", AS_TOKEN_ENDPOINT, "-"];
    let run = idp.verify(&extra, &format!("{first}\n{second}\n"));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.lines().len(), 2);
}

#[test]
fn dpop_usage_errors_exit_2() {
    let dir = workdir("dpop_usage");
    let (key, _) = client_key(&dir, "client.jwk", "ES256");
    let endpoint = AS_TOKEN_ENDPOINT;
    let verify = ["verify", "--jwks=j", "--issuer=i", "--audience=a", "--client-id=c"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        verify.iter().copied().chain(extra.iter().copied()).collect()
    };
    let cases: Vec<Vec<&str>> = vec![
        vec!["dpop"],
        vec!["dpop", "sign"],
        vec!["dpop", "make"],
        vec!["dpop", "make", "--key", &key, "--htm", "POST"],
        vec!["dpop", "make", "--key", &key, "--htu", endpoint],
        vec!["dpop", "make", "--htm", "POST", "--htu", endpoint],
        vec!["dpop", "make", "--key", &key, "--htm", "POST", "--htu", "/oauth2/token"],
        vec!["dpop", "make", "--key", &key, "--htm", "POST", "--htu", "ftp://as.example/t"],
        vec!["dpop", "make", "--key", &key, "--htm", "", "--htu", endpoint],
        vec!["dpop", "make", "--key", &key, "--htm", "PO ST", "--htu", endpoint],
        vec!["dpop", "make", "--key", &key, "--htm", "POST", "--htu", endpoint, "--now", "x"],
        vec!["dpop", "make", "--key", &key, "--htm", "POST", "--htu", endpoint, "extra"],
        vec!["dpop", "make", "--key", &key, "--htm", "POST", "--htu", endpoint, "--ath-token="],
        vec!["dpop", "check", "--htu", endpoint],
        vec!["dpop", "check", "--htm", "POST"],
        vec!["dpop", "check", "--htm", "POST", "--htu", endpoint, "a.b.c", "d.e.f"],
        vec!["dpop", "check", "--htm", "POST", "--htu", endpoint, "--now", "soon"],
        vec!["dpop", "check", "--htm", "POST", "--htu", endpoint, "--access-token"],
        vec!["dpop", "check", "--htm", "POST", "--htu", endpoint, "--bogus", "x"],
        with(&["--dpop-proof", "a.b.c"]),
        with(&["--token-endpoint", AS_TOKEN_ENDPOINT]),
        with(&["--dpop-proof", "a.b.c", "--token-endpoint", "not a url"]),
        with(&["--dpop-proof=a", "--dpop-proof=b", "--token-endpoint", AS_TOKEN_ENDPOINT]),
    ];
    for args in cases {
        let run = idjag(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}");
        assert!(run.stderr.contains("usage: idjag"), "{args:?}: {}", run.stderr);
    }

    // A key that cannot sign is no usage error but a failure (exit 1), named by file.
    let public = write(&dir, "public.jwks", &idjag(&["jwks", &key]).stdout);
    let run = idjag(&["dpop", "make", "--key", &public, "--htm", "POST", "--htu", endpoint]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("public.jwks"), "{}", run.stderr);
}

#[test]
fn dpop_help_exits_0() {
    for args in [
        &["dpop", "--help"][..],
        &["dpop", "-h"],
        &["dpop", "help"],
        &["help", "dpop"],
        &["dpop", "make", "--help"],
        &["dpop", "check", "--help"],
        &["dpop", "check", "--htm", "POST", "-h"],
    ] {
        let run = idjag(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stdout.starts_with("usage: idjag"), "{args:?}: {}", run.stdout);
    }
    let top = idjag(&["--help"]);
    assert!(top.stdout.contains("dpop"), "{}", top.stdout);
    let verify = idjag(&["verify", "--help"]);
    assert!(verify.stdout.contains("--dpop-proof") && verify.stdout.contains("--token-endpoint"));
    let make = idjag(&["dpop", "make", "--help"]);
    assert!(make.stdout.starts_with("usage: idjag dpop make"), "{}", make.stdout);
    let check = idjag(&["dpop", "check", "--help"]);
    assert!(check.stdout.starts_with("usage: idjag dpop check"), "{}", check.stdout);
}
