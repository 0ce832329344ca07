//! `idjag`: make keys, mint, verify and inspect ID-JAGs from the command line.
//!
//! Each command is a thin layer over the library: `keygen` over
//! [`generate_private_jwk`], `jwks` over the vetted JWK imports, `mint` over
//! [`IdJagClaims::from_json`] and [`sign_compact`], `verify` over the resource AS's staged
//! redemption ([`ResourceServer::parse`], [`ResourceServer::verify_with_dpop`], then the replay
//! step), `dpop make` and `dpop check` over [`DpopProof`] and [`DpopVerifier`], and `inspect`
//! over plain base64url decoding.
//!
//! Output goes to stdout, diagnostics to stderr. Exit status: 0 on success, 1 when a token is
//! rejected or an input cannot be used, 2 on a usage error. Diagnostics carry the library's
//! stable reason codes and never print a token or key material.

use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use id_jag::NumericDate;
use id_jag::authenticated::AuthenticatedClient;
use id_jag::claims::{ClaimsError, IdJagClaims};
use id_jag::dpop::{DpopError, DpopProof, DpopVerifier, VerifiedDpopProof};
use id_jag::jose::{
    Algorithm, KeyError, KeySet, SigningKey, VerificationKey, generate_private_jwk, sign_compact,
};
use id_jag::resource::{
    MemoryReplayGuard, RejectReason, Rejection, ReplayPolicy, ResourceServer, ResourceServerConfig,
    TrustedIssuer,
};
use id_jag::urn;

fn main() -> ExitCode {
    // `std::env::args` panics on an argument that is not Unicode: refuse it as a usage error.
    let args: Result<Vec<String>, _> =
        std::env::args_os().skip(1).map(|a| a.into_string()).collect();
    let outcome = match args {
        Ok(args) => run(&args),
        Err(_) => Err(usage_error(USAGE, "arguments must be valid Unicode")),
    };
    match outcome {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected) => ExitCode::from(1),
        Err(CliError::Failed(message)) => {
            diagnose(&message);
            ExitCode::from(1)
        }
        Err(CliError::Usage { message, usage }) => {
            diagnose(&format!("{message}\n\n{usage}"));
            ExitCode::from(2)
        }
    }
}

/// How a command that ran to the end went.
enum Outcome {
    /// Everything asked for was done (exit 0).
    Success,
    /// At least one token was rejected; the results are already on stdout (exit 1).
    Rejected,
}

/// Why a command stopped.
enum CliError {
    /// An input could not be used, or output could not be written (exit 1).
    Failed(String),
    /// The command line is wrong (exit 2): the message, and the usage text to show with it.
    Usage { message: String, usage: &'static str },
}

/// A command line error, shown with `usage`.
fn usage_error(usage: &'static str, message: impl Into<String>) -> CliError {
    CliError::Usage { message: message.into(), usage }
}

/// A failure writing to stdout (a closed pipe, a full disk) ends the command without a panic.
impl From<io::Error> for CliError {
    fn from(error: io::Error) -> Self {
        CliError::Failed(format!("cannot write output: {error}"))
    }
}

/// Dispatch on the command name.
fn run(args: &[String]) -> Result<Outcome, CliError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(usage_error(USAGE, "no command given"));
    };
    match command.as_str() {
        "keygen" => keygen(rest),
        "jwks" => jwks(rest),
        "mint" => mint(rest),
        "verify" => verify(rest),
        "inspect" => inspect(rest),
        "dpop" => dpop(rest),
        "--help" | "-h" | "help" => {
            let usage = match rest {
                [] => USAGE,
                [topic] => command_usage(topic)
                    .ok_or_else(|| usage_error(USAGE, format!("unknown command {topic:?}")))?,
                _ => return Err(usage_error(USAGE, "help takes at most one command name")),
            };
            help(usage)
        }
        other => Err(usage_error(USAGE, format!("unknown command {other:?}"))),
    }
}

/// The usage text of a command, by name.
fn command_usage(command: &str) -> Option<&'static str> {
    match command {
        "keygen" => Some(KEYGEN_USAGE),
        "jwks" => Some(JWKS_USAGE),
        "mint" => Some(MINT_USAGE),
        "verify" => Some(VERIFY_USAGE),
        "inspect" => Some(INSPECT_USAGE),
        "dpop" => Some(DPOP_USAGE),
        _ => None,
    }
}

