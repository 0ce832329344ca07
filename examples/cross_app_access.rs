//! Cross App Access end to end, in one process: an enterprise IdP, the AI assistant "Aria",
//! and three SaaS apps (expenses, CRM, calendar), each with its own authorization server.
//!
//! ```text
//! cargo run --example cross_app_access
//! ```
//!
//! Every step prints what happened in plain words; the audit trail follows as JSON lines. The
//! program exits with status 1 if any step does not go as described.
//!
//! The last steps bind the tokens to a key of Aria's with DPoP (RFC 9449, draft §9.8): the
//! ID-JAG and the access token it buys are then useless to whoever steals them.

use std::io::Write;
use std::sync::Arc;

use id_jag::NumericDate;
use id_jag::audit::AuditRecord;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::Actor;
use id_jag::client::{
    ClientAuthentication, ClientError, FormRequest, JwtBearerGrantRequest, SubjectToken,
    TokenExchangeRequest, read_exchange_response, read_jwt_bearer_response,
};
use id_jag::dpop::{DpopContext, DpopProof, DpopVerifier};
use id_jag::idp::{
    Agent, DirectoryUser, ExchangeHosts, IdTokensOnly, IdentityProvider, IdpConfig,
    ManagedConnection, MemoryConnections, MemoryDirectory,
};
use id_jag::jose::{Algorithm, KeySet, SigningKey, SigningKeySet, sign_compact};
use id_jag::resource::{
    AccessTokenError, AccessTokenIssuer, AccessTokenVerifier, AllowAll, MemoryReplayGuard,
    MemorySubjects, RedeemHosts, ResourceServer, ResourceServerConfig, SubjectKey, TrustedIssuer,
    TrustedIssuers,
};
use id_jag::scope::Scope;

const IDP: &str = "https://idp.acme.example";
const USER_B: &str = "00u-employee-b";
/// Where clients POST token requests: a DPoP proof names the URL it is for (`htu`).
const IDP_TOKEN_ENDPOINT: &str = "https://idp.acme.example/oauth2/v1/token";
const CALENDAR_TOKEN_ENDPOINT: &str = "https://as.calendar.example/oauth2/token";
/// The calendar API call Aria makes with its access token.
const CALENDAR_EVENTS: &str = "https://api.calendar.example/v1/events?day=2026-12-04";

/// One SaaS app: its authorization server, its API, and what it knows.
struct App {
    name: &'static str,
    issuer: &'static str,
    api: &'static str,
    aria_client_id: &'static str,
    server: ResourceServer,
    issuers: TrustedIssuers,
    subjects: MemorySubjects,
    replay: MemoryReplayGuard,
    tokens: AccessTokenIssuer,
    api_verifier: AccessTokenVerifier,
}

impl App {
    fn new(
        name: &'static str,
        issuer: &'static str,
        api: &'static str,
        aria_client_id: &'static str,
        idp_keys: &KeySet,
    ) -> Result<Self, String> {
        let key = SigningKey::generate(Algorithm::Es256).map_err(|e| e.to_string())?;
        let own_keys =
            KeySet::new(vec![key.verification_key().clone()]).map_err(|e| e.to_string())?;
        let issuers = TrustedIssuers::new();
        issuers.insert(TrustedIssuer::new(IDP, idp_keys.clone()));
        let subjects = MemorySubjects::new();
        let account = format!("{name}-account-of-b");
        subjects
            .link(SubjectKey { issuer: IDP.into(), tenant: None, subject: USER_B.into() }, account);
        Ok(App {
            name,
            issuer,
            api,
            aria_client_id,
            server: ResourceServer::new(
                ResourceServerConfig::new(issuer).with_served_resources([api]),
            ),
            issuers,
            subjects,
            replay: MemoryReplayGuard::new(100_000),
            tokens: AccessTokenIssuer::new(issuer, Arc::new(key), 3600),
            api_verifier: AccessTokenVerifier::new(issuer, api, own_keys),
        })
    }

