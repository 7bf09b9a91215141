//! HTML -> the page facts a user sees, so the original's markup and ours compare on what matters:
//! title, visible text in document order, forms and their fields, links, buttons, and the data
//! inline scripts read (e.g. the embed code behind "嵌入代码"). Not CSS, attribute order or
//! indentation.

use scraper::{ElementRef, Html, Node, Selector};
use serde_json::{Value, json};

/// Hidden fields only we add (anti-CSRF tokens): not something the user sees or fills in.
/// `__token__` is the name the channel form uses (COMPAT.md#channel-auth-token); FastAdmin's own
/// `__token__` fields appear only on its admin login/logout pages, which are not replayed.
pub const OUR_HIDDEN_FIELDS: &[&str] = &["csrf", "_csrf", "csrf_token", "__csrf__", "__token__"];

/// Elements that do not break a line or a word when rendered. Links are not among them: each
/// link is its own item (the original separates them with newlines, we may not; in its flex
/// layouts that whitespace never shows).
const INLINE: &[&str] = &[
    "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd", "label",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
];

/// Content that is never rendered as text.
const HIDDEN_CONTENT: &[&str] = &["script", "style", "template", "noscript", "head", "title"];

pub fn page_facts(html: &str) -> Value {
    let doc = Html::parse_document(html);
    let title = select_first_text(&doc, "title");
    let mut text = String::new();
    visible_text(doc.root_element(), &mut text);
    json!({
        "title": title,
        "text": collapse(&text),
        "forms": forms(&doc),
        "links": links(&doc),
        "buttons": buttons(&doc),
        "data": inline_data(&doc),
    })
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

pub fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn select_first_text(doc: &Html, css: &str) -> String {
    doc.select(&sel(css))
        .next()
        .map(|e| collapse(&e.text().collect::<String>()))
        .unwrap_or_default()
}

fn visible_text(el: ElementRef, out: &mut String) {
    let name = el.value().name();
    if HIDDEN_CONTENT.contains(&name) {
        return;
    }
    let block = !INLINE.contains(&name);
    if block {
        out.push(' ');
    }
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(_) => {
                if let Some(e) = ElementRef::wrap(child) {
                    visible_text(e, out);
                }
            }
            _ => {}
        }
    }
    if block {
        out.push(' ');
    }
}

fn attr(e: &ElementRef, name: &str) -> Option<String> {
    e.value().attr(name).map(str::to_string)
}

fn forms(doc: &Html) -> Value {
    let field_sel = sel("input, select, textarea");
    let opt_sel = sel("option");
    let mut out = Vec::new();
    for form in doc.select(&sel("form")) {
        let mut fields = Vec::new();
        for f in form.select(&field_sel) {
            let tag = f.value().name().to_string();
            let ty = attr(&f, "type").unwrap_or_default().to_ascii_lowercase();
            if tag == "input" && matches!(ty.as_str(), "submit" | "button" | "image" | "reset") {
                continue; // listed as buttons
            }
            let name = attr(&f, "name").unwrap_or_default();
            if ty == "hidden" && OUR_HIDDEN_FIELDS.contains(&name.as_str()) {
                continue;
            }
            let value = match tag.as_str() {
                "textarea" => f.text().collect::<String>(),
                "select" => String::new(),
                _ => attr(&f, "value").unwrap_or_default(),
            };
            let mut field = json!({
                "tag": tag,
                "name": name,
                "type": ty,
                "required": f.value().attr("required").is_some(),
                "value": value,
            });
            if matches!(ty.as_str(), "checkbox" | "radio") {
                field["checked"] = json!(f.value().attr("checked").is_some());
            }
            if tag == "select" {
                let opts: Vec<Value> = f
                    .select(&opt_sel)
                    .map(|o| {
                        let text = collapse(&o.text().collect::<String>());
                        json!({
                            "value": attr(&o, "value").unwrap_or_else(|| text.clone()),
                            "text": text,
                            "selected": o.value().attr("selected").is_some(),
                        })
                    })
                    .collect();
                field["options"] = Value::Array(opts);
            }
            fields.push(field);
        }
        out.push(json!({
            "method": attr(&form, "method").unwrap_or_else(|| "get".into()).to_ascii_lowercase(),
            "action": attr(&form, "action").unwrap_or_default(),
            "fields": fields,
        }));
    }
    Value::Array(out)
}

