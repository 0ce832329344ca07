//! Published RFC examples run against the JOSE layer's public API.
//!
//! - RFC 7515 Appendix A.2 (RS256) and A.3 (ES256): the example public keys verify the example
//!   compact JWSs, through [`CompactJws`] and through the low-level [`verify_signature`], and a
//!   one-bit change to either signature is refused.
//! - RFC 8037 Appendix A.1, A.4 and A.5 (Ed25519): the example private key reproduces the
//!   published signature byte for byte (Ed25519 is deterministic) and its public half verifies
//!   the example JWS.
//! - RFC 7638 §3.1 and RFC 8037 Appendix A.3: the published JWK thumbprints.
//!
//! Every constant below is transcribed from the RFC section named next to it; the RFCs wrap
//! long base64url values over several lines, which are joined here without any other change.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use id_jag::jose::{
    Algorithm, AlgorithmSet, CompactJws, JoseError, ParseOptions, SigningKey, VerificationKey,
    verify_signature,
};

/// RFC 7515 Appendix A.2.1 and A.3.1: BASE64URL of the JWS Payload shared by the A.1 to A.3
/// examples.
const RFC7515_PAYLOAD_B64: &str = concat!(
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt",
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
);

/// RFC 7515 Appendix A.1.1 (reused by A.2 and A.3): the payload octets, with CR LF line breaks
/// and a leading space on the second and third lines.
const RFC7515_PAYLOAD: &[u8] =
    b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

/// RFC 7515 Appendix A.2.1: the RSA key's public members, `n` and `e`.
const RFC7515_A2_PUBLIC_JWK: &str = concat!(
    r#"{"kty":"RSA","#,
    r#""n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"#,
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_",
    "YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5",
    "z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uD",
    "Zlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9i",
    "aGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    r#"","e":"AQAB"}"#,
);

/// RFC 7515 Appendix A.2.1: BASE64URL(UTF8(JWS Protected Header)) for `{"alg":"RS256"}`.
const RFC7515_A2_HEADER_B64: &str = "eyJhbGciOiJSUzI1NiJ9";

/// RFC 7515 Appendix A.2.1: BASE64URL(JWS Signature).
const RFC7515_A2_SIGNATURE_B64: &str = concat!(
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7",
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4",
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K",
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv",
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB",
    "p0igcN_IoypGlUPQGe77Rw",
);

/// RFC 7515 Appendix A.3.1: the P-256 key's public members, `x` and `y`.
const RFC7515_A3_PUBLIC_JWK: &str = concat!(
    r#"{"kty":"EC","crv":"P-256","#,
    r#""x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","#,
    r#""y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
);

/// RFC 7515 Appendix A.3.1: BASE64URL(UTF8(JWS Protected Header)) for `{"alg":"ES256"}`.
const RFC7515_A3_HEADER_B64: &str = "eyJhbGciOiJFUzI1NiJ9";

/// RFC 7515 Appendix A.3.1: BASE64URL(JWS Signature). ECDSA is randomized, so this is one valid
/// signature among many and can only be verified, not reproduced.
const RFC7515_A3_SIGNATURE_B64: &str = concat!(
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA",
    "pmWQxfKTUJqPP3-Kg6NU1Q",
);

/// RFC 8037 Appendix A.1: the Ed25519 private key, `d` and `x`.
const RFC8037_A1_PRIVATE_JWK: &str = concat!(
    r#"{"kty":"OKP","crv":"Ed25519","#,
    r#""d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","#,
    r#""x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
);

/// RFC 8037 Appendix A.2: the public key, `x` only.
const RFC8037_A2_PUBLIC_JWK: &str = concat!(
    r#"{"kty":"OKP","crv":"Ed25519","#,
    r#""x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
);

/// RFC 8037 Appendix A.3: the JWK thumbprint of the A.2 public key.
const RFC8037_A3_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

/// RFC 8037 Appendix A.4: the JWS Signing Input (header `{"alg":"EdDSA"}`, payload
/// "Example of Ed25519 signing").
const RFC8037_A4_SIGNING_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";

/// RFC 8037 Appendix A.4: the signature, base64url.
const RFC8037_A4_SIGNATURE_B64: &str = concat!(
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B",
    "hVsPt9g7sVvpAr_MuM0KAg",
);

/// RFC 7638 §3.1: the example RSA public key (the key of RFC 7517 Appendix A.1), with its
/// `alg` and `kid`, which the thumbprint ignores.
const RFC7638_JWK: &str = concat!(
    r#"{"kty":"RSA","#,
    r#""n":""#,
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86z",
    "wu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5Js",
    "GY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic",
    "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-",
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF",
    "Cur-kEgU8awapJzKnqDKgw",
    r#"","#,
    r#""e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
);

