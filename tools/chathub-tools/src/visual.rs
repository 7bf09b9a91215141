//! How pages look: the recorded pages whose pictures are kept as facts about the original
//! (`fixtures/visual/<case>-<width>.png`), the command that renders them once from the
//! recordings, and the perceptual comparison the visual test and `compat diff` use.
//!
//! The comparison forgives what two renderings of the same design differ in (a glyph's
//! anti-aliasing, a one-pixel shift) and nothing a person would notice (a missing badge, another
//! colour, other spacing): a pixel counts as changed only when no pixel of the other picture
//! within one pixel of it has nearly its colour, and a picture fails when some 32×32 tile holds
//! more changed pixels than a short anti-aliased stroke makes.

use std::path::{Path, PathBuf};

/// The tests hold pictures in this crate's `image` types.
pub use image;
use image::{Rgba, RgbaImage};
use serde_json::Value;

use crate::chromium::{Browser, Document};

/// The window widths every case is taken at: a desktop and a phone.
pub const WIDTHS: [u32; 2] = [1280, 390];

/// Who the recorded request was sent as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SignedIn {
    Nobody,
    /// A member, signed in with email and password before the request.
    Member(&'static str, &'static str),
    /// FastAdmin's admin, through a PHP session file (the group's `admin` row).
    Admin,
}

/// One recorded page: `recording` is `<group>/<file stem>` under the recordings (and under
/// the repository's `fixtures/`, which holds the same exchange), `signed_in` who sent it.
/// `unseen` is CSS added to our page before the comparison for what the original's picture
/// cannot show (what it loads from a CDN); `as_original` pairs (our markup, the original's)
/// swapped in our page for the comparison only, where a documented deviation would otherwise
/// move the rest of the page (markup the original printed raw, a viewport tag it lacked).
/// `deviation` names the COMPAT.md#visual-comparison entry of a page that is compared and
/// must still differ (the entry is stale when it no longer does). COMPAT.md lists each; all
/// empty for most pages.
pub struct Case {
    pub name: &'static str,
    pub recording: &'static str,
    pub signed_in: SignedIn,
    pub unseen: &'static str,
    pub as_original: &'static [(&'static str, &'static str)],
    pub deviation: Option<&'static str>,
}

/// The original's channel and admin pages have no viewport tag: a phone lays them out 980 px
/// wide. Ours are laid out for the phone; compared at 390 as the original's layout.
const NO_VIEWPORT: (&str, &str) = (
    r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
    "",
);

const ALICE: SignedIn = SignedIn::Member("alice@example.com", "alice-pass-1");

/// Recorded pages not here, and why: COMPAT.md#visual-comparison.
pub const CASES: &[Case] = &[
    Case {
        name: "landing",
        recording: "public/001-landing",
        signed_in: SignedIn::Nobody,
        unseen: "",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "register",
        recording: "public/002-registerpage-noplan",
        signed_in: SignedIn::Nobody,
        // The original marks the preselected plan with jQuery from a CDN, which no render
        // loads; ours marks it without one.
        unseen: ".plan-option.selected{border-color:#334155;background:#0f172a}",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "login",
        recording: "public/014-login",
        signed_in: SignedIn::Nobody,
        unseen: "",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "login-error",
        recording: "public/016-login-error-plain",
        signed_in: SignedIn::Nobody,
        unseen: "",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "my-no-tenants",
        recording: "member/008-my-no-tenants",
        signed_in: SignedIn::Member("carol@example.com", "carol-pass-3"),
        unseen: "",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "my",
        recording: "member/013-my-all-statuses",
        signed_in: ALICE,
        unseen: "",
        // The plan name `<i>gold</i>`: the original printed it raw (#member-center-escaping).
        as_original: &[("&lt;i&gt;gold&lt;/i&gt;", "<i>gold</i>")],
        deviation: None,
    },
    Case {
        name: "change-password",
        recording: "member/021-changepassword-get",
        signed_in: ALICE,
        unseen: "",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "renew",
        recording: "member/027-renew-own-payments-off",
        signed_in: ALICE,
        unseen: "",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "channel-list",
        recording: "member/048-channellist-some-bound",
        signed_in: ALICE,
        unseen: "",
        as_original: &[NO_VIEWPORT],
        deviation: None,
    },
    Case {
        name: "channel-auth",
        recording: "member/037-channelauth-amazon",
        signed_in: ALICE,
        unseen: "",
        as_original: &[NO_VIEWPORT],
        deviation: Some(
            "the original's channelAuth is bare HTML: ours has the channel pages' styles",
        ),
    },
    Case {
        name: "register-result",
        recording: "register/003-existing-email-form-ok",
        signed_in: ALICE,
        unseen: "",
        as_original: &[],
        deviation: None,
    },
    Case {
        name: "admin-add",
        recording: "admin/028-add-get",
        signed_in: SignedIn::Admin,
        // The original's 保存 icon is FontAwesome from a CDN: an empty slot in its picture.
        unseen: ".btn-primary svg{width:0;visibility:hidden}",
        as_original: &[NO_VIEWPORT],
        deviation: None,
    },
];

