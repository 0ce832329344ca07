//! `application/x-www-form-urlencoded` request bodies, parsed strictly for token endpoints.
//!
//! Values that need no decoding (an ID-JAG never does) are borrowed from the body, and the
//! parameters are kept in a short list: a token request has a dozen parameters at most, and
//! the parameter count is capped, so a scan is cheaper than hashing.

use std::borrow::Cow;

/// Token request bodies above this size are refused before parsing.
pub(crate) const MAX_FORM_BODY: usize = 64 * 1024;

/// More parameters than this are refused: no token request needs them, and the cap bounds the
/// repeated-parameter check.
pub(crate) const MAX_FORM_PARAMETERS: usize = 64;

/// Why a form body was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FormError {
    /// Over [`MAX_FORM_BODY`] bytes or [`MAX_FORM_PARAMETERS`] parameters.
    TooLarge,
    /// A parameter appears twice (RFC 6749 §3.2: parameters MUST NOT be included more than
    /// once), unless the caller allows repeats of it (`resource`, RFC 8707 §2).
    Repeated,
}

/// A parsed form: each parameter with its value, in order. Empty values are dropped, since RFC
/// 6749 §3.2 says a parameter sent without a value is treated as omitted.
#[derive(Debug, Default)]
pub(crate) struct Form<'a> {
    parameters: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    pub(crate) fn parse(body: &'a [u8], repeatable: &[&str]) -> Result<Self, FormError> {
        if body.len() > MAX_FORM_BODY {
            return Err(FormError::TooLarge);
        }
        // A valid UTF-8 body (every real one) is split with `str` searches, which use memchr;
        // anything else goes byte by byte with lossy decoding.
        let pairs: Box<dyn Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a> =
            match std::str::from_utf8(body) {
                Ok(text) => Box::new(text.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode_str(name), decode_str(value))
                })),
                Err(_) => Box::new(
                    body.split(|byte| *byte == b'&').filter(|pair| !pair.is_empty()).map(|pair| {
                        let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
                            Some(at) => (
                                pair.get(..at).unwrap_or_default(),
                                pair.get(at + 1..).unwrap_or_default(),
                            ),
                            None => (pair, &[][..]),
                        };
                        (decode(name), decode(value))
                    }),
                ),
            };
        let mut parameters: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::with_capacity(8);
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if parameters.len() >= MAX_FORM_PARAMETERS {
                return Err(FormError::TooLarge);
            }
            let repeated = parameters.iter().any(|(seen, _)| *seen == name);
            if repeated && !repeatable.contains(&name.as_ref()) {
                return Err(FormError::Repeated);
            }
            parameters.push((name, value));
        }
        Ok(Form { parameters })
    }

    /// The value of `name` (the first, for a repeatable parameter).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.parameters.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_ref())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.parameters.iter().filter(|(n, _)| n == name).map(|(_, v)| v.to_string()).collect()
    }
}

/// [`decode`] for text already known to be UTF-8: borrowed as is when there is nothing to
/// decode, without validating it again.
fn decode_str(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    // Two memchr scans: a char-set pattern would decode the text character by character.
    if bytes.contains(&b'%') || bytes.contains(&b'+') { decode(bytes) } else { Cow::Borrowed(text) }
}

/// The form-urlencoded decoding (WHATWG URL §5.1): `+` is a space, `%XX` a byte, anything else
/// itself; invalid UTF-8 becomes U+FFFD. Borrowed when there is nothing to decode.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // `contains` on bytes is a memchr search.
    if !bytes.contains(&b'%') && !bytes.contains(&b'+') {
        return String::from_utf8_lossy(bytes);
    }
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    // Copy each run of plain bytes at once, then decode the `+` or `%` that ends it.
    while let Some(at) = rest.iter().position(|byte| matches!(byte, b'+' | b'%')) {
        let Some((plain, special)) = rest.split_at_checked(at) else { break };
        let Some((&byte, tail)) = special.split_first() else { break };
        decoded.extend_from_slice(plain);
        rest = tail;
        match byte {
            b'+' => decoded.push(b' '),
            _ => match (tail.first().and_then(hex), tail.get(1).and_then(hex)) {
                (Some(high), Some(low)) => {
                    decoded.push(high << 4 | low);
                    rest = tail.get(2..).unwrap_or_default();
                }
                // A `%` not followed by two hex digits stands for itself.
                _ => decoded.push(b'%'),
            },
        }
    }
    decoded.extend_from_slice(rest);
    // Valid UTF-8 (every real body) becomes the string without a second copy.
    Cow::Owned(
        String::from_utf8(decoded)
            .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned()),
    )
}

fn hex(digit: &u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
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
        let many: Vec<String> = (0..=MAX_FORM_PARAMETERS).map(|i| format!("p{i}=v")).collect();
        assert_eq!(Form::parse(many.join("&").as_bytes(), &[]).unwrap_err(), FormError::TooLarge);
    }

    #[test]
    fn decoding_matches_the_url_crate() {
        let cases: [&[u8]; 14] = [
            b"t=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
            b"p=%25%2B%2b+%+%%41&q=%",
            b"r=a%2",
            b"k=caf\xc3\xa9&x=\xff",
            b"\xfe=1&k=%E2%82%AC+",
            b"a=b+c&d=%26%3D",
            b"x=%zz&y=%4&z=%41%42",
            b"%61%73sertion=%C3%A9t%C3%A9",
            b"bad=%FF%FE",
            b"plain=eyJhbGciOiJFUzI1NiJ9.e30.sig_-",
            b"noequals&k=v",
            b"=v&k=",
            b"k=a=b",
            b"&&k=v&&",
        ];
        for body in cases {
            let ours: Vec<(String, String)> = Form::parse(body, &["k", "x", "y", "z"])
                .unwrap()
                .parameters
                .into_iter()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            let reference: Vec<(String, String)> = url::form_urlencoded::parse(body)
                .filter(|(_, value)| !value.is_empty())
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(ours, reference, "{}", String::from_utf8_lossy(body));
        }
    }
}