/// RFC 7638 §3.1: the resulting thumbprint.
const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("RFC value is base64url")
}

fn compact(header_b64: &str, payload_b64: &str, signature_b64: &str) -> String {
    format!("{header_b64}.{payload_b64}.{signature_b64}")
}

/// The signature with its last bit flipped: same length, different value.
fn flip_last_bit(signature: &[u8]) -> Vec<u8> {
    let mut flipped = signature.to_vec();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    flipped
}

/// Verify an RFC 7515 example both ways, and check a one-bit change is refused both ways.
fn check_rfc7515_example(
    key: &VerificationKey,
    algorithm: Algorithm,
    header_b64: &str,
    signature_b64: &str,
) {
    let token = compact(header_b64, RFC7515_PAYLOAD_B64, signature_b64);
    let options = ParseOptions::new(AlgorithmSet::only(&[algorithm]));
    let jws = CompactJws::parse(&token, &options).expect("the RFC example parses");
    assert_eq!(jws.header().algorithm(), algorithm);
    assert_eq!(jws.header().typ(), None);
    assert_eq!(jws.header().kid(), None);
    assert_eq!(jws.unverified_payload(), RFC7515_PAYLOAD, "payload keeps its CR LF");
    assert_eq!(jws.verify_with(key), Ok(()));

    let signing_input = format!("{header_b64}.{RFC7515_PAYLOAD_B64}");
    assert_eq!(jws.signing_input(), signing_input.as_bytes());
    let signature = b64(signature_b64);
    assert_eq!(verify_signature(key, algorithm, signing_input.as_bytes(), &signature), Ok(()));

    let flipped = flip_last_bit(&signature);
    assert_eq!(
        verify_signature(key, algorithm, signing_input.as_bytes(), &flipped),
        Err(JoseError::SignatureInvalid)
    );
    let tampered = compact(header_b64, RFC7515_PAYLOAD_B64, &URL_SAFE_NO_PAD.encode(&flipped));
    let tampered = CompactJws::parse(&tampered, &options).expect("still well-formed");
    assert_eq!(tampered.verify_with(key), Err(JoseError::SignatureInvalid));

    // The signing input is part of what is signed: a changed payload is refused too.
    let mut other_input = signing_input.into_bytes();
    other_input.push(b'A');
    assert_eq!(
        verify_signature(key, algorithm, &other_input, &signature),
        Err(JoseError::SignatureInvalid)
    );
}

