//! The FastAdmin install source (`--fastadmin-root`): `.env`'s `[database]` section and the
//! addon's `config.php`, read as text (no PHP).

use std::collections::BTreeMap;
use std::path::Path;

use super::ADDON_KEYS;

pub(super) fn read_fastadmin_root(
    root: &Path,
    server: &mut BTreeMap<String, String>,
    addon: &mut BTreeMap<String, String>,
    errors: &mut Vec<String>,
) {
    let env_path = root.join(".env");
    match std::fs::read_to_string(&env_path) {
        Ok(text) => {
            let db = parse_ini_section(&text, "database");
            let get = |k: &str| db.get(k).cloned().unwrap_or_default();
            let host = if get("hostname").is_empty() {
                "127.0.0.1".into()
            } else {
                get("hostname")
            };
            let port = if get("hostport").is_empty() {
                "3306".into()
            } else {
                get("hostport")
            };
            let user = get("username");
            let pass = get("password");
            let name = get("database");
            if name.is_empty() {
                errors.push(format!(
                    "fastadmin-root: {} has no [database] database",
                    env_path.display()
                ));
            }
            let cred = if pass.is_empty() {
                pct(&user)
            } else {
                format!("{}:{}", pct(&user), pct(&pass))
            };
            server.insert(
                "database_url".into(),
                format!("mysql://{cred}@{host}:{port}/{name}"),
            );
            if !get("prefix").is_empty() {
                server.insert("table_prefix".into(), get("prefix"));
            }
        }
        Err(e) => errors.push(format!(
            "fastadmin-root: cannot read {}: {e}",
            env_path.display()
        )),
    }
    let env_text = std::fs::read_to_string(&env_path).unwrap_or_default();
    read_application_config(root, &env_text, server);
    let php = root.join("addons/chathub/config.php");
    match std::fs::read_to_string(&php) {
        Ok(text) => {
            for (k, v) in parse_config_php(&text) {
                if ADDON_KEYS.contains(&k.as_str()) {
                    addon.insert(k, v);
                }
            }
        }
        Err(e) => errors.push(format!(
            "fastadmin-root: cannot read {}: {e}",
            php.display()
        )),
    }
}

/// `application/config.php`: the `session` block (ThinkPHP's Redis session driver: `type`,
/// `host`, `port`, `password`, `select`, `session_name`) and `token.key`, each value a literal
/// or `Env::get('section.key', default)` resolved against `.env` as ThinkPHP does. A missing
/// file or a session kept in files adds nothing: the files' directory is php.ini's.
fn read_application_config(root: &Path, env_text: &str, server: &mut BTreeMap<String, String>) {
    let Ok(text) = std::fs::read_to_string(root.join("application/config.php")) else {
        return;
    };
    let env_get = |name: &str| {
        let (section, key) = name.split_once('.').unwrap_or(("", name));
        parse_ini_section(env_text, &section.to_ascii_lowercase())
            .get(&key.to_ascii_lowercase())
            .cloned()
    };
    let tokens = php_tokens(&text);
    let session = php_block(&tokens, "session", &env_get);
    if session
        .get("type")
        .is_some_and(|t| t.eq_ignore_ascii_case("redis"))
    {
        server.insert("php_session_redis_url".into(), redis_url(&session));
        if let Some(prefix) = session.get("session_name").filter(|p| !p.is_empty()) {
            server.insert("php_session_redis_prefix".into(), prefix.clone());
        }
    }
    if let Some(key) = php_block(&tokens, "token", &env_get).remove("key") {
        server.insert("fastadmin_token_key".into(), key);
    }
}

