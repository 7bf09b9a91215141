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
    Arrow,
    Str(String),
    Bare(String),
}

// Long on purpose: one tokenizer loop over PHP's literal syntax; its states read best together.
fn php_tokens(text: &str) -> Vec<PhpTok> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            '[' => out.push(PhpTok::Open),
            ']' => out.push(PhpTok::Close),
            '(' if i >= 5
                && b[i - 5..i]
                    .iter()
                    .collect::<String>()
                    .eq_ignore_ascii_case("array") =>
            {
                out.push(PhpTok::Open)
            }
            ')' => out.push(PhpTok::Close),
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
