//! What a fixture expects vs what our binary did, compared on what users and integrations see.
//!
//! Both sides become one "observed" JSON document (status, Location, Content-Type, CORS, cookies,
//! body facts, rows, provision calls), then the fixture's named masks (NOISE.md's classes, nothing
//! else) turn noisy leaves into placeholders or clock offsets, then the two documents are diffed.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::normalize;

/// Our session cookie, standing for PHP's `PHPSESSID` (see fixtures/README.md "Session cookie").
pub const SESSION_COOKIE: &str = "chathub_session";
const EPOCH_COLUMNS: &[&str] = &[
    "createtime",
    "updatetime",
    "logintime",
    "prevtime",
    "jointime",
];
const JSON_COLUMNS: &[&str] = &["config", "api_credentials", "credentials_encrypted"];

#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

/// What our binary answered and did.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    pub status: u16,
    /// Response headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub db_after: Value,
    pub provision_calls: Vec<Value>,
}

impl Actual {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The fixture's `expect` as an observed document.
pub fn expected_doc(expect: &Value) -> Value {
    let body = if let Some(h) = expect.get("html").and_then(Value::as_str) {
        json!({"page": normalize::page_facts(h)})
    } else if let Some(p) = expect.get("page") {
        json!({"page": p})
    } else if let Some(j) = expect.get("json") {
        json!({"json": j})
    } else if let Some(t) = expect.get("text") {
        json!({"text": t})
    } else {
        json!({"empty": true})
    };
    let cookies = expect.get("cookies").cloned().unwrap_or(json!({}));
    json!({
        "status": expect["status"],
        "location": parse_location(expect.get("location").and_then(Value::as_str)),
        "content_type": expect.get("content_type").cloned().unwrap_or(Value::Null),
        "cors": expect.get("cors").cloned().unwrap_or(json!({})),
        "cookies": {
            "set": without_session(cookies.get("set")),
            "cleared": without_session(cookies.get("cleared")),
        },
        "body": body,
        "db_after": normalize_db(&expect["db_after"]),
        "provision_calls": expect.get("provision_calls").cloned().unwrap_or(json!([])),
    })
}

/// Our answer as an observed document, classified by the rules the converter used.
pub fn actual_doc(a: &Actual, head_request: bool) -> Value {
    let ct = a.header("content-type").map(str::to_string);
    let ctl = ct.clone().unwrap_or_default().to_ascii_lowercase();
    let body = if a.body.is_empty() || head_request {
        json!({"empty": true})
    } else if ctl.contains("application/json") {
        match serde_json::from_str::<Value>(&a.body) {
            Ok(v) => json!({"json": v}),
            Err(_) => json!({"text": a.body}),
        }
    } else if ctl.contains("text/plain") {
        json!({"text": a.body})
    } else if a.body.trim_start().starts_with('<') {
        json!({"page": normalize::page_facts(&a.body)})
    } else {
        match serde_json::from_str::<Value>(&a.body) {
            Ok(v) => json!({"json": v}),
            Err(_) => json!({"text": a.body}),
        }
    };
    let mut set = Vec::new();
    let mut cleared = Vec::new();
    for (k, v) in &a.headers {
        if k != "set-cookie" {
            continue;
        }
        let (name, value) = set_cookie_name_value(v);
        if name == SESSION_COOKIE {
            continue;
        }
        if cookie_is_clearing(v, &value) {
            cleared.push(Value::String(name));
        } else {
            set.push(Value::String(name));
        }
    }
    let cors: Map<String, Value> = a
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("access-control-allow-"))
        .map(|(k, v)| (canonical_header(k), Value::String(v.clone())))
        .collect();
    json!({
        "status": a.status,
        "location": parse_location(a.header("location")),
        "content_type": ct,
        "cors": cors,
        "cookies": {"set": set, "cleared": cleared},
        "body": body,
        "db_after": normalize_db(&a.db_after),
        "provision_calls": a.provision_calls,
    })
}

pub fn set_cookie_name_value(header: &str) -> (String, String) {
    let first = header.split(';').next().unwrap_or("");
    let (n, v) = first.split_once('=').unwrap_or((first, ""));
    (n.trim().to_string(), v.trim().to_string())
}