/// The URL of the Redis the driver connects to, with its defaults (127.0.0.1:6379, db 0).
fn redis_url(session: &BTreeMap<String, String>) -> String {
    let get = |k: &str, default: &str| {
        session
            .get(k)
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let password = get("password", "");
    let cred = if password.is_empty() {
        String::new()
    } else {
        format!(":{}@", pct(&password))
    };
    format!(
        "redis://{cred}{}:{}/{}",
        get("host", "127.0.0.1"),
        get("port", "6379"),
        get("select", "0")
    )
}

/// The `'name' => [ 'key' => value, … ]` entry of a ThinkPHP config file's top-level array.
fn php_block(
    tokens: &[PhpTok],
    name: &str,
    env_get: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut depth = 0i32;
    let mut i = 0;
    let mut inside = false;
    while i < tokens.len() {
        match &tokens[i] {
            PhpTok::Open => depth += 1,
            PhpTok::Close => {
                depth -= 1;
                if inside && depth < 2 {
                    break;
                }
            }
            PhpTok::Str(k)
                if depth == 1 && k == name && tokens.get(i + 1) == Some(&PhpTok::Arrow) =>
            {
                inside = tokens.get(i + 2) == Some(&PhpTok::Open);
            }
            PhpTok::Str(k) if inside && depth == 2 && tokens.get(i + 1) == Some(&PhpTok::Arrow) => {
                let (value, next) = php_value(tokens, i + 2, env_get);
                if let Some(v) = value {
                    out.insert(k.clone(), v);
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A value starting at `tokens[i]` and the index after it: a literal, or `Env::get(name,
/// default)`; any other call is unknown (`None`).
fn php_value(
    tokens: &[PhpTok],
    i: usize,
    env_get: &dyn Fn(&str) -> Option<String>,
) -> (Option<String>, usize) {
    let mut j = i;
    let mut words = Vec::new();
    while let Some(PhpTok::Bare(w)) = tokens.get(j) {
        words.push(w.as_str());
        j += 1;
    }
    if tokens.get(j) != Some(&PhpTok::CallOpen) {
        return match tokens.get(i) {
            Some(PhpTok::Str(v) | PhpTok::Bare(v)) => (Some(v.clone()), i + 1),
            _ => (None, i),
        };
    }
    let end = (j..tokens.len())
        .find(|&k| tokens[k] == PhpTok::CallClose)
        .unwrap_or(tokens.len());
    let args: Vec<String> = tokens[j + 1..end]
        .iter()
        .filter_map(|t| match t {
            PhpTok::Str(v) | PhpTok::Bare(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    let is_env_get = words.ends_with(&["Env", "get"]);
    let value = match (is_env_get, args.first()) {
        (true, Some(name)) => env_get(name).or_else(|| args.get(1).cloned()),
        _ => None,
    };
    (value, end + 1)
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// FastAdmin's `.env` is an INI file: `[section]` then `key = value`.
pub fn parse_ini_section(text: &str, section: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(';') || line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            current = line[1..line.len() - 1].trim().to_ascii_lowercase();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let (k, v) = (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').trim_matches('\'').to_string(),
            );
            if current == section {
                out.insert(k, v);
            } else if current.is_empty() {
                // `DATABASE_HOSTNAME = ...` flat style
                if let Some(rest) = k.strip_prefix(&format!("{section}_")) {
                    out.insert(rest.to_string(), v);
                }
            }
        }
    }
    out
}

/// Extract `'name' => '…'` / `'value' => '…'` pairs from a FastAdmin addon `config.php`
/// (an array of arrays of string literals), without running PHP.
pub fn parse_config_php(text: &str) -> Vec<(String, String)> {
    let tokens = php_tokens(text);
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut depth = 0i32;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            PhpTok::Open => {
                depth += 1;
                if depth == 2 {
                    name = None;
                }
            }
            PhpTok::Close => depth -= 1,
            PhpTok::Str(key)
                if depth == 2 && i + 2 < tokens.len() && tokens[i + 1] == PhpTok::Arrow =>
            {
                let value = match &tokens[i + 2] {
                    PhpTok::Str(v) | PhpTok::Bare(v) => v.clone(),
                    // A nested array (`'content' => []`): let the main loop track depth.
                    _ => {
                        i += 2;
                        continue;
                    }
                };
                match key.as_str() {
                    "name" => name = Some(value),
                    "value" => {
                        if let Some(n) = name.clone() {
                            out.push((n, value));
                        }
                    }
                    _ => {}
                }
                i += 3;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[derive(Debug, PartialEq, Clone)]
enum PhpTok {
    Open,
    Close,
    /// The parentheses of a function call (`Env::get(…)`), as opposed to `array(…)`.
    CallOpen,
    CallClose,
    Arrow,
    Str(String),
    Bare(String),
}

// Long on purpose: one tokenizer loop over PHP's literal syntax; its states read best together.
fn php_tokens(text: &str) -> Vec<PhpTok> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    // Whether each open parenthesis is `array(`, so its `)` closes an array, not a call.
    let mut parens: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            '[' => out.push(PhpTok::Open),
            ']' => out.push(PhpTok::Close),
            '(' => {
                let is_array = i >= 5
                    && b[i - 5..i]
                        .iter()
                        .collect::<String>()
                        .eq_ignore_ascii_case("array");
                parens.push(is_array);
                out.push(if is_array {
                    PhpTok::Open
                } else {
                    PhpTok::CallOpen
                });
            }
            ')' => out.push(if parens.pop().unwrap_or(true) {
                PhpTok::Close
            } else {
                PhpTok::CallClose
            }),
            '=' if b.get(i + 1) == Some(&'>') => {
                out.push(PhpTok::Arrow);
                i += 1;
            }
            '/' if b.get(i + 1) == Some(&'/') => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '#' => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if b.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                    i += 1;
                }
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != '\'' {
                    if b[i] == '\\' && matches!(b.get(i + 1), Some('\'') | Some('\\')) {
                        i += 1;
                    }
                    s.push(b[i]);
                    i += 1;
                }
                out.push(PhpTok::Str(s));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != '"' {
                    if b[i] == '\\' && i + 1 < b.len() {
                        i += 1;
                        match b[i] {
                            'n' => s.push('\n'),
                            'r' => s.push('\r'),
                            't' => s.push('\t'),
                            other => s.push(other),
                        }
                    } else {
                        s.push(b[i]);
                    }
                    i += 1;
                }
                out.push(PhpTok::Str(s));
            }
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' => {
                let mut s = String::new();
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || b[i] == '-' || b[i] == '.' || b[i] == '_')
                {
                    s.push(b[i]);
                    i += 1;
                }
                if !s.eq_ignore_ascii_case("array")
                    && !s.eq_ignore_ascii_case("return")
                    && !s.eq_ignore_ascii_case("php")
                {
                    let v = match s.to_ascii_lowercase().as_str() {
                        "true" => "1".to_string(),
                        "false" | "null" => String::new(),
                        _ => s,
                    };
                    out.push(PhpTok::Bare(v));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}
