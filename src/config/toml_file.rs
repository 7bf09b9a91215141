//! The TOML file source (`--config` / `CHATHUB_CONFIG`): server keys at the top level,
//! addon keys in `[addon]`; unknown keys are errors.

use std::collections::BTreeMap;

use super::{ADDON_KEYS, SERVER_KEYS};

fn toml_value_to_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(b) => {
            if *b {
                "1".into()
            } else {
                "0".into()
            }
        }
        toml::Value::Array(a) => a
            .iter()
            .map(toml_value_to_string)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

pub(super) fn read_toml(
    text: &str,
    server: &mut BTreeMap<String, String>,
    addon: &mut BTreeMap<String, String>,
    errors: &mut Vec<String>,
) {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("config: TOML syntax error: {e}"));
            return;
        }
    };
    for (k, v) in table {
        if k == "addon" {
            match v {
                toml::Value::Table(t) => {
                    for (ak, av) in t {
                        if ADDON_KEYS.contains(&ak.as_str()) {
                            addon.insert(ak, toml_value_to_string(&av));
                        } else {
                            errors.push(format!("addon.{ak}: unknown key"));
                        }
                    }
                }
                _ => errors.push("addon: must be a table".into()),
            }
        } else if SERVER_KEYS.contains(&k.as_str()) {
            server.insert(k, toml_value_to_string(&v));
        } else {
            errors.push(format!("{k}: unknown key"));
        }
    }
}