/// `idjag keygen`: a new private JWK with `alg`, `use` and `kid`, as one JSON line.
fn keygen(args: &[String]) -> Result<Outcome, CliError> {
    let Some(args) = Args::parse(args, &KEYGEN)? else {
        return help(KEYGEN.usage);
    };
    args.no_positionals()?;
    let name = args.required("--alg")?;
    let algorithm = Algorithm::from_name(name).ok_or_else(|| {
        usage_error(
            KEYGEN.usage,
            format!("unsupported --alg {name:?}: expected RS256, PS256, ES256, ES384 or EdDSA"),
        )
    })?;
    let kid = args.value("--kid");
    if kid == Some("") {
        return Err(usage_error(KEYGEN.usage, "--kid must not be empty"));
    }

    let jwk = generate_private_jwk(algorithm, kid)
        .map_err(|error| CliError::Failed(format!("key generation failed ({})", error.reason())))?;
    print_line(&Value::Object(jwk).to_string())?;
    Ok(Outcome::Success)
}

/// `idjag jwks`: the public JWK Set of the given private or public JWKs and JWK Sets.
fn jwks(args: &[String]) -> Result<Outcome, CliError> {
    let Some(args) = Args::parse(args, &JWKS)? else {
        return help(JWKS.usage);
    };
    if args.positionals.is_empty() {
        return Err(usage_error(JWKS.usage, "no JWK file given"));
    }

    let mut keys: Vec<VerificationKey> = Vec::new();
    for path in &args.positionals {
        let bytes = read_file(path)?;
        let refused = |reason: &str| CliError::Failed(format!("{path}: {reason}"));
        for key in public_keys_of(&bytes).map_err(|refusal| refused(&refusal))? {
            // The same key given twice (say its private and its public file) is published once;
            // another key under a kid already taken would make key selection ambiguous.
            if keys.iter().any(|known| known.to_jwk() == key.to_jwk()) {
                continue;
            }
            if key.kid().is_some_and(|kid| keys.iter().any(|known| known.kid() == Some(kid))) {
                return Err(refused(KeyError::DuplicateKid.reason()));
            }
            keys.push(key);
        }
    }

    let set = KeySet::new(keys).map_err(|error| CliError::Failed(error.reason().to_owned()))?;
    print_line(&set.to_jwks().to_string())?;
    Ok(Outcome::Success)
}

/// The public keys in one file: a JWK (private or public) or a JWK Set whose every key must
/// import. The error is the stable reason code, prefixed with the key's position in a set.
fn public_keys_of(bytes: &[u8]) -> Result<Vec<VerificationKey>, String> {
    // Only to tell a set from a single key: the strict parsers below decide what is accepted.
    let document: Option<Value> = serde_json::from_slice(bytes).ok();
    let Some(Value::Object(members)) = document.filter(|d| d.get("keys").is_some()) else {
        return public_key_of(bytes).map(|key| vec![key]).map_err(|e| e.reason().to_owned());
    };

    // Strict parse of the whole set first (repeated members at any depth, `keys` an array).
    KeySet::from_jwks(bytes).map_err(|error| error.reason().to_owned())?;
    let Some(Value::Array(entries)) = members.get("keys") else {
        return Err(KeyError::NotAKeySet.reason().to_owned());
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let refused = |error: KeyError| format!("key {index}: {}", error.reason());
            let entry = serde_json::to_vec(entry).map_err(|_| refused(KeyError::Malformed))?;
            public_key_of(&entry).map_err(refused)
        })
        .collect()
}

/// The public key of one JWK. A private JWK is imported whole, so that its pair check runs,
/// and only its public half is kept.
fn public_key_of(jwk: &[u8]) -> Result<VerificationKey, KeyError> {
    let document: Option<Value> = serde_json::from_slice(jwk).ok();
    if document.as_ref().is_some_and(|jwk| jwk.get("d").is_some()) {
        return SigningKey::from_jwk(jwk, None).map(|key| key.verification_key().clone());
    }
    VerificationKey::from_jwk(jwk, None)
}

