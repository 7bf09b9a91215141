//! PHP's ways with request parameters and with text, kept where the original's output or
//! parsing depends on them: `$_GET`/`$_POST` filling (last duplicate wins, `a[b]` arrays,
//! `max_input_vars`, invalid UTF-8 refused), `urlencode`, `rawurlencode`, `htmlspecialchars`
//! and `json_encode`. Pure; every layer uses them.

use crate::error::AppError;

/// PHP's `max_input_vars` at its default: how many variables PHP reads from one source
/// (`$_GET`, `$_POST`) before it warns "Input variables exceeded 1000" and ignores the rest
/// of that source. Its two parsers differ by one: the query-string parser stops before
/// registering the 1001st piece, the form-body parser registers the 1001st and then stops, so
/// a query keeps 1000 pieces and a form body 1001. Pieces without a name count but make no
/// variable. JSON bodies (ThinkPHP's `json_decode`) are not limited, as in the original. One
/// request therefore never costs more than a bounded number of pairs, whatever its size.
pub const MAX_INPUT_VARS: usize = 1000;

/// Request parameters in arrival order. Lookups are last-wins, as PHP's `$_GET`/`$_POST`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Value trimmed; empty counts as missing (PHP's `!$x` on strings, except "0").
    pub fn get_trimmed(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// PHP form arrays: `row[tenant_name]=x` → `("tenant_name", "x")`, first-seen order, a
    /// repeated key keeps its last value and moves to where it was last seen (PHP's array
    /// assignment). One pass: the input may hold up to [`MAX_INPUT_VARS`] pairs.
    pub fn array(&self, name: &str) -> Vec<(String, String)> {
        let prefix = format!("{name}[");
        let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let inner: Vec<(usize, &str)> = self
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, (k, _))| {
                let inner = k.strip_prefix(&prefix)?.strip_suffix(']')?;
                last.insert(inner, i);
                Some((i, inner))
            })
            .collect();
        inner
            .into_iter()
            .filter(|(i, inner)| last.get(inner) == Some(i))
            .map(|(i, inner)| (inner.to_string(), self.0[i].1.clone()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parameters from literal pairs (tests and internal callers).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// A form as a typed struct (`#[derive(Deserialize)]`, unknown fields ignored). PHP's rules
    /// decide first, as for every other read: the pairs are the ones PHP would have kept
    /// (`max_input_vars`, invalid UTF-8 already refused with a 400) and a repeated name keeps
    /// its last value. Then serde_urlencoded maps them, so a field's type (number, bool) is
    /// parsed as that crate parses it; a value that does not fit is a 400. `a[b]` arrays stay
    /// with [`Params::array`]: no typed form here uses one.
    pub fn form<T: serde::de::DeserializeOwned>(&self) -> Result<T, AppError> {
        let mut seen = std::collections::HashSet::with_capacity(self.0.len());
        let last: Vec<(&str, &str)> = (self.0.iter().rev())
            .filter(|(k, _)| seen.insert(k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let encoded = serde_urlencoded::to_string(&last).map_err(AppError::internal)?;
        serde_urlencoded::from_str(&encoded).map_err(|_| AppError::BadRequest("表单字段格式不正确"))
    }

    /// Parse an `application/x-www-form-urlencoded` body as PHP fills `$_POST`, up to
    /// [`MAX_INPUT_VARS`] (see there). Invalid UTF-8 in a kept pair is a 400.
    pub fn parse_urlencoded(raw: &[u8]) -> Result<Params, AppError> {
        // Every `&`-separated piece counts, empty ones too, except an empty last piece; the
        // piece that passes the limit is still kept.
        let mut pieces: Vec<&[u8]> = raw.split(|b| *b == b'&').collect();
        if pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.pop();
        }
        pieces.truncate(MAX_INPUT_VARS + 1);
        Self::decode_pairs(pieces)
    }

    /// Parse a query string as PHP fills `$_GET`, up to [`MAX_INPUT_VARS`] (see there).
    pub fn parse_query(raw: &[u8]) -> Result<Params, AppError> {
        // Empty pieces are skipped before counting; the piece that passes the limit is not kept.
        let pieces = raw
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .take(MAX_INPUT_VARS);
        Self::decode_pairs(pieces)
    }

    fn decode_pairs<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Result<Params, AppError> {
        let mut out = Vec::new();
        for part in pieces {
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            if k.is_empty() {
                // PHP registers no variable without a name (it still counted towards the limit).
                continue;
            }
            let k = decode_component(k)?;
            let v = decode_component(v)?;
            out.push((k, v));
        }
        Ok(Params(out))
    }

    /// A JSON object body, flattened the way PHP arrays would be read: scalars as strings,
    /// one level of nested objects as `key[inner]`.
    pub fn from_json(value: &serde_json::Value) -> Option<Params> {
        let obj = value.as_object()?;
        let mut out = Vec::new();
        for (k, v) in obj {
            match v {
                serde_json::Value::Object(inner) => {
                    for (ik, iv) in inner {
                        if let Some(s) = json_scalar(iv) {
                            out.push((format!("{k}[{ik}]"), s));
                        }
                    }
                }
                other => {
                    if let Some(s) = json_scalar(other) {
                        out.push((k.clone(), s));
                    }
                }
            }
        }
        Some(Params(out))
    }
}

fn json_scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(if *b { "1".into() } else { String::new() }),
        serde_json::Value::Null => None,
        _ => None,
    }
}

