//! `cargo compat diff A B [--noise N1 --noise N2]`: two recordings (or a recording and our
//! `fixtures/`) compared on what users and integrations see, with the golden suite's
//! normalisation (`compare::expected_doc` + the named NOISE masks).
//!
//! Noise the Diffy way: what differs between two recordings of the OLD site is noise, learnt
//! per exchange and field (page text per word); everything else must match. Differences on an
//! exchange that names a COMPAT.md deviation are reported as that deviation, not as failures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ToolError;
use super::catalogue;
use super::compare::{self, CompareOptions, Difference};

/// One recording directory: recording name (`group/NNN-slug.json`) -> file.
pub type Recording = BTreeMap<String, Value>;

/// Read every exchange file under `dir` (`<group>/<NNN-slug>.json` with a `request`); works on
/// `cargo compat record` output and on `fixtures/` alike.
pub fn load_recording(dir: &Path) -> Result<Recording, ToolError> {
    if !dir.is_dir() {
        return Err(ToolError::Usage(format!(
            "{} is not a recording directory",
            dir.display()
        )));
    }
    let mut out = Recording::new();
    let mut groups: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ToolError::Io(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    for g in groups {
        for f in catalogue::exchange_files(&g)? {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| ToolError::Io(format!("{}: {e}", f.display())))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| ToolError::Format(format!("{}: {e}", f.display())))?;
            if v.get("request").is_none() {
                continue;
            }
            let name = format!(
                "{}/{}",
                g.file_name().unwrap_or_default().to_string_lossy(),
                f.file_name().unwrap_or_default().to_string_lossy()
            );
            out.insert(name, v);
        }
    }
    Ok(out)
}

/// Fields that differ between recordings of the same site.
#[derive(Debug, Default, Clone)]
pub struct Noise {
    /// Whole leaves (or arrays whose length differs).
    whole: BTreeSet<String>,
    /// Strings whose word count agrees: the word positions that differ.
    words: BTreeMap<String, (usize, BTreeSet<usize>)>,
}

const NOISE: &str = "<NOISE>";

fn label(v: &Value, i: usize) -> String {
    match v.get("id").filter(|x| x.is_number()) {
        Some(id) => format!("id={id}"),
        None => i.to_string(),
    }
}

fn leaves(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(x, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            out.insert(format!("{path}#len"), Value::from(a.len()));
            for (i, x) in a.iter().enumerate() {
                leaves(x, &format!("{path}[{}]", label(x, i)), out);
            }
        }
        v => {
            out.insert(path.to_string(), v.clone());
        }
    }
}