/// `idjag mint`: sign a claim set with a private JWK into a compact ID-JAG.
fn mint(args: &[String]) -> Result<Outcome, CliError> {
    let Some(args) = Args::parse(args, &MINT)? else {
        return help(MINT.usage);
    };
    args.no_positionals()?;
    let key_path = args.required("--key")?;
    let claims_path = args.required("--claims")?;

    let key_bytes = read_file(key_path)?;
    let key = SigningKey::from_jwk(&key_bytes, None)
        .map_err(|error| CliError::Failed(format!("{key_path}: {}", error.reason())))?;

    // The same strict parse a verifier runs: a claim set it would refuse is never signed.
    let claims = IdJagClaims::from_json(&read_file(claims_path)?)
        .map_err(|error| CliError::Failed(format!("{claims_path}: {}", claims_refusal(error))))?;

    // draft §3: the ID-JAG is explicitly typed.
    let token = sign_compact(&key, Some(urn::TYP_ID_JAG), claims.to_json().as_bytes())
        .map_err(|error| CliError::Failed(format!("signing failed ({})", error.reason())))?;
    print_line(&token)?;
    Ok(Outcome::Success)
}

/// A claim set's refusal: the reason code, and the claim concerned when there is one.
fn claims_refusal(error: ClaimsError) -> String {
    match error.claim() {
        Some(claim) => format!("{} (claim `{claim}`)", error.reason()),
        None => error.reason().to_owned(),
    }
}

/// `idjag verify`: run every check of a redemption that needs neither a token request nor a
/// subject directory, on one token or on one token per line of stdin.
fn verify(args: &[String]) -> Result<Outcome, CliError> {
    let Some(args) = Args::parse(args, &VERIFY)? else {
        return help(VERIFY.usage);
    };
    let jwks_path = args.required("--jwks")?;
    let issuer = args.required("--issuer")?;
    let audience = args.required("--audience")?;
    let client_id = args.required("--client-id")?;
    let now = args.now()?;
    // The proof that came with the token request: checked once, as the resource AS checks the
    // DPoP header before it looks at the assertion.
    let dpop = match (args.value("--dpop-proof"), args.value("--token-endpoint")) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(usage_error(VERIFY.usage, "--dpop-proof needs --token-endpoint"));
        }
        (None, Some(_)) => {
            return Err(usage_error(VERIFY.usage, "--token-endpoint needs --dpop-proof"));
        }
        (Some(proof), Some(endpoint)) => {
            let endpoint = args.http_url("--token-endpoint", endpoint)?;
            let proofs = MemoryReplayGuard::new(REPLAY_CAPACITY);
            Some(DpopVerifier::new().verify(proof.trim(), "POST", endpoint, None, now, &proofs))
        }
    };
    let leeway = args.seconds_or("--leeway", TrustedIssuer::DEFAULT_LEEWAY)?;
    let max_lifetime = args.seconds_or("--max-lifetime", TrustedIssuer::DEFAULT_MAX_LIFETIME)?;
    let single_use = args.flag("--single-use");
    let source = args.single_source()?;

    let keys = trusted_keys(jwks_path)?;
    let policy =
        if single_use { ReplayPolicy::SingleUse } else { ReplayPolicy::AllowRepresentation };
    let verifier = Verifier {
        server: ResourceServer::new(ResourceServerConfig::new(audience).with_replay_policy(policy)),
        issuer: Arc::new(
            TrustedIssuer::new(issuer, keys).with_leeway(leeway).with_max_lifetime(max_lifetime),
        ),
        client: AuthenticatedClient::confidential(client_id),
        replay: single_use.then(|| MemoryReplayGuard::new(REPLAY_CAPACITY)),
        dpop,
        now,
    };

    let mut rejected = false;
    let mut report = |token: &str| -> Result<(), CliError> {
        let line = match verifier.verify(token) {
            Ok(claims) => claims.to_json(),
            Err(rejection) => {
                rejected = true;
                json!({
                    "error": rejection.wire_error().code(),
                    "reason": rejection.reason().code(),
                })
                .to_string()
            }
        };
        print_line(&line)
    };
    match source {
        Some(token) => report(token.trim())?,
        None => for_each_stdin_line(&mut report)?,
    }
    Ok(if rejected { Outcome::Rejected } else { Outcome::Success })
}

