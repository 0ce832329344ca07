//! Refusals of the JOSE layer, one test per refused input, each asserting the exact error: key
//! import vetting (RSA, EC, OKP, `kty`, `use`, `key_ops`, `alg`, private members, encoding),
//! JWK Set import and key selection, and the strict compact JWS rules. A few positives (every
//! algorithm signs and verifies, PEM import) keep the refusals honest.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, JoseError, KeyError, KeySet, ParseOptions, RejectedKey,
    Signer, SigningKey, VerificationKey, sign_compact, verify_signature,
};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const B64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// The same base64url text with a stray (non-canonical) trailing bit set in its last character.
fn with_stray_bits(text: &str) -> String {
    let stray_mask = match text.len() % 4 {
        2 => 0b1111,
        3 => 0b11,
        _ => panic!("a text of this length has no stray bits"),
    };
    let last = *text.as_bytes().last().unwrap();
    let index = B64_ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(index & stray_mask, 0, "the encoder leaves stray bits clear");
    let mut bytes = text.as_bytes().to_vec();
    *bytes.last_mut().unwrap() = B64_ALPHABET[index | 1];
    String::from_utf8(bytes).unwrap()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

fn public_jwk(algorithm: Algorithm) -> Map<String, Value> {
    SigningKey::generate(algorithm).unwrap().verification_key().to_jwk()
}

fn import(
    jwk: &Map<String, Value>,
    algorithm: Option<Algorithm>,
) -> Result<VerificationKey, KeyError> {
    VerificationKey::from_jwk(&serde_json::to_vec(jwk).unwrap(), algorithm)
}

fn import_signing(
    jwk: &Map<String, Value>,
    algorithm: Option<Algorithm>,
) -> Result<SigningKey, KeyError> {
    SigningKey::from_jwk(&serde_json::to_vec(jwk).unwrap(), algorithm)
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, KeyError>,
    expected: KeyError,
    reason: &str,
) {
    let error = result.unwrap_err();
    assert_eq!(error, expected);
    assert_eq!(error.reason(), reason);
}

/// A big-endian integer of `len` octets: `first`, then 0x5a filler, then `last`.
fn integer(len: usize, first: u8, last: u8) -> Vec<u8> {
    let mut bytes = vec![0x5a; len];
    bytes[0] = first;
    bytes[len - 1] = last;
    bytes
}

const E_65537: [u8; 3] = [1, 0, 1];

fn rsa_jwk(n: &[u8], e: &[u8]) -> Map<String, Value> {
    object(json!({"kty": "RSA", "n": b64(n), "e": b64(e)}))
}

/// A 2048-bit odd modulus built by hand: vetting passes and the backend takes it as a public
/// key (it is nobody's real key, which is fine for refusals that happen before any math).
fn rsa_2048_jwk() -> Map<String, Value> {
    rsa_jwk(&integer(256, 0xc1, 0x5b), &E_65537)
}

fn ec_private_jwk(nid: Nid, crv: &str, len: i32) -> (EcKey<Private>, Map<String, Value>) {
    let group = EcGroup::from_curve_name(nid).unwrap();
    let key = EcKey::generate(&group).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let mut x = openssl::bn::BigNum::new().unwrap();
    let mut y = openssl::bn::BigNum::new().unwrap();
    key.public_key().affine_coordinates(&group, &mut x, &mut y, &mut ctx).unwrap();
    let jwk = object(json!({
        "kty": "EC",
        "crv": crv,
        "x": b64(x.to_vec_padded(len).unwrap()),
        "y": b64(y.to_vec_padded(len).unwrap()),
        "d": b64(key.private_key().to_vec_padded(len).unwrap()),
    }));
    (key, jwk)
}

fn p256_private_jwk() -> Map<String, Value> {
    ec_private_jwk(Nid::X9_62_PRIME256V1, "P-256", 32).1
}

fn ed25519_private_jwk() -> Map<String, Value> {
    let key = PKey::generate_ed25519().unwrap();
    object(json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64(key.raw_public_key().unwrap()),
        "d": b64(key.raw_private_key().unwrap()),
    }))
}

fn rsa_private_jwk(rsa: &Rsa<Private>) -> Map<String, Value> {
    object(json!({
        "kty": "RSA",
        "n": b64(rsa.n().to_vec()),
        "e": b64(rsa.e().to_vec()),
        "d": b64(rsa.d().to_vec()),
        "p": b64(rsa.p().unwrap().to_vec()),
        "q": b64(rsa.q().unwrap().to_vec()),
        "dp": b64(rsa.dmp1().unwrap().to_vec()),
        "dq": b64(rsa.dmq1().unwrap().to_vec()),
        "qi": b64(rsa.iqmp().unwrap().to_vec()),
    }))
}

fn all() -> ParseOptions {
    ParseOptions::new(AlgorithmSet::all())
}

fn parse(token: &str) -> Result<CompactJws<'_>, JoseError> {
    CompactJws::parse(token, &all())
}

fn token(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header), b64(payload), b64(signature))
}

/// Parse a token with this header, a `{}` payload and a 64-octet zero signature (the ES256
/// length), so that only the header can be the reason for a refusal.
fn parse_header(header: &str) -> Result<(), JoseError> {
    parse(&token(header.as_bytes(), b"{}", &[0; 64])).map(|_| ())
}