fn links(doc: &Html) -> Value {
    Value::Array(
        doc.select(&sel("a[href]"))
            .map(|a| {
                json!({
                    "href": link_target(&a),
                    "text": collapse(&a.text().collect::<String>()),
                })
            })
            .collect(),
    )
}

/// Where a link leads. A `javascript:` link does what its URL or, when that is empty, its
/// `onclick` says (`href="javascript:" onclick="history.go(-1)"` = `javascript:history.go(-1)`).
fn link_target(a: &ElementRef) -> String {
    let href = attr(a, "href").unwrap_or_default();
    match href.strip_prefix("javascript:") {
        Some(code) => {
            let code = if code.trim().is_empty() {
                attr(a, "onclick").unwrap_or_default()
            } else {
                code.to_string()
            };
            format!("javascript:{}", code.trim().trim_end_matches(';'))
        }
        None => href,
    }
}

fn buttons(doc: &Html) -> Value {
    let mut out = Vec::new();
    for b in doc.select(&sel(
        "button, input[type=submit], input[type=button], input[type=image], input[type=reset]",
    )) {
        let is_button = b.value().name() == "button";
        let ty = attr(&b, "type")
            .unwrap_or_else(|| {
                if is_button {
                    "submit".into()
                } else {
                    String::new()
                }
            })
            .to_ascii_lowercase();
        let text = if is_button {
            collapse(&b.text().collect::<String>())
        } else {
            attr(&b, "value").unwrap_or_default()
        };
        out.push(json!({"type": ty, "text": text}));
    }
    Value::Array(out)
}

/// Strings a page hands to its scripts: string literals in `on*` handlers, `data-*` attribute
/// values and `<script type="application/json">` string leaves. Sorted, without duplicates.
fn inline_data(doc: &Html) -> Value {
    let mut out: Vec<String> = Vec::new();
    for el in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        for (name, value) in el.value().attrs() {
            if name.starts_with("on") {
                out.extend(js_string_literals(value));
            } else if name.starts_with("data-") && !value.is_empty() {
                out.push(value.to_string());
            }
        }
        if el.value().name() == "script"
            && el
                .value()
                .attr("type")
                .is_some_and(|t| t.eq_ignore_ascii_case("application/json"))
            && let Ok(v) = serde_json::from_str::<Value>(&el.text().collect::<String>())
        {
            collect_strings(&v, &mut out);
        }
    }
    out.sort();
    out.dedup();
    Value::Array(out.into_iter().map(Value::String).collect())
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// The decoded contents of every '…' or "…" literal in a piece of JavaScript.
pub fn js_string_literals(js: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = js.chars();
    while let Some(c) = chars.next() {
        if c != '\'' && c != '"' {
            continue;
        }
        let quote = c;
        let mut s = String::new();
        let mut closed = false;
        while let Some(d) = chars.next() {
            match d {
                '\\' => match chars.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some(other) => s.push(other),
                    None => break,
                },
                d if d == quote => {
                    closed = true;
                    break;
                }
                d => s.push(d),
            }
        }
        if closed {
            out.push(s);
        }
    }
    out
}

/// The anti-CSRF token a page hands to the browser: the value of a hidden field named in
/// [`OUR_HIDDEN_FIELDS`], else the `token` parameter of a link. The compat runner uses it to
/// submit a form or follow a link as a browser on that page would.
pub fn page_token(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let from_field = doc.select(&sel("input[type=hidden]")).find_map(|f| {
        let name = f.value().attr("name")?;
        let value = f.value().attr("value")?;
        (OUR_HIDDEN_FIELDS.contains(&name) && !value.is_empty()).then(|| value.to_string())
    });
    from_field.or_else(|| {
        doc.select(&sel("a[href]")).find_map(|a| {
            let href = a.value().attr("href")?;
            let (_, query) = href.split_once('?')?;
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
            pairs
                .into_iter()
                .find(|(k, v)| k == "token" && !v.is_empty())
                .map(|(_, v)| v)
        })
    })
}
