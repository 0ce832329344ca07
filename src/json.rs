//! Strict JSON for untrusted bytes: objects with a repeated member name are refused at every
//! depth (serde_json alone keeps the last one, so `{"alg":"none","alg":"ES256"}` would read as
//! ES256). Nesting depth is bounded by serde_json's recursion limit (128).

use std::borrow::Cow;
use std::cell::Cell;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why bytes are not an acceptable JSON object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum JsonError {
    /// Not JSON (syntax, trailing bytes, nesting too deep, invalid UTF-8).
    Syntax,
    /// An object, at any depth, repeats a member name.
    DuplicateMember,
    /// Valid JSON, but not an object.
    NotAnObject,
}

/// Parse `bytes` as one JSON object, refusing repeated member names at every depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match parse_value(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// Parse `bytes` as one JSON value, refusing repeated member names at every depth.
pub(crate) fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    let duplicate = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed(&duplicate).deserialize(&mut deserializer).map_err(|_| {
        if duplicate.get() { JsonError::DuplicateMember } else { JsonError::Syntax }
    })?;
    deserializer.end().map_err(|_| JsonError::Syntax)?;
    Ok(value)
}

/// The members of a top-level JSON object, in order, names borrowed from `bytes` where they
/// have no escapes. Repeated names are refused at every depth, like [`parse_object`], but the
/// top level is a plain list: no hashing, and the caller takes each member by moving it.
pub(crate) type Members<'a> = Vec<(Cow<'a, str>, Value)>;

/// Parse `bytes` as one JSON object into its [`Members`].
pub(crate) fn parse_members(bytes: &[u8]) -> Result<Members<'_>, JsonError> {
    // Sized for an ID-JAG's claims, so the list rarely grows.
    let mut sink = MembersSink { members: Vec::with_capacity(16), seen: None };
    parse_object_into(bytes, &mut sink)?;
    Ok(sink.members)
}

/// Where [`parse_object_into`] hands the members of the top-level object, in document order.
///
/// The sink does the repeated-name check at the top level (it knows which names it has
/// taken); nested objects are checked by the parser, as everywhere in this module.
pub(crate) trait MemberSink<'de> {
    /// What the sink makes of a member's name.
    type Name;

    /// Note a member's name: `None` when an earlier member had the same name (refused).
    fn name(&mut self, name: Cow<'de, str>) -> Option<Self::Name>;

    /// Take the value of the member just named.
    fn value(&mut self, name: Self::Name, value: Value);
}

/// Parse `bytes` as one JSON object, handing each member to `sink` as it is read (no list of
/// members is built unless the sink builds one). Refusals come in stream order: a repeated
/// name at any depth or a syntax error, whichever the parser meets first; then trailing bytes;
/// a value that is no object is refused before anything is read from it.
pub(crate) fn parse_object_into<'de, S: MemberSink<'de>>(
    bytes: &'de [u8],
    sink: &mut S,
) -> Result<(), JsonError> {
    let duplicate = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.deserialize_any(SinkVisitor { duplicate: &duplicate, sink }).map_err(|error| {
        if duplicate.get() {
            JsonError::DuplicateMember
        } else if error.is_data() {
            JsonError::NotAnObject
        } else {
            JsonError::Syntax
        }
    })?;
    deserializer.end().map_err(|_| JsonError::Syntax)
}

struct SinkVisitor<'a, S> {
    duplicate: &'a Cell<bool>,
    sink: &'a mut S,
}

impl<'de, S: MemberSink<'de>> Visitor<'de> for SinkVisitor<'_, S> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        while let Some(name) = access.next_key_seed(NameSeed)? {
            let Some(name) = self.sink.name(name) else {
                self.duplicate.set(true);
                return Err(A::Error::custom("duplicate member name"));
            };
            let value = access.next_value_seed(StrictSeed(self.duplicate))?;
            self.sink.value(name, value);
        }
        Ok(())
    }
}

/// Beyond this many members the repeated-name check uses a hash set instead of a scan.
const SCAN_LIMIT: usize = 32;