impl Noise {
    /// Learn what differs between two observed documents of the same exchange.
    pub fn learn(&mut self, x: &Value, y: &Value) {
        let (mut lx, mut ly) = (BTreeMap::new(), BTreeMap::new());
        leaves(x, "", &mut lx);
        leaves(y, "", &mut ly);
        let paths: BTreeSet<&String> = lx.keys().chain(ly.keys()).collect();
        for p in paths {
            let (a, b) = (lx.get(p), ly.get(p));
            if a == b {
                continue;
            }
            if let Some(arr) = p.strip_suffix("#len") {
                self.whole.insert(arr.to_string());
                continue;
            }
            match (a.and_then(Value::as_str), b.and_then(Value::as_str)) {
                (Some(s), Some(t)) => {
                    let (ws, wt): (Vec<&str>, Vec<&str>) = (
                        s.split_whitespace().collect(),
                        t.split_whitespace().collect(),
                    );
                    if ws.len() == wt.len() && ws.len() > 1 {
                        let entry = self
                            .words
                            .entry(p.clone())
                            .or_insert_with(|| (ws.len(), BTreeSet::new()));
                        if entry.0 == ws.len() {
                            entry.1.extend((0..ws.len()).filter(|i| ws[*i] != wt[*i]));
                            continue;
                        }
                    }
                    self.whole.insert(p.clone());
                }
                _ => {
                    self.whole.insert(p.clone());
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.words.is_empty()
    }

    pub fn len(&self) -> usize {
        self.whole.len() + self.words.values().map(|(_, w)| w.len()).sum::<usize>()
    }

    /// Replace the noisy fields of a document by a placeholder.
    pub fn apply(&self, v: &mut Value) {
        if !self.is_empty() {
            self.apply_at(v, "");
        }
    }

    fn apply_at(&self, v: &mut Value, path: &str) {
        if self.whole.contains(path) {
            *v = Value::String(NOISE.into());
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    self.apply_at(x, &format!("{path}.{k}"));
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    let p = format!("{path}[{}]", label(x, i));
                    self.apply_at(x, &p);
                }
            }
            Value::String(s) => {
                if let Some((n, idx)) = self.words.get(path) {
                    let words: Vec<&str> = s.split_whitespace().collect();
                    if words.len() == *n {
                        *s = words
                            .iter()
                            .enumerate()
                            .map(|(i, w)| if idx.contains(&i) { NOISE } else { w })
                            .collect::<Vec<_>>()
                            .join(" ");
                    }
                }
            }
            _ => {}
        }
    }
}

/// The observed document of one recorded exchange (what `tests/compat` compares).
pub fn observed(file: &Value) -> Value {
    compare::expected_doc(&file["expect"])
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Same,
    Different,
    /// Differences on an exchange whose fixture names these COMPAT.md anchors.
    KnownDeviation(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ExchangeDiff {
    pub recording: String,
    pub route: String,
    pub request: String,
    pub differences: Vec<Difference>,
    pub verdict: Verdict,
}

#[derive(Debug, Default)]
pub struct DiffReport {
    pub exchanges: Vec<ExchangeDiff>,
    pub noise_fields: usize,
    pub noise_recordings: usize,
}

impl DiffReport {
    pub fn unexplained(&self) -> usize {
        self.exchanges
            .iter()
            .filter(|e| e.verdict == Verdict::Different)
            .count()
    }

    pub fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.exchanges.iter().filter(|e| f(&e.verdict)).count()
    }

    /// The exchanges reported as unexplained differences.
    pub fn different(&self) -> impl Iterator<Item = &ExchangeDiff> {
        self.exchanges
            .iter()
            .filter(|e| e.verdict == Verdict::Different)
    }

    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "diff: {} exchanges compared: {} same, {} different, {} known deviations",
            self.exchanges.len(),
            self.count(|v| *v == Verdict::Same),
            self.unexplained(),
            self.count(|v| matches!(v, Verdict::KnownDeviation(_))),
        );
        if self.noise_recordings > 0 {
            line.push_str(&format!(
                "; {} noisy fields learnt from {} recordings of the old site",
                self.noise_fields, self.noise_recordings
            ));
        }
        line
    }