/// The address the recordings were made at: pages are opened there on both sides, so
/// scripts that read `location` see the recorded query.
pub const RECORDED_ORIGIN: &str = "http://127.0.0.1:8088";

pub fn reference_path(dir: &Path, case: &str, width: u32) -> PathBuf {
    dir.join(format!("{case}-{width}.png"))
}

/// Tile side and the changed pixels a tile may hold; measured on our pages against the
/// references (re-rendered text stays under 20 per tile) and on planted changes (a removed
/// badge changes 300+ pixels of one tile, a recoloured button all of its tiles).
const TILE: u32 = 32;
pub const TILE_LIMIT: u32 = 40;

/// pixelmatch's YIQ distance, scaled so 1.0 is black against white.
fn colour_distance(a: &Rgba<u8>, b: &Rgba<u8>) -> f64 {
    let (r, g, bl) = (
        a[0] as f64 - b[0] as f64,
        a[1] as f64 - b[1] as f64,
        a[2] as f64 - b[2] as f64,
    );
    let y = r * 0.298_895_31 + g * 0.586_622_47 + bl * 0.114_482_23;
    let i = r * 0.595_977_99 - g * 0.274_176_3 - bl * 0.321_801_69;
    let q = r * 0.211_470_19 - g * 0.522_617_24 + bl * 0.311_147_05;
    (0.5053 * y * y + 0.299 * i * i + 0.1957 * q * q) / 35215.0
}

/// A colour this close is the same colour to the eye.
const SAME_COLOUR: f64 = 0.01;

/// Whether `img` has a pixel within one pixel of (x, y) close to `c`.
fn found_near(img: &RgbaImage, x: u32, y: u32, c: &Rgba<u8>) -> bool {
    let (w, h) = img.dimensions();
    for ny in y.saturating_sub(1)..=(y + 1).min(h.saturating_sub(1)) {
        for nx in x.saturating_sub(1)..=(x + 1).min(w.saturating_sub(1)) {
            if nx < w && ny < h && colour_distance(img.get_pixel(nx, ny), c) <= SAME_COLOUR {
                return true;
            }
        }
    }
    false
}

/// What the comparison found.
pub struct Verdict {
    pub size_a: (u32, u32),
    pub size_b: (u32, u32),
    /// Tiles over the limit: (x, y) of the tile's corner and its changed pixels.
    pub failing: Vec<(u32, u32, u32)>,
    /// The most changed pixels in any tile.
    pub worst: u32,
    changed: Vec<bool>,
}

impl Verdict {
    pub fn passes(&self) -> bool {
        self.failing.is_empty()
    }

    /// Drop the failing tiles that `noise` (the same page compared with another picture of
    /// the same site) fails too: what differs between two takes of one site is not a change.
    pub fn forgive(&mut self, noise: &Verdict) {
        self.failing
            .retain(|(x, y, _)| !noise.failing.iter().any(|(nx, ny, _)| nx == x && ny == y));
    }

    pub fn summary(&self) -> String {
        format!(
            "{}x{} vs {}x{}: {} tiles over {TILE_LIMIT} changed pixels (worst {})",
            self.size_a.0,
            self.size_a.1,
            self.size_b.0,
            self.size_b.1,
            self.failing.len(),
            self.worst
        )
    }
}

