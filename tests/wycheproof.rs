//! Project Wycheproof vectors run against the JOSE layer's public API.
//!
//! - Signature files (ES256, ES384, RS256, PS256, EdDSA): each group's JWK is imported with
//!   [`VerificationKey::from_jwk`] and every test goes through [`verify_signature`], the check
//!   behind every verification in the crate.
//! - `json_web_signature_test.json`: compact JWSs through [`CompactJws::parse`] and
//!   [`CompactJws::verify_with`], with each group's public key.
//! - `json_web_key_test.json`: key sets through [`KeySet::from_jwks`] and
//!   [`CompactJws::verify_with_key_set`].
//!
//! `valid` must verify and `invalid` must be refused. A vector counts as "refused by design" only
//! when it is refused because it needs something the crate deliberately never implements:
//! symmetric keys and HMAC, or an algorithm or curve outside RS256, PS256, ES256, ES384 and
//! EdDSA; those are named in the output.
//!
//! The vectors are read from `WYCHEPROOF_DIR` (CI sets it to `../shared/wycheproof`), else from
//! `../shared/wycheproof` beside the repository. They are never copied into the repository.
//! With `WYCHEPROOF_DIR` set, a missing file fails the test; without it, a missing default
//! directory skips the tests with a message.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, JoseError, KeyError, KeySet, ParseOptions,
    VerificationKey, verify_signature,
};
use serde_json::{Map, Value};

/// JWK members of private RSA and EC/OKP keys (RFC 7518 §6.3.2, §6.2.2; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// Registered JWS algorithms (RFC 7518 §3.1) that the crate deliberately does not implement:
/// HMAC because a verifier must not be able to mint tokens, the rest because an ID-JAG profile
/// needs no more than RS256, PS256, ES256, ES384 and EdDSA.
const NOT_IMPLEMENTED_ALGS: [&str; 8] =
    ["HS256", "HS384", "HS512", "RS384", "RS512", "PS384", "PS512", "ES512"];

/// Curves the crate deliberately does not implement (only P-256, P-384 and Ed25519 sign here).
const NOT_IMPLEMENTED_CURVES: [&str; 3] = ["P-521", "Ed448", "secp256k1"];

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// The vector directory, or `None` (after saying so) when the tests are to be skipped.
fn vector_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WYCHEPROOF_DIR") {
        return Some(PathBuf::from(dir));
    }
    let default = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/wycheproof"));
    if default.is_dir() {
        Some(default)
    } else {
        println!(
            "wycheproof: skipped: no vectors (WYCHEPROOF_DIR unset and {} missing)",
            default.display()
        );
        None
    }
}

/// The parsed vector file, or `None` when skipping. A missing or unreadable file fails.
fn load(file: &str) -> Option<Value> {
    let path = vector_dir()?.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read Wycheproof file {}: {error}", path.display()));
    let document: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    Some(document)
}

fn groups(document: &Value) -> &[Value] {
    document["testGroups"].as_array().map(Vec::as_slice).expect("testGroups is an array")
}

fn tests(group: &Value) -> &[Value] {
    group["tests"].as_array().map(Vec::as_slice).expect("tests is an array")
}

fn tc_id(test: &Value) -> u64 {
    test["tcId"].as_u64().expect("tcId is an integer")
}

fn result(test: &Value) -> &str {
    test["result"].as_str().expect("result is a string")
}

fn has_flag(test: &Value, flag: &str) -> bool {
    test["flags"].as_array().is_some_and(|flags| flags.iter().any(|f| f.as_str() == Some(flag)))
}

fn hex(text: &str) -> Vec<u8> {
    fn nibble(digit: u8) -> u8 {
        match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            b'A'..=b'F' => digit - b'A' + 10,
            _ => panic!("not a hex digit: {digit:#x}"),
        }
    }
    let bytes = text.as_bytes();
    assert!(bytes.len() % 2 == 0, "odd-length hex string");
    bytes.chunks(2).map(|pair| nibble(pair[0]) << 4 | nibble(pair[1])).collect()
}