    /// Per route: how many exchanges, then each exchange that differs with old vs new values.
    pub fn render(&self) -> String {
        let mut routes: BTreeMap<&str, Vec<&ExchangeDiff>> = BTreeMap::new();
        for e in &self.exchanges {
            routes.entry(e.route.as_str()).or_default().push(e);
        }
        let t = |s: &str| {
            let s = s.replace('\n', "\\n");
            if s.chars().count() > 200 {
                format!("{}…", s.chars().take(200).collect::<String>())
            } else {
                s
            }
        };
        let mut out = String::new();
        for (route, list) in routes {
            let same = list.iter().filter(|e| e.verdict == Verdict::Same).count();
            out.push_str(&format!(
                "route {route}: {} exchanges, {same} same\n",
                list.len()
            ));
            for e in list {
                let tag = match &e.verdict {
                    Verdict::Same => continue,
                    Verdict::Different => "DIFFERENT".to_string(),
                    Verdict::KnownDeviation(a) => format!("known deviation ({})", a.join(", ")),
                };
                out.push_str(&format!("  {tag}: {} [{}]\n", e.recording, e.request));
                for d in &e.differences {
                    out.push_str(&format!(
                        "    {}\n      old: {}\n      new: {}\n",
                        d.path,
                        t(&d.expected),
                        t(&d.actual)
                    ));
                }
            }
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        out
    }
}

fn deviations_of(file: &Value) -> Vec<String> {
    let mut out: Vec<String> = file["deviations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    out.extend(catalogue::status_deviations(&file["status"]));
    out
}

fn request_line(file: &Value) -> String {
    format!(
        "{} {}",
        file["request"]["method"].as_str().unwrap_or("GET"),
        file["request"]["path"].as_str().unwrap_or("")
    )
}

/// Compare one exchange of A (old) with B (new) after the learnt noise.
pub fn compare_exchange(a: &Value, b: &Value, noise: &Noise) -> Vec<Difference> {
    let mut da = observed(a);
    let mut db = observed(b);
    // A recording made without `--db` has no rows to compare.
    if a["expect"]["db_after"].is_null() || b["expect"]["db_after"].is_null() {
        da["db_after"] = Value::Null;
        db["db_after"] = Value::Null;
    }
    noise.apply(&mut da);
    noise.apply(&mut db);
    let secs = |f: &Value, k: &str| f[k].as_f64().unwrap_or(0.0);
    let options = CompareOptions {
        masks: a["masks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        expected_clock: secs(a, "clock_epoch").floor() as i64,
        actual_clock: secs(b, "clock_epoch").floor() as i64,
        tolerance_s: secs(a, "tolerance_s")
            .max(secs(b, "tolerance_s"))
            .max(3.0)
            .ceil() as i64,
        provision_calls_at_most: a["provision_calls_at_most"].as_bool() == Some(true),
    };
    let mut diffs = compare::compare(&da, &db, &options);
    for (side, f) in [("old", a), ("new", b)] {
        if let Some(e) = f.get("error").and_then(Value::as_str) {
            diffs.push(Difference {
                path: "replay".into(),
                expected: if side == "old" {
                    e.into()
                } else {
                    "a response".into()
                },
                actual: if side == "new" {
                    e.into()
                } else {
                    "a response".into()
                },
            });
        }
    }
    diffs
}

/// Compare recordings `a` (old site) and `b` (new site); `noise` = recordings of the old site.
pub fn diff_recordings(
    a: &Recording,
    b: &Recording,
    noise: &[Recording],
    compat_md: &str,
) -> DiffReport {
    let anchors = catalogue::deviation_anchors(compat_md);
    // One noise recording pairs with A (also the old site); more pair among themselves.
    let mut sources: Vec<&Recording> = noise.iter().collect();
    if sources.len() == 1 {
        sources.push(a);
    }
    let mut report = DiffReport {
        noise_recordings: noise.len(),
        ..DiffReport::default()
    };
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        let (fa, fb) = (a.get(name), b.get(name));
        let any = fa.or(fb).cloned().unwrap_or(Value::Null);
        let route = any["route"].as_str().unwrap_or("?").to_string();
        let (differences, devs) = match (fa, fb) {
            (Some(fa), Some(fb)) => {
                let mut n = Noise::default();
                for (i, x) in sources.iter().enumerate() {
                    for y in &sources[i + 1..] {
                        if let (Some(x), Some(y)) = (x.get(name), y.get(name)) {
                            n.learn(&observed(x), &observed(y));
                        }
                    }
                }
                report.noise_fields += n.len();
                let mut d = deviations_of(fa);
                d.extend(deviations_of(fb));
                (compare_exchange(fa, fb, &n), d)
            }
            (Some(_), None) => (
                vec![Difference {
                    path: "exchange".into(),
                    expected: "recorded".into(),
                    actual: "(not in the new recording)".into(),
                }],
                vec![],
            ),
            _ => (
                vec![Difference {
                    path: "exchange".into(),
                    expected: "(not in the old recording)".into(),
                    actual: "recorded".into(),
                }],
                vec![],
            ),
        };
        let mut known: Vec<String> = devs
            .into_iter()
            .filter(|d| anchors.iter().any(|a| a == d))
            .collect();
        known.sort();
        known.dedup();
        let verdict = if differences.is_empty() {
            Verdict::Same
        } else if !known.is_empty() {
            Verdict::KnownDeviation(known)
        } else {
            Verdict::Different
        };
        report.exchanges.push(ExchangeDiff {
            recording: name.clone(),
            route,
            request: request_line(&any),
            differences,
            verdict,
        });
    }
    report
}