fn es256_token() -> (SigningKey, String) {
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let token = sign_compact(&key, Some("oauth-id-jag+jwt"), br#"{"iss":"https://idp"}"#).unwrap();
    (key, token)
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

// ---------------------------------------------------------------------------------------------
// RSA key vetting
// ---------------------------------------------------------------------------------------------

#[test]
fn rsa_modulus_of_1024_bits_is_too_small() {
    let jwk = rsa_jwk(&integer(128, 0xc1, 0x5b), &E_65537);
    assert_refused(import(&jwk, None), KeyError::RsaModulusTooSmall, "rsa_modulus_too_small");
}

#[test]
fn rsa_modulus_of_2047_bits_is_too_small() {
    let jwk = rsa_jwk(&integer(256, 0x7f, 0x5b), &E_65537);
    assert_refused(import(&jwk, None), KeyError::RsaModulusTooSmall, "rsa_modulus_too_small");
}

#[test]
fn rsa_modulus_of_16385_bits_is_too_large() {
    let jwk = rsa_jwk(&integer(2049, 0x01, 0x5b), &E_65537);
    assert_refused(import(&jwk, None), KeyError::RsaModulusTooLarge, "rsa_modulus_too_large");
}

#[test]
fn rsa_modulus_bounds_2048_and_16384_bits_are_accepted() {
    let small = import(&rsa_jwk(&integer(256, 0x80, 0x5b), &E_65537), None).unwrap();
    assert_eq!(small.algorithm(), Algorithm::Rs256);
    assert_eq!(small.signature_len(), 256);
    let large = import(&rsa_jwk(&integer(2048, 0xff, 0x5b), &E_65537), None).unwrap();
    assert_eq!(large.signature_len(), 2048);
}

#[test]
fn rsa_even_modulus_is_refused() {
    let jwk = rsa_jwk(&integer(256, 0xc1, 0x5a), &E_65537);
    assert_refused(import(&jwk, None), KeyError::RsaModulusEven, "rsa_modulus_even");
}

#[test]
fn rsa_exponent_one_is_refused() {
    let jwk = rsa_jwk(&integer(256, 0xc1, 0x5b), &[1]);
    assert_refused(import(&jwk, None), KeyError::RsaExponent, "rsa_exponent");
}

#[test]
fn rsa_exponent_two_is_refused() {
    let jwk = rsa_jwk(&integer(256, 0xc1, 0x5b), &[2]);
    assert_refused(import(&jwk, None), KeyError::RsaExponent, "rsa_exponent");
}

#[test]
fn rsa_exponent_65536_is_refused() {
    let jwk = rsa_jwk(&integer(256, 0xc1, 0x5b), &[1, 0, 0]);
    assert_refused(import(&jwk, None), KeyError::RsaExponent, "rsa_exponent");
}

#[test]
fn rsa_exponent_over_four_octets_is_refused() {
    let jwk = rsa_jwk(&integer(256, 0xc1, 0x5b), &[1, 0, 0, 0, 1]);
    assert_refused(import(&jwk, None), KeyError::RsaExponent, "rsa_exponent");
}

#[test]
fn rsa_exponent_three_and_four_octet_exponents_are_accepted() {
    assert!(import(&rsa_jwk(&integer(256, 0xc1, 0x5b), &[3]), None).is_ok());
    assert!(import(&rsa_jwk(&integer(256, 0xc1, 0x5b), &[0x80, 0, 0, 1]), None).is_ok());
}

#[test]
fn rsa_modulus_with_leading_zero_octet_is_not_minimal() {
    let mut n = vec![0];
    n.extend(integer(256, 0xc1, 0x5b));
    let jwk = rsa_jwk(&n, &E_65537);
    assert_refused(import(&jwk, None), KeyError::NonMinimalInteger, "key_non_minimal_integer");
}

#[test]
fn rsa_exponent_with_leading_zero_octet_is_not_minimal() {
    let jwk = rsa_jwk(&integer(256, 0xc1, 0x5b), &[0, 1, 0, 1]);
    assert_refused(import(&jwk, None), KeyError::NonMinimalInteger, "key_non_minimal_integer");
}

#[test]
fn rsa_empty_members_are_invalid() {
    let jwk = rsa_jwk(&[], &E_65537);
    assert_refused(import(&jwk, None), KeyError::InvalidMember("n"), "key_invalid_member");
    let jwk = rsa_jwk(&integer(256, 0xc1, 0x5b), &[]);
    assert_refused(import(&jwk, None), KeyError::InvalidMember("e"), "key_invalid_member");
}

#[test]
fn rsa_modulus_with_padding_is_invalid() {
    let mut jwk = rsa_2048_jwk();
    let n = jwk["n"].as_str().unwrap().to_owned();
    assert_eq!(n.len() % 4, 2, "256 octets leave room for two padding characters");
    jwk.insert("n".into(), Value::String(format!("{n}==")));
    assert_refused(import(&jwk, None), KeyError::InvalidMember("n"), "key_invalid_member");
}

#[test]
fn rsa_modulus_with_stray_trailing_bits_is_invalid() {
    let mut jwk = rsa_2048_jwk();
    let n = with_stray_bits(jwk["n"].as_str().unwrap());
    jwk.insert("n".into(), Value::String(n));
    assert_refused(import(&jwk, None), KeyError::InvalidMember("n"), "key_invalid_member");
}

#[test]
fn rsa_modulus_in_the_standard_alphabet_is_invalid() {
    // 0xfb 0xff encodes to "-_8" in base64url and "+/8" in standard base64.
    let mut n = integer(256, 0xc1, 0x5b);
    n[1] = 0xfb;
    n[2] = 0xff;
    let mut jwk = rsa_jwk(&n, &E_65537);
    let text = jwk["n"].as_str().unwrap().replace('-', "+").replace('_', "/");
    jwk.insert("n".into(), Value::String(text));
    assert_refused(import(&jwk, None), KeyError::InvalidMember("n"), "key_invalid_member");
}

// ---------------------------------------------------------------------------------------------
// EC key vetting
// ---------------------------------------------------------------------------------------------

fn with_member(mut jwk: Map<String, Value>, name: &str, value: Value) -> Map<String, Value> {
    jwk.insert(name.to_owned(), value);
    jwk
}

fn resized(jwk: &Map<String, Value>, member: &str, grow: bool) -> Map<String, Value> {
    let mut bytes = unb64(jwk[member].as_str().unwrap());
    if grow {
        bytes.insert(0, 0);
    } else {
        bytes.remove(0);
    }
    with_member(jwk.clone(), member, Value::String(b64(bytes)))
}

#[test]
fn ec_p256_x_of_31_octets_is_refused() {
    let jwk = resized(&public_jwk(Algorithm::Es256), "x", false);
    assert_refused(import(&jwk, None), KeyError::EcCoordinateLength, "ec_coordinate_length");
}

#[test]
fn ec_p256_x_of_33_octets_is_refused() {
    let jwk = resized(&public_jwk(Algorithm::Es256), "x", true);
    assert_refused(import(&jwk, None), KeyError::EcCoordinateLength, "ec_coordinate_length");
}

#[test]
fn ec_p256_y_of_31_octets_is_refused() {
    let jwk = resized(&public_jwk(Algorithm::Es256), "y", false);
    assert_refused(import(&jwk, None), KeyError::EcCoordinateLength, "ec_coordinate_length");
}

#[test]
fn ec_p256_y_of_33_octets_is_refused() {
    let jwk = resized(&public_jwk(Algorithm::Es256), "y", true);
    assert_refused(import(&jwk, None), KeyError::EcCoordinateLength, "ec_coordinate_length");
}

#[test]
fn ec_p384_coordinate_of_p256_length_is_refused() {
    let jwk = resized(&public_jwk(Algorithm::Es384), "x", false);
    assert_refused(import(&jwk, None), KeyError::EcCoordinateLength, "ec_coordinate_length");
}

#[test]
fn ec_point_not_on_the_curve_is_refused() {
    let jwk = public_jwk(Algorithm::Es256);
    let mut y = unb64(jwk["y"].as_str().unwrap());
    y[31] ^= 0x01;
    let jwk = with_member(jwk, "y", Value::String(b64(y)));
    assert_refused(import(&jwk, None), KeyError::EcPointInvalid, "ec_point_invalid");
}

#[test]
fn ec_p384_point_not_on_the_curve_is_refused() {
    let jwk = public_jwk(Algorithm::Es384);
    let mut x = unb64(jwk["x"].as_str().unwrap());
    x[0] ^= 0x40;
    let jwk = with_member(jwk, "x", Value::String(b64(x)));
    assert_refused(import(&jwk, None), KeyError::EcPointInvalid, "ec_point_invalid");
}

#[test]
fn ec_point_of_zeros_is_refused() {
    let jwk = public_jwk(Algorithm::Es256);
    let jwk = with_member(with_member(jwk, "x", json!(b64([0; 32]))), "y", json!(b64([0; 32])));
    assert_refused(import(&jwk, None), KeyError::EcPointInvalid, "ec_point_invalid");
}

#[test]
fn ec_curve_p521_is_unsupported() {
    let jwk = object(json!({
        "kty": "EC", "crv": "P-521", "x": b64([1; 66]), "y": b64([2; 66]),
    }));
    assert_refused(import(&jwk, None), KeyError::UnsupportedCurve, "key_unsupported_curve");
}

#[test]
fn ec_curve_secp256k1_is_unsupported() {
    let jwk = object(json!({
        "kty": "EC", "crv": "secp256k1", "x": b64([1; 32]), "y": b64([2; 32]),
    }));
    assert_refused(import(&jwk, None), KeyError::UnsupportedCurve, "key_unsupported_curve");
}

#[test]
fn ec_p384_key_imported_for_es256_is_a_mismatch() {
    let mut jwk = public_jwk(Algorithm::Es384);
    jwk.remove("alg");
    let refused = import(&jwk, Some(Algorithm::Es256));
    assert_refused(refused, KeyError::AlgorithmMismatch, "key_alg_mismatch");
}

#[test]
fn ec_p384_key_declaring_es384_imported_for_es256_is_a_mismatch() {
    let jwk = public_jwk(Algorithm::Es384);
    assert_eq!(jwk["alg"], "ES384");
    let refused = import(&jwk, Some(Algorithm::Es256));
    assert_refused(refused, KeyError::AlgorithmMismatch, "key_alg_mismatch");
}

#[test]
fn ec_p256_key_declaring_es384_is_a_mismatch_even_without_a_request() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "alg", json!("ES384"));
    assert_refused(import(&jwk, None), KeyError::AlgorithmMismatch, "key_alg_mismatch");
}

#[test]
fn ec_missing_coordinate_is_a_missing_member() {
    let mut jwk = public_jwk(Algorithm::Es256);
    jwk.remove("y");
    assert_refused(import(&jwk, None), KeyError::MissingMember("y"), "key_missing_member");
}

#[test]
fn ec_missing_curve_is_a_missing_member() {
    let mut jwk = public_jwk(Algorithm::Es256);
    jwk.remove("crv");
    assert_refused(import(&jwk, None), KeyError::MissingMember("crv"), "key_missing_member");
}

// ---------------------------------------------------------------------------------------------
// OKP key vetting
// ---------------------------------------------------------------------------------------------

#[test]
fn okp_curve_ed448_is_unsupported() {
    let jwk = object(json!({"kty": "OKP", "crv": "Ed448", "x": b64([7; 57])}));
    assert_refused(import(&jwk, None), KeyError::UnsupportedCurve, "key_unsupported_curve");
}

#[test]
fn okp_curve_x25519_is_unsupported() {
    let jwk = object(json!({"kty": "OKP", "crv": "X25519", "x": b64([7; 32])}));
    assert_refused(import(&jwk, None), KeyError::UnsupportedCurve, "key_unsupported_curve");
}

#[test]
fn okp_x_of_31_octets_is_refused() {
    let jwk = resized(&public_jwk(Algorithm::EdDsa), "x", false);
    assert_refused(import(&jwk, None), KeyError::OkpKeyLength, "okp_key_length");
}

#[test]
fn okp_x_of_33_octets_is_refused() {
    let jwk = resized(&public_jwk(Algorithm::EdDsa), "x", true);
    assert_refused(import(&jwk, None), KeyError::OkpKeyLength, "okp_key_length");
}

// ---------------------------------------------------------------------------------------------
// kty, use, key_ops
// ---------------------------------------------------------------------------------------------

#[test]
fn kty_oct_is_a_symmetric_key() {
    let jwk = object(json!({"kty": "oct", "k": b64(b"a shared secret of some length")}));
    assert_refused(import(&jwk, None), KeyError::SymmetricKey, "key_symmetric");
    let jwk = object(json!({"kty": "oct", "k": b64([1; 32]), "alg": "ES256"}));
    assert_refused(import(&jwk, Some(Algorithm::Es256)), KeyError::SymmetricKey, "key_symmetric");
}

#[test]
fn kty_foo_is_unsupported() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "kty", json!("foo"));
    assert_refused(import(&jwk, None), KeyError::UnsupportedKeyType, "key_unsupported_kty");
}

#[test]
fn kty_is_case_sensitive() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "kty", json!("ec"));
    assert_refused(import(&jwk, None), KeyError::UnsupportedKeyType, "key_unsupported_kty");
}

#[test]
fn kty_missing_is_a_missing_member() {
    let mut jwk = public_jwk(Algorithm::Es256);
    jwk.remove("kty");
    assert_refused(import(&jwk, None), KeyError::MissingMember("kty"), "key_missing_member");
}

#[test]
fn kty_not_a_string_is_invalid() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "kty", json!(5));
    assert_refused(import(&jwk, None), KeyError::InvalidMember("kty"), "key_invalid_member");
}

#[test]
fn use_enc_is_refused() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "use", json!("enc"));
    assert_refused(import(&jwk, None), KeyError::UseNotSig, "key_use_not_sig");
}

