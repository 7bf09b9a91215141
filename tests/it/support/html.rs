//! Text and markup of pages, for assertions. The text helpers differ in what they take from the
//! page; each test module uses the one its expectations were written against.

use scraper::Html;

/// The strings joined with one space, runs of whitespace collapsed.
fn collapse<S: AsRef<str>>(parts: impl IntoIterator<Item = S>) -> String {
    parts
        .into_iter()
        .map(|p| p.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text nodes of the document with no ancestor element named in `hidden`.
fn text_outside(html: &str, hidden: &[&str]) -> String {
    let doc = Html::parse_document(html);
    let mut parts: Vec<String> = Vec::new();
    for node in doc.root_element().descendants() {
        if let Some(text) = node.value().as_text() {
            let is_hidden = node.ancestors().any(|a| {
                a.value()
                    .as_element()
                    .is_some_and(|e| hidden.contains(&e.name()))
            });
            if !is_hidden {
                parts.push(text.to_string());
            }
        }
    }
    collapse(parts)
}

/// Visible text of the body (script and style contents and the head left out).
pub fn page_text(html: &str) -> String {
    text_outside(html, &["script", "style", "head"])
}

/// Every text but script and style contents (the head's title included).
pub fn visible_text(html: &str) -> String {
    text_outside(html, &["script", "style"])
}

/// Every text of the document, head, scripts and styles included.
pub fn document_text(html: &str) -> String {
    collapse(Html::parse_document(html).root_element().text())
}

/// Every text inside `<body>`, scripts included.
pub fn body_text(html: &str) -> String {
    let doc = Html::parse_document(html);
    let body = scraper::Selector::parse("body").unwrap();
    collapse(doc.select(&body).flat_map(|b| b.text()))
}

/// The title, then the body's text (scripts included).
pub fn title_and_body_text(html: &str) -> String {
    let doc = Html::parse_document(html);
    let title = select(&doc, "title")
        .first()
        .map(|t| t.text().collect::<String>())
        .unwrap_or_default();
    let body = select(&doc, "body")
        .first()
        .map(|b| b.text().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    collapse([format!("{title} {body}")])
}

/// The elements matching `css`.
pub fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&scraper::Selector::parse(css).unwrap())
        .collect()
}

/// The outer HTML of every element matching `css`.
pub fn select_all(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    select(&doc, css).iter().map(|e| e.html()).collect()
}

/// Attribute `attr` of every element matching `css` that has it.
pub fn attr_all(html: &str, css: &str, attr: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    select(&doc, css)
        .iter()
        .filter_map(|e| e.value().attr(attr).map(str::to_string))
        .collect()
}