/// The resource AS as `verify` configures it: one trusted issuer, one authenticated client.
struct Verifier {
    server: ResourceServer,
    issuer: Arc<TrustedIssuer>,
    client: AuthenticatedClient,
    /// Present with `--single-use`: shared by every token of the run.
    replay: Option<MemoryReplayGuard>,
    /// Present with `--dpop-proof`: the outcome of its check, which every token of the run meets.
    dpop: Option<Result<VerifiedDpopProof, DpopError>>,
    now: NumericDate,
}

impl Verifier {
    /// The proof, parse, verify with the four DPoP cases of draft §9.8, then the replay step:
    /// what [`ResourceServer::redeem_request_with_dpop`] does before it resolves the subject.
    fn verify(&self, token: &str) -> Result<IdJagClaims, Rejection> {
        let proof = match &self.dpop {
            None => None,
            Some(Ok(proof)) => Some(proof),
            Some(Err(error)) => return Err(RejectReason::DpopProofInvalid(*error).into()),
        };
        let unverified = self.server.parse(token)?;
        let issuer = Some(Arc::clone(&self.issuer));
        let checked =
            self.server.verify_with_dpop(unverified, issuer, &self.client, proof, self.now)?;
        let verified = match &self.replay {
            Some(guard) => checked.finish_with(guard, self.now)?,
            None => checked.finish(None)?,
        };
        Ok(verified.claims().clone())
    }
}

/// The issuer's keys from a JWK Set file, as a resource AS imports them: a key that cannot be
/// used is left out with a warning, and the others are kept.
fn trusted_keys(path: &str) -> Result<KeySet, CliError> {
    let import = KeySet::from_jwks(&read_file(path)?)
        .map_err(|error| CliError::Failed(format!("{path}: {}", error.reason())))?;
    for refused in &import.rejected {
        diagnose(&format!("{path}: key {} left out ({})", refused.index, refused.reason.reason()));
    }
    if import.keys.is_empty() {
        diagnose(&format!("{path}: no usable key; every token will be rejected"));
    }
    Ok(import.keys)
}

/// Call `each` with every non-blank line of stdin, trimmed, in order.
///
/// A line that is not UTF-8 is passed on with replacement characters, so that it gets its own
/// rejection line instead of stopping the batch.
fn for_each_stdin_line(each: &mut dyn FnMut(&str) -> Result<(), CliError>) -> Result<(), CliError> {
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = stdin
            .read_until(b'\n', &mut line)
            .map_err(|error| CliError::Failed(format!("cannot read stdin: {error}")))?;
        if read == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let token = text.trim();
        if !token.is_empty() {
            each(token)?;
        }
    }
}

/// `idjag dpop`: make or check DPoP proofs (RFC 9449).
fn dpop(args: &[String]) -> Result<Outcome, CliError> {
    match args.split_first() {
        None => Err(usage_error(DPOP_USAGE, "no dpop command given")),
        Some((command, rest)) => match command.as_str() {
            "make" => dpop_make(rest),
            "check" => dpop_check(rest),
            "--help" | "-h" | "help" if rest.is_empty() => help(DPOP_USAGE),
            other => Err(usage_error(DPOP_USAGE, format!("unknown dpop command {other:?}"))),
        },
    }
}

/// `idjag dpop make`: a proof for one request, signed with a private JWK.
fn dpop_make(args: &[String]) -> Result<Outcome, CliError> {
    let Some(args) = Args::parse(args, &DPOP_MAKE)? else {
        return help(DPOP_MAKE.usage);
    };
    args.no_positionals()?;
    let key_path = args.required("--key")?;
    let htm = args.method("--htm")?;
    let htu = args.http_url("--htu", args.required("--htu")?)?;
    let ath_token = args.nonempty("--ath-token")?;
    let nonce = args.nonempty("--nonce")?;
    let now = args.now()?;

    let key = SigningKey::from_jwk(&read_file(key_path)?, None)
        .map_err(|error| CliError::Failed(format!("{key_path}: {}", error.reason())))?;
    let mut proof = DpopProof::new(htm, htu);
    if let Some(token) = ath_token {
        proof = proof.with_access_token(token);
    }
    if let Some(nonce) = nonce {
        proof = proof.with_nonce(nonce);
    }
    let proof = proof
        .sign(&key, now)
        .map_err(|error| CliError::Failed(format!("signing failed ({})", error.reason())))?;
    print_line(&proof)?;
    Ok(Outcome::Success)
}