/// The public JWK of a group's raw EC `publicKey` (`curve`, `wx`, `wy` in hex), with the
/// coordinates at exactly the field length as RFC 7518 §6.2.1.2 requires.
fn ec_jwk_from_public_key(group: &Value) -> Option<Map<String, Value>> {
    let public_key = group.get("publicKey")?;
    if public_key["type"] != "EcPublicKey" {
        return None;
    }
    let (crv, length) = match public_key["curve"].as_str()? {
        "secp256r1" => ("P-256", 32),
        "secp384r1" => ("P-384", 48),
        other => panic!("unexpected curve {other}"),
    };
    let coordinate = |name: &str| {
        let bytes = hex(public_key[name].as_str().expect("coordinate is hex"));
        let significant: Vec<u8> = bytes.iter().copied().skip_while(|byte| *byte == 0).collect();
        assert!(significant.len() <= length, "coordinate longer than the field");
        let mut padded = vec![0; length - significant.len()];
        padded.extend(significant);
        Value::String(URL_SAFE_NO_PAD.encode(padded))
    };
    let mut jwk = Map::new();
    jwk.insert("kty".to_owned(), Value::String("EC".to_owned()));
    jwk.insert("crv".to_owned(), Value::String(crv.to_owned()));
    jwk.insert("x".to_owned(), coordinate("wx"));
    jwk.insert("y".to_owned(), coordinate("wy"));
    Some(jwk)
}

/// A JWK with its private members removed.
fn public_part(jwk: &Map<String, Value>) -> Map<String, Value> {
    let mut public = jwk.clone();
    public.retain(|name, _| !PRIVATE_MEMBERS.contains(&name.as_str()));
    public
}

/// The `alg` and `kid` a compact JWS's header claims, read independently of the crate's parser.
fn claimed_header(jws: &str) -> (Option<String>, Option<String>) {
    let header = jws
        .split('.')
        .next()
        .and_then(|segment| URL_SAFE_NO_PAD.decode(segment).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    let member = |name: &str| {
        header.as_ref().and_then(|h| h.get(name)).and_then(Value::as_str).map(str::to_owned)
    };
    (member("alg"), member("kid"))
}

/// Why a refused key import is by design, when it is.
fn key_refusal_by_design(jwk: &Map<String, Value>, error: KeyError) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or("");
    match error {
        KeyError::SymmetricKey => Some("symmetric (kty oct) key: never accepted".to_owned()),
        KeyError::UnsupportedAlgorithm | KeyError::UnsupportedCurve
            if NOT_IMPLEMENTED_CURVES.contains(&member("crv")) =>
        {
            Some(format!("curve {} is not implemented", member("crv")))
        }
        KeyError::UnsupportedAlgorithm if NOT_IMPLEMENTED_ALGS.contains(&member("alg")) => {
            Some(format!("key alg {} is not implemented", member("alg")))
        }
        _ => None,
    }
}

