//! The ID-JAG claim set: every claim read through its getter, faithful round trips (unknown
//! claims included), and exact refusals for missing claims, wrong types, hostile dates,
//! duplicate members, deep nesting and builder misuse.

use id_jag::claims::{
    Actor, AuthorizationDetail, ClaimsError, IdJagClaims, OneOrMany, RequiredClaims, SamlNameId,
    SubjectIdentifier,
};
use id_jag::scope::{Scope, ScopeError};
use id_jag::{NumericDate, NumericDateError};
use serde_json::{Map, Value, json};

const REQUIRED: [&str; 7] = ["iss", "sub", "aud", "client_id", "jti", "exp", "iat"];

const REGISTERED: [&str; 21] = [
    "iss",
    "sub",
    "aud",
    "client_id",
    "jti",
    "exp",
    "iat",
    "nbf",
    "resource",
    "scope",
    "authorization_details",
    "act",
    "tenant",
    "auth_time",
    "acr",
    "amr",
    "aud_tenant",
    "aud_sub",
    "email",
    "sub_id",
    "cnf",
];

fn date(seconds: u64) -> NumericDate {
    NumericDate::from_unix_seconds(seconds).unwrap()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

/// Only the seven required claims.
fn minimal() -> Map<String, Value> {
    object(json!({
        "iss": "https://idp.example.com",
        "sub": "00u1b2c3",
        "aud": "https://as.expenses.example",
        "client_id": "aria-at-expenses",
        "jti": "9a1f0c3e",
        "exp": 1_764_000_300,
        "iat": 1_764_000_000,
    }))
}

/// Every claim the crate types, plus unknown ones.
fn full() -> Value {
    json!({
        "iss": "https://idp.example.com",
        "sub": "00u1b2c3",
        "aud": "https://as.expenses.example",
        "client_id": "aria-at-expenses",
        "jti": "9a1f0c3e",
        "exp": 1_764_000_300,
        "iat": 1_764_000_000,
        "nbf": 1_763_999_990,
        "resource": "https://api.expenses.example/",
        "scope": "expenses.read expenses.write",
        "authorization_details": [
            {"type": "payment_initiation", "actions": ["initiate"], "locations": ["https://pay"]},
            {"type": "account_information"}
        ],
        "act": {
            "sub": "agent-7",
            "iss": "https://idp.example.com",
            "sub_profile": "ai_agent",
            "act": {"sub": "orchestrator", "sub_profile": "service"}
        },
        "tenant": "acme",
        "auth_time": 1_763_999_000,
        "acr": "urn:mace:incommon:iap:silver",
        "amr": ["pwd", "otp"],
        "aud_tenant": "acme-expenses",
        "aud_sub": "u-42",
        "email": "b@example.com",
        "sub_id": {
            "format": "saml-nameid",
            "issuer": "https://saml.idp.example",
            "nameid": "b@example.com",
            "nameid_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "name_qualifier": "https://saml.idp.example",
            "sp_name_qualifier": "https://sp.expenses.example",
            "sp_provided_id": "sp-77",
            "x_vendor": {"kept": true}
        },
        "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
        "sub_profile": "user",
        "https://example.com/claims": {"nested": {"deep": [1, 2, {"x": null}]}, "flag": true}
    })
}

/// The other wire shapes: `aud` and `resource` as arrays, `sub_id` of another format, `cnf`
/// with another method beside `jkt`.
fn arrays() -> Value {
    let mut claims = minimal();
    claims.insert("aud".into(), json!(["https://as.expenses.example", "https://as.other"]));
    claims.insert("resource".into(), json!(["https://api.one/", "https://api.two/"]));
    claims.insert("sub_id".into(), json!({"format": "email", "email": "b@example.com"}));
    claims.insert("cnf".into(), json!({"jkt": "abc", "x5t#S256": "def"}));
    claims.insert("x_list".into(), json!([1, "two", null, 3.5, false]));
    Value::Object(claims)
}

fn parse(value: &Value) -> Result<IdJagClaims, ClaimsError> {
    IdJagClaims::from_json(&serde_json::to_vec(value).unwrap())
}

/// The minimal claim set with `name` set to `value`.
fn with(name: &str, value: Value) -> Result<IdJagClaims, ClaimsError> {
    let mut claims = minimal();
    claims.insert(name.to_owned(), value);
    parse(&Value::Object(claims))
}

/// The minimal claim set with `name` set to this raw JSON text (for numbers serde_json cannot
/// hold, such as 18446744073709551616).
fn with_raw(name: &str, raw: &str) -> Result<IdJagClaims, ClaimsError> {
    let mut claims = minimal();
    claims.remove(name);
    let text = serde_json::to_string(&claims).unwrap();
    let text = format!("{},\"{name}\":{raw}}}", text.strip_suffix('}').unwrap());
    IdJagClaims::from_json(text.as_bytes())
}

fn required() -> RequiredClaims {
    RequiredClaims {
        issuer: "https://idp.example.com".into(),
        subject: "00u1b2c3".into(),
        audience: "https://as.expenses.example".into(),
        client_id: "aria-at-expenses".into(),
        jwt_id: "9a1f0c3e".into(),
        issued_at: date(1_764_000_000),
        expires_at: date(1_764_000_300),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing every claim
// ---------------------------------------------------------------------------------------------

#[test]
fn full_claim_set_reads_through_every_getter() {
    let claims = parse(&full()).unwrap();
    assert_eq!(claims.issuer(), "https://idp.example.com");
    assert_eq!(claims.subject(), "00u1b2c3");
    assert_eq!(claims.audience(), &OneOrMany::One("https://as.expenses.example".into()));
    assert_eq!(claims.audience().single(), Some("https://as.expenses.example"));
    assert_eq!(claims.client_id(), "aria-at-expenses");
    assert_eq!(claims.jwt_id(), "9a1f0c3e");
    assert_eq!(claims.expires_at(), date(1_764_000_300));
    assert_eq!(claims.issued_at().as_unix_seconds(), 1_764_000_000);
    assert_eq!(claims.not_before(), Some(date(1_763_999_990)));
    assert_eq!(claims.resource(), Some(&OneOrMany::One("https://api.expenses.example/".into())));

    let scope = claims.scope().unwrap();
    assert_eq!(scope, &Scope::parse("expenses.write expenses.read").unwrap());
    assert_eq!(scope.to_string(), "expenses.read expenses.write");

    let details = claims.authorization_details().unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(details[0].detail_type(), "payment_initiation");
    assert_eq!(details[0].members()["actions"], json!(["initiate"]));
    assert_eq!(details[0].members()["locations"], json!(["https://pay"]));
    assert_eq!(details[1].detail_type(), "account_information");
    assert_eq!(details[1].to_value(), json!({"type": "account_information"}));

    let actor = claims.actor().unwrap();
    assert_eq!(actor.subject(), Some("agent-7"));
    assert_eq!(actor.issuer(), Some("https://idp.example.com"));
    assert_eq!(actor.claim("sub_profile"), Some(&json!("ai_agent")));
    assert_eq!(actor.claim("sub"), None, "sub is typed, not another claim");
    let nested = actor.actor().unwrap();
    assert_eq!(nested.subject(), Some("orchestrator"));
    assert_eq!(nested.issuer(), None);
    assert_eq!(nested.claim("sub_profile"), Some(&json!("service")));
    assert!(nested.actor().is_none());

    assert_eq!(claims.tenant(), Some("acme"));
    assert_eq!(claims.auth_time(), Some(date(1_763_999_000)));
    assert_eq!(claims.acr(), Some("urn:mace:incommon:iap:silver"));
    assert_eq!(claims.amr(), Some(&["pwd".to_owned(), "otp".to_owned()][..]));
    assert_eq!(claims.aud_tenant(), Some("acme-expenses"));
    assert_eq!(claims.aud_sub(), Some("u-42"));
    assert_eq!(claims.email(), Some("b@example.com"));

    let sub_id = claims.sub_id().unwrap();
    assert_eq!(sub_id.format(), "saml-nameid");
    let SubjectIdentifier::SamlNameId(nameid) = sub_id else { panic!("not saml-nameid") };
    let expected = SamlNameId {
        issuer: "https://saml.idp.example".into(),
        nameid: "b@example.com".into(),
        nameid_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
        name_qualifier: Some("https://saml.idp.example".into()),
        sp_name_qualifier: Some("https://sp.expenses.example".into()),
        sp_provided_id: Some("sp-77".into()),
        extra: object(json!({"x_vendor": {"kept": true}})),
    };
    assert_eq!(nameid, &expected);

    let cnf = claims.confirmation().unwrap();
    assert_eq!(cnf.jkt.as_deref(), Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
    assert!(cnf.extra.is_empty());

    assert_eq!(claims.extra_claim("sub_profile"), Some(&json!("user")));
    assert_eq!(
        claims.extra_claim("https://example.com/claims"),
        Some(&json!({"nested": {"deep": [1, 2, {"x": null}]}, "flag": true}))
    );
    let extra_names: Vec<_> = claims.extra_claims().keys().map(String::as_str).collect();
    assert_eq!(extra_names, ["sub_profile", "https://example.com/claims"]);
    for name in REGISTERED {
        assert_eq!(claims.extra_claim(name), None, "{name} is typed, not extra");
    }
}

#[test]
fn array_shapes_and_other_sub_id_formats_read_through_getters() {
    let claims = parse(&arrays()).unwrap();
    let aud = claims.audience();
    assert_eq!(
        aud,
        &OneOrMany::Many(vec!["https://as.expenses.example".into(), "https://as.other".into()])
    );
    assert_eq!(aud.len(), 2);
    assert!(!aud.is_empty());
    assert_eq!(aud.single(), None);
    assert_eq!(aud.iter().collect::<Vec<_>>(), ["https://as.expenses.example", "https://as.other"]);
    let resource = claims.resource().unwrap();
    assert_eq!(resource.iter().collect::<Vec<_>>(), ["https://api.one/", "https://api.two/"]);
    assert_eq!(resource.single(), None);

    let sub_id = claims.sub_id().unwrap();
    assert_eq!(sub_id.format(), "email");
    assert_eq!(
        sub_id,
        &SubjectIdentifier::Other(object(json!({"format": "email", "email": "b@example.com"})))
    );
    let cnf = claims.confirmation().unwrap();
    assert_eq!(cnf.jkt.as_deref(), Some("abc"));
    assert_eq!(cnf.extra, object(json!({"x5t#S256": "def"})));
    assert_eq!(claims.extra_claim("x_list"), Some(&json!([1, "two", null, 3.5, false])));

    assert_eq!(claims.not_before(), None);
    assert_eq!(claims.scope(), None);
    assert_eq!(claims.actor(), None);
    assert_eq!(claims.amr(), None);
    assert_eq!(claims.email(), None);
}

#[test]
fn one_element_aud_array_keeps_its_shape_and_is_single() {
    let claims = with("aud", json!(["https://as.only"])).unwrap();
    assert_eq!(claims.audience(), &OneOrMany::Many(vec!["https://as.only".into()]));
    assert_eq!(claims.audience().single(), Some("https://as.only"));
    let json: Value = serde_json::from_str(&claims.to_json()).unwrap();
    assert_eq!(json["aud"], json!(["https://as.only"]));
}

#[test]
fn one_or_many_single() {
    assert_eq!(OneOrMany::One("a".into()).single(), Some("a"));
    assert_eq!(OneOrMany::Many(vec!["a".into()]).single(), Some("a"));
    assert_eq!(OneOrMany::Many(vec!["a".into(), "b".into()]).single(), None);
    assert_eq!(OneOrMany::Many(vec!["a".into(), "a".into()]).single(), None);
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn assert_round_trip(original: &Value) {
    let claims = parse(original).unwrap();
    let json = claims.to_json();
    assert_eq!(IdJagClaims::from_json(json.as_bytes()).unwrap(), claims);
    // Nothing lost, nothing changed: the emitted JSON is the same document.
    let emitted: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(&emitted, original);
}

#[test]
fn full_claim_set_round_trips() {
    assert_round_trip(&full());
}

#[test]
fn act_is_written_member_by_member_in_a_fixed_order() {
    let claims = parse(&full()).unwrap();
    let act = claims.actor().unwrap();
    let expected = concat!(
        r#"{"sub":"agent-7","iss":"https://idp.example.com","sub_profile":"ai_agent","#,
        r#""act":{"sub":"orchestrator","sub_profile":"service"}}"#
    );
    assert_eq!(serde_json::to_string(&act.to_value()).unwrap(), expected);
    let json = claims.to_json();
    assert!(json.contains(&format!(r#""act":{expected}"#)), "{json}");
    assert!(json.contains(r#""aud":"https://as.expenses.example","#), "{json}");
}

#[test]
fn array_shapes_round_trip() {
    assert_round_trip(&arrays());
}

#[test]
fn minimal_claim_set_round_trips() {
    assert_round_trip(&Value::Object(minimal()));
}

#[test]
fn unknown_claims_survive_with_their_values_and_order() {
    let mut claims = minimal();
    claims.insert("zeta".into(), json!({"b": [1, {"c": "d"}], "a": null}));
    claims.insert("alpha".into(), json!(-12));
    claims.insert("sub_profile".into(), json!("ai_agent"));
    claims.insert("big".into(), json!(1.5e10));
    let parsed = parse(&Value::Object(claims)).unwrap();
    let reparsed = IdJagClaims::from_json(parsed.to_json().as_bytes()).unwrap();
    assert_eq!(reparsed, parsed);
    let names: Vec<_> = reparsed.extra_claims().keys().map(String::as_str).collect();
    assert_eq!(names, ["zeta", "alpha", "sub_profile", "big"]);
    assert_eq!(reparsed.extra_claim("zeta"), Some(&json!({"b": [1, {"c": "d"}], "a": null})));
    assert_eq!(reparsed.extra_claim("alpha"), Some(&json!(-12)));
    assert_eq!(reparsed.extra_claim("sub_profile"), Some(&json!("ai_agent")));
    assert_eq!(reparsed.extra_claim("big"), Some(&json!(1.5e10)));
    let tail = concat!(
        r#""iat":1764000000,"zeta":{"b":[1,{"c":"d"}],"a":null},"alpha":-12,"#,
        r#""sub_profile":"ai_agent","big":15000000000.0}"#
    );
    assert!(reparsed.to_json().ends_with(tail), "{}", reparsed.to_json());
}

#[test]
fn built_claim_set_with_every_setter_round_trips() {
    let claims = IdJagClaims::builder(required())
        .not_before(date(1_763_999_990))
        .resources(vec!["https://api.one/".into(), "https://api.two/".into()])
        .scope(Scope::parse("a b").unwrap())
        .authorization_details(vec![
            AuthorizationDetail::from_value(json!({"type": "t", "x": 1})).unwrap(),
        ])
        .actor(
            Actor::new("agent")
                .with_issuer("https://idp")
                .with_claim("sub_profile", json!("ai_agent"))
                .with_actor(Actor::new("root")),
        )
        .tenant("acme")
        .auth_time(date(1_763_999_000))
        .acr("silver")
        .amr(vec!["pwd".into()])
        .aud_tenant("acme-2")
        .aud_sub("u-42")
        .email("b@example.com")
        .sub_id(SubjectIdentifier::SamlNameId(SamlNameId {
            issuer: "https://saml".into(),
            nameid: "b".into(),
            nameid_format: None,
            name_qualifier: None,
            sp_name_qualifier: Some("https://sp".into()),
            sp_provided_id: None,
            extra: Map::new(),
        }))
        .cnf_jkt("thumb")
        .extra_claim("sub_profile", json!("user"))
        .build()
        .unwrap();
    assert_eq!(IdJagClaims::from_json(claims.to_json().as_bytes()).unwrap(), claims);
    assert_eq!(claims.actor().unwrap().actor().unwrap().subject(), Some("root"));
    assert_eq!(claims.actor().unwrap().claim("sub_profile"), Some(&json!("ai_agent")));
    assert_eq!(claims.confirmation().unwrap().jkt.as_deref(), Some("thumb"));
    assert_eq!(claims.extra_claim("sub_profile"), Some(&json!("user")));
    let json: Value = serde_json::from_str(&claims.to_json()).unwrap();
    assert_eq!(
        json["sub_id"],
        json!({"format": "saml-nameid", "issuer": "https://saml", "nameid": "b",
               "sp_name_qualifier": "https://sp"})
    );
    assert_eq!(json["act"]["act"], json!({"sub": "root"}));
}

// ---------------------------------------------------------------------------------------------
// Missing and mistyped claims
// ---------------------------------------------------------------------------------------------

#[test]
fn each_required_claim_missing_is_reported_by_name() {
    for name in REQUIRED {
        let mut claims = minimal();
        claims.remove(name);
        let error = parse(&Value::Object(claims)).unwrap_err();
        assert_eq!(error, ClaimsError::Missing(name));
        assert_eq!(error.claim(), Some(name));
        assert_eq!(error.reason(), "claim_missing");
    }
}

#[test]
fn each_required_claim_null_is_not_absent() {
    for name in REQUIRED {
        let error = with(name, Value::Null).unwrap_err();
        assert!(!matches!(error, ClaimsError::Missing(_)), "{name}: {error:?}");
        assert_eq!(error.claim(), Some(name));
    }
}

#[test]
fn wrong_types_are_never_read_as_absent() {
    let not_a_number = NumericDateError::NotANumber;
    let cases: Vec<(&str, Value, ClaimsError)> = vec![
        ("exp", json!(null), ClaimsError::InvalidDate { claim: "exp", error: not_a_number }),
        ("nbf", json!(null), ClaimsError::InvalidDate { claim: "nbf", error: not_a_number }),
        ("iss", json!(5), ClaimsError::WrongType("iss")),
        ("iss", json!(null), ClaimsError::WrongType("iss")),
        ("sub", json!(["a"]), ClaimsError::WrongType("sub")),
        ("aud", json!([]), ClaimsError::Empty("aud")),
        ("aud", json!([5]), ClaimsError::WrongType("aud")),
        ("aud", json!(["a", 5]), ClaimsError::WrongType("aud")),
        ("aud", json!(""), ClaimsError::Empty("aud")),
        ("aud", json!(["a", ""]), ClaimsError::Empty("aud")),
        ("aud", json!(null), ClaimsError::WrongType("aud")),
        ("aud", json!({"a": 1}), ClaimsError::WrongType("aud")),
        ("resource", json!([]), ClaimsError::Empty("resource")),
        ("resource", json!(5), ClaimsError::WrongType("resource")),
        ("scope", json!(5), ClaimsError::WrongType("scope")),
        ("scope", json!(null), ClaimsError::WrongType("scope")),
        ("scope", json!(""), ClaimsError::Empty("scope")),
        ("act", json!("x"), ClaimsError::WrongType("act")),
        ("act", json!(null), ClaimsError::WrongType("act")),
        ("act", json!({"sub": 5}), ClaimsError::Invalid("act")),
        ("act", json!({"sub": ""}), ClaimsError::Invalid("act")),
        ("act", json!({"sub": "a", "act": "b"}), ClaimsError::Invalid("act")),
        ("act", json!({"sub": "a", "act": {"iss": 1}}), ClaimsError::Invalid("act")),
        ("amr", json!("pwd"), ClaimsError::WrongType("amr")),
        ("amr", json!(["pwd", 1]), ClaimsError::WrongType("amr")),
        ("cnf", json!([]), ClaimsError::WrongType("cnf")),
        ("cnf", json!({"jkt": 5}), ClaimsError::Invalid("cnf")),
        ("sub_id", json!({"format": "saml-nameid", "issuer": "x"}), ClaimsError::Invalid("sub_id")),
        ("sub_id", json!({"format": "saml-nameid", "nameid": "x"}), ClaimsError::Invalid("sub_id")),
        (
            "sub_id",
            json!({"format": "saml-nameid", "issuer": "x", "nameid": "y", "sp_provided_id": 1}),
            ClaimsError::Invalid("sub_id"),
        ),
        ("sub_id", json!({"issuer": "x", "nameid": "y"}), ClaimsError::Invalid("sub_id")),
        ("sub_id", json!({"format": ""}), ClaimsError::Invalid("sub_id")),
        ("sub_id", json!("saml-nameid"), ClaimsError::WrongType("sub_id")),
        (
            "authorization_details",
            json!([{"actions": ["read"]}]),
            ClaimsError::Invalid("authorization_details"),
        ),
        (
            "authorization_details",
            json!([{"type": "ok"}, {"type": ""}]),
            ClaimsError::Invalid("authorization_details"),
        ),
        ("authorization_details", json!(["x"]), ClaimsError::Invalid("authorization_details")),
        (
            "authorization_details",
            json!({"type": "x"}),
            ClaimsError::WrongType("authorization_details"),
        ),
        ("tenant", json!(1), ClaimsError::WrongType("tenant")),
        ("acr", json!(true), ClaimsError::WrongType("acr")),
        ("aud_tenant", json!({}), ClaimsError::WrongType("aud_tenant")),
        ("aud_sub", json!(""), ClaimsError::Empty("aud_sub")),
        ("email", json!(false), ClaimsError::WrongType("email")),
    ];
    for (name, value, expected) in cases {
        let error = with(name, value.clone()).unwrap_err();
        assert_eq!(error, expected, "{name}: {value}");
    }
}

#[test]
fn authorization_detail_from_value_requires_a_type() {
    let refused = AuthorizationDetail::from_value(json!({"actions": []})).unwrap_err();
    assert_eq!(refused, ClaimsError::Invalid("authorization_details"));
    let refused = AuthorizationDetail::from_value(json!({"type": 5})).unwrap_err();
    assert_eq!(refused, ClaimsError::Invalid("authorization_details"));
}

// ---------------------------------------------------------------------------------------------
// Hostile dates
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_numeric_dates_are_clean_errors() {
    let cases = [
        ("1e300", NumericDateError::NotAnInteger),
        ("18446744073709551616", NumericDateError::NotAnInteger),
        ("-1", NumericDateError::Negative),
        ("-9223372036854775809", NumericDateError::NotAnInteger),
        ("1.5", NumericDateError::NotAnInteger),
        ("1764000000.0", NumericDateError::NotAnInteger),
        ("\"123\"", NumericDateError::NotANumber),
        ("true", NumericDateError::NotANumber),
        ("[1]", NumericDateError::NotANumber),
        ("253402300800", NumericDateError::OutOfRange),
        ("18446744073709551615", NumericDateError::OutOfRange),
    ];
    for claim in ["exp", "iat", "nbf", "auth_time"] {
        for (raw, error) in cases {
            let refused = with_raw(claim, raw).unwrap_err();
            assert_eq!(refused, ClaimsError::InvalidDate { claim, error }, "{claim}: {raw}");
            assert_eq!(refused.claim(), Some(claim));
            assert_eq!(refused.reason(), "claim_invalid_date");
        }
    }
}

#[test]
fn date_bounds_are_accepted() {
    let claims = with_raw("nbf", "0").unwrap();
    assert_eq!(claims.not_before(), Some(date(0)));
    let claims = with_raw("auth_time", "253402300799").unwrap();
    assert_eq!(claims.auth_time(), Some(date(NumericDate::MAX_SECONDS)));
}

// ---------------------------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_top_level_sub_is_refused() {
    let text = r#"{"iss":"i","sub":"alice","aud":"a","client_id":"c","jti":"j",
        "exp":1764000300,"iat":1764000000,"sub":"mallory"}"#;
    assert_eq!(IdJagClaims::from_json(text.as_bytes()), Err(ClaimsError::DuplicateMember));
}

#[test]
fn repeated_names_are_refused_whatever_else_is_wrong() {
    let required = concat!(
        r#""iss":"i","sub":"s","aud":"a","client_id":"c","jti":"j","#,
        r#""exp":1764000300,"iat":1764000000"#,
    );
    let refused = |members: &str| IdJagClaims::from_json(format!("{{{members}}}").as_bytes());
    // An unknown claim repeated, at the top level.
    assert_eq!(refused(&format!(r#"{required},"x":1,"x":2"#)), Err(ClaimsError::DuplicateMember));
    // A registered name spelled with an escape is the same name.
    assert_eq!(refused(&format!(r#"{required},"iss":"j""#)), Err(ClaimsError::DuplicateMember));
    // A repeat after a mistyped claim: the repeat is what is reported.
    assert_eq!(refused(r#""iss":5,"iss":"i""#), Err(ClaimsError::DuplicateMember));
    assert_eq!(refused(r#""iss":5,"x":1,"x":2"#), Err(ClaimsError::DuplicateMember));
    // Past thirty-two members, repeats of either kind are still found.
    let many: String = (0..100).map(|i| format!(r#","m{i}":{i}"#)).collect();
    assert_eq!(refused(&format!("{required}{many},\"m7\":0")), Err(ClaimsError::DuplicateMember));
    assert_eq!(
        refused(&format!("{required}{many},\"jti\":\"k\"")),
        Err(ClaimsError::DuplicateMember)
    );
    assert_eq!(refused(&format!("{required}{many}")).unwrap().extra_claims().len(), 100);
}

#[test]
fn refusals_come_json_first_then_the_first_bad_claim_then_missing_ones() {
    let refused = |text: &str| IdJagClaims::from_json(text.as_bytes()).unwrap_err();
    // Broken JSON after a mistyped claim: the JSON is what is reported.
    assert_eq!(refused(r#"{"iss":5,"sub":}"#), ClaimsError::NotJson);
    assert_eq!(refused(r#"{"iss":5} x"#), ClaimsError::NotJson);
    // The first bad claim in document order, not in the order of the required list.
    assert_eq!(
        refused(r#"{"exp":"soon","iss":5}"#),
        ClaimsError::InvalidDate { claim: "exp", error: NumericDateError::NotANumber }
    );
    assert_eq!(refused(r#"{"iss":5,"exp":"soon"}"#), ClaimsError::WrongType("iss"));
    assert_eq!(
        refused(r#"{"x":1,"scope":"a  b","sub":""}"#),
        ClaimsError::InvalidScope(ScopeError::EmptyToken)
    );
    // A bad claim before a missing one; the missing ones in the order of the required list.
    assert_eq!(refused(r#"{"sub":null}"#), ClaimsError::WrongType("sub"));
    assert_eq!(refused(r#"{"jti":"j","sub":"s"}"#), ClaimsError::Missing("iss"));
    assert_eq!(refused(r#"{"iss":"i","jti":"j"}"#), ClaimsError::Missing("sub"));
}

#[test]
fn duplicate_member_inside_act_is_refused() {
    let text = r#"{"iss":"i","sub":"s","aud":"a","client_id":"c","jti":"j",
        "exp":1764000300,"iat":1764000000,"act":{"sub":"agent","act":{"sub":"x","sub":"y"}}}"#;
    assert_eq!(IdJagClaims::from_json(text.as_bytes()), Err(ClaimsError::DuplicateMember));
    let text = r#"{"iss":"i","sub":"s","aud":"a","client_id":"c","jti":"j",
        "exp":1764000300,"iat":1764000000,"act":{"sub":"agent","sub":"root"}}"#;
    assert_eq!(IdJagClaims::from_json(text.as_bytes()), Err(ClaimsError::DuplicateMember));
    assert_eq!(ClaimsError::DuplicateMember.reason(), "claims_duplicate_member");
}

#[test]
fn duplicate_member_inside_an_unknown_claim_is_refused() {
    let text = r#"{"iss":"i","sub":"s","aud":"a","client_id":"c","jti":"j",
        "exp":1764000300,"iat":1764000000,"x":[{"k":1,"k":2}]}"#;
    assert_eq!(IdJagClaims::from_json(text.as_bytes()), Err(ClaimsError::DuplicateMember));
}

#[test]
fn deep_nesting_is_not_json_without_overflowing_the_stack() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let text = format!(
        r#"{{"iss":"i","sub":"s","aud":"a","client_id":"c","jti":"j","exp":2,"iat":1,"x":{deep}}}"#
    );
    assert_eq!(IdJagClaims::from_json(text.as_bytes()), Err(ClaimsError::NotJson));
    let deep = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let text = format!(
        r#"{{"iss":"i","sub":"s","aud":"a","client_id":"c","jti":"j","exp":2,"iat":1,"x":{deep}}}"#
    );
    assert_eq!(IdJagClaims::from_json(text.as_bytes()), Err(ClaimsError::NotJson));
}

#[test]
fn moderate_nesting_is_kept() {
    let nested = format!("{}{}", "[".repeat(50), "]".repeat(50));
    let claims = with_raw("x", &nested).unwrap();
    let value = claims.extra_claim("x").unwrap();
    assert_eq!(serde_json::to_string(value).unwrap(), nested);
}

#[test]
fn payload_that_is_not_an_object_is_refused() {
    for text in ["[]", "null", "5", "\"claims\"", "[{\"iss\":\"i\"}]"] {
        assert_eq!(
            IdJagClaims::from_json(text.as_bytes()),
            Err(ClaimsError::NotAnObject),
            "{text}"
        );
    }
}

#[test]
fn payload_that_is_not_json_is_refused() {
    let texts: [&[u8]; 6] = [b"", b"{", b"iss=x", b"{} {}", b"{\"a\":1e400}", b"{\"\xff\":1}"];
    for text in texts {
        assert_eq!(IdJagClaims::from_json(text), Err(ClaimsError::NotJson));
    }
}

// ---------------------------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------------------------

#[test]
fn builder_with_only_required_claims() {
    let claims = IdJagClaims::builder(required()).build().unwrap();
    assert_eq!(claims.issuer(), "https://idp.example.com");
    assert_eq!(claims.audience(), &OneOrMany::One("https://as.expenses.example".into()));
    assert_eq!(claims.expires_at(), date(1_764_000_300));
    assert!(claims.extra_claims().is_empty());
    assert_eq!(
        claims.to_json(),
        concat!(
            r#"{"iss":"https://idp.example.com","sub":"00u1b2c3","#,
            r#""aud":"https://as.expenses.example","client_id":"aria-at-expenses","#,
            r#""jti":"9a1f0c3e","exp":1764000300,"iat":1764000000}"#
        )
    );
    assert_eq!(claims, parse(&Value::Object(minimal())).unwrap());
}

#[test]
fn builder_refuses_registered_names_as_extra_claims() {
    for name in REGISTERED {
        let refused = IdJagClaims::builder(required()).extra_claim(name, json!("x")).build();
        assert_eq!(refused, Err(ClaimsError::ReservedName), "{name}");
    }
    assert_eq!(ClaimsError::ReservedName.reason(), "claim_reserved_name");
    assert_eq!(ClaimsError::ReservedName.claim(), None);
}

#[test]
fn builder_refuses_exp_not_after_iat() {
    let mut equal = required();
    equal.expires_at = equal.issued_at;
    assert_eq!(IdJagClaims::builder(equal).build(), Err(ClaimsError::Invalid("exp")));
    let mut before = required();
    before.expires_at = date(1_763_999_999);
    assert_eq!(IdJagClaims::builder(before).build(), Err(ClaimsError::Invalid("exp")));
    let mut just_after = required();
    just_after.expires_at = date(1_764_000_001);
    assert!(IdJagClaims::builder(just_after).build().is_ok());
}

#[test]
fn builder_refuses_empty_required_strings() {
    let mut empty = required();
    empty.subject = String::new();
    assert_eq!(IdJagClaims::builder(empty).build(), Err(ClaimsError::Empty("sub")));
    let mut empty = required();
    empty.issuer = String::new();
    assert_eq!(IdJagClaims::builder(empty).build(), Err(ClaimsError::Empty("iss")));
    let mut empty = required();
    empty.audience = String::new();
    assert_eq!(IdJagClaims::builder(empty).build(), Err(ClaimsError::Empty("aud")));
    let mut empty = required();
    empty.client_id = String::new();
    assert_eq!(IdJagClaims::builder(empty).build(), Err(ClaimsError::Empty("client_id")));
    let mut empty = required();
    empty.jwt_id = String::new();
    assert_eq!(IdJagClaims::builder(empty).build(), Err(ClaimsError::Empty("jti")));
}

#[test]
fn builder_refuses_empty_optional_strings() {
    assert_eq!(
        IdJagClaims::builder(required()).email("").build(),
        Err(ClaimsError::Empty("email"))
    );
    let refused = IdJagClaims::builder(required()).resource("").build();
    assert_eq!(refused, Err(ClaimsError::Empty("resource")));
}

fn emitted(claims: &IdJagClaims) -> Value {
    serde_json::from_str(&claims.to_json()).unwrap()
}

#[test]
fn builder_resources_emits_a_string_for_one_and_an_array_for_two() {
    let one = IdJagClaims::builder(required()).resources(vec!["https://api/".into()]).build();
    let one = one.unwrap();
    assert_eq!(emitted(&one)["resource"], json!("https://api/"));
    assert_eq!(one.resource(), Some(&OneOrMany::One("https://api/".into())));

    let two = IdJagClaims::builder(required())
        .resources(vec!["https://a/".into(), "https://b/".into()])
        .build()
        .unwrap();
    assert_eq!(emitted(&two)["resource"], json!(["https://a/", "https://b/"]));

    let none = IdJagClaims::builder(required()).resources(vec![]).build().unwrap();
    assert!(emitted(&none).get("resource").is_none());
    assert_eq!(none.resource(), None);

    let single = IdJagClaims::builder(required()).resource("https://api/").build().unwrap();
    assert_eq!(emitted(&single)["resource"], json!("https://api/"));
}

#[test]
fn builder_empty_scope_is_not_emitted() {
    let empty = Scope::from_tokens(Vec::<&str>::new()).unwrap();
    let claims = IdJagClaims::builder(required()).scope(empty).build().unwrap();
    assert!(emitted(&claims).get("scope").is_none());
    assert_eq!(claims.scope(), None);
}

// ---------------------------------------------------------------------------------------------
// scope
// ---------------------------------------------------------------------------------------------

#[test]
fn scope_with_a_double_space_is_invalid() {
    let refused = with("scope", json!("a  b")).unwrap_err();
    assert_eq!(refused, ClaimsError::InvalidScope(ScopeError::EmptyToken));
    assert_eq!(refused.claim(), Some("scope"));
    assert_eq!(refused.reason(), "claim_invalid_scope");
}

#[test]
fn scope_grammar_errors_are_reported() {
    let cases = [
        (" a", ScopeError::EmptyToken),
        ("a ", ScopeError::EmptyToken),
        ("a\tb", ScopeError::InvalidCharacter),
        ("a\"b", ScopeError::InvalidCharacter),
        ("caf\u{e9}", ScopeError::InvalidCharacter),
    ];
    for (text, error) in cases {
        assert_eq!(with("scope", json!(text)).unwrap_err(), ClaimsError::InvalidScope(error));
    }
    let repeated = with("scope", json!("a b a")).unwrap();
    assert_eq!(repeated.scope().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Reason codes
// ---------------------------------------------------------------------------------------------

#[test]
fn claims_error_reasons_are_distinct_and_non_empty() {
    let errors = [
        ClaimsError::NotJson,
        ClaimsError::NotAnObject,
        ClaimsError::DuplicateMember,
        ClaimsError::Missing("iss"),
        ClaimsError::WrongType("iss"),
        ClaimsError::Empty("iss"),
        ClaimsError::InvalidDate { claim: "exp", error: NumericDateError::Negative },
        ClaimsError::InvalidScope(ScopeError::Empty),
        ClaimsError::Invalid("act"),
        ClaimsError::ReservedName,
    ];
    let mut reasons: Vec<&str> = errors.iter().map(|e| e.reason()).collect();
    assert!(reasons.iter().all(|reason| !reason.is_empty()));
    assert!(errors.iter().all(|e| !e.to_string().is_empty()));
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), errors.len());
}

#[test]
fn an_unregistered_name_with_a_nul_is_an_ordinary_extra_claim() {
    let now = id_jag::NumericDate::from_unix_seconds(1_764_000_000).unwrap();
    let claims = id_jag::claims::IdJagClaims::builder(id_jag::claims::RequiredClaims {
        issuer: "https://idp.example.com".into(),
        subject: "u1".into(),
        audience: "https://as.example".into(),
        client_id: "c".into(),
        jwt_id: "j".into(),
        issued_at: now,
        expires_at: now.saturating_add_seconds(300),
    })
    .extra_claim("\u{0}reserved", serde_json::json!(1))
    .build()
    .unwrap();
    assert_eq!(claims.extra_claim("\u{0}reserved"), Some(&serde_json::json!(1)));
}