/// `idjag dpop check`: check proofs for one request, each `jti` once in the run.
fn dpop_check(args: &[String]) -> Result<Outcome, CliError> {
    let Some(args) = Args::parse(args, &DPOP_CHECK)? else {
        return help(DPOP_CHECK.usage);
    };
    let htm = args.method("--htm")?;
    let htu = args.http_url("--htu", args.required("--htu")?)?;
    let access_token = args.nonempty("--access-token")?;
    let nonce = args.nonempty("--nonce")?;
    let now = args.now()?;
    let source = args.single_source()?;

    let verifier = match nonce {
        Some(nonce) => DpopVerifier::new().with_nonce(nonce),
        None => DpopVerifier::new(),
    };
    let replay = MemoryReplayGuard::new(REPLAY_CAPACITY);
    let mut rejected = false;
    let mut report = |proof: &str| -> Result<(), CliError> {
        let line = match verifier.verify(proof, htm, htu, access_token, now, &replay) {
            Ok(verified) => json!({ "jkt": verified.jkt() }),
            Err(error) => {
                rejected = true;
                json!({ "error": error.wire_error().code(), "reason": error.reason() })
            }
        };
        print_line(&line.to_string())
    };
    match source {
        Some(proof) => report(proof.trim())?,
        None => for_each_stdin_line(&mut report)?,
    }
    Ok(if rejected { Outcome::Rejected } else { Outcome::Success })
}

/// `idjag inspect`: the header and payload of a compact JWS, decoded without any key.
fn inspect(args: &[String]) -> Result<Outcome, CliError> {
    let Some(args) = Args::parse(args, &INSPECT)? else {
        return help(INSPECT.usage);
    };
    let token = match args.single_source()? {
        Some(token) => token.trim().to_owned(),
        None => {
            let mut input = Vec::new();
            io::stdin()
                .read_to_end(&mut input)
                .map_err(|error| CliError::Failed(format!("cannot read stdin: {error}")))?;
            String::from_utf8_lossy(&input).trim().to_owned()
        }
    };

    let (header, payload) = decode_segments(&token)
        .map_err(|problem| CliError::Failed(format!("cannot inspect: {problem}")))?;
    // The key-free part of the resource AS's checks: what it would refuse before any key.
    let syntax = match ResourceServer::new(ResourceServerConfig::new("")).parse(&token) {
        Ok(_) => "ok",
        Err(rejection) => rejection.reason().code(),
    };
    let report = json!({
        "warning": "UNVERIFIED: signature not checked",
        "header": header,
        "payload": payload,
        "syntax": syntax,
    });
    let pretty = serde_json::to_string_pretty(&report)
        .map_err(|_| CliError::Failed("cannot format the report".to_owned()))?;
    print_line(&pretty)?;
    Ok(Outcome::Success)
}

/// The header (a JSON object) and payload (any JSON value) of a compact JWS, whatever its
/// `alg`. The problem, when there is one, is described without repeating the token.
fn decode_segments(token: &str) -> Result<(Map<String, Value>, Value), &'static str> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err("not a compact JWS (three dot-separated segments)");
    };
    let decode = |segment: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment);

    let header = decode(header).map_err(|_| "the header is not base64url")?;
    let Ok(Value::Object(header)) = serde_json::from_slice(&header) else {
        return Err("the header is not a JSON object");
    };
    let payload = decode(payload).map_err(|_| "the payload is not base64url")?;
    let payload = serde_json::from_slice(&payload).map_err(|_| "the payload is not JSON")?;
    decode(signature).map_err(|_| "the signature is not base64url")?;
    Ok((header, payload))
}

/// What a command accepts: its options, and the usage text shown with its errors.
struct CommandSpec {
    usage: &'static str,
    /// Options that take a value (`--name VALUE` or `--name=VALUE`).
    valued: &'static [&'static str],
    /// Options that take none.
    flags: &'static [&'static str],
}

/// A parsed command line: each option at most once, and the positional arguments.
struct Args {
    usage: &'static str,
    values: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
    positionals: Vec<String>,
}