/// Collects [`Members`]: no hashing for the few members of a token, a set past
/// [`SCAN_LIMIT`] so that a huge object costs linear time.
struct MembersSink<'de> {
    members: Members<'de>,
    seen: Option<std::collections::HashSet<String>>,
}

impl<'de> MemberSink<'de> for MembersSink<'de> {
    type Name = Cow<'de, str>;

    fn name(&mut self, name: Cow<'de, str>) -> Option<Cow<'de, str>> {
        let repeated = match &mut self.seen {
            Some(seen) => !seen.insert(name.to_string()),
            None => self.members.iter().any(|(existing, _)| *existing == name),
        };
        if repeated {
            return None;
        }
        if self.seen.is_none() && self.members.len() >= SCAN_LIMIT {
            let names = self.members.iter().map(|(n, _)| n.to_string());
            self.seen = Some(names.chain([name.to_string()]).collect());
        }
        Some(name)
    }

    fn value(&mut self, name: Cow<'de, str>, value: Value) {
        self.members.push((name, value));
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name.to_owned()))
    }

    fn visit_string<E>(self, name: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name))
    }
}

/// A seed that builds a `Value` and raises the shared flag when it meets a repeated name, so
/// the caller can tell that refusal from a syntax error without reading error messages.
#[derive(Clone, Copy)]
struct StrictSeed<'a>(&'a Cell<bool>);

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value).map(Value::Number).ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if map.contains_key(&name) {
                self.0.set(true);
                return Err(A::Error::custom("duplicate member name"));
            }
            let value = access.next_value_seed(self)?;
            map.insert(name, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_at_every_depth() {
        assert_eq!(parse_object(br#"{"a":1,"a":2}"#), Err(JsonError::DuplicateMember));
        assert_eq!(parse_object(br#"{"a":{"b":1,"b":1}}"#), Err(JsonError::DuplicateMember));
        assert_eq!(parse_object(br#"{"a":[{"b":1,"b":1}]}"#), Err(JsonError::DuplicateMember));
        // The same name escaped differently is still the same name.
        assert_eq!(parse_object(br#"{"alg":1,"\u0061lg":2}"#), Err(JsonError::DuplicateMember));
    }

    #[test]
    fn members_keep_order_and_refuse_repeats() {
        let members = parse_members(br#"{"b":1,"a":{"c":2},"\u0064":3}"#).unwrap();
        let names: Vec<&str> = members.iter().map(|(name, _)| name.as_ref()).collect();
        assert_eq!(names, ["b", "a", "d"]);
        assert!(matches!(members[0].0, Cow::Borrowed(_)));
        assert_eq!(parse_members(br#"{"a":1,"\u0061":2}"#), Err(JsonError::DuplicateMember));
        assert_eq!(parse_members(br#"{"a":{"b":1,"b":2}}"#), Err(JsonError::DuplicateMember));
        assert_eq!(parse_members(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(parse_members(b"\"x\""), Err(JsonError::NotAnObject));
        assert_eq!(parse_members(b"{"), Err(JsonError::Syntax));
        assert_eq!(parse_members(b"{} {}"), Err(JsonError::Syntax));
        // Past the scan limit the check switches to a set, and still catches repeats.
        let many: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
        let body = format!("{{{},\"m7\":0}}", many.join(","));
        assert_eq!(parse_members(body.as_bytes()), Err(JsonError::DuplicateMember));
        let body = format!("{{{}}}", many.join(","));
        assert_eq!(parse_members(body.as_bytes()).unwrap().len(), 100);
    }

    #[test]
    fn syntax_and_shape() {
        assert_eq!(parse_object(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(parse_object(b"{} x"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{\"a\":1e400}"), Err(JsonError::Syntax));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_value(deep.as_bytes()), Err(JsonError::Syntax));
        assert!(parse_object(br#"{"a":{"b":[1,2,{"c":null}]},"d":"e"}"#).is_ok());
    }
}
