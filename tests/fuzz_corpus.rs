//! The fuzz corpora, replayed on stable: every file under `fuzz/corpus/<target>/` goes through
//! the same function the fuzz target runs (`fuzz/targets.rs`), assertions included. A missing
//! or empty corpus directory fails, and so does a fuzz target without a corpus here.
//!
//! Beside the replay: the harness of `verify_untrusted` accepts a genuinely signed ID-JAG (so
//! "never accepted" is not vacuous), and its seeds are refused for the reasons they were made
//! for.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use id_jag::NumericDate;
use id_jag::claims::{IdJagClaims, RequiredClaims};
use id_jag::client::{ClientAuthentication, SubjectToken, TokenExchangeRequest};
use id_jag::idp::ExchangeRequest;
use id_jag::jose::{JoseError, sign_compact};
use id_jag::resource::RejectReason;

/// A fuzz target's body.
type Target = fn(&[u8]);

/// Every fuzz target, by its directory name under `fuzz/corpus/` and `fuzz/fuzz_targets/`.
const TARGETS: [(&str, Target); 8] = [
    ("compact_jws", targets::compact_jws),
    ("verify_untrusted", targets::verify_untrusted),
    ("claims_round_trip", targets::claims_round_trip),
    ("jwks_import", targets::jwks_import),
    ("token_exchange_form", targets::token_exchange_form),
    ("jwt_bearer_form", targets::jwt_bearer_form),
    ("client_responses", targets::client_responses),
    ("dpop_proof", targets::dpop_proof),
];

#[test]
fn every_corpus_input_replays_cleanly() {
    let corpus = fuzz_dir().join("corpus");
    let mut failures = Vec::new();
    for (target, run) in TARGETS {
        let inputs = corpus_files(&corpus.join(target));
        assert!(!inputs.is_empty(), "fuzz/corpus/{target} is empty");
        for input in &inputs {
            let bytes = std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
                failures.push(format!("{target}: {}", input.display()));
            }
        }
        println!("{target}: {} inputs", inputs.len());
    }
    assert!(failures.is_empty(), "fuzz targets fail on:\n{}", failures.join("\n"));
}

#[test]
fn every_fuzz_target_has_a_corpus_and_is_replayed() {
    let names = |dir: &Path, suffix: &str| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").file_name())
            .filter_map(|name| name.to_str()?.strip_suffix(suffix).map(str::to_owned))
            .collect()
    };
    let replayed: BTreeSet<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(names(&fuzz_dir().join("fuzz_targets"), ".rs"), replayed);
    assert_eq!(names(&fuzz_dir().join("corpus"), ""), replayed);
}

#[test]
fn verify_untrusted_accepts_what_the_trusted_issuer_signs() {
    let token = trusted_token();
    let verified = targets::redeem_untrusted(&token).expect("a genuine ID-JAG is accepted");
    assert_eq!(verified.claims().subject(), "fuzz-user");

    // The same token with one signature character changed: refused.
    let mut tampered = token.into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("still ASCII");
    let refused = targets::redeem_untrusted(&tampered).expect_err("a changed signature");
    assert_eq!(refused.reason(), RejectReason::Jose(JoseError::SignatureInvalid));
}

#[test]
fn verify_untrusted_seeds_fail_where_they_were_made_to() {
    use RejectReason::*;
    // The `signed-*` seeds carry the trusted issuer's signature and fail on a claim, so the
    // fuzzer starts past the signature check; the others fail before it.
    let expected: [(&str, &[RejectReason]); 10] = [
        ("signed-expired", &[Expired]),
        ("signed-wrong-audience", &[AudienceMismatch]),
        ("signed-wrong-client", &[ClientIdMismatch]),
        // Bound to a DPoP key and presented without a proof.
        ("signed-key-bound", &[DpopProofMissing, ConfirmationUnsupported]),
        ("signed-lifetime-too-long", &[LifetimeExceeded]),
        ("signed-no-kid-issued-in-future", &[IssuedInFuture]),
        ("signed-typ-jwt", &[TypMismatch]),
        ("impostor-same-kid", &[Jose(JoseError::SignatureInvalid)]),
        ("alg-none", &[Jose(JoseError::AlgorithmUnsupported)]),
        ("alg-hs256", &[Jose(JoseError::AlgorithmUnsupported)]),
    ];
    let dir = fuzz_dir().join("corpus/verify_untrusted");
    for (name, reasons) in expected {
        let token = std::fs::read_to_string(dir.join(name)).expect("the seed exists");
        let refused = targets::redeem_untrusted(&token).expect_err(name);
        assert!(reasons.contains(&refused.reason()), "{name}: {:?}", refused.reason());
        let past_signature = name.starts_with("signed-") && name != "signed-typ-jwt";
        assert_eq!(refused.signature_verified(), past_signature, "{name}");
    }
}

/// Found by the claims round-trip property and by the `claims_round_trip` and
/// `token_exchange_form` fuzzers: a fraction in an extra claim or in `authorization_details`
/// changes in its last bit when written out and read again, because serde_json's default float
/// parser is not correctly rounded (its `float_roundtrip` feature makes it so). Both must come
/// back exactly as they were.
#[test]
fn regression_fractions_survive_a_json_round_trip() {
    let corpus = fuzz_dir().join("corpus");
    let read = |path: &str| std::fs::read(corpus.join(path)).expect("the regression input exists");

    let claims = IdJagClaims::from_json(&read("claims_round_trip/regression-float-round-trip"))
        .expect("valid claims");
    let json = claims.to_json();
    let again = IdJagClaims::from_json(json.as_bytes()).expect("to_json output parses");
    assert_eq!(again.extra_claim("x"), claims.extra_claim("x"), "claims: {json}");

    let body = read("token_exchange_form/regression-details-float-round-trip");
    let Ok(ExchangeRequest::IdJag(request)) = ExchangeRequest::from_form(&body) else {
        panic!("a valid token exchange request");
    };
    let details = request.authorization_details().expect("details").to_vec();
    let auth =
        ClientAuthentication::SecretBasic { client_id: "c".into(), client_secret: "s".into() };
    let now = NumericDate::from_unix_seconds(targets::NOW).expect("a date");
    let written = TokenExchangeRequest::new(SubjectToken::IdToken("t".into()), "a")
        .authorization_details(details.clone())
        .to_http(&auth, now)
        .expect("the client writes the request")
        .body;
    let Ok(ExchangeRequest::IdJag(reread)) = ExchangeRequest::from_form(written.as_bytes()) else {
        panic!("the client's body parses");
    };
    assert_eq!(reread.authorization_details(), Some(&details[..]), "details: {written}");
}

/// An ID-JAG the trusted issuer signed that the harness accepts.
fn trusted_token() -> String {
    let now = NumericDate::from_unix_seconds(targets::NOW).expect("a date");
    let claims = IdJagClaims::builder(RequiredClaims {
        issuer: targets::TRUSTED_ISSUER.into(),
        subject: "fuzz-user".into(),
        audience: targets::RESOURCE_AS.into(),
        client_id: targets::CLIENT_ID.into(),
        jwt_id: "fuzz-jti-1".into(),
        issued_at: now.saturating_sub_seconds(10),
        expires_at: now.saturating_add_seconds(290),
    })
    .build()
    .expect("valid claims");
    let key = targets::trusted_signing_key();
    sign_compact(key, Some("oauth-id-jag+jwt"), claims.to_json().as_bytes()).expect("signed")
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of a corpus directory, sorted; a missing directory fails the test.
fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}