pub fn cookie_is_clearing(header: &str, value: &str) -> bool {
    let l = header.to_ascii_lowercase();
    value.is_empty() || value == "deleted" || l.contains("max-age=0") || l.contains("1970")
}

pub fn canonical_header(k: &str) -> String {
    k.split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn without_session(v: Option<&Value>) -> Value {
    let mut names: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|n| *n != SESSION_COOKIE && *n != "PHPSESSID")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    json!(names)
}

/// `Location` as path + decoded query pairs (PHP and we may percent-encode differently).
pub fn parse_location(loc: Option<&str>) -> Value {
    let Some(loc) = loc else { return Value::Null };
    let (path, query) = loc.split_once('?').unwrap_or((loc, ""));
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    json!({
        "path": path,
        "query": pairs.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
    })
}

/// JSON-valued columns compare by value (single or double encoding stays visible: a string
/// holding JSON is not an object).
fn normalize_db(db: &Value) -> Value {
    let mut out = Map::new();
    if let Some(m) = db.as_object() {
        for (table, rows) in m {
            let rows: Vec<Value> = rows
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut r| {
                    if let Some(obj) = r.as_object_mut() {
                        for c in JSON_COLUMNS {
                            if let Some(Value::String(s)) = obj.get(*c)
                                && let Ok(v) = serde_json::from_str::<Value>(s)
                            {
                                obj.insert(c.to_string(), json!({"$json": v}));
                            }
                        }
                    }
                    r
                })
                .collect();
            out.insert(table.clone(), Value::Array(rows));
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------- masks

/// A masked leaf: text with placeholders, plus the times it carried as [offset from the
/// side's clock, precision, absolute]. Two times agree when their offsets do (a "now" value of
/// either run) or when they are the same instant (a seeded row both sides kept; recordings made
/// at different real times see it at different offsets).
fn masked(text: String, times: Vec<(i64, i64)>, clock: i64) -> Value {
    json!({"$masked": text, "$times": times.into_iter().map(|(o, p)| json!([o, p, o + clock])).collect::<Vec<_>>()})
}

static DATETIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?").unwrap());
/// The original's `CH` + YmdHis + 3 random digits, or ours with 16 random digits
/// (COMPAT.md#random-order-numbers; expectations edited for it carry zeros there). The
/// placeholder names the shape, so one never stands in for the other.
static ORDER_NO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"CH(\d{14})(\d{16}|\d{3})").unwrap());
static BCRYPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}").unwrap());
static IDEM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^reg-[0-9a-f]{16}$").unwrap());
static TOKEN32: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-f]{32}$").unwrap());
/// Our session's CSRF token on a state-changing link (`reprovision?ids=…&token=<32 hex>`,
/// COMPAT.md#reprovision-link-token).
static SESSION_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([?&]token=)([0-9a-f]{32})(&|#|$)").unwrap());
/// curl's elapsed time in its timeout ("after 60001 milliseconds") and connect-failure
/// ("after 0 ms:") messages: it measures the machine, not the behaviour.
static CURL_MS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"after \d+ (milliseconds|ms:)").unwrap());

pub fn local_epoch(s: &str) -> Option<i64> {
    let tz = chrono::FixedOffset::east_opt(8 * 3600)?;
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S"))
        .ok()?;
    use chrono::TimeZone as _;
    Some(tz.from_local_datetime(&naive).single()?.timestamp())
}

struct Masker<'a> {
    masks: &'a [String],
    clock: i64,
    passwords: Vec<String>,
    numbered: BTreeMap<&'static str, Vec<String>>,
}

