//! A reader for PHP's `serialize()` format and for session files written by PHP's default
//! `php` session serialiser (`name|<serialize()>` pairs).
//!
//! FastAdmin keeps its signed-in admin in the PHP session; we read that file to recognise the
//! admin without a second login. The input is untrusted bytes from disk: every length is
//! checked against what is left, nesting is bounded, and nothing here panics.

use std::fmt;

/// Deepest nesting accepted (FastAdmin's session is three levels deep).
const MAX_DEPTH: usize = 32;
/// Largest input accepted, in bytes (a session file is a few hundred bytes).
pub const MAX_INPUT: usize = 1 << 20;

/// A PHP value as `unserialize()` would rebuild it.
#[derive(Clone, Debug, PartialEq)]
pub enum PhpValue {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    /// PHP strings are byte strings; UTF-8 is not guaranteed.
    Str(Vec<u8>),
    /// An ordered array (PHP arrays keep insertion order).
    Array(Vec<(PhpKey, PhpValue)>),
    /// `O:` objects: class name and properties (kept so a session holding one still parses).
    Object {
        class: String,
        props: Vec<(PhpKey, PhpValue)>,
    },
    /// `C:` objects with custom serialisation: class and raw payload.
    Custom {
        class: String,
        data: Vec<u8>,
    },
    /// `r:`/`R:` back-references, left unresolved.
    Reference(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhpKey {
    Int(i64),
    Str(Vec<u8>),
}

impl PhpKey {
    /// PHP compares `$a['5']` and `$a[5]` as the same key.
    fn matches(&self, name: &str) -> bool {
        match self {
            PhpKey::Str(s) => s == name.as_bytes(),
            PhpKey::Int(i) => i.to_string() == name,
        }
    }
}

impl PhpValue {
    /// `$value[$name]` for arrays (and object properties).
    pub fn get(&self, name: &str) -> Option<&PhpValue> {
        let entries = match self {
            PhpValue::Array(e) => e,
            PhpValue::Object { props, .. } => props,
            _ => return None,
        };
        // PHP keeps the last value written for a duplicated key.
        entries
            .iter()
            .rev()
            .find(|(k, _)| k.matches(name))
            .map(|(_, v)| v)
    }

    /// The value as text when it is a UTF-8 string or a number (PHP's loose string view).
    pub fn as_text(&self) -> Option<String> {
        match self {
            PhpValue::Str(b) => String::from_utf8(b.clone()).ok(),
            PhpValue::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// The value as an integer when it is one, or a string of decimal digits.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            PhpValue::Int(i) => Some(*i),
            PhpValue::Str(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Why some bytes are not a serialized value; `at` is the byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed PHP serialization at byte {}: {}",
            self.at, self.what
        )
    }
}

impl std::error::Error for ParseError {}

/// `unserialize($input)`: exactly one value, nothing after it.
pub fn unserialize(input: &[u8]) -> Result<PhpValue, ParseError> {
    if input.len() > MAX_INPUT {
        return Err(ParseError {
            at: 0,
            what: "input too large",
        });
    }
    let mut p = Parser { input, pos: 0 };
    let v = p.value(0)?;
    if p.pos != input.len() {
        return Err(p.err("trailing bytes after the value"));
    }
    Ok(v)
}

/// A session file in PHP's `php` serialiser format: `name|value` repeated. Names end at the
/// first `|` (PHP forbids `|` in them); a `!name|` marks an unset variable without a value.
pub fn parse_session(input: &[u8]) -> Result<Vec<(String, PhpValue)>, ParseError> {
    if input.len() > MAX_INPUT {
        return Err(ParseError {
            at: 0,
            what: "input too large",
        });
    }
    let mut p = Parser { input, pos: 0 };
    let mut out = Vec::new();
    while p.pos < input.len() {
        let start = p.pos;
        let bar = input[start..]
            .iter()
            .position(|b| *b == b'|')
            .ok_or_else(|| p.err("session variable without '|'"))?;
        let raw_name = &input[start..start + bar];
        p.pos = start + bar + 1;
        if raw_name.starts_with(b"!") {
            continue;
        }
        let name = std::str::from_utf8(raw_name)
            .map_err(|_| ParseError {
                at: start,
                what: "session variable name is not UTF-8",
            })?
            .to_string();
        if name.is_empty() {
            return Err(ParseError {
                at: start,
                what: "empty session variable name",
            });
        }
        let v = p.value(0)?;
        out.push((name, v));
    }
    Ok(out)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError { at: self.pos, what }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// Bytes up to (not including) `end`, which is consumed.
    fn until(&mut self, end: u8, what: &'static str) -> Result<&'a [u8], ParseError> {
        let rest = &self.input[self.pos..];
        let n = rest
            .iter()
            .position(|b| *b == end)
            .ok_or_else(|| self.err(what))?;
        let out = &rest[..n];
        self.pos += n + 1;
        Ok(out)
    }

    fn int_until(&mut self, end: u8) -> Result<i64, ParseError> {
        let at = self.pos;
        let raw = self.until(end, "unterminated integer")?;
        let s = std::str::from_utf8(raw).map_err(|_| ParseError {
            at,
            what: "integer is not ASCII",
        })?;
        // PHP writes plain decimal integers: optional sign, digits.
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError {
                at,
                what: "not an integer",
            });
        }
        s.parse().map_err(|_| ParseError {
            at,
            what: "integer out of range",
        })
    }

    fn length_until(&mut self, end: u8) -> Result<usize, ParseError> {
        let at = self.pos;
        let n = self.int_until(end)?;
        usize::try_from(n).map_err(|_| ParseError {
            at,
            what: "negative length",
        })
    }

    /// `"<len bytes>"` with the length counted in bytes, as PHP does.
    fn quoted(&mut self, len: usize) -> Result<&'a [u8], ParseError> {
        self.expect(b'"', "expected '\"'")?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.input.len())
            .ok_or_else(|| self.err("string length runs past the end"))?;
        let out = &self.input[self.pos..end];
        self.pos = end;
        self.expect(b'"', "string length does not match its quotes")?;
        Ok(out)
    }