#[test]
fn use_not_a_string_is_invalid() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "use", json!(["sig"]));
    assert_refused(import(&jwk, None), KeyError::InvalidMember("use"), "key_invalid_member");
}

#[test]
fn key_ops_encrypt_forbids_verification() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "key_ops", json!(["encrypt"]));
    assert_refused(import(&jwk, None), KeyError::KeyOpsForbid, "key_ops_forbid");
}

#[test]
fn key_ops_sign_only_forbids_verification() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "key_ops", json!(["sign"]));
    assert_refused(import(&jwk, None), KeyError::KeyOpsForbid, "key_ops_forbid");
}

#[test]
fn key_ops_empty_forbids_verification() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "key_ops", json!([]));
    assert_refused(import(&jwk, None), KeyError::KeyOpsForbid, "key_ops_forbid");
}

#[test]
fn key_ops_verify_allows_verification() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "key_ops", json!(["verify"]));
    assert_eq!(import(&jwk, None).unwrap().algorithm(), Algorithm::Es256);
    let jwk = with_member(public_jwk(Algorithm::Es256), "key_ops", json!(["sign", "verify"]));
    assert!(import(&jwk, None).is_ok());
}

#[test]
fn key_ops_verify_forbids_signing() {
    let jwk = with_member(p256_private_jwk(), "key_ops", json!(["verify"]));
    let refused = import_signing(&jwk, Some(Algorithm::Es256));
    assert_refused(refused, KeyError::KeyOpsForbid, "key_ops_forbid");
}

#[test]
fn key_ops_sign_allows_signing() {
    let jwk = with_member(p256_private_jwk(), "key_ops", json!(["sign"]));
    assert!(import_signing(&jwk, Some(Algorithm::Es256)).is_ok());
}

#[test]
fn key_ops_not_an_array_is_invalid() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "key_ops", json!("verify"));
    let refused = import(&jwk, None);
    assert_refused(refused, KeyError::InvalidMember("key_ops"), "key_invalid_member");
}

#[test]
fn key_ops_with_a_non_string_element_is_invalid() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "key_ops", json!(["verify", 5]));
    let refused = import(&jwk, None);
    assert_refused(refused, KeyError::InvalidMember("key_ops"), "key_invalid_member");
}

// ---------------------------------------------------------------------------------------------
// JWK alg
// ---------------------------------------------------------------------------------------------

#[test]
fn jwk_alg_rsa_oaep_is_unsupported() {
    let jwk = with_member(rsa_2048_jwk(), "alg", json!("RSA-OAEP"));
    assert_refused(import(&jwk, None), KeyError::UnsupportedAlgorithm, "key_unsupported_alg");
}

#[test]
fn jwk_alg_hs256_is_unsupported() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "alg", json!("HS256"));
    assert_refused(import(&jwk, None), KeyError::UnsupportedAlgorithm, "key_unsupported_alg");
}

#[test]
fn jwk_alg_none_is_unsupported() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "alg", json!("none"));
    let refused = import(&jwk, Some(Algorithm::Es256));
    assert_refused(refused, KeyError::UnsupportedAlgorithm, "key_unsupported_alg");
}

#[test]
fn jwk_alg_es384_requested_as_es256_is_a_mismatch() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "alg", json!("ES384"));
    let refused = import(&jwk, Some(Algorithm::Es256));
    assert_refused(refused, KeyError::AlgorithmMismatch, "key_alg_mismatch");
}

#[test]
fn jwk_alg_rs256_requested_as_ps256_is_a_mismatch() {
    let jwk = with_member(rsa_2048_jwk(), "alg", json!("RS256"));
    let refused = import(&jwk, Some(Algorithm::Ps256));
    assert_refused(refused, KeyError::AlgorithmMismatch, "key_alg_mismatch");
}

#[test]
fn jwk_rsa_without_alg_serves_the_requested_rsa_algorithm() {
    assert_eq!(import(&rsa_2048_jwk(), None).unwrap().algorithm(), Algorithm::Rs256);
    let ps256 = import(&rsa_2048_jwk(), Some(Algorithm::Ps256)).unwrap();
    assert_eq!(ps256.algorithm(), Algorithm::Ps256);
    let refused = import(&rsa_2048_jwk(), Some(Algorithm::Es256));
    assert_refused(refused, KeyError::AlgorithmMismatch, "key_alg_mismatch");
}

#[test]
fn jwk_alg_not_a_string_is_invalid() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "alg", json!(null));
    assert_refused(import(&jwk, None), KeyError::InvalidMember("alg"), "key_invalid_member");
}

#[test]
fn jwk_kid_not_a_string_is_invalid() {
    let jwk = with_member(public_jwk(Algorithm::Es256), "kid", json!(7));
    assert_refused(import(&jwk, None), KeyError::InvalidMember("kid"), "key_invalid_member");
}

// ---------------------------------------------------------------------------------------------
// Private members, encoding, pairs
// ---------------------------------------------------------------------------------------------

#[test]
fn private_d_in_a_public_import_is_refused() {
    let jwk = p256_private_jwk();
    assert!(jwk.contains_key("d"));
    assert_refused(import(&jwk, None), KeyError::PrivateMembers, "key_private_members");
}

#[test]
fn every_private_member_in_a_public_import_is_refused() {
    let public = public_jwk(Algorithm::Es256);
    for member in PRIVATE_MEMBERS {
        let jwk = with_member(public.clone(), member, json!(b64([9; 32])));
        let refused = import(&jwk, None);
        assert_refused(refused, KeyError::PrivateMembers, "key_private_members");
    }
}

#[test]
fn signing_import_without_d_is_missing_the_private_key() {
    let jwk = public_jwk(Algorithm::Es256);
    let refused = import_signing(&jwk, None);
    assert_refused(refused, KeyError::MissingPrivateKey, "key_missing_private");
    let refused = import_signing(&public_jwk(Algorithm::EdDsa), Some(Algorithm::EdDsa));
    assert_refused(refused, KeyError::MissingPrivateKey, "key_missing_private");
}

#[test]
fn duplicate_member_in_the_jwk_is_refused() {
    let jwk = public_jwk(Algorithm::Es256);
    let text = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}","crv":"P-256"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    let refused = VerificationKey::from_jwk(text.as_bytes(), None);
    assert_refused(refused, KeyError::DuplicateMember, "key_duplicate_member");
    let refused = SigningKey::from_jwk(text.as_bytes(), None);
    assert_refused(refused, KeyError::DuplicateMember, "key_duplicate_member");
}

#[test]
fn jwk_that_is_not_json_is_malformed() {
    let refused = VerificationKey::from_jwk(b"kty=EC", None);
    assert_refused(refused, KeyError::Malformed, "key_malformed");
    let refused = VerificationKey::from_jwk(b"", None);
    assert_refused(refused, KeyError::Malformed, "key_malformed");
    let refused = VerificationKey::from_jwk(b"[]", None);
    assert_refused(refused, KeyError::Malformed, "key_malformed");
    let refused = SigningKey::from_jwk(b"{", None);
    assert_refused(refused, KeyError::Malformed, "key_malformed");
}

#[test]
fn ec_private_d_of_another_key_is_a_pair_mismatch() {
    let key_a = p256_private_jwk();
    let key_b = p256_private_jwk();
    let mixed = with_member(key_b, "d", key_a["d"].clone());
    // The unmixed keys import: only the mix is refused.
    assert!(import_signing(&key_a, Some(Algorithm::Es256)).is_ok());
    let refused = import_signing(&mixed, Some(Algorithm::Es256));
    assert_refused(refused, KeyError::PairMismatch, "key_pair_mismatch");
}

#[test]
fn ed25519_private_d_of_another_key_is_a_pair_mismatch() {
    let key_a = ed25519_private_jwk();
    let key_b = ed25519_private_jwk();
    let mixed = with_member(key_b, "d", key_a["d"].clone());
    assert!(import_signing(&key_a, None).is_ok());
    let refused = import_signing(&mixed, None);
    assert_refused(refused, KeyError::PairMismatch, "key_pair_mismatch");
}

#[test]
fn private_d_not_base64url_is_refused_by_the_backend() {
    // Vetting reads the public members only; a d that does not decode is the backend's refusal.
    let jwk = with_member(p256_private_jwk(), "d", json!("not base64url!"));
    let refused = import_signing(&jwk, Some(Algorithm::Es256));
    assert_refused(refused, KeyError::BackendRejected, "key_backend_rejected");
}