fn decode_component(raw: &[u8]) -> Result<String, AppError> {
    String::from_utf8(urldecode_bytes(raw))
        .map_err(|_| AppError::BadRequest("请求参数不是有效的 UTF-8"))
}

/// PHP's `urldecode()` on bytes: `+` is a space, `%XX` a byte, and a `%` without two hex
/// digits after it stays as it is.
fn urldecode_bytes(raw: &[u8]) -> Vec<u8> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&plus_as_space).collect()
}

/// PHP's `urldecode()`, invalid UTF-8 replaced (URL paths are only matched, never stored).
pub fn urldecode_lossy(s: &str) -> String {
    String::from_utf8_lossy(&urldecode_bytes(s.as_bytes())).into_owned()
}

/// PHP's `rawurldecode()` (`+` stays), invalid UTF-8 replaced.
pub fn rawurldecode_lossy(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// PHP's `htmlspecialchars()` (PHP 8 defaults: `& < > " '`), for pages that must match the
/// original byte for byte where it escaped. maud's own escaping covers the rest.
pub fn php_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// What PHP's `rawurlencode()` leaves as it is: `[A-Za-z0-9_.~-]`.
const RAWURLENCODE_KEEPS: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
/// `urlencode()` keeps the same less `~`.
const URLENCODE_KEEPS: &percent_encoding::AsciiSet = &RAWURLENCODE_KEEPS.add(b'~');

/// PHP's `urlencode()`: spaces as `+`, everything but `[A-Za-z0-9_.-]` percent-encoded.
pub fn php_urlencode(s: &str) -> String {
    // A literal `+` is encoded (`%2B`), so every `+` left after this is a space.
    percent_encoding::utf8_percent_encode(s, URLENCODE_KEEPS)
        .to_string()
        .replace("%20", "+")
}

/// PHP's `rawurlencode()`: `%20` for space, `~` kept.
pub fn php_rawurlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, RAWURLENCODE_KEEPS).to_string()
}

