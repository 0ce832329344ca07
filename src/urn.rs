//! Every protocol identifier this crate speaks, defined once.
//!
//! The values are those of draft-ietf-oauth-identity-assertion-authz-grant-04 and the RFCs it
//! builds on (RFC 8693 token exchange, RFC 7523 JWT bearer grants).

/// JOSE `typ` of an ID-JAG, in the short form this crate emits (draft §3).
pub const TYP_ID_JAG: &str = "oauth-id-jag+jwt";
/// Media type of an ID-JAG (draft §10); `typ` may carry it in full.
pub const MEDIA_TYPE_ID_JAG: &str = "application/oauth-id-jag+jwt";
/// JOSE `typ` of an RFC 9068 JWT access token.
pub const TYP_ACCESS_TOKEN: &str = "at+jwt";
/// JOSE `typ` of an RFC 9449 DPoP proof.
pub const TYP_DPOP: &str = "dpop+jwt";

/// Token type URN of an ID-JAG (draft §4.3).
pub const TOKEN_TYPE_ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// Token type URN of an OpenID Connect ID token (RFC 8693 §3).
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// Token type URN of a SAML 2.0 assertion (RFC 8693 §3).
pub const TOKEN_TYPE_SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";
/// Token type URN of a SAML 1.1 assertion (RFC 8693 §3).
pub const TOKEN_TYPE_SAML1: &str = "urn:ietf:params:oauth:token-type:saml1";
/// Token type URN of an OAuth refresh token (RFC 8693 §3).
pub const TOKEN_TYPE_REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// Token type URN of an OAuth access token (RFC 8693 §3).
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Token type URN of a generic JWT (RFC 8693 §3).
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Grant profile URN advertised in metadata (draft §7, §8).
pub const GRANT_PROFILE_ID_JAG: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// Grant type of RFC 8693 token exchange (leg 1).
pub const GRANT_TYPE_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Grant type of the RFC 7523 JWT bearer grant (leg 2).
pub const GRANT_TYPE_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Grant type the draft's DPoP example uses for leg 2 (draft §9.8).
pub const GRANT_TYPE_JWT_DPOP: &str = "urn:ietf:params:oauth:grant-type:jwt-dpop";
/// Grant type of an OAuth refresh (RFC 6749 §6).
pub const GRANT_TYPE_REFRESH_TOKEN: &str = "refresh_token";
/// Client assertion type of RFC 7523 §2.2 `private_key_jwt` client authentication.
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `token_type` of a token-exchange response whose token is not an access token (RFC 8693 §2.2.1).
pub const TOKEN_TYPE_N_A: &str = "N_A";
/// `token_type` of a bearer access token (RFC 6750).
pub const TOKEN_TYPE_BEARER: &str = "Bearer";
/// `token_type` of a DPoP-bound access token (RFC 9449 §5).
pub const TOKEN_TYPE_DPOP: &str = "DPoP";

/// `sub_id` format of a SAML NameID subject identifier (draft §3.2).
pub const SUBJECT_ID_FORMAT_SAML_NAMEID: &str = "saml-nameid";

/// IdP metadata field listing the requested token types it can issue (draft §7).
pub const METADATA_IDENTITY_CHAINING_REQUESTED_TOKEN_TYPES: &str =
    "identity_chaining_requested_token_types_supported";
/// Resource AS and client metadata field listing grant profiles (draft §7, §8).
pub const METADATA_AUTHORIZATION_GRANT_PROFILES: &str = "authorization_grant_profiles_supported";
