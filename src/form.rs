//! `application/x-www-form-urlencoded` request bodies, parsed strictly for token endpoints.

use std::collections::HashMap;

/// Token request bodies above this size are refused before parsing.
pub(crate) const MAX_FORM_BODY: usize = 64 * 1024;

/// Why a form body was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FormError {
    /// Over [`MAX_FORM_BODY`].
    TooLarge,
    /// A parameter appears twice (RFC 6749 §3.2: parameters MUST NOT be included more than
    /// once), unless the caller allows repeats of it (`resource`, RFC 8707 §2).
    Repeated,
}

/// A parsed form: each parameter's values, in order. Empty values are dropped, since RFC 6749
/// §3.2 says a parameter sent without a value is treated as omitted.
#[derive(Debug, Default)]
pub(crate) struct Form {
    values: HashMap<String, Vec<String>>,
}

impl Form {
    pub(crate) fn parse(body: &[u8], repeatable: &[&str]) -> Result<Self, FormError> {
        if body.len() > MAX_FORM_BODY {
            return Err(FormError::TooLarge);
        }
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            let name = name.into_owned();
            let may_repeat = repeatable.contains(&name.as_str());
            let entry = values.entry(name).or_default();
            if !entry.is_empty() && !may_repeat {
                return Err(FormError::Repeated);
            }
            entry.push(value.into_owned());
        }
        Ok(Form { values })
    }

    /// The single value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|values| values.first()).map(String::as_str)
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_empties() {
        assert_eq!(Form::parse(b"a=1&a=2", &[]).unwrap_err(), FormError::Repeated);
        let form = Form::parse(b"resource=x&resource=y&a=&b=%20c", &["resource"]).unwrap();
        assert_eq!(form.all("resource"), ["x", "y"]);
        assert_eq!(form.get("a"), None);
        assert_eq!(form.get("b"), Some(" c"));
        assert_eq!(
            Form::parse(&vec![b'a'; MAX_FORM_BODY + 1], &[]).unwrap_err(),
            FormError::TooLarge
        );
    }
}