impl Masker<'_> {
    fn on(&self, m: &str) -> bool {
        self.masks.iter().any(|x| x == m)
    }

    fn number(&mut self, kind: &'static str, value: &str) -> usize {
        let list = self.numbered.entry(kind).or_default();
        match list.iter().position(|v| v == value) {
            Some(i) => i + 1,
            None => {
                list.push(value.to_string());
                list.len()
            }
        }
    }

    fn string(&mut self, s: &str, path: &str) -> Value {
        let mut text = s.to_string();
        let mut times = Vec::new();
        let mut changed = false;
        if self.on("initial-password") {
            for (i, pw) in self.passwords.clone().iter().enumerate() {
                if text.contains(pw.as_str()) {
                    text = text.replace(pw.as_str(), &format!("<PW#{}>", i + 1));
                    changed = true;
                }
            }
        }
        if self.on("order-number") && ORDER_NO.is_match(&text) {
            let mut out = String::new();
            let mut last = 0;
            for c in ORDER_NO.captures_iter(&text.clone()) {
                let m = c.get(0).expect("match");
                out.push_str(&text[last..m.start()]);
                let n = self.number("order", m.as_str());
                let shape = if c[2].len() == 3 { "" } else { "+16" };
                out.push_str(&format!("<ORDER{shape}#{n}>"));
                if let Some(t) = local_epoch(&c[1]) {
                    times.push((t - self.clock, 1));
                }
                last = m.end();
            }
            out.push_str(&text[last..]);
            text = out;
            changed = true;
        }
        if self.on("bcrypt-hash") && BCRYPT.is_match(&text) {
            let mut out = String::new();
            let mut last = 0;
            for m in BCRYPT.find_iter(&text.clone()) {
                out.push_str(&text[last..m.start()]);
                let n = self.number("bcrypt", m.as_str());
                out.push_str(&format!("<BCRYPT#{n}>"));
                last = m.end();
            }
            out.push_str(&text[last..]);
            text = out;
            changed = true;
        }
        if self.on("idempotency-key") && path.ends_with(".idempotency_key") && IDEM.is_match(&text)
        {
            let n = self.number("idem", &text);
            text = format!("<IDEM#{n}>");
            changed = true;
        }
        if self.on("fastadmin-token")
            && (path.ends_with(".token") || path.ends_with("[__token__].value"))
            && TOKEN32.is_match(&text)
        {
            text = "<TOKEN>".into();
            changed = true;
        }
        // Not a NOISE.md class: the original's links never carry a token, so only a fixture
        // edited for COMPAT.md#reprovision-link-token has one. The value is random per session
        // (like FastAdmin's `__token__`), so it becomes a placeholder numbered by first
        // appearance: every link of one page must still carry the same token.
        if path.ends_with(".href") && SESSION_TOKEN.is_match(&text) {
            let mut out = String::new();
            let mut last = 0;
            for c in SESSION_TOKEN.captures_iter(&text.clone()) {
                let v = c.get(2).expect("token group");
                out.push_str(&text[last..v.start()]);
                let n = self.number("session-token", v.as_str());
                out.push_str(&format!("<SESSION-TOKEN#{n}>"));
                last = v.end();
            }
            out.push_str(&text[last..]);
            text = out;
            changed = true;
        }
        if self.on("curl-elapsed") && CURL_MS.is_match(&text) {
            text = CURL_MS.replace_all(&text, "after <MS> $1").into_owned();
            changed = true;
        }
        if self.on("now-datetime") && DATETIME.is_match(&text) {
            let mut out = String::new();
            let mut last = 0;
            for m in DATETIME.find_iter(&text.clone()) {
                out.push_str(&text[last..m.start()]);
                out.push_str("<DT>");
                let prec = if m.as_str().len() == 16 { 60 } else { 1 };
                if let Some(t) = local_epoch(m.as_str()) {
                    times.push((t - self.clock, prec));
                }
                last = m.end();
            }
            out.push_str(&text[last..]);
            text = out;
            changed = true;
        }
        if changed {
            masked(text, times, self.clock)
        } else {
            Value::String(text)
        }
    }

    fn walk(&mut self, v: &Value, path: &str, column: Option<&str>) -> Value {
        match v {
            Value::String(s) => self.string(s, path),
            Value::Number(n) => {
                if self.on("now-epoch")
                    && path.starts_with("db_after.")
                    && column.is_some_and(|c| EPOCH_COLUMNS.contains(&c))
                    && let Some(i) = n.as_i64()
                {
                    return masked("<EPOCH>".into(), vec![(i - self.clock, 1)], self.clock);
                }
                v.clone()
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| self.walk(x, &format!("{path}[{}]", label(x, i)), column))
                    .collect(),
            ),
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    let col = if path.starts_with("db_after.") && path.ends_with(']') {
                        Some(k.as_str())
                    } else {
                        column
                    };
                    out.insert(k.clone(), self.walk(x, &format!("{path}.{k}"), col));
                }
                Value::Object(out)
            }
            _ => v.clone(),
        }
    }
}

