//! Scope sets (RFC 6749 §3.3): parse, format, subset and intersection.
//!
//! ```
//! use id_jag::scope::Scope;
//!
//! let requested = Scope::parse("expenses.read expenses.write admin")?;
//! let ceiling = Scope::parse("expenses.read expenses.write")?;
//! let granted = requested.intersection(&ceiling);
//! assert_eq!(granted.to_string(), "expenses.read expenses.write");
//! assert!(granted.is_subset(&ceiling));
//! # Ok::<(), id_jag::scope::ScopeError>(())
//! ```

use serde::{Serialize, Serializer};

/// Why a string is not a scope (RFC 6749 §3.3 grammar).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The string is empty: a scope has at least one token.
    #[error("scope is empty")]
    Empty,
    /// Two spaces in a row, or a leading or trailing space.
    #[error("scope has an empty token")]
    EmptyToken,
    /// A character outside `%x21 / %x23-5B / %x5D-7E` (such as `"`, `\`, a control character,
    /// a tab or a non-ASCII character).
    #[error("scope token has a forbidden character")]
    InvalidCharacter,
    /// More than [`Scope::MAX_TOKENS`] tokens: no real scope has that many, and the cap bounds
    /// the cost of the set operations on attacker input.
    #[error("scope has too many tokens")]
    TooManyTokens,
}

impl ScopeError {
    /// A stable, machine-readable reason code.
    pub fn reason(self) -> &'static str {
        match self {
            ScopeError::Empty => "scope_empty",
            ScopeError::EmptyToken => "scope_empty_token",
            ScopeError::InvalidCharacter => "scope_invalid_character",
            ScopeError::TooManyTokens => "scope_too_many_tokens",
        }
    }
}

/// A set of scope tokens, in first-seen order. Equality ignores order, as for any set.
#[derive(Clone, Default)]
pub struct Scope {
    tokens: Vec<String>,
}

impl Scope {
    /// The most tokens a scope may have.
    pub const MAX_TOKENS: usize = 256;

    /// Parse a space-delimited scope string, strictly: single spaces between tokens, at least
    /// one token, only the characters RFC 6749 §3.3 allows. A repeated token counts once.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        if text.is_empty() {
            return Err(ScopeError::Empty);
        }
        let mut scope = Scope::default();
        for token in text.split(' ') {
            if token.is_empty() {
                return Err(ScopeError::EmptyToken);
            }
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid {
                return Err(ScopeError::InvalidCharacter);
            }
            scope.insert_token(token)?;
        }
        Ok(scope)
    }

    /// A scope of these tokens, each checked against the grammar.
    pub fn from_tokens<I, T>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut scope = Scope::default();
        for token in tokens {
            let token = token.as_ref();
            if token.is_empty() {
                return Err(ScopeError::EmptyToken);
            }
            if token.contains(' ') {
                return Err(ScopeError::InvalidCharacter);
            }
            Scope::parse(token)?;
            scope.insert_token(token)?;
        }
        Ok(scope)
    }

    fn insert_token(&mut self, token: &str) -> Result<(), ScopeError> {
        if !self.contains(token) {
            if self.tokens.len() >= Self::MAX_TOKENS {
                return Err(ScopeError::TooManyTokens);
            }
            self.tokens.push(token.to_owned());
        }
        Ok(())
    }

    /// Whether the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.tokens.iter().any(|held| held == token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.tokens.iter().all(|token| other.contains(token))
    }

    /// The tokens in both, in the order of `self`.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope { tokens: self.tokens.iter().filter(|t| other.contains(t)).cloned().collect() }
    }

    /// The tokens of `self` that are not in `other`, in the order of `self`.
    pub fn difference(&self, other: &Scope) -> Scope {
        Scope { tokens: self.tokens.iter().filter(|t| !other.contains(t)).cloned().collect() }
    }

    /// The tokens, in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map(String::as_str)
    }

    /// How many distinct tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there is no token. An empty set has no wire form: it is never emitted.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.is_subset(other)
    }
}

impl Eq for Scope {}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.tokens.join(" "))
    }
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scope({:?})", self.to_string())
    }
}

impl std::str::FromStr for Scope {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Self, ScopeError> {
        Scope::parse(text)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(Scope::parse(""), Err(ScopeError::Empty));
        assert_eq!(Scope::parse(" a"), Err(ScopeError::EmptyToken));
        assert_eq!(Scope::parse("a "), Err(ScopeError::EmptyToken));
        assert_eq!(Scope::parse("a  b"), Err(ScopeError::EmptyToken));
        assert_eq!(Scope::parse("a\tb"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("a\"b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("a\\b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("café"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::from_tokens(["a b"]), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::from_tokens([""]), Err(ScopeError::EmptyToken));
        let many: Vec<String> = (0..=Scope::MAX_TOKENS).map(|i| format!("s{i}")).collect();
        assert_eq!(Scope::parse(&many.join(" ")), Err(ScopeError::TooManyTokens));
        assert_eq!(Scope::parse(&many[1..].join(" ")).unwrap().len(), Scope::MAX_TOKENS);
        let scope = Scope::parse("openid read:all ! ~ read:all").unwrap();
        assert_eq!(scope.len(), 4);
        assert_eq!(scope.to_string(), "openid read:all ! ~");
    }

    #[test]
    fn algebra() {
        let a = Scope::parse("a b c").unwrap();
        let b = Scope::parse("c d b").unwrap();
        assert_eq!(a.intersection(&b), Scope::parse("b c").unwrap());
        assert_eq!(a.intersection(&b).to_string(), "b c");
        assert_eq!(b.intersection(&a).to_string(), "c b");
        assert_eq!(a.intersection(&b), b.intersection(&a));
        assert!(a.intersection(&b).is_subset(&a) && a.intersection(&b).is_subset(&b));
        assert!(!a.is_subset(&b));
        assert_eq!(a.difference(&b).to_string(), "a");
        assert!(Scope::parse("b a").unwrap() == Scope::parse("a b").unwrap());
        assert!(Scope::parse("a").unwrap() != Scope::parse("a b").unwrap());
    }
}