    // Long on purpose: one recursive-descent step per PHP `serialize()` type, as in PHP's own
    // `var_unserializer`; apart they would hide the shared bounds checks.
    fn value(&mut self, depth: usize) -> Result<PhpValue, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        let tag = self.peek().ok_or_else(|| self.err("unexpected end"))?;
        self.pos += 1;
        match tag {
            b'N' => {
                self.expect(b';', "expected ';' after N")?;
                Ok(PhpValue::Null)
            }
            b'b' => {
                self.expect(b':', "expected ':'")?;
                match self.int_until(b';')? {
                    0 => Ok(PhpValue::Bool(false)),
                    1 => Ok(PhpValue::Bool(true)),
                    _ => Err(self.err("boolean is neither 0 nor 1")),
                }
            }
            b'i' => {
                self.expect(b':', "expected ':'")?;
                Ok(PhpValue::Int(self.int_until(b';')?))
            }
            b'd' => {
                self.expect(b':', "expected ':'")?;
                let at = self.pos;
                let raw = self.until(b';', "unterminated double")?;
                let s = std::str::from_utf8(raw).map_err(|_| ParseError {
                    at,
                    what: "double is not ASCII",
                })?;
                let d = match s {
                    "INF" => f64::INFINITY,
                    "-INF" => f64::NEG_INFINITY,
                    "NAN" => f64::NAN,
                    _ if s
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                        && !s.is_empty() =>
                    {
                        s.parse().map_err(|_| ParseError {
                            at,
                            what: "not a number",
                        })?
                    }
                    _ => {
                        return Err(ParseError {
                            at,
                            what: "not a number",
                        });
                    }
                };
                Ok(PhpValue::Double(d))
            }
            b's' => {
                self.expect(b':', "expected ':'")?;
                let len = self.length_until(b':')?;
                let s = self.quoted(len)?.to_vec();
                self.expect(b';', "expected ';' after string")?;
                Ok(PhpValue::Str(s))
            }
            b'a' => {
                self.expect(b':', "expected ':'")?;
                let n = self.length_until(b':')?;
                let entries = self.entries(n, depth)?;
                Ok(PhpValue::Array(entries))
            }
            b'O' => {
                self.expect(b':', "expected ':'")?;
                let len = self.length_until(b':')?;
                let class = self.class_name(len)?;
                self.expect(b':', "expected ':'")?;
                let n = self.length_until(b':')?;
                let props = self.entries(n, depth)?;
                Ok(PhpValue::Object { class, props })
            }
            b'C' => {
                self.expect(b':', "expected ':'")?;
                let len = self.length_until(b':')?;
                let class = self.class_name(len)?;
                self.expect(b':', "expected ':'")?;
                let n = self.length_until(b':')?;
                self.expect(b'{', "expected '{'")?;
                let end = self
                    .pos
                    .checked_add(n)
                    .filter(|e| *e <= self.input.len())
                    .ok_or_else(|| self.err("payload length runs past the end"))?;
                let data = self.input[self.pos..end].to_vec();
                self.pos = end;
                self.expect(b'}', "expected '}'")?;
                Ok(PhpValue::Custom { class, data })
            }
            b'r' | b'R' => {
                self.expect(b':', "expected ':'")?;
                Ok(PhpValue::Reference(self.int_until(b';')?))
            }
            _ => {
                self.pos -= 1;
                Err(self.err("unknown type tag"))
            }
        }
    }

    fn class_name(&mut self, len: usize) -> Result<String, ParseError> {
        let at = self.pos;
        let raw = self.quoted(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| ParseError {
            at,
            what: "class name is not UTF-8",
        })
    }

    /// `{key;value...}` with exactly `n` pairs. `n` comes from the input, so nothing is
    /// reserved up front beyond a small bound.
    fn entries(&mut self, n: usize, depth: usize) -> Result<Vec<(PhpKey, PhpValue)>, ParseError> {
        self.expect(b'{', "expected '{'")?;
        let mut out = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let key = match self.value(depth + 1)? {
                PhpValue::Int(i) => PhpKey::Int(i),
                PhpValue::Str(s) => PhpKey::Str(s),
                _ => return Err(self.err("array key is neither int nor string")),
            };
            let v = self.value(depth + 1)?;
            out.push((key, v));
        }
        self.expect(b'}', "expected '}' (element count does not match)")?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What PHP 8.2 writes for FastAdmin's signed-in admin (`Session::set("admin",
    /// $admin->toArray())` under the `think` prefix), as found in a `sess_*` file.
    pub const FASTADMIN_SESSION: &str = r#"think|a:1:{s:5:"admin";a:12:{s:2:"id";i:1;s:8:"username";s:5:"admin";s:8:"nickname";s:5:"Admin";s:6:"avatar";s:22:"/assets/img/avatar.png";s:5:"email";s:15:"admin@admin.com";s:6:"mobile";s:0:"";s:12:"loginfailure";i:0;s:9:"logintime";i:1795561647;s:7:"loginip";s:9:"127.0.0.1";s:10:"createtime";i:1491635035;s:5:"token";s:36:"8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e";s:6:"status";s:6:"normal";}}"#;

    #[test]
    fn reads_fastadmins_session_file() {
        let vars = parse_session(FASTADMIN_SESSION.as_bytes()).unwrap();
        assert_eq!(vars.len(), 1);
        assert_eq!(vars[0].0, "think");
        let admin = vars[0].1.get("admin").unwrap();
        assert_eq!(admin.get("id").unwrap().as_int(), Some(1));
        assert_eq!(admin.get("username").unwrap().as_text().unwrap(), "admin");
        assert_eq!(
            admin.get("token").unwrap().as_text().unwrap(),
            "8c3d6f3e-1b1a-4d4c-9e0e-6d1f0c2a9b7e"
        );
        assert_eq!(
            admin.get("loginip").unwrap().as_text().unwrap(),
            "127.0.0.1"
        );
    }

    #[test]
    fn strings_are_counted_in_bytes() {
        // "租户" is 6 bytes in UTF-8; PHP writes s:6.
        let v = unserialize("s:6:\"租户\";".as_bytes()).unwrap();
        assert_eq!(v.as_text().unwrap(), "租户");
        assert!(unserialize("s:2:\"租户\";".as_bytes()).is_err());
        // A quote inside the counted bytes is data, not a terminator.
        let v = unserialize(br#"s:3:"a"b";"#).unwrap();
        assert_eq!(v, PhpValue::Str(b"a\"b".to_vec()));
    }

    #[test]
    fn every_scalar_type() {
        assert_eq!(unserialize(b"N;").unwrap(), PhpValue::Null);
        assert_eq!(unserialize(b"b:1;").unwrap(), PhpValue::Bool(true));
        assert_eq!(unserialize(b"b:0;").unwrap(), PhpValue::Bool(false));
        assert_eq!(unserialize(b"i:-42;").unwrap(), PhpValue::Int(-42));
        assert_eq!(unserialize(b"d:0.5;").unwrap(), PhpValue::Double(0.5));
        assert_eq!(
            unserialize(b"d:1.0E+25;").unwrap(),
            PhpValue::Double(1.0e25)
        );
        assert_eq!(
            unserialize(b"d:INF;").unwrap(),
            PhpValue::Double(f64::INFINITY)
        );
    }

    #[test]
    fn nested_arrays_objects_and_mixed_keys() {
        let v = unserialize(
            br#"a:3:{i:0;s:1:"x";s:1:"k";a:1:{i:5;b:1;}s:1:"o";O:8:"stdClass":1:{s:1:"p";i:7;}}"#,
        )
        .unwrap();
        assert_eq!(v.get("0").unwrap().as_text().unwrap(), "x");
        assert_eq!(v.get("k").unwrap().get("5"), Some(&PhpValue::Bool(true)));
        assert_eq!(v.get("o").unwrap().get("p").unwrap().as_int(), Some(7));
    }

    #[test]
    fn several_session_variables_and_unset_markers() {
        let vars = parse_session(br#"a|i:1;!gone|b|s:2:"hi";"#).unwrap();
        assert_eq!(vars.len(), 2);
        assert_eq!(vars[1], ("b".into(), PhpValue::Str(b"hi".to_vec())));
        assert_eq!(parse_session(b"").unwrap(), vec![]);
    }

    #[test]
    fn malformed_input_is_rejected_without_panicking() {
        let bad: &[&[u8]] = &[
            b"",
            b"s:5:\"abc\";",
            b"s:-1:\"\";",
            b"s:99999999999999999999:\"a\";",
            b"s:18446744073709551615:\"a\";",
            b"a:2:{i:0;i:1;}",
            b"a:1:{i:0;i:1;",
            b"a:1:{a:0:{}i:1;}",
            b"i:;",
            b"i:12x;",
            b"i:99999999999999999999;",
            b"b:2;",
            b"d:abc;",
            b"x:1;",
            b"N",
            b"i:1;i:2;",
            b"O:3:\"abc\":1:{}",
            b"C:3:\"abc\":10:{ab}",
            b"a:4294967295:{}",
        ];
        for input in bad {
            assert!(
                unserialize(input).is_err(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(parse_session(b"think").is_err());
        assert!(parse_session(b"think|a:1:{").is_err());
        assert!(parse_session(b"|i:1;").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "a:1:{i:0;".repeat(100) + "N;" + &"}".repeat(100);
        assert!(unserialize(deep.as_bytes()).is_err());
        let ok = "a:1:{i:0;".repeat(10) + "N;" + &"}".repeat(10);
        assert!(unserialize(ok.as_bytes()).is_ok());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz over truncations and byte flips of a real session.
        let base = FASTADMIN_SESSION.as_bytes();
        for cut in 0..base.len() {
            let _ = parse_session(&base[..cut]);
        }
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let mut v = base.to_vec();
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            let i = (x as usize) % v.len();
            v[i] = (x >> 16) as u8;
            let _ = parse_session(&v);
        }
    }
}