impl Args {
    /// Parse `args` under `spec`; `None` when `--help` or `-h` asks for the usage text.
    fn parse(args: &[String], spec: &CommandSpec) -> Result<Option<Self>, CliError> {
        let mut parsed =
            Args { usage: spec.usage, values: Vec::new(), flags: Vec::new(), positionals: vec![] };
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == "--help" || arg == "-h" {
                return Ok(None);
            }
            if arg == "--" {
                parsed.positionals.extend(rest.by_ref().cloned());
                break;
            }
            if arg == "-" || !arg.starts_with('-') {
                parsed.positionals.push(arg.clone());
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (arg.as_str(), None),
            };
            if let Some(known) = spec.valued.iter().find(|known| **known == name) {
                let value = match inline {
                    Some(value) => value.to_owned(),
                    None => rest
                        .next()
                        .cloned()
                        .ok_or_else(|| usage_error(spec.usage, format!("{name} needs a value")))?,
                };
                if parsed.value(known).is_some() {
                    return Err(usage_error(spec.usage, format!("{name} given twice")));
                }
                parsed.values.push((known, value));
            } else if let Some(known) = spec.flags.iter().find(|known| **known == name) {
                if inline.is_some() {
                    return Err(usage_error(spec.usage, format!("{name} takes no value")));
                }
                if parsed.flag(known) {
                    return Err(usage_error(spec.usage, format!("{name} given twice")));
                }
                parsed.flags.push(known);
            } else {
                return Err(usage_error(spec.usage, format!("unknown option {name:?}")));
            }
        }
        Ok(Some(parsed))
    }

    /// The value of an option, if given.
    fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(known, _)| *known == name).map(|(_, value)| value.as_str())
    }

    /// The value of a required option.
    fn required(&self, name: &str) -> Result<&str, CliError> {
        self.value(name).ok_or_else(|| usage_error(self.usage, format!("{name} is required")))
    }

    /// Whether a flag was given.
    fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// A number of seconds from an option, or `default` when it is not given.
    fn seconds_or(&self, name: &str, default: u64) -> Result<u64, CliError> {
        self.value(name).map_or(Ok(default), |text| seconds(self, name, text))
    }

    /// The current time: `--now UNIX`, or the system clock.
    fn now(&self) -> Result<NumericDate, CliError> {
        match self.value("--now") {
            Some(text) => NumericDate::from_unix_seconds(seconds(self, "--now", text)?)
                .map_err(|_| usage_error(self.usage, "--now is past the year 9999")),
            None => Ok(NumericDate::now_from_system_clock()),
        }
    }

    /// The value of an option that must not be empty, if given.
    fn nonempty(&self, name: &str) -> Result<Option<&str>, CliError> {
        match self.value(name) {
            Some("") => Err(usage_error(self.usage, format!("{name} must not be empty"))),
            other => Ok(other),
        }
    }

    /// A required HTTP method: an RFC 9110 token, such as POST or GET.
    fn method(&self, name: &str) -> Result<&str, CliError> {
        let method = self.required(name)?;
        let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if method.is_empty() || !method.chars().all(tchar) {
            return Err(usage_error(
                self.usage,
                format!("{name} needs an HTTP method, such as POST"),
            ));
        }
        Ok(method)
    }

    /// `text`, given to option `name`, as an absolute http or https URL.
    fn http_url<'t>(&self, name: &str, text: &'t str) -> Result<&'t str, CliError> {
        match url::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "https" | "http") && url.has_host() => Ok(text),
            _ => {
                Err(usage_error(self.usage, format!("{name} needs an absolute http or https URL")))
            }
        }
    }

    /// Refuse positional arguments, for commands that take none.
    fn no_positionals(&self) -> Result<(), CliError> {
        match self.positionals.first() {
            None => Ok(()),
            Some(_) => Err(usage_error(self.usage, "unexpected argument")),
        }
    }

    /// The one optional positional argument, a token or `-`; `None` means read stdin.
    fn single_source(&self) -> Result<Option<&str>, CliError> {
        match self.positionals.as_slice() {
            [] => Ok(None),
            [token] if token == "-" => Ok(None),
            [token] => Ok(Some(token)),
            _ => Err(usage_error(self.usage, "at most one token may be given")),
        }
    }
}

