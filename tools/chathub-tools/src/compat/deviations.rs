//! Which fields a COMPAT.md deviation may change. Each section the catalogue names carries a
//! `- **Toolkit fields:**` line of backticked field patterns (paths of the comparison model,
//! `compare::expected_doc`); `diff` accepts a difference as that deviation only when one of its
//! patterns matches, so the rest of the exchange is still compared.
//!
//! A pattern is a path that also covers everything inside it (`body.page.links` covers
//! `body.page.links[3].href`); `[*]` stands for any row or index, `**` for any path. A pattern
//! may end in ` ~ <regex>`: then only a difference that vanishes once every match of the regex
//! is removed from both values is explained (order numbers of another shape, not the text
//! around them).

use std::collections::BTreeMap;

use regex::Regex;

use super::compare::Difference;

const MARKER: &str = "- **Toolkit fields:**";

#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The pattern as written in COMPAT.md (shown by `--explain-noise` and in reports).
    pub text: String,
    path: Regex,
    only: Option<Regex>,
}

impl FieldSpec {
    pub fn parse(text: &str) -> Result<FieldSpec, String> {
        let (path, only) = match text.split_once(" ~ ") {
            Some((p, r)) => (p.trim(), Some(r.trim())),
            None => (text.trim(), None),
        };
        let mut re = String::from("^");
        let mut rest = path;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("**") {
                re.push_str(".*");
                rest = r;
            } else if let Some(r) = rest.strip_prefix("[*]") {
                re.push_str(r"\[[^\]]*\]");
                rest = r;
            } else {
                let c = rest.chars().next().unwrap_or_default();
                re.push_str(&regex::escape(&c.to_string()));
                rest = &rest[c.len_utf8()..];
            }
        }
        // The field itself or anything inside it, never a field that merely starts alike.
        re.push_str(r"($|[.\[ #])");
        let path = Regex::new(&re).map_err(|e| format!("{text}: {e}"))?;
        let only = only
            .map(|r| Regex::new(r).map_err(|e| format!("{text}: {e}")))
            .transpose()?;
        Ok(FieldSpec {
            text: text.to_string(),
            path,
            only,
        })
    }

    pub fn explains(&self, d: &Difference) -> bool {
        if !self.path.is_match(&d.path) {
            return false;
        }
        match &self.only {
            None => true,
            Some(re) => re.replace_all(&d.expected, "") == re.replace_all(&d.actual, ""),
        }
    }
}

/// Every anchor's field patterns (anchors without a `Toolkit fields` line explain nothing).
pub fn field_lists(compat_md: &str) -> Result<BTreeMap<String, Vec<FieldSpec>>, String> {
    let mut out: BTreeMap<String, Vec<FieldSpec>> = BTreeMap::new();
    let mut anchor: Option<String> = None;
    // The list may wrap: its continuation lines are indented and start no new item.
    let mut in_list = false;
    for line in compat_md.lines() {
        if let Some(a) = line.strip_prefix("## ") {
            anchor = Some(a.trim().to_string());
            in_list = false;
            continue;
        }
        let list = match line.trim_start().strip_prefix(MARKER) {
            Some(l) => {
                in_list = true;
                l
            }
            None if in_list && line.starts_with("  ") && !line.trim_start().starts_with("- ") => {
                line
            }
            None => {
                in_list = false;
                continue;
            }
        };
        let Some(a) = &anchor else { continue };
        let specs = out.entry(a.clone()).or_default();
        for item in list.split('`').skip(1).step_by(2) {
            specs.push(FieldSpec::parse(item)?);
        }
    }
    Ok(out)
}

/// The anchor (of `anchors`) whose fields explain `d`; a page-text change that mixes two
/// deviations' values (an order number next to an escaped plan name) is explained by both
/// together, named `a+b`.
pub fn explaining(
    d: &Difference,
    anchors: &[String],
    fields: &BTreeMap<String, Vec<FieldSpec>>,
) -> Option<String> {
    let specs = |a: &String| fields.get(a).into_iter().flatten();
    if let Some(a) = anchors.iter().find(|a| specs(a).any(|s| s.explains(d))) {
        return Some(a.clone());
    }
    let mut used = Vec::new();
    let (mut old, mut new) = (d.expected.clone(), d.actual.clone());
    for a in anchors {
        for s in specs(a).filter(|s| s.path.is_match(&d.path)) {
            if let Some(re) = &s.only {
                old = re.replace_all(&old, "").into_owned();
                new = re.replace_all(&new, "").into_owned();
                if !used.contains(a) {
                    used.push(a.clone());
                }
            }
        }
    }
    (used.len() > 1 && old == new).then(|| used.join("+"))
}
