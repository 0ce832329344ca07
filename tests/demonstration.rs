//! Runs the README's main demonstration (`cargo run --example cross_app_access`) and checks
//! that every step went as described.

#[path = "../examples/cross_app_access.rs"]
mod cross_app_access;

#[test]
fn the_cross_app_access_scenario_goes_as_described() {
    let mut output = Vec::new();
    let outcome = cross_app_access::run(&mut output);
    let text = String::from_utf8(output).unwrap();
    assert_eq!(outcome, Ok(()), "{text}");
    assert!(text.contains("Every step went as described."));
    let audit_lines: Vec<&str> = text.lines().filter(|line| line.starts_with('{')).collect();
    let mut decisions = Vec::new();
    for line in &audit_lines {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let field =
            |name: &str| record.get(name).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
        decisions.push((field("event"), field("reason")));
        // Audit records never carry tokens.
        assert!(!line.contains("eyJ"), "{line}");
    }
    let expected = [
        ("id_jag_issued", "-"),
        ("id_jag_redeemed", "-"),
        ("id_jag_rejected", "replayed"),
        ("id_jag_issued", "-"),
        ("id_jag_rejected", "aud_mismatch"),
        ("id_jag_issued", "-"),
        ("exchange_denied", "connection_disabled"),
        ("exchange_denied", "user_suspended"),
        ("exchange_denied", "user_suspended"),
        // DPoP (RFC 9449): B reinstated, a bound ID-JAG, its redemption, then the stolen copy.
        ("id_jag_issued", "-"),
        ("id_jag_redeemed", "-"),
        ("id_jag_rejected", "dpop_key_mismatch"),
    ];
    let expected: Vec<(String, String)> =
        expected.iter().map(|(e, r)| (e.to_string(), r.to_string())).collect();
    assert_eq!(decisions, expected);

    // The DPoP steps say what happened: B back, the bindings, and both refusals of the thief.
    for narration in [
        "The admin reinstates B.",
        "it is bound to Aria's key",
        "access token of token_type DPoP",
        "API accepted: account calendar-account-of-b",
        "calendar refused: invalid_grant (internal reason: dpop_key_mismatch)",
        "with no proof: API refused (at_dpop_proof_missing)",
        "with a proof by their own key: API refused (at_dpop_key_mismatch)",
    ] {
        assert!(text.contains(narration), "missing {narration:?} in:\n{text}");
    }
    // No DPoP proof or key material in the output either (proofs are JWSs: "eyJ").
    assert!(!text.contains("eyJ"), "{text}");
}