/// Parse a whole number of seconds given to option `name`.
fn seconds(args: &Args, name: &str, text: &str) -> Result<u64, CliError> {
    text.parse()
        .map_err(|_| usage_error(args.usage, format!("{name} needs a whole number of seconds")))
}

/// Print `usage` to stdout, as `--help` asks.
fn help(usage: &'static str) -> Result<Outcome, CliError> {
    print_line(usage)?;
    Ok(Outcome::Success)
}

/// Write one line to stdout, reporting a write failure instead of panicking as `println!`
/// would.
///
/// Control characters other than line ends are written as JSON `\uXXXX` escapes: serde_json
/// leaves DEL and the C1 controls raw, and a hostile token must not drive the terminal. Raw
/// control characters only ever occur inside JSON strings, where the escape means the same.
fn print_line(line: &str) -> Result<(), CliError> {
    let mut escaped = String::with_capacity(line.len());
    for character in line.chars() {
        if character.is_control() && character != '\n' {
            escaped.push_str(&format!("\\u{:04x}", u32::from(character)));
        } else {
            escaped.push(character);
        }
    }
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{escaped}")?;
    stdout.flush()?;
    Ok(())
}

/// Write a diagnostic line to stderr. Unlike `eprintln!`, a closed stderr is no panic: the exit
/// status still tells the outcome.
fn diagnose(message: &str) {
    let _ = writeln!(io::stderr().lock(), "idjag: {message}");
}

/// Read a whole file; the error names the file.
fn read_file(path: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|error| CliError::Failed(format!("{path}: cannot read ({error})")))
}

/// At most this many live (`iss`, `jti`) records for `--single-use`: far beyond any batch.
const REPLAY_CAPACITY: usize = 1 << 20;

const KEYGEN: CommandSpec =
    CommandSpec { usage: KEYGEN_USAGE, valued: &["--alg", "--kid"], flags: &[] };
const JWKS: CommandSpec = CommandSpec { usage: JWKS_USAGE, valued: &[], flags: &[] };
const MINT: CommandSpec =
    CommandSpec { usage: MINT_USAGE, valued: &["--key", "--claims"], flags: &[] };
const VERIFY: CommandSpec = CommandSpec {
    usage: VERIFY_USAGE,
    valued: &[
        "--jwks",
        "--issuer",
        "--audience",
        "--client-id",
        "--now",
        "--leeway",
        "--max-lifetime",
        "--dpop-proof",
        "--token-endpoint",
    ],
    flags: &["--single-use"],
};
const INSPECT: CommandSpec = CommandSpec { usage: INSPECT_USAGE, valued: &[], flags: &[] };
const DPOP_MAKE: CommandSpec = CommandSpec {
    usage: DPOP_MAKE_USAGE,
    valued: &["--key", "--htm", "--htu", "--ath-token", "--nonce", "--now"],
    flags: &[],
};
const DPOP_CHECK: CommandSpec = CommandSpec {
    usage: DPOP_CHECK_USAGE,
    valued: &["--htm", "--htu", "--access-token", "--nonce", "--now"],
    flags: &[],
};

const USAGE: &str = "\
usage: idjag <command> [options]

commands:
  keygen   generate a private signing JWK
  jwks     publish the public JWK Set of JWK files
  mint     sign a claim set into an ID-JAG
  verify   verify ID-JAGs as a resource authorization server would
  inspect  decode an ID-JAG without verifying it
  dpop     make or check DPoP proofs (RFC 9449)

`idjag <command> --help` describes a command.
exit status: 0 success, 1 rejected or failed, 2 usage error";

const KEYGEN_USAGE: &str = "\
usage: idjag keygen --alg <RS256|PS256|ES256|ES384|EdDSA> [--kid KID]

Print a new private JWK as one JSON line, with alg, use \"sig\" and kid (by default its
RFC 7638 thumbprint). RSA keys are 2048 bits. The output is a secret: store it as one.";

const JWKS_USAGE: &str = "\
usage: idjag jwks FILE...

Print the public JWK Set of the keys in FILEs, as one JSON line. Each FILE holds one JWK,
private or public, or a JWK Set whose every key must import. Private members never appear
in the output. A key that cannot be imported stops the command with its reason code.";

const MINT_USAGE: &str = "\
usage: idjag mint --key FILE --claims FILE