    fn hosts(&self) -> RedeemHosts<'_> {
        RedeemHosts {
            issuers: &self.issuers,
            replay: &self.replay,
            subjects: &self.subjects,
            policy: &AllowAll,
        }
    }
}

/// The narrator: prints each step and keeps the audit trail.
struct Story<'w, W: Write> {
    out: &'w mut W,
    step: usize,
    audit: Vec<AuditRecord>,
}

impl<W: Write> Story<'_, W> {
    fn say(&mut self, text: &str) -> Result<(), String> {
        self.step += 1;
        writeln!(self.out, "{:>2}. {text}", self.step).map_err(|e| e.to_string())
    }

    fn detail(&mut self, text: &str) -> Result<(), String> {
        writeln!(self.out, "      {text}").map_err(|e| e.to_string())
    }
}

fn expect(condition: bool, what: &str) -> Result<(), String> {
    if condition { Ok(()) } else { Err(format!("step did not go as described: {what}")) }
}

/// The `DPoP` header of a request, as the server reads it.
fn dpop_header(http: &FormRequest) -> Result<&str, String> {
    let header = http.headers.iter().find(|(name, _)| *name == "DPoP");
    header.map(|(_, value)| value.as_str()).ok_or_else(|| "no DPoP header".to_owned())
}

