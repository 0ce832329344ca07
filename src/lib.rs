//! # id-jag
//!
//! Cross App Access: the Identity Assertion JWT Authorization Grant (ID-JAG,
//! draft-ietf-oauth-identity-assertion-authz-grant) for the three roles that speak it.
//!
//! This first layer holds the protocol identifiers ([`urn`]), numeric dates ([`NumericDate`]),
//! the strict JOSE layer ([`jose`]), scope sets ([`scope`]) and the ID-JAG claim set
//! ([`claims`]). The core does no I/O and never reads the clock: the current time is always a
//! parameter.
#![forbid(unsafe_code)]
// The README's examples run as doc tests, so they stay true.
#![cfg_attr(doctest, doc = include_str!("../README.md"))]
#![deny(missing_docs)]

pub mod audit;
pub mod authenticated;
pub mod claims;
pub mod client;
mod date;
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