#[test]
fn private_jwks_of_every_kind_import_for_signing() {
    let (_, p384) = ec_private_jwk(Nid::SECP384R1, "P-384", 48);
    let rsa = rsa_private_jwk(&Rsa::generate(2048).unwrap());
    let cases = [
        (p256_private_jwk(), Algorithm::Es256),
        (p384, Algorithm::Es384),
        (ed25519_private_jwk(), Algorithm::EdDsa),
        (rsa.clone(), Algorithm::Rs256),
        (rsa, Algorithm::Ps256),
    ];
    for (jwk, algorithm) in cases {
        let key = import_signing(&jwk, Some(algorithm)).unwrap();
        assert_eq!(Signer::algorithm(&key), algorithm);
        let signature = key.sign(b"message").unwrap();
        key.verification_key().verify(b"message", &signature).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// JWK Set import and export
// ---------------------------------------------------------------------------------------------

#[test]
fn jwks_import_keeps_good_keys_and_reports_the_others() {
    let es256 = public_jwk(Algorithm::Es256);
    let eddsa = public_jwk(Algorithm::EdDsa);
    let enc = with_member(
        with_member(with_member(rsa_2048_jwk(), "use", json!("enc")), "alg", json!("RSA-OAEP")),
        "kid",
        json!("enc-1"),
    );
    let document = json!({"keys": [
        {"kty": "oct", "k": b64([3; 32]), "kid": "hmac-1"},
        enc,
        es256,
        eddsa,
    ]});
    let imported = KeySet::from_jwks(&serde_json::to_vec(&document).unwrap()).unwrap();
    assert_eq!(imported.keys.len(), 2);
    let kids: Vec<_> = imported.keys.iter().map(|key| key.kid().unwrap().to_owned()).collect();
    assert_eq!(kids, [es256["kid"].as_str().unwrap(), eddsa["kid"].as_str().unwrap()]);
    assert_eq!(
        imported.rejected,
        [
            RejectedKey { index: 0, kid: Some("hmac-1".into()), reason: KeyError::SymmetricKey },
            RejectedKey {
                index: 1,
                kid: Some("enc-1".into()),
                reason: KeyError::UnsupportedAlgorithm
            },
        ]
    );
    assert_eq!(imported.rejected[0].reason.reason(), "key_symmetric");
    assert_eq!(imported.rejected[1].reason.reason(), "key_unsupported_alg");
}

#[test]
fn jwks_encryption_key_without_alg_is_reported_as_use_not_sig() {
    let enc = with_member(rsa_2048_jwk(), "use", json!("enc"));
    let document = json!({"keys": [enc, "not an object"]});
    let imported = KeySet::from_jwks(&serde_json::to_vec(&document).unwrap()).unwrap();
    assert!(imported.keys.is_empty());
    let reasons: Vec<_> = imported.rejected.iter().map(|r| (r.index, r.reason)).collect();
    assert_eq!(reasons, [(0, KeyError::UseNotSig), (1, KeyError::Malformed)]);
    assert_eq!(imported.rejected[0].kid, None);
}

#[test]
fn jwks_with_a_published_private_key_reports_it() {
    let leaked = with_member(p256_private_jwk(), "kid", json!("leaked"));
    let document = json!({"keys": [leaked, public_jwk(Algorithm::EdDsa)]});
    let imported = KeySet::from_jwks(&serde_json::to_vec(&document).unwrap()).unwrap();
    assert_eq!(imported.keys.len(), 1);
    assert!(!imported.keys.contains_kid("leaked"));
    assert_eq!(
        imported.rejected,
        [RejectedKey { index: 0, kid: Some("leaked".into()), reason: KeyError::PrivateMembers }]
    );
}

#[test]
fn jwks_repeated_kid_reports_the_second_key() {
    let first = with_member(public_jwk(Algorithm::Es256), "kid", json!("k1"));
    let second = with_member(public_jwk(Algorithm::Es256), "kid", json!("k1"));
    let document = json!({"keys": [first, second]});
    let imported = KeySet::from_jwks(&serde_json::to_vec(&document).unwrap()).unwrap();
    assert_eq!(imported.keys.len(), 1);
    let kept = imported.keys.get("k1").unwrap();
    assert_eq!(kept.to_jwk()["x"], first["x"]);
    assert_eq!(
        imported.rejected,
        [RejectedKey { index: 1, kid: Some("k1".into()), reason: KeyError::DuplicateKid }]
    );
    assert_eq!(imported.rejected[0].reason.reason(), "key_duplicate_kid");
}

#[test]
fn jwks_keys_not_an_array_is_not_a_key_set() {
    let refused = KeySet::from_jwks(br#"{"keys": 5}"#);
    assert_refused(refused, KeyError::NotAKeySet, "jwks_malformed");
}

#[test]
fn jwks_array_document_is_not_a_key_set() {
    assert_refused(KeySet::from_jwks(b"[]"), KeyError::NotAKeySet, "jwks_malformed");
}

#[test]
fn jwks_empty_object_is_not_a_key_set() {
    assert_refused(KeySet::from_jwks(b"{}"), KeyError::NotAKeySet, "jwks_malformed");
}

#[test]
fn jwks_not_json_is_not_a_key_set() {
    assert_refused(KeySet::from_jwks(b"keys"), KeyError::NotAKeySet, "jwks_malformed");
    let refused = KeySet::from_jwks(br#"{"keys": {}}"#);
    assert_refused(refused, KeyError::NotAKeySet, "jwks_malformed");
}

#[test]
fn jwks_with_duplicate_keys_member_is_refused() {
    let refused = KeySet::from_jwks(br#"{"keys": [], "keys": []}"#);
    assert_refused(refused, KeyError::DuplicateMember, "key_duplicate_member");
}

#[test]
fn jwks_empty_keys_array_is_an_empty_set() {
    let imported = KeySet::from_jwks(br#"{"keys": []}"#).unwrap();
    assert!(imported.keys.is_empty() && imported.rejected.is_empty());
}

#[test]
fn to_jwks_has_no_private_members_and_round_trips() {
    let keys: Vec<_> = Algorithm::ALL
        .into_iter()
        .map(|alg| SigningKey::generate(alg).unwrap().verification_key().clone())
        .collect();
    let set = KeySet::new(keys).unwrap();
    let document = set.to_jwks();
    let entries = document["keys"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    for entry in entries {
        let entry = entry.as_object().unwrap();
        for member in PRIVATE_MEMBERS {
            assert!(!entry.contains_key(member), "{member} exported");
        }
        assert_eq!(entry["use"], "sig");
    }
    let imported = KeySet::from_jwks(&serde_json::to_vec(&document).unwrap()).unwrap();
    assert!(imported.rejected.is_empty(), "{:?}", imported.rejected);
    assert_eq!(imported.keys.len(), 5);
    for (original, reimported) in set.iter().zip(imported.keys.iter()) {
        assert_eq!(original.kid(), reimported.kid());
        assert_eq!(original.algorithm(), reimported.algorithm());
        assert_eq!(original.thumbprint(), reimported.thumbprint());
    }
    assert_eq!(imported.keys.to_jwks(), document);
}

#[test]
fn signing_key_verification_jwk_has_no_private_members() {
    for algorithm in Algorithm::ALL {
        let jwk = public_jwk(algorithm);
        assert!(PRIVATE_MEMBERS.iter().all(|member| !jwk.contains_key(*member)));
        assert_eq!(jwk["alg"], algorithm.name());
    }
}

#[test]
fn key_set_new_refuses_duplicate_kids() {
    let a = import(&with_member(public_jwk(Algorithm::Es256), "kid", json!("same")), None);
    let b = import(&with_member(public_jwk(Algorithm::EdDsa), "kid", json!("same")), None);
    let refused = KeySet::new(vec![a.unwrap(), b.unwrap()]);
    assert_refused(refused, KeyError::DuplicateKid, "key_duplicate_kid");
}

// ---------------------------------------------------------------------------------------------
// Key selection
// ---------------------------------------------------------------------------------------------

fn keyed(algorithm: Algorithm, kid: &str) -> VerificationKey {
    import(&with_member(public_jwk(algorithm), "kid", json!(kid)), None).unwrap()
}

fn rsa_keyed(kid: &str) -> VerificationKey {
    import(&with_member(rsa_2048_jwk(), "kid", json!(kid)), None).unwrap()
}

#[test]
fn select_unknown_kid_is_key_not_found() {
    let set = KeySet::new(vec![keyed(Algorithm::Es256, "a")]).unwrap();
    assert_eq!(set.select(Algorithm::Es256, Some("b")).unwrap_err(), JoseError::KeyNotFound);
    assert_eq!(JoseError::KeyNotFound.reason(), "jws_kid_unknown");
}

#[test]
fn select_without_kid_among_two_es256_keys_requires_a_kid() {
    let set = KeySet::new(vec![keyed(Algorithm::Es256, "a"), keyed(Algorithm::Es256, "b")]);
    let set = set.unwrap();
    assert_eq!(set.select(Algorithm::Es256, None).unwrap_err(), JoseError::KidRequired);
    assert_eq!(set.select(Algorithm::Es256, Some("b")).unwrap().kid(), Some("b"));
}

#[test]
fn select_without_kid_with_one_es256_key_finds_it() {
    let set = KeySet::new(vec![
        keyed(Algorithm::Es256, "es"),
        keyed(Algorithm::EdDsa, "ed1"),
        keyed(Algorithm::EdDsa, "ed2"),
    ])
    .unwrap();
    assert_eq!(set.select(Algorithm::Es256, None).unwrap().kid(), Some("es"));
}

#[test]
fn select_without_kid_and_no_key_of_the_algorithm() {
    let set = KeySet::new(vec![keyed(Algorithm::Es256, "es")]).unwrap();
    assert_eq!(set.select(Algorithm::Es384, None).unwrap_err(), JoseError::NoKeyForAlgorithm);
    let empty = KeySet::empty();
    assert_eq!(empty.select(Algorithm::Es256, None).unwrap_err(), JoseError::NoKeyForAlgorithm);
    assert_eq!(empty.select(Algorithm::Es256, Some("x")).unwrap_err(), JoseError::KeyNotFound);
}

#[test]
fn select_kid_of_an_rs256_key_for_an_es256_token_is_a_mismatch() {
    let set = KeySet::new(vec![rsa_keyed("rsa"), keyed(Algorithm::Es256, "es")]).unwrap();
    assert_eq!(
        set.select(Algorithm::Es256, Some("rsa")).unwrap_err(),
        JoseError::KeyAlgorithmMismatch
    );
}

#[test]
fn verify_with_key_set_uses_the_selection_rules() {
    let (key, token) = es256_token();
    let jws = parse(&token).unwrap();
    let good = KeySet::new(vec![key.verification_key().clone()]).unwrap();
    assert_eq!(jws.verify_with_key_set(&good).unwrap().kid(), key.kid());
    let other = KeySet::new(vec![keyed(Algorithm::Es256, "other")]).unwrap();
    assert_eq!(jws.verify_with_key_set(&other).unwrap_err(), JoseError::KeyNotFound);
    let stolen_kid = KeySet::new(vec![keyed(Algorithm::Es256, key.kid().unwrap())]).unwrap();
    assert_eq!(jws.verify_with_key_set(&stolen_kid).unwrap_err(), JoseError::SignatureInvalid);
}

// ---------------------------------------------------------------------------------------------
// Compact JWS: structure and encoding
// ---------------------------------------------------------------------------------------------

#[test]
fn jws_over_the_size_cap_is_too_large() {
    let (_, token) = es256_token();
    assert!(token.len() > 100);
    let options = all().with_max_len(100);
    assert_eq!(CompactJws::parse(&token, &options).unwrap_err(), JoseError::TooLarge);
    let one_short = all().with_max_len(token.len() - 1);
    assert_eq!(CompactJws::parse(&token, &one_short).unwrap_err(), JoseError::TooLarge);
    assert!(CompactJws::parse(&token, &all().with_max_len(token.len())).is_ok());
}

#[test]
fn jws_over_the_default_cap_is_too_large() {
    let token = token(br#"{"alg":"ES256"}"#, &vec![b'a'; ParseOptions::DEFAULT_MAX_LEN], &[0; 64]);
    assert_eq!(parse(&token).unwrap_err(), JoseError::TooLarge);
}

#[test]
fn jws_of_two_segments_is_refused() {
    let (_, token) = es256_token();
    let two = token.rsplit_once('.').unwrap().0;
    assert_eq!(parse(two).unwrap_err(), JoseError::SegmentCount);
}

#[test]
fn jws_of_four_segments_is_refused() {
    let (_, token) = es256_token();
    assert_eq!(parse(&format!("{token}.")).unwrap_err(), JoseError::SegmentCount);
    let parts = segments(&token);
    let four = format!("{}.{}.{}.{}", parts[0], parts[1], parts[1], parts[2]);
    assert_eq!(parse(&four).unwrap_err(), JoseError::SegmentCount);
}

#[test]
fn jws_empty_string_is_refused() {
    assert_eq!(parse("").unwrap_err(), JoseError::SegmentCount);
}

#[test]
fn jws_with_padding_in_the_payload_is_refused() {
    let padded = format!("{}.{}=.{}", b64(br#"{"alg":"ES256"}"#), b64(b"{}"), b64([0; 64]));
    assert_eq!(b64(b"{}"), "e30");
    assert_eq!(parse(&padded).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_padding_in_the_signature_is_refused() {
    let (_, token) = es256_token();
    assert_eq!(parse(&format!("{token}==")).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_a_space_inside_a_segment_is_refused() {
    let (_, token) = es256_token();
    let spaced = format!("{} {}", &token[..5], &token[5..]);
    assert_eq!(parse(&spaced).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_a_newline_inside_a_segment_is_refused() {
    let (_, token) = es256_token();
    let header_len = token.find('.').unwrap();
    let broken = format!("{}\n{}", &token[..header_len + 4], &token[header_len + 4..]);
    assert_eq!(parse(&broken).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_a_trailing_newline_is_refused() {
    let (_, token) = es256_token();
    assert_eq!(parse(&format!("{token}\n")).unwrap_err(), JoseError::Base64);
    assert_eq!(parse(&format!("{token}\r\n")).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_a_non_ascii_character_is_refused() {
    let header = b64(br#"{"alg":"ES256"}"#);
    let signature = b64([0; 64]);
    assert_eq!(parse(&format!("{header}.e3\u{e9}0.{signature}")).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_in_the_standard_alphabet_plus_is_refused() {
    // 0xfb 0xff 0xbf is "-_-_" in base64url and "+/+/" in standard base64.
    assert_eq!(b64([0xfb, 0xff, 0xbf]), "-_-_");
    let header = b64(br#"{"alg":"ES256"}"#);
    let signature = b64([0; 64]);
    assert!(parse(&format!("{header}.-_-_.{signature}")).is_ok());
    assert_eq!(parse(&format!("{header}.+_+_.{signature}")).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_in_the_standard_alphabet_slash_is_refused() {
    let header = b64(br#"{"alg":"ES256"}"#);
    let signature = b64([0; 64]);
    assert_eq!(parse(&format!("{header}.-/-/.{signature}")).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_stray_bits_in_the_last_character_is_refused() {
    let header = b64(br#"{"alg":"ES256"}"#);
    let signature = b64([0; 64]);
    let stray = with_stray_bits(&b64(b"{}"));
    assert_eq!(stray, "e31");
    assert_eq!(parse(&format!("{header}.{stray}.{signature}")).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_stray_bits_in_the_signature_is_refused() {
    let (_, token) = es256_token();
    let parts = segments(&token);
    let stray = format!("{}.{}.{}", parts[0], parts[1], with_stray_bits(&parts[2]));
    assert_eq!(parse(&stray).unwrap_err(), JoseError::Base64);
}

#[test]
fn jws_with_stray_bits_in_the_header_is_refused() {
    // 16 octets of header encode to 22 characters, the last one with four stray bits.
    let header = br#"{"alg":"ES256" }"#;
    let text = b64(header);
    let stray = format!("{}.{}.{}", with_stray_bits(&text), b64(b"{}"), b64([0; 64]));
    assert_eq!(parse(&stray).unwrap_err(), JoseError::Base64);
}

#[test]
fn compact_json_polyglot_is_refused() {
    // CVE-2022-39227 (python-jwt): a JSON serialization whose first member name carries a
    // compact header and a forged payload, its other members a genuinely signed token.
    let (key, token) = es256_token();
    let parts = segments(&token);
    let forged = b64(br#"{"iss":"https://idp","sub":"admin"}"#);
    let polyglot = format!(
        concat!(
            r#"{{"  {header}.{forged}.":"","#,
            r#""protected":"{header}","payload":"{payload}","signature":"{signature}"}}"#,
        ),
        header = parts[0],
        forged = forged,
        payload = parts[1],
        signature = parts[2],
    );
    let json: Value = serde_json::from_str(&polyglot).unwrap();
    assert_eq!(json["signature"], parts[2].as_str());
    // Exactly two dots, so three segments: the refusal is the canonical base64url rule
    // (RFC 7515 §7.1), which `{`, `"` and spaces in the first segment break.
    assert_eq!(polyglot.matches('.').count(), 2);
    let refused = parse(&polyglot).unwrap_err();
    assert_eq!(refused, JoseError::Base64);
    assert_eq!(refused.reason(), "jws_base64");
    // The same without the spaces python-jwt's parser needed.
    let tight = polyglot.replacen("{\"  ", "{\"", 1);
    assert_eq!(parse(&tight).unwrap_err(), JoseError::Base64);

    // The plain JSON serialization of the token has no dot at all.
    let serialized = json!({"protected": parts[0], "payload": parts[1], "signature": parts[2]});
    let refused = parse(&serialized.to_string()).unwrap_err();
    assert_eq!(refused, JoseError::SegmentCount);
    assert_eq!(refused.reason(), "jws_segment_count");
    // A signed token with JSON text after it (dots inside it add segments) or before it.
    let after = format!(r#"{token}{{"payload":"{forged}","iss":"https://idp.example"}}"#);
    assert_eq!(parse(&after).unwrap_err(), JoseError::SegmentCount);
    let before = format!(r#"{{"payload":"{forged}"}}{token}"#);
    assert_eq!(before.matches('.').count(), 2);
    assert_eq!(parse(&before).unwrap_err(), JoseError::Base64);

    // What verifies is the token alone, and the payload it reads is the signed one, inside the
    // signing input: the first two segments.
    let jws = parse(&token).unwrap();
    jws.verify_with(key.verification_key()).unwrap();
    assert_eq!(jws.unverified_payload(), br#"{"iss":"https://idp"}"#);
    assert_eq!(jws.signing_input(), format!("{}.{}", parts[0], parts[1]).as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Compact JWS: header rules
// ---------------------------------------------------------------------------------------------

#[test]
fn header_not_json_is_refused() {
    assert_eq!(parse_header("not json"), Err(JoseError::HeaderNotJson));
    assert_eq!(parse_header(""), Err(JoseError::HeaderNotJson));
    assert_eq!(parse_header(r#"{"alg":"ES256"} x"#), Err(JoseError::HeaderNotJson));
}

#[test]
fn header_json_array_is_refused() {
    assert_eq!(parse_header(r#"[{"alg":"ES256"}]"#), Err(JoseError::HeaderNotJson));
    assert_eq!(parse_header(r#""ES256""#), Err(JoseError::HeaderNotJson));
}

#[test]
fn header_duplicate_alg_is_refused() {
    // The classic attack: a lenient parser keeps the last "alg", a logger the first.
    let error = parse_header(r#"{"alg":"none","alg":"ES256"}"#);
    assert_eq!(error, Err(JoseError::HeaderDuplicateMember));
    let error = parse_header(r#"{"alg":"ES256","alg":"none"}"#);
    assert_eq!(error, Err(JoseError::HeaderDuplicateMember));
    let error = parse_header(r#"{"alg":"ES256","\u0061lg":"ES256"}"#);
    assert_eq!(error, Err(JoseError::HeaderDuplicateMember));
}

#[test]
fn header_duplicate_kid_is_refused() {
    let error = parse_header(r#"{"alg":"ES256","kid":"a","kid":"b"}"#);
    assert_eq!(error, Err(JoseError::HeaderDuplicateMember));
}

#[test]
fn header_without_alg_is_refused() {
    assert_eq!(parse_header(r#"{"typ":"JWT"}"#), Err(JoseError::AlgorithmMissing));
    assert_eq!(parse_header("{}"), Err(JoseError::AlgorithmMissing));
}

#[test]
fn header_alg_none_is_unsupported() {
    assert_eq!(parse_header(r#"{"alg":"none"}"#), Err(JoseError::AlgorithmUnsupported));
    let token = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
    assert_eq!(parse(&token).unwrap_err(), JoseError::AlgorithmUnsupported);
}

#[test]
fn header_alg_hs256_is_unsupported() {
    assert_eq!(parse_header(r#"{"alg":"HS256"}"#), Err(JoseError::AlgorithmUnsupported));
}

#[test]
fn header_alg_rs512_is_unsupported() {
    assert_eq!(parse_header(r#"{"alg":"RS512"}"#), Err(JoseError::AlgorithmUnsupported));
}

#[test]
fn header_alg_lowercase_es256_is_unsupported() {
    assert_eq!(parse_header(r#"{"alg":"es256"}"#), Err(JoseError::AlgorithmUnsupported));
}

#[test]
fn header_alg_number_has_the_wrong_type() {
    assert_eq!(parse_header(r#"{"alg":256}"#), Err(JoseError::HeaderMemberType("alg")));
    assert_eq!(JoseError::HeaderMemberType("alg").reason(), "jws_header_member_type");
}

#[test]
fn header_alg_null_has_the_wrong_type() {
    assert_eq!(parse_header(r#"{"alg":null}"#), Err(JoseError::HeaderMemberType("alg")));
}

#[test]
fn header_alg_outside_the_allow_list_is_not_allowed() {
    let token = token(br#"{"alg":"ES256"}"#, b"{}", &[0; 64]);
    let eddsa_only = ParseOptions::new(AlgorithmSet::only(&[Algorithm::EdDsa]));
    assert_eq!(CompactJws::parse(&token, &eddsa_only).unwrap_err(), JoseError::AlgorithmNotAllowed);
    let nothing = ParseOptions::new(AlgorithmSet::only(&[]));
    assert_eq!(CompactJws::parse(&token, &nothing).unwrap_err(), JoseError::AlgorithmNotAllowed);
    let es256 = ParseOptions::new(AlgorithmSet::only(&[Algorithm::Es256]));
    assert!(CompactJws::parse(&token, &es256).is_ok());
}

#[test]
fn header_crit_empty_is_refused() {
    assert_eq!(parse_header(r#"{"alg":"ES256","crit":[]}"#), Err(JoseError::CritEmpty));
}

#[test]
fn header_crit_exp_is_unsupported() {
    let error = parse_header(r#"{"alg":"ES256","crit":["exp"],"exp":1}"#);
    assert_eq!(error, Err(JoseError::CritUnsupported));
}

#[test]
fn header_crit_not_a_list_of_strings_has_the_wrong_type() {
    let error = parse_header(r#"{"alg":"ES256","crit":"exp"}"#);
    assert_eq!(error, Err(JoseError::HeaderMemberType("crit")));
    let error = parse_header(r#"{"alg":"ES256","crit":[1]}"#);
    assert_eq!(error, Err(JoseError::HeaderMemberType("crit")));
}

#[test]
fn header_b64_false_is_unsupported() {
    assert_eq!(parse_header(r#"{"alg":"ES256","b64":false}"#), Err(JoseError::B64Unsupported));
    assert_eq!(parse_header(r#"{"alg":"ES256","b64":true}"#), Err(JoseError::B64Unsupported));
}

#[test]
fn header_embedded_jwk_is_refused() {
    let jwk = Value::Object(public_jwk(Algorithm::Es256));
    let header = json!({"alg": "ES256", "jwk": jwk}).to_string();
    assert_eq!(parse_header(&header), Err(JoseError::EmbeddedKey));
}

#[test]
fn header_jku_is_refused() {
    let header = r#"{"alg":"ES256","jku":"https://attacker.example/jwks.json"}"#;
    assert_eq!(parse_header(header), Err(JoseError::EmbeddedKey));
}

#[test]
fn header_x5u_is_refused() {
    let header = r#"{"alg":"ES256","x5u":"https://attacker.example/cert.pem"}"#;
    assert_eq!(parse_header(header), Err(JoseError::EmbeddedKey));
}

#[test]
fn header_x5c_is_refused() {
    let header = r#"{"alg":"ES256","x5c":["MIIBszCCAVmgAwIBAgIUTESTTEST"]}"#;
    assert_eq!(parse_header(header), Err(JoseError::EmbeddedKey));
}

#[test]
fn header_kid_number_has_the_wrong_type() {
    let error = parse_header(r#"{"alg":"ES256","kid":42}"#);
    assert_eq!(error, Err(JoseError::HeaderMemberType("kid")));
}

#[test]
fn header_typ_and_cty_numbers_have_the_wrong_type() {
    let error = parse_header(r#"{"alg":"ES256","typ":1}"#);
    assert_eq!(error, Err(JoseError::HeaderMemberType("typ")));
    let error = parse_header(r#"{"alg":"ES256","cty":false}"#);
    assert_eq!(error, Err(JoseError::HeaderMemberType("cty")));
}

// ---------------------------------------------------------------------------------------------
// Compact JWS: signatures
// ---------------------------------------------------------------------------------------------

#[test]
fn es256_signature_of_63_octets_is_refused_at_parse() {
    let token = token(br#"{"alg":"ES256"}"#, b"{}", &[1; 63]);
    assert_eq!(parse(&token).unwrap_err(), JoseError::SignatureLength);
}

#[test]
fn es256_signature_of_65_octets_is_refused_at_parse() {
    let token = token(br#"{"alg":"ES256"}"#, b"{}", &[1; 65]);
    assert_eq!(parse(&token).unwrap_err(), JoseError::SignatureLength);
}

#[test]
fn es384_and_eddsa_signatures_of_the_wrong_length_are_refused_at_parse() {
    let es384 = token(br#"{"alg":"ES384"}"#, b"{}", &[1; 64]);
    assert_eq!(parse(&es384).unwrap_err(), JoseError::SignatureLength);
    let eddsa = token(br#"{"alg":"EdDSA"}"#, b"{}", &[1; 96]);
    assert_eq!(parse(&eddsa).unwrap_err(), JoseError::SignatureLength);
    let empty = format!("{}.{}.", b64(br#"{"alg":"EdDSA"}"#), b64(b"{}"));
    assert_eq!(parse(&empty).unwrap_err(), JoseError::SignatureLength);
}

#[test]
fn rs256_signature_one_octet_short_is_refused_at_verify() {
    let key = SigningKey::generate(Algorithm::Rs256).unwrap();
    let token = sign_compact(&key, None, b"{}").unwrap();
    let parts = segments(&token);
    let mut signature = unb64(&parts[2]);
    assert_eq!(signature.len(), 256);
    signature.pop();
    let short = format!("{}.{}.{}", parts[0], parts[1], b64(signature));
    let jws = parse(&short).unwrap();
    assert_eq!(jws.verify_with(key.verification_key()).unwrap_err(), JoseError::SignatureLength);
    assert!(parse(&token).unwrap().verify_with(key.verification_key()).is_ok());
}

#[test]
fn es256_signature_of_zeros_is_invalid() {
    let (key, token) = es256_token();
    let parts = segments(&token);
    let zeros = format!("{}.{}.{}", parts[0], parts[1], b64([0; 64]));
    let jws = parse(&zeros).unwrap();
    assert_eq!(jws.verify_with(key.verification_key()).unwrap_err(), JoseError::SignatureInvalid);
}

#[test]
fn changed_payload_byte_is_an_invalid_signature() {
    let (key, token) = es256_token();
    let parts = segments(&token);
    let mut payload = unb64(&parts[1]);
    payload[2] ^= 0x01;
    let changed = format!("{}.{}.{}", parts[0], b64(payload), parts[2]);
    let jws = parse(&changed).unwrap();
    assert_eq!(jws.verify_with(key.verification_key()).unwrap_err(), JoseError::SignatureInvalid);
}

#[test]
fn changed_payload_byte_is_an_invalid_signature_for_every_algorithm() {
    for algorithm in Algorithm::ALL {
        let key = SigningKey::generate(algorithm).unwrap();
        let token = sign_compact(&key, None, br#"{"sub":"alice"}"#).unwrap();
        let parts = segments(&token);
        let changed = format!("{}.{}.{}", parts[0], b64(br#"{"sub":"alicf"}"#), parts[2]);
        let jws = parse(&changed).unwrap();
        let error = jws.verify_with(key.verification_key()).unwrap_err();
        assert_eq!(error, JoseError::SignatureInvalid, "{algorithm}");
    }
}

#[test]
fn valid_es256_token_with_another_es256_key_is_invalid() {
    let (_, token) = es256_token();
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    let jws = parse(&token).unwrap();
    let error = jws.verify_with(other.verification_key()).unwrap_err();
    assert_eq!(error, JoseError::SignatureInvalid);
}

#[test]
fn valid_token_with_an_rs256_key_is_a_key_algorithm_mismatch() {
    let (_, token) = es256_token();
    let rsa = rsa_keyed("rsa");
    let jws = parse(&token).unwrap();
    assert_eq!(jws.verify_with(&rsa).unwrap_err(), JoseError::KeyAlgorithmMismatch);
}

#[test]
fn es384_token_with_a_p256_key_is_a_key_algorithm_mismatch() {
    // RFC 7518 §3.4: ES384 is ECDSA on P-384 only, and RFC 8725 §3.1: a key serves exactly one
    // algorithm. A P-256 key is ES256's, whatever the token's header says.
    let p384 = SigningKey::generate(Algorithm::Es384).unwrap();
    let token = sign_compact(&p384, None, b"{}").unwrap();
    let jws = parse(&token).unwrap();
    assert_eq!(jws.header().algorithm(), Algorithm::Es384);
    let p256 = SigningKey::generate(Algorithm::Es256).unwrap();
    let error = jws.verify_with(p256.verification_key()).unwrap_err();
    assert_eq!(error, JoseError::KeyAlgorithmMismatch);
    // The pair is refused before the length: an ES256-length signature changes nothing.
    let input = jws.signing_input();
    for signature in [jws.signature(), &[1; 64]] {
        let error = verify_signature(p256.verification_key(), Algorithm::Es384, input, signature);
        assert_eq!(error, Err(JoseError::KeyAlgorithmMismatch));
    }
    // And the other way round: an ES256 token against the P-384 key.
    let (_, es256) = es256_token();
    let error = parse(&es256).unwrap().verify_with(p384.verification_key()).unwrap_err();
    assert_eq!(error, JoseError::KeyAlgorithmMismatch);
    assert!(jws.verify_with(p384.verification_key()).is_ok());
}

#[test]
fn eddsa_token_with_an_ec_key_is_a_key_algorithm_mismatch() {
    // RFC 8037 §3.1: EdDSA verifies with an OKP key only. Ed25519 and ES256 signatures are both
    // 64 octets, so the refusal can only come from the key's type, never from a length.
    let ed25519 = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let token = sign_compact(&ed25519, None, b"{}").unwrap();
    let jws = parse(&token).unwrap();
    assert_eq!(jws.signature().len(), 64);
    for algorithm in [Algorithm::Es256, Algorithm::Es384] {
        let ec = SigningKey::generate(algorithm).unwrap();
        let error = jws.verify_with(ec.verification_key()).unwrap_err();
        assert_eq!(error, JoseError::KeyAlgorithmMismatch, "{algorithm}");
        let error = verify_signature(ec.verification_key(), Algorithm::EdDsa, b"{}", &[1; 64]);
        assert_eq!(error, Err(JoseError::KeyAlgorithmMismatch), "{algorithm}");
    }
    // And the other way round: an ES256 token against the Ed25519 key.
    let (_, es256) = es256_token();
    let error = parse(&es256).unwrap().verify_with(ed25519.verification_key()).unwrap_err();
    assert_eq!(error, JoseError::KeyAlgorithmMismatch);
    assert!(jws.verify_with(ed25519.verification_key()).is_ok());
}

#[test]
fn ps256_token_with_the_same_rsa_key_as_rs256_is_a_key_algorithm_mismatch() {
    let key = SigningKey::generate(Algorithm::Ps256).unwrap();
    let token = sign_compact(&key, None, b"{}").unwrap();
    let mut jwk = key.verification_key().to_jwk();
    jwk.remove("alg");
    let as_rs256 = import(&jwk, Some(Algorithm::Rs256)).unwrap();
    let jws = parse(&token).unwrap();
    assert_eq!(jws.verify_with(&as_rs256).unwrap_err(), JoseError::KeyAlgorithmMismatch);
    let as_ps256 = import(&jwk, Some(Algorithm::Ps256)).unwrap();
    assert!(jws.verify_with(&as_ps256).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Positives: signing, PEM import, Debug
// ---------------------------------------------------------------------------------------------

#[test]
fn sign_compact_parses_and_verifies_for_every_algorithm() {
    for algorithm in Algorithm::ALL {
        let key = SigningKey::generate(algorithm).unwrap();
        let payload = br#"{"iss":"https://idp.example","sub":"u1"}"#;
        let token = sign_compact(&key, Some("oauth-id-jag+jwt"), payload).unwrap();
        let options = ParseOptions::new(AlgorithmSet::only(&[algorithm]));
        let jws = CompactJws::parse(&token, &options).unwrap();
        let header = jws.header();
        assert_eq!(header.algorithm(), algorithm);
        assert_eq!(header.typ(), Some("oauth-id-jag+jwt"));
        assert!(header.typ_is("oauth-id-jag+jwt"));
        assert_eq!(header.kid(), key.kid());
        assert_eq!(key.kid(), Some(key.verification_key().thumbprint()));
        assert_eq!(header.cty(), None);
        let header_json = String::from_utf8(unb64(&segments(&token)[0])).unwrap();
        let expected = format!(
            r#"{{"alg":"{}","typ":"oauth-id-jag+jwt","kid":"{}"}}"#,
            algorithm.name(),
            key.kid().unwrap()
        );
        assert_eq!(header_json, expected);
        assert_eq!(jws.unverified_payload(), payload);
        assert_eq!(jws.signing_input(), token.rsplit_once('.').unwrap().0.as_bytes());
        jws.verify_with(key.verification_key()).unwrap();
        let set = KeySet::new(vec![key.verification_key().clone()]).unwrap();
        jws.verify_with_key_set(&set).unwrap();
        assert_eq!(jws.into_unverified_payload(), payload);
    }
}

#[test]
fn compact_jws_debug_shows_the_header_only() {
    // The token may be a bearer credential: its payload and signature stay out of logs.
    let (_, token) = es256_token();
    let jws = parse(&token).unwrap();
    let debug = format!("{jws:?}");
    assert!(debug.starts_with("CompactJws") && debug.contains("Es256"), "{debug}");
    assert!(debug.contains("oauth-id-jag+jwt"), "{debug}");
    let parts = segments(&token);
    assert!(!debug.contains(&parts[1]) && !debug.contains(&parts[2]), "{debug}");
    assert!(!debug.contains("https://idp"), "{debug}");
}

#[test]
fn sign_compact_without_typ_omits_it() {
    let key = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let token = sign_compact(&key, None, b"{}").unwrap();
    let header_json = String::from_utf8(unb64(&segments(&token)[0])).unwrap();
    assert_eq!(header_json, format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, key.kid().unwrap()));
    assert_eq!(parse(&token).unwrap().header().typ(), None);
}

/// Sign and verify with a PEM-imported key, and check its kid defaults to the thumbprint.
fn check_pem_key(pem: &[u8], algorithm: Algorithm) -> SigningKey {
    let key = SigningKey::from_pem(pem, algorithm, None).unwrap();
    assert_eq!(Signer::algorithm(&key), algorithm);
    assert_eq!(key.verification_key().algorithm(), algorithm);
    assert_eq!(key.kid(), Some(key.verification_key().thumbprint()));
    let token = sign_compact(&key, Some("oauth-id-jag+jwt"), b"{}").unwrap();
    let options = ParseOptions::new(AlgorithmSet::only(&[algorithm]));
    CompactJws::parse(&token, &options).unwrap().verify_with(key.verification_key()).unwrap();
    let named = SigningKey::from_pem(pem, algorithm, Some("pem-key-1")).unwrap();
    assert_eq!(named.kid(), Some("pem-key-1"));
    key
}

#[test]
fn from_pem_rs256_and_ps256_from_one_ordinary_rsa_key() {
    let rsa = Rsa::generate(2048).unwrap();
    let n = b64(rsa.n().to_vec());
    let pkcs8 = PKey::from_rsa(rsa.clone()).unwrap().private_key_to_pem_pkcs8().unwrap();
    let pkcs1 = rsa.private_key_to_pem().unwrap();
    for pem in [&pkcs8, &pkcs1] {
        for algorithm in [Algorithm::Rs256, Algorithm::Ps256] {
            let key = check_pem_key(pem, algorithm);
            assert_eq!(key.verification_key().to_jwk()["n"], n.as_str());
        }
    }
}

#[test]
fn from_pem_es256() {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = EcKey::generate(&group).unwrap();
    let pkcs8 = PKey::from_ec_key(ec.clone()).unwrap().private_key_to_pem_pkcs8().unwrap();
    check_pem_key(&pkcs8, Algorithm::Es256);
    check_pem_key(&ec.private_key_to_pem().unwrap(), Algorithm::Es256);
}

#[test]
fn from_pem_es384() {
    let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
    let ec = EcKey::generate(&group).unwrap();
    let pkcs8 = PKey::from_ec_key(ec.clone()).unwrap().private_key_to_pem_pkcs8().unwrap();
    check_pem_key(&pkcs8, Algorithm::Es384);
    check_pem_key(&ec.private_key_to_pem().unwrap(), Algorithm::Es384);
}

#[test]
fn from_pem_eddsa() {
    let ed = PKey::generate_ed25519().unwrap();
    let key = check_pem_key(&ed.private_key_to_pem_pkcs8().unwrap(), Algorithm::EdDsa);
    assert_eq!(key.verification_key().to_jwk()["x"], b64(ed.raw_public_key().unwrap()).as_str());
}

#[test]
fn from_pem_of_the_wrong_kind_is_malformed() {
    let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
    let p384 = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let pem = p384.private_key_to_pem_pkcs8().unwrap();
    let refused = SigningKey::from_pem(&pem, Algorithm::Es256, None);
    assert_refused(refused, KeyError::Malformed, "key_malformed");
    let refused = SigningKey::from_pem(&pem, Algorithm::Rs256, None);
    assert_refused(refused, KeyError::Malformed, "key_malformed");
    let refused = SigningKey::from_pem(b"not a pem", Algorithm::EdDsa, None);
    assert_refused(refused, KeyError::Malformed, "key_malformed");
}

#[test]
fn signing_key_debug_never_shows_the_private_key() {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = EcKey::generate(&group).unwrap();
    let d = ec.private_key().to_vec_padded(32).unwrap();
    let pem = PKey::from_ec_key(ec).unwrap().private_key_to_pem_pkcs8().unwrap();
    let key = SigningKey::from_pem(&pem, Algorithm::Es256, Some("debug-kid")).unwrap();
    let debug = format!("{key:?}");
    let pretty = format!("{key:#?}");
    assert!(debug.contains("SigningKey") && debug.contains("debug-kid"), "{debug}");
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    let hex_upper = hex.to_uppercase();
    for text in [&debug, &pretty] {
        assert!(!text.contains(&b64(&d)), "{text}");
        assert!(!text.contains(&hex) && !text.contains(&hex_upper), "{text}");
        assert!(!text.contains(&format!("{d:?}")), "{text}");
    }

    let ed = PKey::generate_ed25519().unwrap();
    let d = ed.raw_private_key().unwrap();
    let key = SigningKey::from_pem(&ed.private_key_to_pem_pkcs8().unwrap(), Algorithm::EdDsa, None);
    let debug = format!("{:?}", key.unwrap());
    assert!(!debug.contains(&b64(&d)), "{debug}");
}

// ---------------------------------------------------------------------------------------------
// Reason codes
// ---------------------------------------------------------------------------------------------

#[test]
fn every_reason_is_distinct_and_non_empty() {
    let jose = [
        JoseError::TooLarge,
        JoseError::SegmentCount,
        JoseError::Base64,
        JoseError::HeaderNotJson,
        JoseError::HeaderDuplicateMember,
        JoseError::HeaderMemberType("alg"),
        JoseError::AlgorithmMissing,
        JoseError::AlgorithmUnsupported,
        JoseError::AlgorithmNotAllowed,
        JoseError::CritEmpty,
        JoseError::CritUnsupported,
        JoseError::B64Unsupported,
        JoseError::EmbeddedKey,
        JoseError::TypMismatch,
        JoseError::KeyNotFound,
        JoseError::KidRequired,
        JoseError::NoKeyForAlgorithm,
        JoseError::KeyAlgorithmMismatch,
        JoseError::SignatureLength,
        JoseError::SignatureInvalid,
        JoseError::SigningFailed,
    ];
    let key = [
        KeyError::Malformed,
        KeyError::DuplicateMember,
        KeyError::MissingMember("kty"),
        KeyError::InvalidMember("n"),
        KeyError::SymmetricKey,
        KeyError::UnsupportedKeyType,
        KeyError::UnsupportedAlgorithm,
        KeyError::AlgorithmMismatch,
        KeyError::UnsupportedCurve,
        KeyError::UseNotSig,
        KeyError::KeyOpsForbid,
        KeyError::PrivateMembers,
        KeyError::MissingPrivateKey,
        KeyError::RsaModulusTooSmall,
        KeyError::RsaModulusTooLarge,
        KeyError::RsaModulusEven,
        KeyError::RsaRocaWeak,
        KeyError::RsaExponent,
        KeyError::NonMinimalInteger,
        KeyError::EcCoordinateLength,
        KeyError::EcPointInvalid,
        KeyError::OkpKeyLength,
        KeyError::BackendRejected,
        KeyError::PairMismatch,
        KeyError::DuplicateKid,
        KeyError::NotAKeySet,
    ];
    let mut reasons: Vec<&str> = jose.iter().map(|e| e.reason()).collect();
    reasons.extend(key.iter().map(|e| e.reason()));
    let messages: Vec<String> =
        jose.iter().map(ToString::to_string).chain(key.iter().map(ToString::to_string)).collect();
    assert_eq!(reasons.len(), 47);
    for reason in &reasons {
        assert!(!reason.is_empty());
        assert!(reason.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
    }
    let mut unique = reasons.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), reasons.len(), "repeated reason in {reasons:?}");
    assert!(messages.iter().all(|message| !message.is_empty()));
}

#[test]
fn jwks_documents_over_one_mebibyte_are_refused_unread() {
    let padding = " ".repeat(KeySet::MAX_JWKS_LEN);
    let document = format!("{{\"keys\":[]{padding}}}");
    assert!(document.len() > KeySet::MAX_JWKS_LEN);
    assert_eq!(KeySet::from_jwks(document.as_bytes()).unwrap_err(), KeyError::NotAKeySet);
    // Just under the cap, the same document is read.
    let document = format!("{{\"keys\":[]{}}}", " ".repeat(KeySet::MAX_JWKS_LEN - 20));
    assert!(KeySet::from_jwks(document.as_bytes()).unwrap().keys.is_empty());
    // The cap is 1 MiB exactly: a document of that length is read, one byte more is not.
    assert_eq!(KeySet::MAX_JWKS_LEN, 1 << 20);
    let at_cap = format!("{{\"keys\":[]{}}}", " ".repeat(KeySet::MAX_JWKS_LEN - 11));
    assert_eq!(at_cap.len(), KeySet::MAX_JWKS_LEN);
    assert!(KeySet::from_jwks(at_cap.as_bytes()).is_ok());
    let over = format!("{at_cap} ");
    assert_eq!(KeySet::from_jwks(over.as_bytes()).unwrap_err(), KeyError::NotAKeySet);
}

// ---------------------------------------------------------------------------------------------
// Accessors, formatting and defaults (each once found unchecked by mutation testing)
// ---------------------------------------------------------------------------------------------

#[test]
fn algorithms_display_and_sets_debug_by_name() {
    for algorithm in Algorithm::ALL {
        assert_eq!(algorithm.to_string(), algorithm.name());
    }
    let set = AlgorithmSet::only(&[Algorithm::EdDsa, Algorithm::Rs256]);
    assert_eq!(format!("{set:?}"), r#"{"RS256", "EdDSA"}"#);
    assert_eq!(format!("{:?}", AlgorithmSet::only(&[])), "{}");
}

#[test]
fn algorithm_sets_are_unions_and_know_when_they_are_empty() {
    // Naming an algorithm twice allows it, once.
    let twice = AlgorithmSet::only(&[Algorithm::Es256, Algorithm::Es256]);
    assert!(twice.contains(Algorithm::Es256));
    assert_eq!(twice.iter().collect::<Vec<_>>(), [Algorithm::Es256]);
    assert!(!twice.is_empty());
    assert!(AlgorithmSet::only(&[]).is_empty());
    assert!(!AlgorithmSet::all().is_empty());
}

#[test]
fn parse_options_keep_their_allow_list_and_default_to_16_kib() {
    let only = AlgorithmSet::only(&[Algorithm::Es256]);
    assert_eq!(ParseOptions::new(only).allowed(), only);
    assert_eq!(ParseOptions::DEFAULT_MAX_LEN, 16 * 1024);

    // Under the default cap a 16 KiB token is read; one byte more is refused unread.
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let sized = |target: usize| {
        let probe = sign_compact(&key, None, br#"{"p":""}"#).unwrap();
        let padding = "a".repeat((target - probe.len()) / 4 * 3);
        let token = sign_compact(&key, None, format!(r#"{{"p":"{padding}"}}"#).as_bytes());
        token.unwrap()
    };
    let token = sized(16 * 1024);
    assert!(token.len() <= 16 * 1024 && token.len() > 16 * 1024 - 8, "{}", token.len());
    assert!(parse(&token).is_ok());
    let long = format!("{token}{}", "A".repeat(16 * 1024 + 1 - token.len()));
    assert_eq!(parse(&long).unwrap_err(), JoseError::TooLarge);
}

#[test]
fn header_members_are_read_as_sent() {
    let header = br#"{"alg":"ES256","typ":"JWT","kid":"k-1","cty":"application/example"}"#;
    let text = token(header, b"{}", &[0; 64]);
    let jws = parse(&text).unwrap();
    assert_eq!(jws.header().algorithm(), Algorithm::Es256);
    assert_eq!(jws.header().typ(), Some("JWT"));
    assert_eq!(jws.header().kid(), Some("k-1"));
    assert_eq!(jws.header().cty(), Some("application/example"));
    let bare = token(br#"{"alg":"ES256"}"#, b"{}", &[0; 64]);
    let jws = parse(&bare).unwrap();
    assert_eq!((jws.header().typ(), jws.header().kid(), jws.header().cty()), (None, None, None));
}

#[test]
fn signing_key_set_publishes_the_active_key_once() {
    // Rotation: the active key, plus keys still or already published; the active key listed
    // again among them is published once, not refused as a repeated kid.
    let active = SigningKey::generate(Algorithm::Es256).unwrap();
    let next = SigningKey::generate(Algorithm::Es256).unwrap();
    let published = vec![active.verification_key().clone(), next.verification_key().clone()];
    let active_kid = active.kid().map(str::to_owned);
    let set = id_jag::jose::SigningKeySet::new(active, published).unwrap();
    assert_eq!(set.verification_keys().len(), 2);
    assert!(!set.verification_keys().is_empty());
    // The set signs as its active key, and names it in the header.
    assert_eq!(set.key_id().map(str::to_owned), active_kid);
    let token = sign_compact(&set, None, b"{}").unwrap();
    assert_eq!(parse(&token).unwrap().header().kid().map(str::to_owned), active_kid);
    parse(&token).unwrap().verify_with_key_set(set.verification_keys()).unwrap();
}

#[test]
fn verification_key_debug_shows_identifiers_only() {
    let key = SigningKey::generate(Algorithm::Rs256).unwrap();
    let public = key.verification_key();
    let debug = format!("{public:?}");
    assert!(debug.starts_with("VerificationKey") && debug.contains("Rs256"), "{debug}");
    assert!(debug.contains(public.thumbprint()), "{debug}");
    let jwk = public.to_jwk();
    let modulus = jwk["n"].as_str().unwrap();
    assert!(!debug.contains(&modulus[..32]), "no key material: {debug}");
}
