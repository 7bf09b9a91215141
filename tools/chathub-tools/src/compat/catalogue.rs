//! The built-in scenario catalogue `cargo compat record` plays: every exchange of our golden
//! fixtures (`fixtures/`), request side only, with each group's starting database. Generated
//! from the fixtures (`from_fixtures`) into `catalogue.json` and embedded in the binary, because
//! a tester's machine has no `fixtures/` directory; `tests/it/toolkit.rs` fails when the two drift
//! (`TOOLKIT_BLESS=1` rewrites the file).

use std::path::Path;

use serde_json::{Map, Value, json};

use super::ToolError;

const BUILTIN: &str = include_str!("catalogue.json");

/// Exchange fields a recorder needs; the fixtures' recorded side (`expect`), status and notes
/// stay out (they change as routes land, the requests do not).
const EXCHANGE_FIELDS: &[&str] = &[
    "recording",
    "scenario",
    "route",
    "client",
    "setup",
    "request",
    "actions",
    "masks",
    "restore_db_after",
    "provision_calls_at_most",
];
const GROUP_FIELDS: &[&str] = &[
    "group",
    "schema",
    "seed_sql",
    "seed_rows",
    "addon",
    "public_base_url",
    "admin",
];

/// The catalogue compiled into this binary.
pub fn builtin() -> Result<Value, ToolError> {
    serde_json::from_str(BUILTIN).map_err(|e| ToolError::Format(format!("catalogue: {e}")))
}

/// COMPAT.md compiled into this binary: the deviations `diff` reports as known.
pub fn compat_md() -> &'static str {
    include_str!("../../../../COMPAT.md")
}

/// The `## <anchor>` headings of a COMPAT.md.
pub fn deviation_anchors(compat_md: &str) -> Vec<String> {
    compat_md
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|s| s.trim().to_string())
        .collect()
}

/// The deviation anchors a fixture status names (`{"deviation": "a,b"}`, also on pending).
pub fn status_deviations(status: &Value) -> Vec<String> {
    status
        .get("deviation")
        .and_then(Value::as_str)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn read_json(p: &Path) -> Result<Value, ToolError> {
    let text =
        std::fs::read_to_string(p).map_err(|e| ToolError::Io(format!("{}: {e}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| ToolError::Format(format!("{}: {e}", p.display())))
}

/// The group directories of a fixtures tree (those with `_group.json`), sorted.
pub fn group_dirs(dir: &Path) -> Result<Vec<std::path::PathBuf>, ToolError> {
    let mut groups: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ToolError::Io(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("_group.json").exists())
        .collect();
    groups.sort();
    Ok(groups)
}

/// The exchange files of a group directory (`NNN-slug.json`), sorted.
pub fn exchange_files(gdir: &Path) -> Result<Vec<std::path::PathBuf>, ToolError> {
    let mut files: Vec<_> = std::fs::read_dir(gdir)
        .map_err(|e| ToolError::Io(format!("{}: {e}", gdir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn pick(v: &Value, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| v.get(*f).map(|x| (f.to_string(), x.clone())))
        .collect()
}

/// Build the catalogue from a fixtures tree.
pub fn from_fixtures(dir: &Path) -> Result<Value, ToolError> {
    let mut groups = Vec::new();
    for gdir in group_dirs(dir)? {
        let name = gdir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let group = read_json(&gdir.join("_group.json"))?;
        let mut exchanges = Vec::new();
        for f in exchange_files(&gdir)? {
            let fx = read_json(&f)?;
            let mut e = pick(&fx, EXCHANGE_FIELDS);
            e.insert(
                "external".into(),
                json!(fx["status"].get("external").is_some()),
            );
            if let Some(why) = fx["status"].get("external") {
                e.insert("external_reason".into(), why.clone());
            }
            e.insert("deviations".into(), json!(status_deviations(&fx["status"])));
            exchanges.push(Value::Object(e));
        }
        groups.push(json!({
            "name": name,
            "group": Value::Object(pick(&group, GROUP_FIELDS)),
            "exchanges": exchanges,
        }));
    }
    Ok(json!({
        "about": "Generated from fixtures/ by chathub_tools::compat::catalogue::from_fixtures; do not edit (TOOLKIT_BLESS=1 cargo test --test it toolkit:: rewrites it).",
        "groups": groups,
    }))
}

/// Does `--only` select this exchange? Each item is `group` or `group/NNN` (a file-name prefix).
pub fn selected(only: &[String], group: &str, recording: &str) -> bool {
    if only.is_empty() {
        return true;
    }
    let file = recording.rsplit('/').next().unwrap_or(recording);
    only.iter().any(|o| match o.split_once('/') {
        Some((g, n)) => g == group && file.starts_with(n),
        None => o == group,
    })
}

/// Is any exchange of this group selected?
pub fn group_selected(only: &[String], group: &str) -> bool {
    only.is_empty() || only.iter().any(|o| o.split('/').next() == Some(group))
}

/// Test keys compiled into this binary: the site profile the catalogue's signed payment
/// notifications were made with. Test-only key material, published in this repository.
pub const SITE_KEYS: &[(&str, &str)] = &[
    (
        "merchant_private.pem",
        include_str!("../../../../fixtures/keys/merchant_private.pem"),
    ),
    (
        "merchant_public.pem",
        include_str!("../../../../fixtures/keys/merchant_public.pem"),
    ),
    (
        "alipay_platform_public.pem",
        include_str!("../../../../fixtures/keys/alipay_platform_public.pem"),
    ),
];

/// The addon settings of the recorded payment scenarios (`@file:` = the key file's contents).
pub const SITE_PROFILE: &[(&str, &str)] = &[
    ("alipay_enabled", "1"),
    ("alipay_app_id", "9021000100000001"),
    ("alipay_sandbox", "1"),
    ("alipay_merchant_private_key", "@file:merchant_private.pem"),
    ("alipay_public_key", "@file:alipay_platform_public.pem"),
];

/// The profile with key contents filled in, as `(addon key, value)`.
pub fn site_profile_values() -> Vec<(String, String)> {
    SITE_PROFILE
        .iter()
        .map(|(k, v)| {
            let v = match v.strip_prefix("@file:") {
                Some(f) => SITE_KEYS
                    .iter()
                    .find(|(n, _)| *n == f)
                    .map(|(_, c)| c.to_string())
                    .unwrap_or_default(),
                None => v.to_string(),
            };
            (k.to_string(), v)
        })
        .collect()
}
