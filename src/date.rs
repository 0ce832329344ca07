//! NumericDate (RFC 7519 §2): seconds since the Unix epoch, as integers in a sane range.
//!
//! The crate never reads the clock on its own: every check takes the current time as a
//! [`NumericDate`] parameter. [`NumericDate::now_from_system_clock`] is the one, clearly named,
//! convenience for the outermost layer of a host.

use serde::{Serialize, Serializer};
use serde_json::Value;

/// A point in time as whole seconds since 1970-01-01T00:00:00Z.
///
/// The range is `0..=253_402_300_799` (the last second of the year 9999). JSON values outside
/// it, negative, fractional, or of another JSON type are refused with a [`NumericDateError`]:
/// never a panic, never "absent", never "infinite".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NumericDate(u64);

/// Why a value is not an acceptable NumericDate.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NumericDateError {
    /// A JSON number with a fraction or exponent, or too large for an integer (`1.5`, `1e300`).
    #[error("numeric date is not an integer")]
    NotAnInteger,
    /// A negative integer.
    #[error("numeric date is negative")]
    Negative,
    /// An integer after the year 9999.
    #[error("numeric date is out of range")]
    OutOfRange,
    /// Not a JSON number at all (a string such as `"123"`, `null`, a boolean, ...).
    #[error("numeric date is not a JSON number")]
    NotANumber,
}

impl NumericDate {
    /// The largest accepted value: 9999-12-31T23:59:59Z.
    pub const MAX_SECONDS: u64 = 253_402_300_799;

    /// A date from whole seconds since the epoch.
    pub fn from_unix_seconds(seconds: u64) -> Result<Self, NumericDateError> {
        if seconds > Self::MAX_SECONDS {
            return Err(NumericDateError::OutOfRange);
        }
        Ok(Self(seconds))
    }

    /// The current time read from the system clock.
    ///
    /// This is the only place the crate reads a clock; call it at the edge of the host and pass
    /// the result down. A clock before 1970 reads as the epoch.
    pub fn now_from_system_clock() -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Self(seconds.min(Self::MAX_SECONDS))
    }

    /// Whole seconds since the epoch.
    pub fn as_unix_seconds(self) -> u64 {
        self.0
    }

    /// This date plus `seconds`, or `None` past [`NumericDate::MAX_SECONDS`].
    pub fn checked_add_seconds(self, seconds: u64) -> Option<Self> {
        self.0.checked_add(seconds).and_then(|sum| Self::from_unix_seconds(sum).ok())
    }

    /// This date plus `seconds`, clamped at [`NumericDate::MAX_SECONDS`].
    pub fn saturating_add_seconds(self, seconds: u64) -> Self {
        Self(self.0.saturating_add(seconds).min(Self::MAX_SECONDS))
    }

    /// This date minus `seconds`, clamped at the epoch.
    pub fn saturating_sub_seconds(self, seconds: u64) -> Self {
        Self(self.0.saturating_sub(seconds))
    }

    /// Seconds from `earlier` to `self`, or `None` when `earlier` is later.
    pub fn seconds_since(self, earlier: NumericDate) -> Option<u64> {
        self.0.checked_sub(earlier.0)
    }

    /// Read a NumericDate from a JSON value, strictly: a non-negative integer in range.
    pub fn from_json(value: &Value) -> Result<Self, NumericDateError> {
        let Value::Number(number) = value else {
            return Err(NumericDateError::NotANumber);
        };
        if let Some(seconds) = number.as_u64() {
            return Self::from_unix_seconds(seconds);
        }
        if number.as_i64().is_some() {
            return Err(NumericDateError::Negative);
        }
        // serde_json reads integers beyond u64 (18446744073709551616) and anything with a
        // fraction or exponent as f64: none of them is an acceptable NumericDate.
        Err(NumericDateError::NotAnInteger)
    }
}

impl std::fmt::Display for NumericDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for NumericDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hostile_numbers_are_clean_errors() {
        let cases: [(&str, NumericDateError); 8] = [
            ("1e300", NumericDateError::NotAnInteger),
            ("18446744073709551616", NumericDateError::NotAnInteger),
            ("18446744073709551615", NumericDateError::OutOfRange),
            ("-1", NumericDateError::Negative),
            ("1.5", NumericDateError::NotAnInteger),
            ("\"123\"", NumericDateError::NotANumber),
            ("null", NumericDateError::NotANumber),
            ("253402300800", NumericDateError::OutOfRange),
        ];
        for (text, expected) in cases {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(NumericDate::from_json(&value), Err(expected), "{text}");
        }
    }

    #[test]
    fn integers_in_range_are_accepted() {
        assert_eq!(NumericDate::from_json(&json!(0)).unwrap().as_unix_seconds(), 0);
        let max = NumericDate::from_json(&json!(NumericDate::MAX_SECONDS)).unwrap();
        assert_eq!(max.checked_add_seconds(1), None);
        assert_eq!(max.saturating_add_seconds(5), max);
        let date = NumericDate::from_unix_seconds(100).unwrap();
        assert_eq!(date.seconds_since(NumericDate::from_unix_seconds(40).unwrap()), Some(60));
        assert_eq!(NumericDate::from_unix_seconds(40).unwrap().seconds_since(date), None);
    }
}