/// The stable label of an array element: rows by id, form fields by name, else the index.
fn label(v: &Value, i: usize) -> String {
    if let Some(id) = v.get("id").filter(|x| x.is_number()) {
        return format!("id={id}");
    }
    if let (Some(n), Some(_)) = (
        v.get("name").and_then(Value::as_str),
        v.get("tag").and_then(Value::as_str),
    ) {
        return n.to_string();
    }
    i.to_string()
}

fn collect_passwords(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "initial_password"
                    && let Some(s) = x.as_str()
                    && !s.is_empty()
                    && !out.iter().any(|p| p == s)
                {
                    out.push(s.to_string());
                }
                collect_passwords(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_passwords(x, out)),
        _ => {}
    }
}

/// The word after the result page's "您的登录密码（请保存，登录后可修改）：" label, when it is a
/// 10-hex initial password.
fn collect_shown_password(text: &str, out: &mut Vec<String>) {
    const LABEL: &str = "您的登录密码（请保存，登录后可修改）：";
    for (i, _) in text.match_indices(LABEL) {
        let word = text[i + LABEL.len()..]
            .split_whitespace()
            .next()
            .unwrap_or("");
        if word.len() == 10
            && word.chars().all(|c| c.is_ascii_hexdigit())
            && !out.iter().any(|p| p == word)
        {
            out.push(word.to_string());
        }
    }
}

