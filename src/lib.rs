//! # id-jag
//!
//! Cross App Access: the Identity Assertion JWT Authorization Grant (ID-JAG,
//! draft-ietf-oauth-identity-assertion-authz-grant) for the three roles that speak it.
//!
//! - [`idp`]: the identity provider, which issues ID-JAGs by RFC 8693 token exchange under an
//!   admin's managed-connection policy;
//! - [`resource`]: the resource authorization server, which redeems them through the RFC 7523
//!   JWT bearer grant and issues access tokens;
//! - [`client`]: the requesting client (the AI agent), which builds both requests and reads
//!   both responses.
//!
//! Beneath them: the strict JOSE layer ([`jose`], the only user of josekit), the ID-JAG claim
//! set ([`claims`]), scope sets ([`scope`]), wire errors ([`error`]), token responses
//! ([`response`]), audit records ([`audit`]), metadata ([`metadata`]) and the protocol
//! identifiers ([`urn`]). The core does no I/O and never reads the clock: the current time is
//! always a parameter ([`NumericDate`]), and hosts bring their own key stores, registries,
//! replay stores and audit sinks through small traits. Each module's documentation shows its
//! role end to end; the README's examples, run as doc tests, show all three.
#![forbid(unsafe_code)]
// The README's examples run as doc tests, so they stay true.
#![cfg_attr(doctest, doc = include_str!("../README.md"))]
#![deny(missing_docs)]

pub mod audit;
pub mod authenticated;
pub mod claims;
pub mod client;
mod date;
pub mod dpop;
pub mod error;
mod form;
pub mod idp;
pub mod jose;
mod json;
pub mod metadata;
pub mod resource;
pub mod response;
pub mod scope;
pub mod urn;

pub use date::{NumericDate, NumericDateError};
