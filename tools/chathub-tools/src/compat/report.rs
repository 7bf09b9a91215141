//! How `compat diff` tells a tester what it found: the summary first, then each distinct
//! difference once with the exchanges it appears in (a new site name is one line, not one per
//! page), what was not compared and why, and an HTML page putting both sides' page facts (and,
//! recorded with `--screenshots`, both sides' pictures) next to each other for those who would
//! rather look than read.

use std::collections::BTreeMap;
use std::path::Path;

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::compare::Difference;
use super::diff::{DiffReport, ExchangeDiff, Recording, Verdict, observed};
use super::pictures::{self, PictureDiff, PictureReport};

/// `_record.json` of a recording directory (absent for `fixtures/`).
pub fn settings(dir: &Path) -> Value {
    std::fs::read_to_string(dir.join("_record.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Settings under which the two recordings are not comparable, as warnings.
pub fn settings_warnings(a: &Value, b: &Value) -> Vec<String> {
    if a.is_null() || b.is_null() {
        return Vec::new();
    }
    let what = [
        ("database", "recorded with --db (rows compared)"),
        (
            "admin_session",
            "recorded with --admin-cookie (admin pages signed in)",
        ),
        ("only", "--only selection"),
        ("chathub_version", "toolkit version"),
    ];
    what.iter()
        .filter(|(k, _)| a[*k] != b[*k])
        .map(|(k, label)| {
            format!(
                "warning: the recordings differ in {label}: old {}, new {}",
                a[*k], b[*k]
            )
        })
        .collect()
}

/// The exchanges a recording skipped, with the reason (`record` writes them to `_record.json`).
pub fn not_recorded(s: &Value) -> Vec<(String, String)> {
    s["not_recorded"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                x["recording"].as_str().unwrap_or("?").to_string(),
                x["reason"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn short(s: &str, max: usize) -> String {
    let s = s.replace('\n', "\\n");
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s
    }
}

/// A difference's identity across exchanges: row ids stay (another row is another change).
type Key = (String, String, String);

fn distinct<'a>(
    items: impl Iterator<Item = (&'a ExchangeDiff, &'a Difference)>,
) -> Vec<(Key, Vec<&'a str>)> {
    let mut map: BTreeMap<Key, Vec<&str>> = BTreeMap::new();
    for (e, d) in items {
        let list = map
            .entry((d.path.clone(), d.expected.clone(), d.actual.clone()))
            .or_default();
        if list.last() != Some(&e.recording.as_str()) {
            list.push(&e.recording);
        }
    }
    let mut out: Vec<_> = map.into_iter().collect();
    // The most widespread first: that is usually the one cause of the rest.
    out.sort_by(|x, y| y.1.len().cmp(&x.1.len()).then(x.0.cmp(&y.0)));
    out
}

fn exchanges_list(list: &[&str]) -> String {
    const SHOWN: usize = 6;
    let mut s = list
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > SHOWN {
        s.push_str(&format!(" and {} more", list.len() - SHOWN));
    }
    s
}

pub fn summary_line(r: &DiffReport) -> String {
    let mut line = format!(
        "diff: {} exchanges compared: {} same, {} DIFFERENT, {} known deviations only",
        r.exchanges.len(),
        r.count(|v| *v == Verdict::Same),
        r.unexplained(),
        r.count(|v| matches!(v, Verdict::KnownDeviation(_))),
    );
    if r.noise_recordings > 0 {
        line.push_str(&format!(
            "; {} noisy fields learnt from {} extra recordings of the old site (--explain-noise lists them)",
            r.noise_fields, r.noise_recordings
        ));
    }
    line
}

/// The text report: summary and warnings on top, then one line per distinct difference.
pub fn render(r: &DiffReport, warnings: &[String], skipped: &[(String, String)]) -> String {
    let mut out = summary_line(r) + "\n";
    for w in warnings {
        out.push_str(&format!("{w}\n"));
    }
    if !r.only_in_old.is_empty() || !r.only_in_new.is_empty() {
        out.push_str(&format!(
            "not compared: {} exchanges only in the old recording, {} only in the new one (recorded with another --only?)\n",
            r.only_in_old.len(),
            r.only_in_new.len()
        ));
    }
    for (name, why) in skipped {
        out.push_str(&format!("not recorded: {name}: {why}\n"));
    }
    for a in &r.unlisted_anchors {
        out.push_str(&format!(
            "warning: COMPAT.md#{a} lists no toolkit fields: it explains nothing\n"
        ));
    }
    let unexplained = distinct(
        r.different()
            .flat_map(|e| e.differences.iter().map(move |d| (e, d))),
    );
    if !unexplained.is_empty() {
        out.push_str(&format!("\n{} distinct differences:\n", unexplained.len()));
    }
    for ((path, old, new), list) in &unexplained {
        out.push_str(&format!(
            "DIFFERENT {path}: old {:?} new {:?} in {} exchange(s): {}\n",
            short(old, 160),
            short(new, 160),
            list.len(),
            exchanges_list(list)
        ));
    }
    out.push_str(&render_known(r));
    out.push_str(&render_routes(r));
    out
}

fn render_known(r: &DiffReport) -> String {
    let mut per: BTreeMap<&str, (usize, Vec<&str>)> = BTreeMap::new();
    for e in &r.exchanges {
        for (a, _) in &e.explained {
            let entry = per.entry(a).or_default();
            entry.0 += 1;
            if entry.1.last() != Some(&e.recording.as_str()) {
                entry.1.push(&e.recording);
            }
        }
    }
    let mut out = String::new();
    if !per.is_empty() {
        out.push_str("\nknown deviations (only the fields COMPAT.md lists for them):\n");
    }
    for (a, (n, list)) in per {
        out.push_str(&format!(
            "known deviation ({a}): {n} field differences in {} exchange(s): {}\n",
            list.len(),
            exchanges_list(&list)
        ));
    }
    out
}

fn render_routes(r: &DiffReport) -> String {
    let mut routes: BTreeMap<&str, (usize, usize, Vec<&str>)> = BTreeMap::new();
    for e in &r.exchanges {
        let entry = routes.entry(&e.route).or_default();
        entry.0 += 1;
        if e.verdict == Verdict::Different {
            entry.1 += 1;
            entry.2.push(&e.recording);
        }
    }
    let mut out = String::from("\nper route:\n");
    for (route, (n, different, list)) in routes {
        out.push_str(&format!(
            "route {route}: {n} exchanges, {different} DIFFERENT"
        ));
        if !list.is_empty() {
            out.push_str(&format!(": {}", exchanges_list(&list)));
        }
        out.push('\n');
    }
    out.push_str(&summary_line(r));
    out.push('\n');
    out
}

/// `--explain-noise`: every masked field of every exchange, and why it is masked.
pub fn render_noise(r: &DiffReport) -> String {
    let mut out = String::from("masked fields (compared as placeholders or not at all):\n");
    for (name, m) in &r.masked {
        if !m.masks.is_empty() {
            out.push_str(&format!(
                "{name}: NOISE classes the catalogue names: {}\n",
                m.masks.join(", ")
            ));
        }
        for f in &m.noise {
            out.push_str(&format!(
                "{name}: {f}: differs between recordings of the old site\n"
            ));
        }
        if m.order_only {
            out.push_str(&format!(
                "{name}: body.page.text: same rows in another order (rows sorted by a one-second time tie)\n"
            ));
        }
    }
    out
}

fn facts_rows(doc: &Value) -> Vec<(String, String)> {
    let body = &doc["body"];
    let mut rows = vec![
        ("status".to_string(), doc["status"].to_string()),
        ("location".to_string(), doc["location"].to_string()),
    ];
    let inner = body
        .get("page")
        .or_else(|| body.get("json"))
        .or_else(|| body.get("text"))
        .cloned()
        .unwrap_or(Value::Null);
    match inner {
        Value::Object(m) => {
            for (k, v) in m {
                let text = match v {
                    Value::String(s) => s,
                    v => serde_json::to_string_pretty(&v).unwrap_or_default(),
                };
                rows.push((k, text));
            }
        }
        v => rows.push(("body".into(), v.to_string())),
    }
    rows
}

fn exchange_html(e: &ExchangeDiff, a: &Recording, b: &Recording) -> Markup {
    let doc = |r: &Recording| r.get(&e.recording).map(observed).unwrap_or(Value::Null);
    let (old, new) = (facts_rows(&doc(a)), facts_rows(&doc(b)));
    let new_of = |k: &str| new.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    html! {
        details open[e.verdict == Verdict::Different] {
            summary { (e.recording) " " code { (e.request) } " — " (match &e.verdict {
                Verdict::Different => "DIFFERENT".to_string(),
                Verdict::KnownDeviation(a) => format!("known deviation ({})", a.join(", ")),
                Verdict::Same => "same".to_string(),
            }) }
            ul { @for d in &e.differences { li.bad { code { (d.path) } ": " (short(&d.expected, 300)) " → " (short(&d.actual, 300)) } } }
            table {
                tr { th { "fact" } th { "old site" } th { "new site" } }
                @for (k, v) in &old {
                    @let nv = new_of(k).unwrap_or("(absent)");
                    tr.diff[nv != v] { td { (k) } td { pre { (v) } } td { pre { (nv) } } }
                }
            }
        }
    }
}

fn picture_html(d: &PictureDiff) -> Markup {
    html! {
        details.pic open {
            summary { (d.recording) " at " (d.width) " px — PICTURE DIFFERENT: " (d.summary) }
            table.pics {
                tr { th { "old site" } th { "new site" } th { "difference (changed pixels red, failing areas framed)" } }
                tr {
                    td { img src=(pictures::data_url(&d.old)) alt="old site"; }
                    td { img src=(pictures::data_url(&d.new)) alt="new site"; }
                    td { img src=(pictures::data_url(&d.difference)) alt="difference"; }
                }
            }
        }
    }
}

/// One self-contained HTML file (no external assets): the summary, the distinct differences,
/// each exchange that differs with both sides' page facts side by side, and each page whose
/// picture differs as old, new and difference pictures side by side.
pub fn render_html(
    r: &DiffReport,
    pics: &PictureReport,
    a: &Recording,
    b: &Recording,
    warnings: &[String],
) -> String {
    const STYLE: &str = "body{font:14px sans-serif;margin:1em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;vertical-align:top;padding:2px 4px}pre{white-space:pre-wrap;margin:0;max-height:20em;overflow:auto}tr.diff td{background:#fee}.bad{color:#a00}td:first-child{width:8em}table.pics td{width:33%}table.pics img{width:100%;height:auto;display:block}";
    let shown: Vec<&ExchangeDiff> = r
        .exchanges
        .iter()
        .filter(|e| e.verdict != Verdict::Same)
        .collect();
    let page = html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { "compat diff" } style { (STYLE) } }
            body {
                h1 { (summary_line(r)) }
                @for w in warnings { p.bad { (w) } }
                @for line in pics.render().lines() { p { (line) } }
                @for e in shown { (exchange_html(e, a, b)) }
                @if !pics.different.is_empty() {
                    h2 { "Pages that look different" }
                    @for d in &pics.different { (picture_html(d)) }
                }
            }
        }
    };
    page.into_string()
}