/// JSON the way PHP's `json_encode()` writes it by default: `\uXXXX` for non-ASCII and
/// escaped slashes.
pub fn php_json_encode(value: &serde_json::Value) -> String {
    let s = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if (c as u32) > 0x7f => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// JSON as PHP writes it with `JSON_UNESCAPED_UNICODE` (ThinkPHP's `json()` response):
/// slashes escaped, non-ASCII kept.
pub fn php_json_unescaped_unicode(value: &serde_json::Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".into())
        .replace('/', "\\/")
}

/// PHP's `(int)"12abc"` = 12, `(int)"abc"` = 0.
pub fn php_intval(s: &str) -> i64 {
    let s = s.trim_start();
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+')) {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    s[..end].parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_form_arrays_are_read() {
        let p = Params::parse_urlencoded(b"row%5Btenant_name%5D=Acme+Co&row[domain]=acme&ids=1")
            .unwrap();
        assert_eq!(
            p.array("row"),
            vec![
                ("tenant_name".into(), "Acme Co".into()),
                ("domain".into(), "acme".into())
            ]
        );
        assert_eq!(p.get("ids"), Some("1"));
    }

    #[test]
    fn form_arrays_keep_the_last_value_of_a_repeated_key() {
        let p = Params::parse_urlencoded(b"row[a]=1&row[b]=2&row[a]=3&other[a]=9").unwrap();
        assert_eq!(
            p.array("row"),
            vec![("b".into(), "2".into()), ("a".into(), "3".into())]
        );
    }

    #[test]
    fn inputs_stop_at_max_input_vars_as_php_does() {
        let many: Vec<String> = (0..5000).map(|i| format!("k{i}=v{i}")).collect();
        let raw = many.join("&");
        let form = Params::parse_urlencoded(raw.as_bytes()).unwrap();
        assert_eq!(form.0.len(), MAX_INPUT_VARS + 1);
        assert_eq!(form.get("k1000"), Some("v1000"));
        assert_eq!(form.get("k1001"), None);
        let query = Params::parse_query(raw.as_bytes()).unwrap();
        assert_eq!(query.0.len(), MAX_INPUT_VARS);
        assert_eq!(query.get("k999"), Some("v999"));
        assert_eq!(query.get("k1000"), None);
        // Empty pieces count in a form body (not in a query); what lies past the limit is not
        // even decoded, so invalid UTF-8 there is not an error.
        let raw = format!("{}&k=%FF", "&".repeat(2000));
        assert!(Params::parse_urlencoded(raw.as_bytes()).unwrap().is_empty());
        assert!(Params::parse_query(raw.as_bytes()).is_err());
        assert!(
            Params::parse_urlencoded(b"=x&a=1")
                .unwrap()
                .get("")
                .is_none()
        );
    }

    #[test]
    fn invalid_utf8_in_a_form_is_rejected() {
        assert!(Params::parse_urlencoded(b"email=%FF%FE").is_err());
        assert!(Params::parse_urlencoded(b"email=\xff").is_err());
    }

    #[test]
    fn stray_percent_signs_are_kept() {
        let p = Params::parse_urlencoded(b"a=100%&b=%zz").unwrap();
        assert_eq!(p.get("a"), Some("100%"));
        assert_eq!(p.get("b"), Some("%zz"));
    }

    #[test]
    fn php_escaping_and_encoding_match_php() {
        assert_eq!(
            php_escape(r#"<b>"Co" & 'x'"#),
            "&lt;b&gt;&quot;Co&quot; &amp; &#039;x&#039;"
        );
        assert_eq!(php_urlencode("邮箱 a"), "%E9%82%AE%E7%AE%B1+a");
        assert_eq!(php_urlencode("a+b~c*d_e.f-g%"), "a%2Bb%7Ec%2Ad_e.f-g%25");
        assert_eq!(php_rawurlencode("a b+~*"), "a%20b%2B~%2A");
        assert_eq!(urldecode_lossy("a+b%2B%zz%4"), "a b+%zz%4");
        assert_eq!(rawurldecode_lossy("a+b%20c%FF"), "a+b c\u{fffd}");
        assert_eq!(
            php_json_encode(&serde_json::json!({"msg": "注册成功", "u": "a/b"})),
            r#"{"msg":"\u6ce8\u518c\u6210\u529f","u":"a\/b"}"#
        );
    }

    #[test]
    fn json_bodies_flatten_like_php_arrays() {
        let p = Params::from_json(
            &serde_json::json!({"email": "a@b.c", "seats": 2, "row": {"x": "1"}, "n": null}),
        )
        .unwrap();
        assert_eq!(p.get("seats"), Some("2"));
        assert_eq!(p.get("row[x]"), Some("1"));
        assert_eq!(p.get("n"), None);
    }

    #[test]
    fn php_int_casts() {
        assert_eq!(php_intval("12abc"), 12);
        assert_eq!(php_intval("abc"), 0);
        assert_eq!(php_intval(" -3"), -3);
    }
}
