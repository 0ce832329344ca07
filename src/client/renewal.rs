//! What the client should do next, from what it holds and the time.

use crate::NumericDate;

/// What a client holds for one user and one resource app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeldTokens {
    /// When the access token expires, if the client has one.
    pub access_token_expires_at: Option<NumericDate>,
    /// When the ID-JAG expires, if the client has one.
    pub id_jag_expires_at: Option<NumericDate>,
    /// Whether the ID-JAG may be presented (again): not yet redeemed, or the resource AS
    /// accepts re-presentation (draft §4.4.3).
    pub id_jag_presentable: bool,
    /// When the ID token expires, if the client has one.
    pub id_token_expires_at: Option<NumericDate>,
    /// Whether the client holds a refresh token from the IdP.
    pub has_idp_refresh_token: bool,
}

/// The next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Call the API with the access token.
    UseAccessToken,
    /// Present the ID-JAG at the resource AS (leg 2).
    PresentIdJag,
    /// Exchange the ID token for a new ID-JAG at the IdP (leg 1).
    ExchangeIdToken,
    /// Use the IdP refresh token: as the subject token of leg 1, or to get a new ID token.
    RefreshAtIdp,
    /// Nothing usable is left: the user must sign in again.
    SignIn,
}

/// Choose the cheapest next step that works at `now`, treating anything that expires within
/// `margin` seconds as expired (a request takes time to arrive).
pub fn next_step(held: &HeldTokens, now: NumericDate, margin: u64) -> NextStep {
    let valid = |expires_at: Option<NumericDate>| {
        expires_at.is_some_and(|at| at > now.saturating_add_seconds(margin))
    };
    if valid(held.access_token_expires_at) {
        NextStep::UseAccessToken
    } else if held.id_jag_presentable && valid(held.id_jag_expires_at) {
        NextStep::PresentIdJag
    } else if valid(held.id_token_expires_at) {
        NextStep::ExchangeIdToken
    } else if held.has_idp_refresh_token {
        NextStep::RefreshAtIdp
    } else {
        NextStep::SignIn
    }
}