/// Play the whole scenario, writing to `out`; an `Err` names the first step that went wrong.
pub fn run(out: &mut impl Write) -> Result<(), String> {
    let now = NumericDate::from_unix_seconds(1_764_770_400).map_err(|e| e.to_string())?;
    let mut story = Story { out, step: 0, audit: Vec::new() };

    // The IdP: its keys sign ID tokens and ID-JAGs alike.
    let idp_key = SigningKey::generate(Algorithm::Es256).map_err(|e| e.to_string())?;
    let idp_keys = SigningKeySet::new(idp_key, vec![]).map_err(|e| e.to_string())?;
    let idp = IdentityProvider::new(IdpConfig::new(IDP), idp_keys.verification_keys().clone());

    let expenses = App::new(
        "expenses",
        "https://as.expenses.example",
        "https://api.expenses.example",
        "aria-expenses-7f3",
        idp_keys.verification_keys(),
    )?;
    let crm = App::new(
        "crm",
        "https://as.crm.example",
        "https://api.crm.example",
        "aria-crm-19b",
        idp_keys.verification_keys(),
    )?;
    let calendar = App::new(
        "calendar",
        "https://as.calendar.example",
        "https://api.calendar.example",
        "aria-cal-44c",
        idp_keys.verification_keys(),
    )?;

    // The admin's policy: Aria, and one managed connection per app.
    let registry = MemoryConnections::new();
    let mut aria = Agent::new("aria");
    aria.actor = Some(Actor::new("aria").with_claim("sub_profile", "ai_agent".into()));
    registry.put_agent(aria);
    let ceilings = [
        (&expenses, "aria-to-expenses", "expenses.read expenses.submit"),
        (&crm, "aria-to-crm", "crm.contacts.read"),
        (&calendar, "aria-to-calendar", "calendar.read calendar.write"),
    ];
    let directory = MemoryDirectory::new();
    for (app, id, ceiling) in ceilings {
        let scope = Scope::parse(ceiling).map_err(|e| e.to_string())?;
        let mut connection =
            ManagedConnection::new(id, "aria", app.issuer, app.aria_client_id, scope);
        connection.allowed_resources = vec![app.api.to_owned()];
        registry.put_connection(connection);
        let mut user = DirectoryUser::new(USER_B);
        user.verified_email = Some("b@acme.example".into());
        directory.put(app.issuer, user);
    }
    let idp_hosts = ExchangeHosts {
        registry: &registry,
        directory: &directory,
        tokens: &IdTokensOnly,
        signer: &idp_keys,
    };
    let aria_at_idp = ClientAuthentication::SecretBasic {
        client_id: "aria".into(),
        client_secret: "aria-secret-at-the-idp".into(),
    };
    story.say(
        "The IdP knows employee B and the AI assistant Aria, with managed connections from Aria to \
         expenses (expenses.read expenses.submit), CRM (crm.contacts.read) and calendar \
         (calendar.read calendar.write).",
    )?;

    // B signs in; the IdP issues B's ID token to Aria.
    let id_token_claims = format!(
        concat!(
            r#"{{"iss":"{issuer}","sub":"{subject}","aud":"aria","iat":{now},"exp":{expiry},"#,
            r#""auth_time":{now},"amr":["pwd","otp"]}}"#,
        ),
        issuer = IDP,
        subject = USER_B,
        now = now,
        expiry = now.saturating_add_seconds(3600),
    );
    let id_token = sign_compact(&idp_keys, Some("JWT"), id_token_claims.as_bytes())
        .map_err(|e| e.to_string())?;
    story.say("B signs in once at the IdP; Aria receives B's ID token.")?;

    // Leg 1 for the expense app, asking for more than the connection allows.
    let exchange_for = |story: &mut Story<'_, _>,
                        app: &App,
                        scope: &str|
     -> Result<Result<String, ClientError>, String> {
        let request =
            TokenExchangeRequest::new(SubjectToken::IdToken(id_token.clone()), app.issuer)
                .resource(app.api)
                .scope(Scope::parse(scope).map_err(|e| e.to_string())?);
        let http = request.to_http(&aria_at_idp, now).map_err(|e| e.to_string())?;
        // The IdP host authenticated Aria with its client secret.
        let exchange = idp.exchange(
            &idp_hosts,
            http.body.as_bytes(),
            &AuthenticatedClient::confidential("aria"),
            now,
        );
        story.audit.push(exchange.audit.clone());
        let (status, body) = match &exchange.outcome {
            Ok(issued) => (200, issued.token_response().to_json()),
            Err(denial) => {
                let response = denial.error_response();
                story.detail(&format!(
                    "IdP refused: {} (internal reason: {})",
                    response.error,
                    denial.reason()
                ))?;
                (response.http_status(), response.to_json())
            }
        };
        Ok(read_exchange_response(&request, status, body.as_bytes()).map(|r| r.id_jag().to_owned()))
    };

    story.say(
        "Aria asks the IdP for an ID-JAG for the expense app, with scope expenses.read \
         expenses.submit expenses.approve.",
    )?;
    let expense_id_jag =
        exchange_for(&mut story, &expenses, "expenses.read expenses.submit expenses.approve")?
            .map_err(|e| format!("expense exchange failed: {e}"))?;
    let granted = story.audit.last().and_then(|a| a.granted_scope.clone()).unwrap_or_default();
    story.detail(&format!(
        "granted: {granted} (expenses.approve is beyond the connection's ceiling)"
    ))?;
    expect(granted == "expenses.read expenses.submit", "scope narrowed to the ceiling")?;

    // Leg 2 at the expense app's authorization server.
    let redeem_at = |story: &mut Story<'_, _>,
                     app: &App,
                     id_jag: &str|
     -> Result<Result<String, ClientError>, String> {
        let auth = ClientAuthentication::SecretBasic {
            client_id: app.aria_client_id.into(),
            client_secret: format!("aria-secret-at-{}", app.name),
        };
        let http =
            JwtBearerGrantRequest::new(id_jag).to_http(&auth, now).map_err(|e| e.to_string())?;
        let client = AuthenticatedClient::confidential(app.aria_client_id);
        let redemption = app.server.redeem(&app.hosts(), http.body.as_bytes(), &client, now);
        story.audit.push(redemption.audit.clone());
        let (status, body) = match &redemption.outcome {
            Ok(grant) => {
                let issued = app.tokens.mint(grant, now).map_err(|e| e.to_string())?;
                (200, issued.token_response(grant).to_json())
            }
            Err(rejection) => {
                let response = rejection.error_response();
                story.detail(&format!(
                    "{} refused: {} (internal reason: {})",
                    app.name,
                    response.error,
                    rejection.reason()
                ))?;
                (response.http_status(), response.to_json())
            }
        };
        Ok(read_jwt_bearer_response(status, body.as_bytes()).map(|r| r.access_token))
    };

    story.say(
        "Aria redeems the ID-JAG at the expense app's authorization server (JWT bearer grant).",
    )?;
    let access_token = redeem_at(&mut story, &expenses, &expense_id_jag)?
        .map_err(|e| format!("expense redemption failed: {e}"))?;
    story.detail("the expense app issued an access token for B's account there")?;

    story.say("Aria calls the expense API with the access token; the API verifies it.")?;
    let needed = Scope::parse("expenses.read").map_err(|e| e.to_string())?;
    let verified = expenses.api_verifier.verify(&access_token, Some(&needed), now);
    let verified = verified.map_err(|e| format!("the expense API refused the token: {e}"))?;
    story.detail(&format!(
        "API accepted: account {}, agent {}, scope {}",
        verified.subject,
        verified.actor.as_deref().unwrap_or("-"),
        verified.scope.map(|s| s.to_string()).unwrap_or_default()
    ))?;
    expect(verified.subject == "expenses-account-of-b", "the API sees B's expense account")?;
    expect(verified.actor.as_deref() == Some("aria"), "the API sees Aria acting")?;

    story.say("Someone replays the same ID-JAG at the expense app.")?;
    let replayed = redeem_at(&mut story, &expenses, &expense_id_jag)?;
    expect(
        matches!(&replayed, Err(ClientError::Refused(e)) if e.error == "invalid_grant"),
        "replay refused",
    )?;
    expect(story.audit.last().and_then(|a| a.reason) == Some("replayed"), "reason is replayed")?;

    story.say("Aria gets an ID-JAG for the calendar app and presents it to the expense app.")?;
    let calendar_id_jag = exchange_for(&mut story, &calendar, "calendar.read")?
        .map_err(|e| format!("calendar exchange failed: {e}"))?;
    let misdirected = redeem_at(&mut story, &expenses, &calendar_id_jag)?;
    expect(
        matches!(&misdirected, Err(ClientError::Refused(e)) if e.error == "invalid_grant"),
        "a calendar token is refused at expenses",
    )?;
    expect(
        story.audit.last().and_then(|a| a.reason) == Some("aud_mismatch"),
        "reason is aud_mismatch",
    )?;

    story.say("Aria reaches the CRM once; then the admin disables the Aria-to-CRM connection.")?;
    let first_crm = exchange_for(&mut story, &crm, "crm.contacts.read")?;
    expect(first_crm.is_ok(), "CRM exchange allowed before the kill switch")?;
    expect(registry.set_connection_enabled("aria-to-crm", false), "connection exists")?;
    let second_crm = exchange_for(&mut story, &crm, "crm.contacts.read")?;
    expect(
        matches!(&second_crm, Err(ClientError::Refused(e)) if e.error == "unauthorized_client"),
        "CRM exchange denied after the kill switch",
    )?;
    expect(
        story.audit.last().and_then(|a| a.reason) == Some("connection_disabled"),
        "reason is connection_disabled",
    )?;

    story.say("The admin suspends B: every exchange for B is denied.")?;
    expect(directory.set_suspended(USER_B, true), "user exists")?;
    for app in [&expenses, &calendar] {
        let denied = exchange_for(
            &mut story,
            app,
            if app.name == "expenses" { "expenses.read" } else { "calendar.read" },
        )?;
        expect(
            matches!(&denied, Err(ClientError::Refused(e)) if e.error == "invalid_grant"),
            "exchange for a suspended user denied",
        )?;
        expect(
            story.audit.last().and_then(|a| a.reason) == Some("user_suspended"),
            "reason is user_suspended",
        )?;
    }

    // Sender-constrained tokens (RFC 9449 DPoP, draft §9.8).
    story.say(
        "The admin reinstates B. From now on Aria binds its tokens to a key of its own with DPoP \
         (RFC 9449): each request carries a proof signed with that key.",
    )?;
    expect(directory.set_suspended(USER_B, false), "user exists")?;
    let aria_key = SigningKey::generate(Algorithm::Es256).map_err(|e| e.to_string())?;
    let aria_jkt = aria_key.verification_key().thumbprint().to_owned();
    story.detail(&format!("B is active again; Aria's key thumbprint (jkt) is {aria_jkt}"))?;
    // Each server checks proofs with the same rules and remembers each proof's jti.
    let dpop = DpopVerifier::new();
    let idp_proofs = MemoryReplayGuard::new(100_000);
    let calendar_proofs = MemoryReplayGuard::new(100_000);
    let api_proofs = MemoryReplayGuard::new(100_000);

    story.say(
        "Aria asks the IdP for a calendar ID-JAG, with a DPoP proof for the IdP's token endpoint.",
    )?;
    let request =
        TokenExchangeRequest::new(SubjectToken::IdToken(id_token.clone()), calendar.issuer)
            .resource(calendar.api)
            .scope(Scope::parse("calendar.read").map_err(|e| e.to_string())?)
            .bound_to(aria_jkt.clone());
    let proof = DpopProof::new("POST", IDP_TOKEN_ENDPOINT)
        .sign(&aria_key, now)
        .map_err(|e| e.to_string())?;
    let http =
        request.to_http(&aria_at_idp, now).map_err(|e| e.to_string())?.with_dpop_proof(proof);
    let context = DpopContext {
        proof: dpop_header(&http)?,
        token_endpoint: IDP_TOKEN_ENDPOINT,
        verifier: &dpop,
        replay: &idp_proofs,
    };
    let exchange = idp.exchange_with_dpop(
        &idp_hosts,
        http.body.as_bytes(),
        Some(context),
        &AuthenticatedClient::confidential("aria"),
        now,
    );
    story.audit.push(exchange.audit.clone());
    let response = match &exchange.outcome {
        Ok(issued) => issued.token_response().to_json(),
        Err(denial) => return Err(format!("the bound exchange was refused: {}", denial.reason())),
    };
    // The client checks that the ID-JAG is bound to its key: a bearer one would be a downgrade.
    let bound_id_jag = read_exchange_response(&request, 200, response.as_bytes())
        .map_err(|e| format!("the bound ID-JAG was not as asked: {e}"))?;
    let bound_to = bound_id_jag.claims().confirmation().and_then(|cnf| cnf.jkt.clone());
    story.detail(&format!(
        "the ID-JAG carries cnf.jkt = {}: it is bound to Aria's key",
        bound_to.as_deref().unwrap_or("-")
    ))?;
    expect(bound_to.as_deref() == Some(aria_jkt.as_str()), "the ID-JAG is bound to Aria's key")?;

    story.say(
        "Aria redeems it at the calendar app's authorization server, with a proof for that token \
         endpoint.",
    )?;
    let aria_at_calendar = ClientAuthentication::SecretBasic {
        client_id: calendar.aria_client_id.into(),
        client_secret: "aria-secret-at-calendar".into(),
    };
    let calendar_client = AuthenticatedClient::confidential(calendar.aria_client_id);
    let redeem_bound = |story: &mut Story<'_, _>, key: &SigningKey| -> Result<_, String> {
        let proof = DpopProof::new("POST", CALENDAR_TOKEN_ENDPOINT)
            .sign(key, now)
            .map_err(|e| e.to_string())?;
        let http = JwtBearerGrantRequest::new(bound_id_jag.id_jag())
            .to_http(&aria_at_calendar, now)
            .map_err(|e| e.to_string())?
            .with_dpop_proof(proof);
        let context = DpopContext {
            proof: dpop_header(&http)?,
            token_endpoint: CALENDAR_TOKEN_ENDPOINT,
            verifier: &dpop,
            replay: &calendar_proofs,
        };
        let redemption = calendar.server.redeem_with_dpop(
            &calendar.hosts(),
            http.body.as_bytes(),
            Some(context),
            &calendar_client,
            now,
        );
        story.audit.push(redemption.audit.clone());
        Ok(redemption.outcome)
    };
    let grant = redeem_bound(&mut story, &aria_key)?
        .map_err(|rejection| format!("the bound redemption was refused: {}", rejection.reason()))?;
    let issued = calendar.tokens.mint(&grant, now).map_err(|e| e.to_string())?;
    let access = read_jwt_bearer_response(200, issued.token_response(&grant).to_json().as_bytes())
        .map_err(|e| e.to_string())?;
    story.detail(&format!(
        "the calendar app issued an access token of token_type {}, bound to the same key",
        access.token_type
    ))?;
    expect(access.token_type == "DPoP", "a DPoP-bound access token")?;
    expect(grant.dpop_jkt() == Some(aria_jkt.as_str()), "the grant is bound to Aria's key")?;

    story.say(
        "Aria calls the calendar API with the access token and a proof carrying the token's hash \
         (ath); the API checks both.",
    )?;
    let needed = Scope::parse("calendar.read").map_err(|e| e.to_string())?;
    let call_api = |proof: Option<&str>| {
        calendar.api_verifier.verify_with_proof(
            &access.access_token,
            Some(&needed),
            proof,
            "GET",
            CALENDAR_EVENTS,
            &dpop,
            &api_proofs,
            now,
        )
    };
    let proof = DpopProof::new("GET", CALENDAR_EVENTS)
        .with_access_token(&access.access_token)
        .sign(&aria_key, now)
        .map_err(|e| e.to_string())?;
    let verified =
        call_api(Some(&proof)).map_err(|e| format!("the calendar API refused Aria: {e}"))?;
    story.detail(&format!(
        "API accepted: account {}, agent {}, scope {}",
        verified.subject,
        verified.actor.as_deref().unwrap_or("-"),
        verified.scope.map(|s| s.to_string()).unwrap_or_default()
    ))?;
    expect(verified.subject == "calendar-account-of-b", "the API sees B's calendar account")?;

    story.say(
        "An attacker stole the bound ID-JAG (and even Aria's client secret at the calendar app) \
         and presents it with a DPoP key of their own.",
    )?;
    let attacker_key = SigningKey::generate(Algorithm::Es256).map_err(|e| e.to_string())?;
    let stolen = redeem_bound(&mut story, &attacker_key)?;
    let reason = stolen.as_ref().err().map(|rejection| rejection.reason().code());
    if let Err(rejection) = &stolen {
        let response = rejection.error_response();
        story.detail(&format!(
            "calendar refused: {} (internal reason: {})",
            response.error,
            rejection.reason()
        ))?;
    }
    expect(reason == Some("dpop_key_mismatch"), "the stolen ID-JAG is refused for its key")?;
    expect(
        story.audit.last().and_then(|a| a.reason) == Some("dpop_key_mismatch"),
        "reason is dpop_key_mismatch",
    )?;

    story.say(
        "The attacker also stole the access token and calls the calendar API with it, without \
         Aria's key.",
    )?;
    let without_proof = call_api(None);
    let attacker_proof = DpopProof::new("GET", CALENDAR_EVENTS)
        .with_access_token(&access.access_token)
        .sign(&attacker_key, now)
        .map_err(|e| e.to_string())?;
    let with_own_key = call_api(Some(&attacker_proof));
    for (how, outcome) in
        [("no proof", &without_proof), ("a proof by their own key", &with_own_key)]
    {
        let reason = outcome.as_ref().err().map(|error| error.reason()).unwrap_or("accepted");
        story.detail(&format!("with {how}: API refused ({reason})"))?;
    }
    expect(
        without_proof == Err(AccessTokenError::DpopProofMissing),
        "the stolen access token without a proof is refused",
    )?;
    expect(
        with_own_key == Err(AccessTokenError::DpopKeyMismatch),
        "the stolen access token with another key's proof is refused",
    )?;

    writeln!(story.out, "\nAudit trail (IdP and resource authorization servers):")
        .map_err(|e| e.to_string())?;
    for record in &story.audit {
        writeln!(story.out, "{}", record.to_json_line()).map_err(|e| e.to_string())?;
    }
    writeln!(story.out, "\nEvery step went as described.").map_err(|e| e.to_string())?;
    Ok(())
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    let stdout = std::io::stdout();
    match run(&mut stdout.lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            std::process::ExitCode::FAILURE
        }
    }
}