Sign the claim set in --claims (JSON) with the private JWK in --key and print the compact
ID-JAG: typ \"oauth-id-jag+jwt\", alg and kid from the key. A claim set a verifier would
refuse (a required claim missing, a claim of the wrong type) is refused with its reason.";

const VERIFY_USAGE: &str = "\
usage: idjag verify --jwks FILE --issuer ISS --audience AUD --client-id ID
                    [--now UNIX] [--leeway SECONDS] [--max-lifetime SECONDS]
                    [--single-use] [--dpop-proof PROOF --token-endpoint URL] [TOKEN | -]

Verify ID-JAGs as the resource authorization server AUD would for the authenticated
confidential client ID, trusting issuer ISS with the JWK Set in FILE: every check of a
redemption but those needing a token request or a subject directory.

With TOKEN, verify it; with - or no TOKEN, verify each non-blank line of stdin. Each token
gives one JSON line: its verified claims, or {\"error\":\"invalid_grant\",\"reason\":CODE}
(\"invalid_dpop_proof\" or \"use_dpop_nonce\" when the DPoP proof itself is refused).

  --now UNIX              the current time (default: the system clock)
  --leeway SECONDS        clock leeway for exp, nbf and iat (default 60)
  --max-lifetime SECONDS  the longest exp - iat accepted (default 600)
  --single-use            refuse a (iss, jti) already seen in this run (reason \"replayed\")
  --dpop-proof PROOF      the DPoP header of the token request (RFC 9449), checked once as
                          for a POST to --token-endpoint URL; then a token bound to a key
                          (cnf.jkt) needs the proof to be by that key (\"dpop_key_mismatch\"),
                          and an unbound one would be bound to the proof's key. Without it, a
                          bound token is refused (\"dpop_proof_missing\").

exit status: 0 all verified, 1 any rejected or an input unusable, 2 usage error";

const INSPECT_USAGE: &str = "\
usage: idjag inspect [TOKEN | -]

Decode a compact JWS (by default from stdin) and print its header and payload as JSON,
WITHOUT checking the signature. \"syntax\" is \"ok\" or the reason code of the first
key-free check a resource authorization server would fail.";

const DPOP_USAGE: &str = "\
usage: idjag dpop <make|check> [options]

  make   sign a DPoP proof (RFC 9449) for one HTTP request with a private JWK
  check  check DPoP proofs for one HTTP request and print their key's thumbprint

`idjag dpop make --help` and `idjag dpop check --help` describe each.";

const DPOP_MAKE_USAGE: &str = "\
usage: idjag dpop make --key FILE --htm METHOD --htu URL
                       [--ath-token TOKEN] [--nonce NONCE] [--now UNIX]

Print a DPoP proof (RFC 9449 §4.2) for a METHOD request to URL, signed with the private JWK
in --key: typ \"dpop+jwt\", the key's public jwk (no kid), and the claims jti (random),
htm, htu (URL without query and fragment) and iat.

  --ath-token TOKEN  the access token the proof accompanies: adds ath, its SHA-256 hash
  --nonce NONCE      the server's DPoP-Nonce, echoed as nonce
  --now UNIX         iat (default: the system clock)";

const DPOP_CHECK_USAGE: &str = "\
usage: idjag dpop check --htm METHOD --htu URL [--access-token TOKEN] [--nonce NONCE]
                        [--now UNIX] [PROOF | -]

Check DPoP proofs as a server receiving a METHOD request to URL would (RFC 9449 §4.3):
typ, an allowed asymmetric alg, a public jwk that verifies the signature, htm, htu (after
normalisation, ignoring query and fragment), iat at most 60 seconds old and 5 seconds ahead,
and each jti once per key within this run.

With PROOF, check it; with - or no PROOF, check each non-blank line of stdin. Each proof
gives one JSON line: {\"jkt\":THUMBPRINT}, the RFC 7638 thumbprint of its key, or
{\"error\":\"invalid_dpop_proof\",\"reason\":CODE} (\"use_dpop_nonce\" for a missing or wrong
nonce).

  --access-token TOKEN  the access token presented with the proof: ath must be its hash
  --nonce NONCE         require this nonce
  --now UNIX            the current time (default: the system clock)

exit status: 0 all valid, 1 any refused or an input unusable, 2 usage error";