/// Apply the fixture's masks to one side; `clock` is that side's "now" (Unix seconds).
pub fn apply_masks(doc: &Value, masks: &[String], clock: i64) -> Value {
    let mut passwords = Vec::new();
    // The stored initial password (tenant config) and the one a JSON answer carries.
    collect_passwords(&doc["db_after"], &mut passwords);
    collect_passwords(&doc["body"], &mut passwords);
    // The one the result page shows (NOISE.md: "the result page's 您的登录密码 line").
    if let Some(text) = doc["body"]["page"]["text"].as_str() {
        collect_shown_password(text, &mut passwords);
    }
    let mut m = Masker {
        masks,
        clock,
        passwords,
        numbered: BTreeMap::new(),
    };
    let mut out = Map::new();
    if let Some(obj) = doc.as_object() {
        for (k, v) in obj {
            out.insert(k.clone(), m.walk(v, k, None));
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------- diff

pub struct CompareOptions {
    pub masks: Vec<String>,
    pub expected_clock: i64,
    pub actual_clock: i64,
    pub tolerance_s: i64,
    /// Fewer provision calls than recorded are fine (bounded retries), each must match.
    pub provision_calls_at_most: bool,
}

pub fn compare(expected: &Value, actual: &Value, o: &CompareOptions) -> Vec<Difference> {
    let mut expected = expected.clone();
    let mut actual = actual.clone();
    if o.masks.iter().any(|m| m == "alipay-sign") {
        // RSA PKCS#1 v1.5 is deterministic: the sign may differ only because the signed
        // timestamp does.
        let ts = |d: &Value| query_param(d, "timestamp");
        if ts(&expected) != ts(&actual) {
            set_query_param(&mut expected, "sign", "<SIGN>");
            set_query_param(&mut actual, "sign", "<SIGN>");
        }
    }
    if o.provision_calls_at_most
        && let (Some(e), Some(a)) = (
            expected["provision_calls"].as_array().cloned(),
            actual["provision_calls"].as_array(),
        )
        && !a.is_empty()
        && a.len() <= e.len()
    {
        expected["provision_calls"] = Value::Array(e[..a.len()].to_vec());
    }
    let e = apply_masks(&expected, &o.masks, o.expected_clock);
    let a = apply_masks(&actual, &o.masks, o.actual_clock);
    let mut diffs = Vec::new();
    diff(&e, &a, "", o.tolerance_s, &mut diffs);
    diffs
}

fn query_param(doc: &Value, name: &str) -> Option<String> {
    doc["location"]["query"].as_array().and_then(|q| {
        q.iter()
            .find(|p| p[0] == name)
            .and_then(|p| p[1].as_str().map(str::to_string))
    })
}

fn set_query_param(doc: &mut Value, name: &str, value: &str) {
    if let Some(q) = doc["location"]["query"].as_array_mut() {
        for p in q.iter_mut() {
            if p[0] == name {
                p[1] = json!(value);
            }
        }
    }
}

fn is_masked(v: &Value) -> bool {
    v.get("$masked").is_some()
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v if is_masked(v) => format!("{} {}", v["$masked"].as_str().unwrap_or(""), v["$times"]),
        Value::Null => "(none)".into(),
        v => v.to_string(),
    }
}

fn push(out: &mut Vec<Difference>, path: &str, e: &Value, a: &Value) {
    out.push(Difference {
        path: path.trim_start_matches('.').to_string(),
        expected: show(e),
        actual: show(a),
    });
}

fn same_leaf(e: &Value, a: &Value, tol: i64) -> bool {
    let mut d = Vec::new();
    diff(e, a, "", tol, &mut d);
    d.is_empty()
}

fn diff(e: &Value, a: &Value, path: &str, tol: i64, out: &mut Vec<Difference>) {
    if is_masked(e) || is_masked(a) {
        if !(is_masked(e) && is_masked(a)) {
            return push(out, path, e, a);
        }
        if e["$masked"] != a["$masked"] {
            // The times only matter once the texts agree; showing them would bury the change.
            return diff(&e["$masked"], &a["$masked"], path, tol, out);
        }
        let et = e["$times"].as_array().cloned().unwrap_or_default();
        let at = a["$times"].as_array().cloned().unwrap_or_default();
        if et.len() != at.len() {
            return push(out, path, e, a);
        }
        for (x, y) in et.iter().zip(at.iter()) {
            let (xo, xp) = (x[0].as_i64().unwrap_or(0), x[1].as_i64().unwrap_or(1));
            let (yo, yp) = (y[0].as_i64().unwrap_or(0), y[1].as_i64().unwrap_or(1));
            let same_instant = x.get(2).is_some() && x.get(2) == y.get(2);
            if !same_instant && (xo - yo).abs() > tol + xp.max(yp) - 1 {
                return push(out, path, e, a);
            }
        }
        return;
    }
    if path.ends_with("page.data")
        && let (Some(ea), Some(aa)) = (e.as_array(), a.as_array())
    {
        // Inline data may sit anywhere on our page (data- attribute, JSON script, handler);
        // every string the original handed to its scripts must be there, extras are ours.
        for x in ea {
            if !aa.iter().any(|y| same_leaf(x, y, tol)) {
                push(out, &format!("{path}[]"), x, &json!("(not on our page)"));
            }
        }
        return;
    }
    match (e, a) {
        (Value::Object(em), Value::Object(am)) => {
            let keys: std::collections::BTreeSet<&String> = em.keys().chain(am.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (em.get(k), am.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, &p, tol, out),
                    (Some(x), None) => push(out, &p, x, &Value::Null),
                    (None, Some(y)) => push(out, &p, &json!("(absent)"), y),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(ea), Value::Array(aa)) if path.ends_with("location.query") => {
            diff_query(ea, aa, path, tol, out)
        }
        (Value::Array(ea), Value::Array(aa)) => {
            let keyed = ea.iter().chain(aa.iter()).all(|r| r.get("id").is_some())
                && !(ea.is_empty() && aa.is_empty());
            if keyed {
                let index = |v: &Vec<Value>| -> BTreeMap<String, Value> {
                    v.iter().map(|r| (r["id"].to_string(), r.clone())).collect()
                };
                let (ei, ai) = (index(ea), index(aa));
                let ids: std::collections::BTreeSet<&String> = ei.keys().chain(ai.keys()).collect();
                for id in ids {
                    let p = format!("{path}[id={id}]");
                    match (ei.get(id), ai.get(id)) {
                        (Some(x), Some(y)) => diff(x, y, &p, tol, out),
                        (Some(_), None) => push(out, &p, &json!("row"), &json!("(no row)")),
                        (None, Some(_)) => push(out, &p, &json!("(no row)"), &json!("row")),
                        (None, None) => {}
                    }
                }
            } else {
                for i in 0..ea.len().max(aa.len()) {
                    let p = format!("{path}[{i}]");
                    match (ea.get(i), aa.get(i)) {
                        (Some(x), Some(y)) => diff(x, y, &p, tol, out),
                        (Some(x), None) => push(out, &p, x, &json!("(missing)")),
                        (None, Some(y)) => push(out, &p, &json!("(missing)"), y),
                        (None, None) => {}
                    }
                }
            }
        }
        (Value::String(x), Value::String(y)) if x != y && path.ends_with("page.text") => {
            for (old, new) in text_hunks(x, y) {
                out.push(Difference {
                    path: path.trim_start_matches('.').to_string(),
                    expected: old,
                    actual: new,
                });
            }
        }
        (x, y) if x != y => push(out, path, x, y),
        _ => {}
    }
}

/// Words of context kept around each changed run of a page text.
const TEXT_CONTEXT: usize = 3;

/// The changed runs of two page texts, word by word, each with a few unchanged words around it
/// (the same on both sides), so every change is its own difference: one change cannot hide
/// another further down the page.
pub fn text_hunks(x: &str, y: &str) -> Vec<(String, String)> {
    let (xw, yw): (Vec<&str>, Vec<&str>) = (
        x.split_whitespace().collect(),
        y.split_whitespace().collect(),
    );
    if xw == yw {
        // Only whitespace differs: shown whole, it is still a difference.
        return vec![(x.to_string(), y.to_string())];
    }
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &xw, &yw);
    similar::group_diff_ops(ops, TEXT_CONTEXT)
        .into_iter()
        .filter_map(|group| {
            let (first, last) = (group.first()?, group.last()?);
            let old = xw[first.old_range().start..last.old_range().end].join(" ");
            let new = yw[first.new_range().start..last.new_range().end].join(" ");
            Some((format!("…{old}…"), format!("…{new}…")))
        })
        .collect()
}

/// `Location` query pairs by parameter name (`location.query.sign`), a repeated name by its
/// occurrence (`location.query.ids#2`): an added parameter does not shift every later one.
fn diff_query(ea: &[Value], aa: &[Value], path: &str, tol: i64, out: &mut Vec<Difference>) {
    let named = |v: &[Value]| -> BTreeMap<String, Value> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        v.iter()
            .map(|p| {
                let name = p[0].as_str().unwrap_or_default().to_string();
                let n = seen.entry(name.clone()).or_default();
                *n += 1;
                let key = if *n == 1 { name } else { format!("{name}#{n}") };
                (key, p[1].clone())
            })
            .collect()
    };
    let (en, an) = (named(ea), named(aa));
    let keys: std::collections::BTreeSet<&String> = en.keys().chain(an.keys()).collect();
    for k in keys {
        let p = format!("{path}.{k}");
        match (en.get(k), an.get(k)) {
            (Some(x), Some(y)) => diff(x, y, &p, tol, out),
            (Some(x), None) => push(out, &p, x, &json!("(absent)")),
            (None, Some(y)) => push(out, &p, &json!("(absent)"), y),
            (None, None) => {}
        }
    }
}

/// One line per difference, values truncated.
pub fn render(fixture: &str, diffs: &[Difference]) -> String {
    let t = |s: &str| {
        let s = s.replace('\n', "\\n");
        if s.chars().count() > 160 {
            format!("{}…", s.chars().take(160).collect::<String>())
        } else {
            s
        }
    };
    diffs
        .iter()
        .map(|d| {
            format!(
                "{fixture}: {}: expected {:?}, got {:?}",
                d.path,
                t(&d.expected),
                t(&d.actual)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
