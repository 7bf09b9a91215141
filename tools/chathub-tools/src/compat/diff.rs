//! `cargo compat diff A B [--noise N1 --noise N2]`: two recordings (or a recording and our
//! `fixtures/`) compared on what users and integrations see, with the golden suite's
//! normalisation (`compare::expected_doc` + the named NOISE masks).
//!
//! Noise the Diffy way: what differs between recordings of the OLD site is noise, learnt per
//! exchange and field (page text per word); everything else must match. A COMPAT.md deviation
//! explains only the fields its section lists (`deviations::explains`): any other difference in
//! the same exchange is DIFFERENT, so a deviation never hides a broken answer next to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ToolError;
use super::catalogue;
use super::compare::{self, CompareOptions, Difference};
use super::deviations::{self, FieldSpec};

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

    /// What is masked, one line per field: `path` or `path (words 3, 7)`.
    pub fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .whole
            .iter()
            .map(|p| p.trim_start_matches('.').to_string())
            .collect();
        for (p, (_, idx)) in &self.words {
            let list: Vec<String> = idx.iter().map(|i| (i + 1).to_string()).collect();
            out.push(format!(
                "{} (words {})",
                p.trim_start_matches('.'),
                list.join(", ")
            ));
        }
        out
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
    /// At least one difference no deviation of the exchange explains.
    Different,
    /// Every difference is a field these COMPAT.md anchors list.
    KnownDeviation(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ExchangeDiff {
    pub recording: String,
    pub route: String,
    pub request: String,
    /// Differences no deviation explains.
    pub differences: Vec<Difference>,
    /// Differences a deviation's fields explain, with its anchor.
    pub explained: Vec<(String, Difference)>,
    pub verdict: Verdict,
}

/// What `diff` masked on one exchange, and why.
#[derive(Debug, Clone, Default)]
pub struct MaskedFields {
    /// Fields differing between recordings of the old site.
    pub noise: Vec<String>,
    /// NOISE classes the catalogue names for the exchange.
    pub masks: Vec<String>,
    /// Set when the only difference was rows of equal time in another order.
    pub order_only: bool,
}

#[derive(Debug, Default)]
pub struct DiffReport {
    /// The exchanges both recordings contain.
    pub exchanges: Vec<ExchangeDiff>,
    pub only_in_old: Vec<String>,
    pub only_in_new: Vec<String>,
    pub noise_fields: usize,
    pub noise_recordings: usize,
    pub masked: BTreeMap<String, MaskedFields>,
    /// Anchors an exchange names that COMPAT.md does not give fields for.
    pub unlisted_anchors: BTreeSet<String>,
}

impl DiffReport {
    pub fn unexplained(&self) -> usize {
        self.count(|v| *v == Verdict::Different)
    }

    pub fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.exchanges.iter().filter(|e| f(&e.verdict)).count()
    }

    /// The text report without recording settings (`report::render` with them).
    pub fn render(&self) -> String {
        super::report::render(self, &[], &[])
    }

    /// The exchanges reported as unexplained differences.
    pub fn different(&self) -> impl Iterator<Item = &ExchangeDiff> {
        self.exchanges
            .iter()
            .filter(|e| e.verdict == Verdict::Different)
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

fn masks_of(file: &Value) -> Vec<String> {
    file["masks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect()
}

fn options_for(a: &Value, b: &Value) -> CompareOptions {
    let secs = |f: &Value, k: &str| f[k].as_f64().unwrap_or(0.0);
    CompareOptions {
        masks: masks_of(a),
        expected_clock: secs(a, "clock_epoch").floor() as i64,
        actual_clock: secs(b, "clock_epoch").floor() as i64,
        tolerance_s: secs(a, "tolerance_s")
            .max(secs(b, "tolerance_s"))
            .max(3.0)
            .ceil() as i64,
        provision_calls_at_most: a["provision_calls_at_most"].as_bool() == Some(true),
    }
}

/// The mask NOISE.md names for lists ordered by a one-second time: rows written in the same
/// second come back in either order.
pub const ROW_ORDER_MASK: &str = "same-time-row-order";

/// Do two page texts hold the same words, only in another order? Compared after the masks
/// (times become placeholders), with the times themselves agreeing as sorted lists.
fn same_rows_reordered(da: &Value, db: &Value, o: &CompareOptions) -> bool {
    let text = |d: &Value, clock: i64| {
        let m = compare::apply_masks(d, &o.masks, clock);
        let t = &m["body"]["page"]["text"];
        let words = t
            .get("$masked")
            .unwrap_or(t)
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut w: Vec<String> = words.split_whitespace().map(str::to_string).collect();
        w.sort();
        let mut times: Vec<i64> = t["$times"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x[0].as_i64())
            .collect();
        times.sort();
        (w, times)
    };
    let ((wa, ta), (wb, tb)) = (text(da, o.expected_clock), text(db, o.actual_clock));
    wa == wb
        && ta.len() == tb.len()
        && ta
            .iter()
            .zip(&tb)
            .all(|(x, y)| (x - y).abs() <= o.tolerance_s)
}

/// Compare one exchange of A (old) with B (new) after the learnt noise. The flag is set when
/// differences were dropped as rows of the same time in another order.
pub fn compare_exchange(a: &Value, b: &Value, noise: &Noise) -> (Vec<Difference>, bool) {
    let mut da = observed(a);
    let mut db = observed(b);
    // A recording made without `--db` has no rows to compare.
    if a["expect"]["db_after"].is_null() || b["expect"]["db_after"].is_null() {
        da["db_after"] = Value::Null;
        db["db_after"] = Value::Null;
    }
    let options = options_for(a, b);
    let (raw_a, raw_b) = (da.clone(), db.clone());
    noise.apply(&mut da);
    noise.apply(&mut db);
    let mut diffs = compare::compare(&da, &db, &options);
    let mut order_only = false;
    if options.masks.iter().any(|m| m == ROW_ORDER_MASK)
        && diffs.iter().any(|d| d.path == "body.page.text")
        && same_rows_reordered(&raw_a, &raw_b, &options)
    {
        diffs.retain(|d| d.path != "body.page.text");
        order_only = true;
    }
    for (side, f) in [("old", a), ("new", b)] {
        if let Some(e) = f.get("error").and_then(Value::as_str) {
            let (expected, actual) = if side == "old" {
                (e.to_string(), "a response".to_string())
            } else {
                ("a response".to_string(), e.to_string())
            };
            diffs.push(Difference {
                path: "replay".into(),
                expected,
                actual,
            });
        }
    }
    (diffs, order_only)
}

/// Noise for one exchange: what differs between every pair of old-site recordings (A and each
/// `--noise` recording), so noise that shows up in only one pair is still learnt.
fn learn_noise(name: &str, a: &Recording, noise: &[Recording]) -> Noise {
    let sources: Vec<&Recording> = std::iter::once(a).chain(noise.iter()).collect();
    let mut n = Noise::default();
    for (i, x) in sources.iter().enumerate() {
        for y in &sources[i + 1..] {
            if let (Some(x), Some(y)) = (x.get(name), y.get(name)) {
                n.learn(&observed(x), &observed(y));
            }
        }
    }
    n
}

/// Sort differences into explained (by the exchange's anchors' fields) and not.
fn explain(
    diffs: Vec<Difference>,
    anchors: &[String],
    fields: &BTreeMap<String, Vec<FieldSpec>>,
) -> (Vec<Difference>, Vec<(String, Difference)>) {
    let mut unexplained = Vec::new();
    let mut explained = Vec::new();
    for d in diffs {
        match deviations::explaining(&d, anchors, fields) {
            Some(a) => explained.push((a, d)),
            None => unexplained.push(d),
        }
    }
    (unexplained, explained)
}

/// Compare recordings `a` (old site) and `b` (new site); `noise` = more recordings of the old
/// site. Only exchanges both contain are compared; the others are listed by name.
pub fn diff_recordings(
    a: &Recording,
    b: &Recording,
    noise: &[Recording],
    compat_md: &str,
) -> DiffReport {
    let anchors = catalogue::deviation_anchors(compat_md);
    // COMPAT.md is compiled in and tested (toolkit::); a broken pattern explains nothing.
    let fields = deviations::field_lists(compat_md).unwrap_or_default();
    let mut report = DiffReport {
        noise_recordings: noise.len(),
        only_in_old: a.keys().filter(|k| !b.contains_key(*k)).cloned().collect(),
        only_in_new: b.keys().filter(|k| !a.contains_key(*k)).cloned().collect(),
        ..DiffReport::default()
    };
    for (name, fa) in a {
        let Some(fb) = b.get(name) else { continue };
        let n = learn_noise(name, a, noise);
        report.noise_fields += n.len();
        let mut known: Vec<String> = deviations_of(fa)
            .into_iter()
            .chain(deviations_of(fb))
            .filter(|d| anchors.iter().any(|a| a == d))
            .collect();
        known.sort();
        known.dedup();
        report
            .unlisted_anchors
            .extend(known.iter().filter(|k| !fields.contains_key(*k)).cloned());
        let (diffs, order_only) = compare_exchange(fa, fb, &n);
        let (differences, explained) = explain(diffs, &known, &fields);
        let mut used: Vec<String> = explained.iter().map(|(a, _)| a.clone()).collect();
        used.sort();
        used.dedup();
        let verdict = match (differences.is_empty(), used.is_empty()) {
            (false, _) => Verdict::Different,
            (true, true) => Verdict::Same,
            (true, false) => Verdict::KnownDeviation(used),
        };
        let masked = MaskedFields {
            noise: n.fields(),
            masks: masks_of(fa),
            order_only,
        };
        if !masked.noise.is_empty() || !masked.masks.is_empty() || order_only {
            report.masked.insert(name.clone(), masked);
        }
        report.exchanges.push(ExchangeDiff {
            recording: name.clone(),
            route: fa["route"].as_str().unwrap_or("?").to_string(),
            request: request_line(fa),
            differences,
            explained,
            verdict,
        });
    }
    report
}