/// Compare two pictures; a pixel only one of them has (another height) counts as changed.
pub fn compare(a: &RgbaImage, b: &RgbaImage) -> Verdict {
    let (w, h) = (a.width().max(b.width()), a.height().max(b.height()));
    let mut changed = vec![false; (w * h) as usize];
    let (tw, th) = (w.div_ceil(TILE), h.div_ceil(TILE));
    let mut tiles = vec![0u32; (tw * th) as usize];
    for y in 0..h {
        for x in 0..w {
            let inside = x < a.width() && y < a.height() && x < b.width() && y < b.height();
            // Most pixels are equal: the neighbourhood search is only for the rest.
            let differs = !inside
                || (a.get_pixel(x, y) != b.get_pixel(x, y)
                    && (!found_near(b, x, y, a.get_pixel(x, y))
                        || !found_near(a, x, y, b.get_pixel(x, y))));
            if differs {
                changed[(y * w + x) as usize] = true;
                tiles[((y / TILE) * tw + x / TILE) as usize] += 1;
            }
        }
    }
    let mut failing = Vec::new();
    for (i, n) in tiles.iter().enumerate() {
        if *n > TILE_LIMIT {
            let i = i as u32;
            failing.push(((i % tw) * TILE, (i / tw) * TILE, *n));
        }
    }
    Verdict {
        size_a: a.dimensions(),
        size_b: b.dimensions(),
        worst: tiles.iter().copied().max().unwrap_or(0),
        failing,
        changed,
    }
}

/// For a person: `a` faded, changed pixels red, failing tiles framed in yellow.
pub fn diff_image(a: &RgbaImage, b: &RgbaImage, v: &Verdict) -> RgbaImage {
    let (w, h) = (a.width().max(b.width()), a.height().max(b.height()));
    let mut out = RgbaImage::from_pixel(w, h, Rgba([255, 255, 255, 255]));
    for (x, y, px) in out.enumerate_pixels_mut() {
        if v.changed[(y * w + x) as usize] {
            *px = Rgba([230, 0, 0, 255]);
        } else if x < a.width() && y < a.height() {
            let p = a.get_pixel(x, y);
            let l = (p[0] as u32 * 3 + p[1] as u32 * 6 + p[2] as u32) / 10;
            let f = (160 + l * 95 / 255) as u8;
            *px = Rgba([f, f, f, 255]);
        }
    }
    for (tx, ty, _) in &v.failing {
        for d in 0..TILE {
            for (x, y) in [
                (tx + d, *ty),
                (tx + d, ty + TILE - 1),
                (*tx, ty + d),
                (tx + TILE - 1, ty + d),
            ] {
                if x < w && y < h {
                    out.put_pixel(x, y, Rgba([255, 200, 0, 255]));
                }
            }
        }
    }
    out
}

pub fn decode_png(bytes: &[u8]) -> Result<RgbaImage, String> {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map(|i| i.to_rgba8())
        .map_err(|e| e.to_string())
}

pub fn write_png(path: &Path, img: &RgbaImage) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `doc` at `width` as a picture (the one way every picture here is taken).
pub async fn render(
    browser: &mut Browser,
    doc: &Document<'_>,
    width: u32,
) -> Result<RgbaImage, String> {
    decode_png(&browser.screenshot(doc, width).await?)
}

/// A browser for taking pictures, or why there is none: without the fixed font the pictures
/// are not comparable with any taken elsewhere.
pub async fn launch_browser() -> Result<Browser, String> {
    let program = crate::chromium::find_browser().ok_or("chromium is not installed")?;
    if !crate::chromium::font_installed() {
        return Err(format!(
            "the fixed font is missing ({}): apt-get install fonts-wqy-zenhei",
            crate::chromium::FONT_DIR
        ));
    }
    Browser::launch(program).await
}

/// The recorded request path and response body of `<group>/<stem>` in a recordings directory
/// (`raw/<group>/<stem>.json`, as `/work/shared/golden` holds them).
fn recorded_page(golden: &Path, recording: &str) -> Result<(String, String), String> {
    let path = golden.join("raw").join(format!("{recording}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let req_path = v["request"]["path"].as_str().unwrap_or("/").to_string();
    let body = v["response"]["body"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((req_path, body))
}

/// `chathub-tools visual references`: every case at every width from the recordings into `out`.
pub async fn render_references(golden: &Path, out: &Path) -> Result<usize, String> {
    let mut browser = launch_browser().await?;
    let mut n = 0;
    for case in CASES {
        let (path, html) = recorded_page(golden, case.recording)?;
        let url = format!("{RECORDED_ORIGIN}{path}");
        for width in WIDTHS {
            let doc = Document {
                url: &url,
                html: &html,
            };
            let img = render(&mut browser, &doc, width).await?;
            write_png(&reference_path(out, case.name, width), &img)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The command's entry: prints what it wrote, exit code 0/1.
pub async fn run_references(golden: &Path, out: &Path) -> i32 {
    match render_references(golden, out).await {
        Ok(n) => {
            println!("wrote {n} pictures to {}", out.display());
            0
        }
        Err(e) => {
            eprintln!("visual references: {e}");
            1
        }
    }
}