#[test]
fn rfc7515_payload_transcription() {
    // RFC 7515 Appendix A.1.1: the payload base64url decodes to the CR LF-separated JSON.
    assert_eq!(b64(RFC7515_PAYLOAD_B64), RFC7515_PAYLOAD);
    assert_eq!(b64(RFC7515_A2_HEADER_B64), br#"{"alg":"RS256"}"#);
    assert_eq!(b64(RFC7515_A3_HEADER_B64), br#"{"alg":"ES256"}"#);
}

#[test]
fn rfc7515_a2_rs256() {
    let key = VerificationKey::from_jwk(RFC7515_A2_PUBLIC_JWK.as_bytes(), Some(Algorithm::Rs256))
        .expect("RFC 7515 A.2 public key imports");
    assert_eq!(key.algorithm(), Algorithm::Rs256);
    // A 2048-bit modulus: 256-octet signatures.
    assert_eq!(key.signature_len(), 256);
    assert_eq!(b64(RFC7515_A2_SIGNATURE_B64).len(), 256);
    check_rfc7515_example(&key, Algorithm::Rs256, RFC7515_A2_HEADER_B64, RFC7515_A2_SIGNATURE_B64);
}

#[test]
fn rfc7515_a2_refused_when_alg_not_allowed() {
    // The same valid token, with RS256 outside the caller's allow-list, never reaches the key.
    let token = compact(RFC7515_A2_HEADER_B64, RFC7515_PAYLOAD_B64, RFC7515_A2_SIGNATURE_B64);
    let options = ParseOptions::new(AlgorithmSet::only(&[Algorithm::Es256]));
    assert_eq!(CompactJws::parse(&token, &options).err(), Some(JoseError::AlgorithmNotAllowed));
}

#[test]
fn rfc7515_a3_es256() {
    let key = VerificationKey::from_jwk(RFC7515_A3_PUBLIC_JWK.as_bytes(), Some(Algorithm::Es256))
        .expect("RFC 7515 A.3 public key imports");
    assert_eq!(key.algorithm(), Algorithm::Es256);
    assert_eq!(key.signature_len(), 64);
    check_rfc7515_example(&key, Algorithm::Es256, RFC7515_A3_HEADER_B64, RFC7515_A3_SIGNATURE_B64);
}

#[test]
fn rfc7515_keys_do_not_cross_verify() {
    // The A.2 signature under the A.3 key: the algorithm mismatch is caught before OpenSSL.
    let ec = VerificationKey::from_jwk(RFC7515_A3_PUBLIC_JWK.as_bytes(), Some(Algorithm::Es256))
        .expect("RFC 7515 A.3 public key imports");
    let signing_input = format!("{RFC7515_A2_HEADER_B64}.{RFC7515_PAYLOAD_B64}");
    assert_eq!(
        verify_signature(
            &ec,
            Algorithm::Rs256,
            signing_input.as_bytes(),
            &b64(RFC7515_A2_SIGNATURE_B64)
        ),
        Err(JoseError::KeyAlgorithmMismatch)
    );
}

#[test]
fn rfc8037_a4_ed25519_sign_is_deterministic() {
    let key = SigningKey::from_jwk(RFC8037_A1_PRIVATE_JWK.as_bytes(), Some(Algorithm::EdDsa))
        .expect("RFC 8037 A.1 private key imports");
    let signature =
        key.sign(RFC8037_A4_SIGNING_INPUT.as_bytes()).expect("signing the A.4 input succeeds");
    assert_eq!(signature, b64(RFC8037_A4_SIGNATURE_B64), "RFC 8037 A.4 signature");
    assert_eq!(URL_SAFE_NO_PAD.encode(&signature), RFC8037_A4_SIGNATURE_B64);
}

#[test]
fn rfc8037_a5_ed25519_verify() {
    let private = SigningKey::from_jwk(RFC8037_A1_PRIVATE_JWK.as_bytes(), Some(Algorithm::EdDsa))
        .expect("RFC 8037 A.1 private key imports");
    let key = private.verification_key();
    assert_eq!(key.algorithm(), Algorithm::EdDsa);

    // RFC 8037 A.5: the A.4 JWS Signing Input joined with the A.4 signature.
    let token = format!("{RFC8037_A4_SIGNING_INPUT}.{RFC8037_A4_SIGNATURE_B64}");
    let options = ParseOptions::new(AlgorithmSet::only(&[Algorithm::EdDsa]));
    let jws = CompactJws::parse(&token, &options).expect("the RFC 8037 JWS parses");
    assert_eq!(jws.header().algorithm(), Algorithm::EdDsa);
    assert_eq!(jws.unverified_payload(), b"Example of Ed25519 signing");
    assert_eq!(jws.verify_with(key), Ok(()));

    // The A.2 public JWK, imported on its own, is the same key.
    let public = VerificationKey::from_jwk(RFC8037_A2_PUBLIC_JWK.as_bytes(), None)
        .expect("RFC 8037 A.2 public key imports");
    assert_eq!(public.algorithm(), Algorithm::EdDsa);
    assert_eq!(jws.verify_with(&public), Ok(()));

    let signature = b64(RFC8037_A4_SIGNATURE_B64);
    let input = RFC8037_A4_SIGNING_INPUT.as_bytes();
    assert_eq!(verify_signature(&public, Algorithm::EdDsa, input, &signature), Ok(()));
    assert_eq!(
        verify_signature(&public, Algorithm::EdDsa, input, &flip_last_bit(&signature)),
        Err(JoseError::SignatureInvalid)
    );
}

#[test]
fn rfc7638_rsa_thumbprint() {
    let key =
        VerificationKey::from_jwk(RFC7638_JWK.as_bytes(), None).expect("the RFC 7638 key imports");
    assert_eq!(key.thumbprint(), RFC7638_THUMBPRINT);
    assert_eq!(key.kid(), Some("2011-04-29"));
}

#[test]
fn rfc8037_a3_ed25519_thumbprint() {
    let public = VerificationKey::from_jwk(RFC8037_A2_PUBLIC_JWK.as_bytes(), None)
        .expect("RFC 8037 A.2 public key imports");
    assert_eq!(public.thumbprint(), RFC8037_A3_THUMBPRINT);

    // The private key's public half has the same thumbprint: only public members count.
    let private = SigningKey::from_jwk(RFC8037_A1_PRIVATE_JWK.as_bytes(), None)
        .expect("RFC 8037 A.1 private key imports");
    assert_eq!(private.verification_key().thumbprint(), RFC8037_A3_THUMBPRINT);
}
