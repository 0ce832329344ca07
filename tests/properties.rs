//! Property tests (proptest): the claim set survives a JSON round trip whatever the builder is
//! given, scope sets obey set algebra, compact JWS signing and parsing are inverse, and no
//! single-byte change to a valid ID-JAG is ever redeemed.
//!
//! Case counts are modest (256 per property) so the file runs in seconds in debug builds; raise
//! them with `PROPTEST_CASES=10000 cargo test --test properties`.

use std::sync::{Arc, OnceLock};

use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{
    Actor, AuthorizationDetail, IdJagClaims, IdJagClaimsBuilder, RequiredClaims, SamlNameId,
    SubjectIdentifier,
};
use id_jag::jose::{
    AlgorithmSet, CompactJws, KeySet, ParseOptions, Signer, SigningKey, sign_compact,
};
use id_jag::resource::{
    MemoryReplayGuard, Rejection, ResourceServer, ResourceServerConfig, TrustedIssuer,
    VerifiedIdJag,
};
use id_jag::scope::Scope;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------------------------
// Claim sets
// ---------------------------------------------------------------------------------------------

/// Everything a claim set is built from, kept so the built claims can be checked against it.
#[derive(Clone, Debug)]
struct ClaimSpec {
    issuer: String,
    subject: String,
    audience: String,
    client_id: String,
    jwt_id: String,
    issued_at: u64,
    expires_at: u64,
    not_before: Option<u64>,
    resources: Option<Vec<String>>,
    scope: Option<Scope>,
    authorization_details: Option<Vec<AuthorizationDetail>>,
    actor: Option<Actor>,
    strings: [Option<String>; 5],
    auth_time: Option<u64>,
    amr: Option<Vec<String>>,
    sub_id: Option<SubjectIdentifier>,
    cnf_jkt: Option<String>,
    extra: Vec<(String, Value)>,
}

impl ClaimSpec {
    fn builder(&self) -> IdJagClaimsBuilder {
        let date = |seconds| NumericDate::from_unix_seconds(seconds).expect("in range");
        let mut builder = IdJagClaims::builder(RequiredClaims {
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            audience: self.audience.clone(),
            client_id: self.client_id.clone(),
            jwt_id: self.jwt_id.clone(),
            issued_at: date(self.issued_at),
            expires_at: date(self.expires_at),
        });
        if let Some(nbf) = self.not_before {
            builder = builder.not_before(date(nbf));
        }
        if let Some(resources) = &self.resources {
            builder = builder.resources(resources.clone());
        }
        if let Some(scope) = &self.scope {
            builder = builder.scope(scope.clone());
        }
        if let Some(details) = &self.authorization_details {
            builder = builder.authorization_details(details.clone());
        }
        if let Some(actor) = &self.actor {
            builder = builder.actor(actor.clone());
        }
        let [tenant, acr, aud_tenant, aud_sub, email] = self.strings.clone();
        if let Some(tenant) = tenant {
            builder = builder.tenant(tenant);
        }
        if let Some(acr) = acr {
            builder = builder.acr(acr);
        }
        if let Some(aud_tenant) = aud_tenant {
            builder = builder.aud_tenant(aud_tenant);
        }
        if let Some(aud_sub) = aud_sub {
            builder = builder.aud_sub(aud_sub);
        }
        if let Some(email) = email {
            builder = builder.email(email);
        }
        if let Some(auth_time) = self.auth_time {
            builder = builder.auth_time(date(auth_time));
        }
        if let Some(amr) = &self.amr {
            builder = builder.amr(amr.clone());
        }
        if let Some(sub_id) = &self.sub_id {
            builder = builder.sub_id(sub_id.clone());
        }
        if let Some(jkt) = &self.cnf_jkt {
            builder = builder.cnf_jkt(jkt.clone());
        }
        for (name, value) in &self.extra {
            builder = builder.extra_claim(name.clone(), value.clone());
        }
        builder
    }
}

/// A non-empty claim string: URL-ish text, any printable text, or anything at all (escapes,
/// control characters, astral planes).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9._:/~-]{1,24}",
        1 => "\\PC{1,12}",
        1 => any::<String>().prop_filter("non-empty", |text| !text.is_empty()),
    ]
}

