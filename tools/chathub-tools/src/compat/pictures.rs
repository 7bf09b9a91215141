//! Pictures of recorded pages: `compat record --screenshots` takes them, `compat diff` compares
//! them with `visual::compare` (the measure the visual test holds our pages to) and lists the
//! pages that look different in the same report as every other difference.
//!
//! A picture is taken of the recorded answer, not of the live site: the recorded body is
//! opened at the recorded path under one fixed origin with every other request refused (as
//! the original's reference pictures are), so two sites at different addresses, or an old
//! site whose assets come from a CDN, are pictured the same way, and the picture is of exactly
//! the answer whose facts the diff compares.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ToolError;
use super::diff::Recording;
use crate::chromium::{Browser, Document};
use crate::visual::{self, WIDTHS};
use image::RgbaImage;

/// `<group>/<NNN-slug>-<width>.png` beside `<group>/<NNN-slug>.json`.
pub fn picture_path(dir: &Path, recording: &str, width: u32) -> PathBuf {
    let stem = recording.strip_suffix(".json").unwrap_or(recording);
    dir.join(format!("{stem}-{width}.png"))
}

/// Whether a recorded answer is a page a person looks at: a 200 with an HTML body.
fn is_page(file: &Value) -> bool {
    let e = &file["expect"];
    e["status"] == 200
        && e["content_type"]
            .as_str()
            .is_some_and(|c| c.contains("text/html"))
        && e["html"].as_str().is_some_and(|h| !h.trim().is_empty())
}

fn img_err(e: String) -> ToolError {
    ToolError::Io(format!("screenshot: {e}"))
}

/// Picture every recorded page of `recording` (the files under `dir`) at both widths, beside
/// its file; the number of pictures written.
pub async fn take(dir: &Path, recording: &Recording) -> Result<usize, ToolError> {
    let mut browser = visual::launch_browser().await.map_err(img_err)?;
    let mut n = 0;
    for (name, file) in recording.iter().filter(|(_, f)| is_page(f)) {
        n += take_one(&mut browser, dir, name, file).await?;
    }
    Ok(n)
}

async fn take_one(
    browser: &mut Browser,
    dir: &Path,
    name: &str,
    file: &Value,
) -> Result<usize, ToolError> {
    let url = format!(
        "{}{}",
        visual::RECORDED_ORIGIN,
        file["request"]["path"].as_str().unwrap_or("/")
    );
    let html = file["expect"]["html"].as_str().unwrap_or_default();
    for width in WIDTHS {
        let img = visual::render(browser, &Document { url: &url, html }, width)
            .await
            .map_err(|e| img_err(format!("{name}: {e}")))?;
        visual::write_png(&picture_path(dir, name, width), &img).map_err(img_err)?;
    }
    Ok(WIDTHS.len())
}

/// One page at one width that looks different on the new site.
pub struct PictureDiff {
    pub recording: String,
    pub width: u32,
    pub summary: String,
    pub old: RgbaImage,
    pub new: RgbaImage,
    pub difference: RgbaImage,
}

#[derive(Default)]
pub struct PictureReport {
    /// Pages compared, counted once per width.
    pub compared: usize,
    pub different: Vec<PictureDiff>,
    /// Pages pictured in one recording only (one was made without `--screenshots`).
    pub one_side_only: usize,
}

fn load(path: &Path) -> Option<Result<RgbaImage, ToolError>> {
    if !path.exists() {
        return None;
    }
    Some(
        std::fs::read(path)
            .map_err(|e| ToolError::Io(format!("{}: {e}", path.display())))
            .and_then(|b| {
                visual::decode_png(&b)
                    .map_err(|e| ToolError::Format(format!("{}: {e}", path.display())))
            }),
    )
}

/// Compare the pictures of every exchange both recordings hold. Tiles that also differ
/// between the old recording and a `noise` recording of the old site are forgiven (a date on
/// the page), as `diff` learns noisy fields.
pub fn compare(
    a: &Path,
    b: &Path,
    noise: &[PathBuf],
    names: impl Iterator<Item = String>,
) -> Result<PictureReport, ToolError> {
    let mut report = PictureReport::default();
    for name in names {
        for width in WIDTHS {
            let (old, new) = match (
                load(&picture_path(a, &name, width)),
                load(&picture_path(b, &name, width)),
            ) {
                (Some(old), Some(new)) => (old?, new?),
                (None, None) => continue,
                _ => {
                    report.one_side_only += 1;
                    continue;
                }
            };
            report.compared += 1;
            let mut v = visual::compare(&old, &new);
            for n in noise {
                if let Some(other) = load(&picture_path(n, &name, width)) {
                    v.forgive(&visual::compare(&old, &other?));
                }
            }
            if !v.passes() {
                report.different.push(PictureDiff {
                    difference: visual::diff_image(&old, &new, &v),
                    summary: v.summary(),
                    recording: name.clone(),
                    width,
                    old,
                    new,
                });
            }
        }
    }
    Ok(report)
}

impl PictureReport {
    /// Text lines for the report (empty when no picture was compared or missing).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.compared > 0 {
            out.push_str(&format!(
                "pictures: {} compared, {} DIFFERENT\n",
                self.compared,
                self.different.len()
            ));
        }
        if self.one_side_only > 0 {
            out.push_str(&format!(
                "pictures not compared: {} pictured in one recording only (record both with --screenshots)\n",
                self.one_side_only
            ));
        }
        for d in &self.different {
            out.push_str(&format!(
                "PICTURE DIFFERENT {} at {} px: {}\n",
                d.recording, d.width, d.summary
            ));
        }
        out
    }
}

/// A picture as a `data:` URL, so the HTML report stays one file.
pub fn data_url(img: &RgbaImage) -> String {
    use base64::Engine as _;
    let mut png = Vec::new();
    let _ = img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}