/// Why a parse refusal is by design, when it is.
fn parse_refusal_by_design(jws: &str, error: JoseError) -> Option<String> {
    let (alg, _) = claimed_header(jws);
    match (error, alg) {
        (JoseError::AlgorithmUnsupported, Some(alg)) if NOT_IMPLEMENTED_ALGS.contains(&&*alg) => {
            Some(format!("alg {alg} is not implemented"))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Counting and judging
// ---------------------------------------------------------------------------------------------

/// What a vector did, as seen through the crate.
enum Outcome {
    Accepted,
    Refused(String),
    /// Refused because it needs something the crate never implements (the reason says what).
    RefusedByDesign(String),
}

/// Per-file counts, failures and the by-design list.
struct Tally {
    file: &'static str,
    ran: usize,
    accepted: usize,
    refused: usize,
    by_design: usize,
    valid_by_design: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn new(file: &'static str) -> Self {
        Self {
            file,
            ran: 0,
            accepted: 0,
            refused: 0,
            by_design: 0,
            valid_by_design: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Count `outcome` and judge it against the vector's `result`. `acceptable` says what the
    /// crate is documented to do with an `acceptable` vector (by tcId).
    fn record(&mut self, test: &Value, outcome: Outcome, acceptable: &[(u64, bool)]) {
        let id = tc_id(test);
        let expected = result(test);
        self.ran += 1;
        let accepted = matches!(outcome, Outcome::Accepted);
        match &outcome {
            Outcome::Accepted => self.accepted += 1,
            Outcome::Refused(_) => self.refused += 1,
            Outcome::RefusedByDesign(why) => {
                self.by_design += 1;
                if expected == "valid" {
                    self.valid_by_design.push(format!("tcId {id} ({why})"));
                }
            }
        }
        let comment = test["comment"].as_str().unwrap_or("");
        match (expected, &outcome) {
            ("valid", Outcome::Refused(why)) => {
                self.fail(format!("tcId {id} valid but refused: {why} [{comment}]"))
            }
            ("invalid", Outcome::Accepted) => {
                self.fail(format!("tcId {id} invalid but accepted [{comment}]"))
            }
            ("acceptable", _) => match acceptable.iter().find(|(tc, _)| *tc == id) {
                Some((_, documented)) if *documented == accepted => {}
                Some((_, documented)) => self.fail(format!(
                    "tcId {id} acceptable: documented accepted={documented}, got {accepted}"
                )),
                None => self.fail(format!("tcId {id} acceptable vector not reviewed [{comment}]")),
            },
            ("valid" | "invalid", _) => {}
            (other, _) => self.fail(format!("tcId {id} has unknown result {other:?}")),
        }
    }

    fn fail(&mut self, line: String) {
        self.failures.push(line);
    }

    /// Print the summary line and fail with every failure listed.
    fn finish(self, expected_tests: Option<u64>) {
        println!(
            "wycheproof {}: {} vectors ran, {} accepted, {} refused, {} refused by design, \
             {} failures",
            self.file,
            self.ran,
            self.accepted,
            self.refused,
            self.by_design,
            self.failures.len()
        );
        if !self.valid_by_design.is_empty() {
            println!("  valid vectors refused by design: {}", self.valid_by_design.join("; "));
        }
        for failure in &self.failures {
            println!("  FAILURE {failure}");
        }
        if let Some(expected) = expected_tests {
            assert_eq!(self.ran as u64, expected, "{}: numberOfTests disagrees", self.file);
        }
        assert!(
            self.failures.is_empty(),
            "{}: {} failing vectors:\n{}",
            self.file,
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Signature files
// ---------------------------------------------------------------------------------------------

/// Run a `*_verify` file: import each group's JWK for `algorithm`, then check every signature
/// with the low-level [`verify_signature`].
fn run_signature_file(
    file: &'static str,
    algorithm: Algorithm,
    jwk_member: &str,
    acceptable: &[(u64, bool)],
) {
    let Some(document) = load(file) else { return };
    let mut tally = Tally::new(file);
    for group in groups(&document) {
        let jwk = match (group[jwk_member].as_object(), ec_jwk_from_public_key(group)) {
            (Some(given), Some(built)) => {
                // Both forms present: they must describe the same key, which checks the
                // conversion that the groups without a JWK rely on.
                let mut given_members = given.clone();
                given_members.retain(|name, _| matches!(name.as_str(), "kty" | "crv" | "x" | "y"));
                assert_eq!(given_members, built, "{file}: {jwk_member} disagrees with publicKey");
                given.clone()
            }
            (Some(given), None) => given.clone(),
            // Some ECDSA groups of this file version (the ArithmeticError ones, whose keys are
            // chosen so that r or x sit at edge values) carry no JWK, only the raw point.
            (None, Some(built)) => built,
            (None, None) => panic!("{file}: a group has neither {jwk_member} nor an EC publicKey"),
        };
        let jwk_bytes = serde_json::to_vec(&jwk).expect("a JWK serializes");
        let key = VerificationKey::from_jwk(&jwk_bytes, Some(algorithm));
        if let Err(error) = &key {
            // Every vector of the group is judged below: a valid one is then a failure.
            println!("  {file}: group key refused at import: {error:?} ({jwk_member} {jwk:?})");
        }
        for test in tests(group) {
            let message = hex(test["msg"].as_str().expect("msg is hex"));
            let signature = hex(test["sig"].as_str().expect("sig is hex"));
            let outcome = match &key {
                Ok(key) => match verify_signature(key, algorithm, &message, &signature) {
                    Ok(()) => Outcome::Accepted,
                    Err(error) => Outcome::Refused(format!("{error:?}")),
                },
                Err(error) => Outcome::Refused(format!("key refused: {error:?}")),
            };
            tally.record(test, outcome, acceptable);
        }
    }
    tally.finish(document["numberOfTests"].as_u64());
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    run_signature_file(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::Es256,
        "publicKeyJwk",
        &[],
    );
}

#[test]
fn ecdsa_p384_sha384_p1363() {
    run_signature_file(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        Algorithm::Es384,
        "publicKeyJwk",
        &[],
    );
}

#[test]
fn rsa_pkcs1_2048_sha256() {
    // tcId 8 (flag MissingNull) is "acceptable": its DigestInfo omits the NULL parameters of the
    // SHA-256 AlgorithmIdentifier. The encoding RFC 8017 §9.2 (note 1) prescribes has the NULL,
    // so refusing is correct; some legacy signers left it out and accepting it binds the same
    // hash, so Wycheproof rates acceptance as no vulnerability either. The crate compares the
    // whole encoding, with the NULL, as OpenSSL's own RSA_verify does: it refuses; this pins it.
    run_signature_file(
        "rsa_signature_2048_sha256_test.json",
        Algorithm::Rs256,
        "keyJwk",
        &[(8, false)],
    );
}

#[test]
fn rsa_pss_2048_sha256_mgf1_32() {
    run_signature_file(
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        Algorithm::Ps256,
        "publicKeyJwk",
        &[],
    );
}

#[test]
fn ed25519() {
    run_signature_file("ed25519_test.json", Algorithm::EdDsa, "publicKeyJwk", &[]);
}

// ---------------------------------------------------------------------------------------------
// json_web_signature_test.json
// ---------------------------------------------------------------------------------------------

/// HS256 vectors of `json_web_signature_test.json` with a `?` inserted into the header (372)
/// or the payload (373) segment, carrying the MAC of the unmodified token. Wycheproof marks them
/// valid, for decoders that skip characters outside the alphabet; RFC 7515 §2 defines base64url
/// "without the inclusion of any line breaks, whitespace, or other additional characters", so
/// the crate's parser refuses them before the algorithm is even read. As HMAC vectors they are
/// refused by design anyway; this pins the stricter reason.
const STRICT_BASE64: [u64; 2] = [372, 373];

#[test]
fn json_web_signature() {
    const FILE: &str = "json_web_signature_test.json";
    let Some(document) = load(FILE) else { return };
    let mut tally = Tally::new(FILE);
    let options = ParseOptions::new(AlgorithmSet::all());

    // Group notes, and how the crate meets them:
    // - hs256, rfc7520 Figure35, base64 (kty oct): the key is refused at import as symmetric,
    //   and every HS256 token at parse; the valid MACs are therefore refused by design.
    // - rs384, rs512, ps384, ps512 and rfc7520 Figure27 (ES512 on P-521): algorithms and a
    //   curve the crate does not implement; their valid vectors are refused by design.
    // - rfc7520 Figure20 (tcIds 346, 350): the key says PS256 but RFC 7520 §4.2 signs with
    //   PS384; the key imports as PS256 and the PS384 token is refused at parse, by design.
    // - rsa_encryption, ec_key_for_encryption (tcIds 353 to 356): use "enc" or key_ops
    //   ["encrypt"]; refused at import (UseNotSig, KeyOpsForbid), as RFC 7517 §4.2, §4.3 ask.
    for group in groups(&document) {
        let group_comment = group["comment"].as_str().unwrap_or("");
        // `public` when given. Deriving it from `private` would be wrong for the
        // rfc7520WithKeyOps RS256 group, whose private key_ops is the single string
        // "sign, verify" (a typo in the vectors) while its public key_ops is ["verify"].
        let jwk = match (group.get("public"), group.get("private")) {
            (Some(Value::Object(public)), _) => public.clone(),
            (_, Some(Value::Object(private))) => public_part(private),
            _ => panic!("{FILE}: group {group_comment} has no key"),
        };
        let jwk_bytes = serde_json::to_vec(&jwk).expect("a JWK serializes");
        let import = VerificationKey::from_jwk(&jwk_bytes, None);

        // HS256 groups: the crate refuses every symmetric key at import, whatever its use.
        let symmetric = jwk.get("kty").and_then(Value::as_str) == Some("oct");
        if symmetric && !matches!(import, Err(KeyError::SymmetricKey)) {
            tally.fail(format!("group {group_comment}: oct key not refused as SymmetricKey"));
        }
        let key_by_design = match &import {
            Err(error) => key_refusal_by_design(&jwk, *error),
            Ok(_) => None,
        };

        for test in tests(group) {
            let jws = test["jws"].as_str().expect("jws is a string");

            // alg "none" must fall at parsing, before any key is involved (RFC 8725 §3.1).
            if has_flag(test, "AlgIsNone")
                && CompactJws::parse(jws, &options).err() != Some(JoseError::AlgorithmUnsupported)
            {
                tally.fail(format!("tcId {}: alg none not refused at parse", tc_id(test)));
            }

            // Strict base64url, whatever the algorithm: RFC 7515 §2 allows no other characters.
            if STRICT_BASE64.contains(&tc_id(test))
                && CompactJws::parse(jws, &options).err() != Some(JoseError::Base64)
            {
                tally.fail(format!("tcId {}: stray character not refused as Base64", tc_id(test)));
            }

            // Parse first, as a verifier does before it looks for a key: an invalid token the
            // parser refuses on its own (no segments, alg none, ...) counts as refused even in a
            // group whose key is refused by design. A valid vector of such a group stays
            // refused by design wherever it falls: no token of that group can ever pass.
            let outcome = match CompactJws::parse(jws, &options) {
                Err(error) => match (parse_refusal_by_design(jws, error), &key_by_design) {
                    (Some(why), _) => Outcome::RefusedByDesign(why),
                    (None, Some(why)) if result(test) == "valid" => {
                        Outcome::RefusedByDesign(format!("{why}; parse refused it too: {error:?}"))
                    }
                    (None, _) => Outcome::Refused(format!("parse: {error:?}")),
                },
                Ok(parsed) => match &import {
                    Err(error) => match &key_by_design {
                        Some(why) => Outcome::RefusedByDesign(why.clone()),
                        None => Outcome::Refused(format!("key refused: {error:?}")),
                    },
                    Ok(key) => match parsed.verify_with(key) {
                        Ok(()) => Outcome::Accepted,
                        Err(error) => Outcome::Refused(format!("verify: {error:?}")),
                    },
                },
            };
            tally.record(test, outcome, &[]);
        }
    }
    tally.finish(document["numberOfTests"].as_u64());
}

// ---------------------------------------------------------------------------------------------
// json_web_key_test.json
// ---------------------------------------------------------------------------------------------

/// Vectors of `json_web_key_test.json` that are invalid because of the key itself: the key must
/// be left out of the set for exactly this reason, so the refusal is the vetting's doing and not
/// an accident further on.
const JWK_KEY_REFUSALS: &[(u64, KeyError)] = &[
    // rs256 group with alg RSA1_5, use enc: an encryption key; its alg is refused first.
    (6, KeyError::UnsupportedAlgorithm),
    // jws_rsa_roca_key: a modulus from the ROCA-vulnerable generator (CVE-2017-15361).
    (7, KeyError::RsaRocaWeak),
    // keysize_too_small: a 1024-bit modulus (RFC 7518 §3.3 requires 2048).
    (8, KeyError::RsaModulusTooSmall),
    // exponentOne: e = 1 makes the signature the padded hash itself.
    (9, KeyError::RsaExponent),
    // wrong_algorithm: alg ES521 (no such JOSE name; ES512 is P-521) on a P-256 key.
    (19, KeyError::UnsupportedAlgorithm),
    // invalid_algorithm: alg ES224 is not a JOSE algorithm.
    (20, KeyError::UnsupportedAlgorithm),
    // invalid_use: use enc.
    (21, KeyError::UseNotSig),
    // invalid_point: y changed by one character, so the point is off the curve.
    (22, KeyError::EcPointInvalid),
    // wrong_curve: P-384 with 32-octet P-256 coordinates.
    (23, KeyError::EcCoordinateLength),
    // wrong_kty: kty RSA with EC members, so no modulus.
    (24, KeyError::MissingMember("n")),
];

#[test]
fn json_web_key() {
    const FILE: &str = "json_web_key_test.json";
    let Some(document) = load(FILE) else { return };
    let mut tally = Tally::new(FILE);
    let options = ParseOptions::new(AlgorithmSet::all());

    // Group notes (flags and comments), and how the crate meets them:
    // - jws_mixedSymmetryKeyset (MixedKeySet, Ambiguous): an HS256 key beside an ES256 key.
    //   Wycheproof expects the whole set refused. The crate keeps the ES256 key, reports the oct
    //   key as rejected, and refuses the HS256 token at parse: HMAC is never accepted, so an
    //   attacker cannot choose the symmetric key either way.
    // - jws_duplicate_kid (DuplicateKid): both keys are oct, so both are refused as symmetric
    //   before any kid comparison; `duplicate_kid_is_reported` below checks the kid rule itself
    //   on asymmetric keys.
    // - jws_rsa_roca_key (tcId 7): a 2048-bit RSA key from a ROCA-vulnerable generator
    //   (CVE-2017-15361), whose modulus can be factored. The key vetting's ROCA fingerprint test
    //   refuses the key, so the token finds no key.
    // - HS256/HS384/HS512 key_too_short, long_key, empty_key and the AES keys with alg A256GCM
    //   or A256KW: all oct, all refused at import; the tokens are HMAC and refused at parse.
    for group in groups(&document) {
        let group_comment = group["comment"].as_str().unwrap_or("");
        let private = &group["private"];
        let keys: Vec<Value> = match private.get("keys") {
            Some(Value::Array(keys)) => keys.clone(),
            _ => vec![private.clone()],
        };
        let public_keys: Vec<Value> = keys
            .iter()
            .map(|key| Value::Object(public_part(key.as_object().expect("a JWK is an object"))))
            .collect();
        let mut set_document = Map::new();
        set_document.insert("keys".to_owned(), Value::Array(public_keys.clone()));
        let set_bytes = serde_json::to_vec(&Value::Object(set_document)).expect("serializes");
        let import = KeySet::from_jwks(&set_bytes);
        if let Ok(import) = &import {
            let rejected: Vec<String> = import
                .rejected
                .iter()
                .map(|r| format!("#{} kid {:?}: {:?}", r.index, r.kid, r.reason))
                .collect();
            println!(
                "  {FILE}: group {group_comment}: {} kept, rejected [{}]",
                import.keys.len(),
                rejected.join(", ")
            );
        }

        for test in tests(group) {
            let id = tc_id(test);
            let jws = test["jws"].as_str().expect("jws is a string");
            let (claimed_alg, claimed_kid) = claimed_header(jws);

            let outcome = match &import {
                Err(error) => Outcome::Refused(format!("key set refused: {error:?}")),
                Ok(import) => match CompactJws::parse(jws, &options) {
                    Err(error) => match parse_refusal_by_design(jws, error) {
                        Some(why) => Outcome::RefusedByDesign(why),
                        None => Outcome::Refused(format!("parse: {error:?}")),
                    },
                    Ok(parsed) => match parsed.verify_with_key_set(&import.keys) {
                        Ok(_) => Outcome::Accepted,
                        Err(error) => {
                            // A kid whose only key was refused by design (oct, P-521, ...).
                            let by_design = import
                                .rejected
                                .iter()
                                .filter(|r| r.kid.is_some() && r.kid == claimed_kid)
                                .find_map(|r| {
                                    let jwk = public_keys[r.index].as_object()?;
                                    key_refusal_by_design(jwk, r.reason)
                                });
                            match (error, by_design) {
                                (JoseError::KeyNotFound, Some(why)) => {
                                    Outcome::RefusedByDesign(why)
                                }
                                _ => Outcome::Refused(format!("verify: {error:?}")),
                            }
                        }
                    },
                },
            };

            if let Some((_, reason)) = JWK_KEY_REFUSALS.iter().find(|(tc, _)| *tc == id) {
                let refused_for = import.as_ref().ok().and_then(|import| {
                    import.rejected.iter().find(|r| r.kid == claimed_kid).map(|r| r.reason)
                });
                if refused_for != Some(*reason) {
                    tally.fail(format!(
                        "tcId {id}: key with kid {claimed_kid:?} (alg {claimed_alg:?}) expected \
                         refused as {reason:?}, got {refused_for:?}"
                    ));
                }
            }
            tally.record(test, outcome, &[]);
        }
    }
    tally.finish(document["numberOfTests"].as_u64());
}

/// The property behind the jws_duplicate_kid group, on keys the crate does accept: the ES256
/// key of the jws_mixedSymmetryKeyset group, listed twice under one kid, keeps only the first.
#[test]
fn duplicate_kid_is_reported() {
    let Some(document) = load("json_web_key_test.json") else { return };
    let ec_key = groups(&document)
        .iter()
        .filter_map(|group| group["private"]["keys"].as_array())
        .flatten()
        .find(|key| key["kty"] == "EC")
        .and_then(Value::as_object)
        .map(public_part)
        .expect("an EC key in a key set group");
    let kid = ec_key["kid"].as_str().expect("the key has a kid").to_owned();
    let set = serde_json::json!({ "keys": [ec_key.clone(), ec_key] });
    let import = KeySet::from_jwks(&serde_json::to_vec(&set).expect("serializes"))
        .expect("a well-formed JWK Set");
    assert_eq!(import.keys.len(), 1);
    assert_eq!(import.rejected.len(), 1);
    assert_eq!(import.rejected[0].index, 1);
    assert_eq!(import.rejected[0].kid.as_deref(), Some(kid.as_str()));
    assert_eq!(import.rejected[0].reason, KeyError::DuplicateKid);
}