/// A member name no registered claim (or nested member) uses.
fn extension_name() -> impl Strategy<Value = String> {
    prop_oneof!["x-[a-z0-9_]{0,8}", "x-\\PC{1,6}"]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |float| Number::from_f64(float).map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec(("\\PC{0,8}", inner), 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn scope_token() -> impl Strategy<Value = String> {
    prop_oneof![
        // A small pool, so that two scopes often share tokens.
        2 => prop::sample::select(vec!["read", "write", "admin", "openid", "a:b", "!", "~"])
            .prop_map(str::to_owned),
        1 => "[!#-\\[\\]-~]{1,12}",
    ]
}

/// A non-empty scope.
fn scope() -> impl Strategy<Value = Scope> {
    vec(scope_token(), 1..6).prop_map(|tokens| Scope::from_tokens(tokens).expect("valid tokens"))
}

/// A scope, possibly empty.
fn any_scope() -> impl Strategy<Value = Scope> {
    vec(scope_token(), 0..6).prop_map(|tokens| Scope::from_tokens(tokens).expect("valid tokens"))
}

fn authorization_detail() -> impl Strategy<Value = AuthorizationDetail> {
    (text(), vec((extension_name(), json_value()), 0..3)).prop_map(|(kind, members)| {
        let mut object = Map::new();
        object.insert("type".to_owned(), Value::String(kind));
        object.extend(members);
        AuthorizationDetail::from_value(Value::Object(object)).expect("an object with a type")
    })
}

/// An actor, up to four deep.
fn actor() -> impl Strategy<Value = Actor> {
    let one = (option::of(text()), option::of(text()), vec((extension_name(), json_value()), 0..3))
        .prop_map(|(subject, issuer, claims)| {
            let mut actor = subject.map(Actor::new).unwrap_or_default();
            if let Some(issuer) = issuer {
                actor = actor.with_issuer(issuer);
            }
            claims.into_iter().fold(actor, |actor, (name, value)| actor.with_claim(name, value))
        })
        .boxed();
    one.clone().prop_recursive(3, 4, 1, move |inner| {
        (one.clone(), inner).prop_map(|(actor, nested)| actor.with_actor(nested))
    })
}

fn sub_id() -> impl Strategy<Value = SubjectIdentifier> {
    let saml = (
        (text(), text()),
        (option::of(text()), option::of(text()), option::of(text()), option::of(text())),
        vec((extension_name(), json_value()), 0..3),
    )
        .prop_map(|((issuer, nameid), (format, qualifier, sp_qualifier, sp_id), extra)| {
            SubjectIdentifier::SamlNameId(SamlNameId {
                issuer,
                nameid,
                nameid_format: format,
                name_qualifier: qualifier,
                sp_name_qualifier: sp_qualifier,
                sp_provided_id: sp_id,
                extra: extra.into_iter().collect(),
            })
        });
    let other = (
        text().prop_filter("not saml-nameid", |format| format != "saml-nameid"),
        vec((extension_name(), json_value()), 0..3),
    )
        .prop_map(|(format, members)| {
            let mut object: Map<String, Value> = members.into_iter().collect();
            object.insert("format".to_owned(), Value::String(format));
            SubjectIdentifier::Other(object)
        });
    prop_oneof![saml, other]
}

fn claim_spec() -> impl Strategy<Value = ClaimSpec> {
    let required = (
        (text(), text(), text(), text(), text()),
        (0..NumericDate::MAX_SECONDS)
            .prop_flat_map(|iat| (Just(iat), iat + 1..=NumericDate::MAX_SECONDS)),
    );
    let optional = (
        option::of(0..=NumericDate::MAX_SECONDS),
        option::of(vec(text(), 1..4)),
        option::of(scope()),
        option::of(vec(authorization_detail(), 0..3)),
        option::of(actor()),
        [
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
            option::of(text()),
        ],
        option::of(0..=NumericDate::MAX_SECONDS),
        option::of(vec("\\PC{0,8}", 0..4)),
        option::of(sub_id()),
        option::of(text()),
        vec((extension_name(), json_value()), 0..4),
    );
    (required, optional).prop_map(
        |(
            ((issuer, subject, audience, client_id, jwt_id), (issued_at, expires_at)),
            (nbf, resources, scope, details, actor, strings, auth_time, amr, sub_id, jkt, extra),
        )| ClaimSpec {
            issuer,
            subject,
            audience,
            client_id,
            jwt_id,
            issued_at,
            expires_at,
            not_before: nbf,
            resources,
            scope,
            authorization_details: details,
            actor,
            strings,
            auth_time,
            amr,
            sub_id,
            cnf_jkt: jkt,
            extra,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn built_claims_survive_a_json_round_trip(spec in claim_spec()) {
        let claims = spec.builder().build();
        prop_assert!(claims.is_ok(), "the builder refused {:?}: {:?}", spec, claims);
        let claims = claims.unwrap();

        let json = claims.to_json();
        let parsed = IdJagClaims::from_json(json.as_bytes());
        prop_assert!(parsed.is_ok(), "{:?} on {}", parsed, json);
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed, &claims);
        prop_assert_eq!(parsed.to_json(), json);

        // The builder kept what it was given.
        prop_assert_eq!(claims.issuer(), spec.issuer.as_str());
        prop_assert_eq!(claims.audience().single(), Some(spec.audience.as_str()));
        prop_assert_eq!(claims.expires_at().as_unix_seconds(), spec.expires_at);
        prop_assert_eq!(claims.scope(), spec.scope.as_ref());
        prop_assert_eq!(claims.actor(), spec.actor.as_ref());
        prop_assert_eq!(claims.sub_id(), spec.sub_id.as_ref());
        let resources: Option<Vec<&str>> = claims.resource().map(|r| r.iter().collect());
        let expected: Option<Vec<&str>> =
            spec.resources.as_ref().map(|r| r.iter().map(String::as_str).collect());
        prop_assert_eq!(resources, expected);
        for (name, _) in &spec.extra {
            // A later extra claim of the same name replaces an earlier one.
            let last = spec.extra.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
            prop_assert_eq!(claims.extra_claim(name), last, "{}", name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scope algebra
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn intersection_is_commutative(a in any_scope(), b in any_scope()) {
        prop_assert_eq!(a.intersection(&b), b.intersection(&a));
    }

    #[test]
    fn intersection_is_within_both_sides(a in any_scope(), b in any_scope()) {
        let both = a.intersection(&b);
        prop_assert!(both.is_subset(&a) && both.is_subset(&b));
        // And it is the largest such set: every token of both sides is in it.
        prop_assert!(a.iter().filter(|t| b.contains(t)).all(|t| both.contains(t)));
    }

    #[test]
    fn intersection_is_idempotent(a in any_scope()) {
        prop_assert_eq!(a.intersection(&a), a.clone());
        prop_assert_eq!(a.intersection(&a).to_string(), a.to_string());
    }

    #[test]
    fn subset_agrees_with_intersection(a in any_scope(), b in any_scope()) {
        prop_assert_eq!(a.is_subset(&b), a.intersection(&b) == a);
        prop_assert_eq!(a.is_subset(&b) && b.is_subset(&a), a == b);
    }

    #[test]
    fn difference_and_intersection_split_a_scope(a in any_scope(), b in any_scope()) {
        let outside = a.difference(&b);
        let inside = a.intersection(&b);
        prop_assert!(outside.iter().all(|token| !b.contains(token)));
        prop_assert_eq!(outside.len() + inside.len(), a.len());
    }

    #[test]
    fn parse_inverts_format(s in scope()) {
        let text = s.to_string();
        let parsed = Scope::parse(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&s));
        // Order is kept too: first-seen order survives the trip.
        prop_assert_eq!(parsed.unwrap().to_string(), text);
    }

    #[test]
    fn whatever_parses_formats_canonically(text in "[ -~\t]{0,40}") {
        if let Ok(parsed) = Scope::parse(&text) {
            let formatted = parsed.to_string();
            prop_assert_eq!(Scope::parse(&formatted), Ok(parsed.clone()));
            // Formatting only drops repeated tokens.
            if parsed.len() == text.split(' ').count() {
                prop_assert_eq!(formatted, text);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compact JWS
// ---------------------------------------------------------------------------------------------

/// A fixed ES256 key, generated once for these tests (a test key: it protects nothing).
const ES256_PRIVATE_JWK: &str = concat!(
    r#"{"kty":"EC","crv":"P-256","d":"Xu2Pdor_ZjolPs_2ntzzPOuOw_gGmI_Z_DJsy-zAFT8","#,
    r#""x":"AhhaSVfuE-6s40po9yry_aKLxqdzucVB1mxR1fohGTs","#,
    r#""y":"MdhBVTjdJdTcyv0-Xow6T1RpotxuhHZvP6vXtXncs84","alg":"ES256","use":"sig","#,
    r#""kid":"prop-idp-1"}"#,
);

/// A fixed Ed25519 key without a `kid`.
const ED25519_PRIVATE_JWK: &str = concat!(
    r#"{"kty":"OKP","crv":"Ed25519","d":"DVpmcdW9189VChrkiPaK04bBUtBsoEAnfVELWODBYOQ","#,
    r#""x":"TlHs6nHQ_v6Z-te_EEsYsuAvP1mczC9plidDrBqgLzs"}"#,
);

fn keys() -> &'static [SigningKey; 2] {
    static KEYS: OnceLock<[SigningKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let import = |jwk: &str| SigningKey::from_jwk(jwk.as_bytes(), None).expect("fixed key");
        [import(ES256_PRIVATE_JWK), import(ED25519_PRIVATE_JWK)]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    vec(("\\PC{0,8}", json_value()), 0..6)
        .prop_map(|members| Value::Object(members.into_iter().collect()))
}

/// Sign, parse, verify: the payload and header come back as they went in.
fn sign_then_parse(
    key: &SigningKey,
    typ: Option<&str>,
    payload: &[u8],
) -> Result<(), TestCaseError> {
    let token = sign_compact(key, typ, payload).expect("signing works");
    let options = ParseOptions::new(AlgorithmSet::only(&[key.algorithm()]));
    let jws = CompactJws::parse(&token, &options);
    prop_assert!(jws.is_ok(), "{:?}", jws.err());
    let jws = jws.unwrap();
    prop_assert_eq!(jws.verify_with(key.verification_key()), Ok(()));
    prop_assert_eq!(jws.unverified_payload(), payload);
    prop_assert_eq!(jws.header().typ(), typ);
    prop_assert_eq!(jws.header().kid(), key.kid());
    prop_assert_eq!(jws.header().algorithm(), key.algorithm());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_json_objects_parse_and_verify(
        which in 0..2usize,
        payload in json_object(),
        typ in option::of(prop_oneof!["[ -~]{1,20}", "\\PC{1,8}"]),
    ) {
        let bytes = serde_json::to_vec(&payload).expect("a JSON value serializes");
        sign_then_parse(&keys()[which], typ.as_deref(), &bytes)?;
    }

    #[test]
    fn signed_arbitrary_bytes_parse_and_verify(
        which in 0..2usize,
        payload in vec(any::<u8>(), 0..600),
    ) {
        sign_then_parse(&keys()[which], Some("oauth-id-jag+jwt"), &payload)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Tampering with a valid ID-JAG
// ---------------------------------------------------------------------------------------------

const IDP: &str = "https://idp.example.com";
const AS_ISSUER: &str = "https://as.expenses.example";
const CLIENT: &str = "aria";
const NOW: u64 = 1_764_000_000;

/// One valid ES256 ID-JAG, minted once.
fn valid_id_jag() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let now = NumericDate::from_unix_seconds(NOW).expect("a date");
        let claims = IdJagClaims::builder(RequiredClaims {
            issuer: IDP.into(),
            subject: "00ub0b1c2d".into(),
            audience: AS_ISSUER.into(),
            client_id: CLIENT.into(),
            jwt_id: "jti-tamper".into(),
            issued_at: now,
            expires_at: now.saturating_add_seconds(300),
        })
        .scope(Scope::parse("expenses.read expenses.write").expect("a scope"))
        .build()
        .expect("valid claims");
        sign_compact(&keys()[0], Some("oauth-id-jag+jwt"), claims.to_json().as_bytes())
            .expect("signed")
    })
}

/// Parse, verify and finish `assertion` as the resource AS that trusts the ES256 key, with a
/// fresh replay guard, so that a refusal can only come from the token itself.
fn redeem(assertion: &str) -> Result<VerifiedIdJag, Rejection> {
    let now = NumericDate::from_unix_seconds(NOW).expect("a date");
    let keys = KeySet::new(vec![keys()[0].verification_key().clone()]).expect("one key");
    let issuer = Arc::new(TrustedIssuer::new(IDP, keys));
    let server = ResourceServer::new(ResourceServerConfig::new(AS_ISSUER));
    let client = AuthenticatedClient::confidential(CLIENT);
    let unverified = server.parse(assertion)?;
    let checked = server.verify(unverified, Some(issuer), &client, now)?;
    checked.finish_with(&MemoryReplayGuard::new(16), now)
}

#[test]
fn the_unchanged_id_jag_is_redeemed() {
    let verified = redeem(valid_id_jag()).expect("the valid ID-JAG is accepted");
    assert_eq!(verified.claims().jwt_id(), "jti-tamper");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_byte_change_is_refused(
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = valid_id_jag().as_bytes().to_vec();
        let at = position.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        let tampered = String::from_utf8(bytes);
        prop_assume!(tampered.is_ok(), "not UTF-8");
        let tampered = tampered.unwrap();
        let outcome = redeem(&tampered);
        prop_assert!(outcome.is_err(), "accepted with byte {} = {:#04x}: {}", at, byte, tampered);
    }
}
