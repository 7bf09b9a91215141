//! Our pages look like the original's: each recorded page (`chathub_tools::visual::CASES`) is
//! put in its recorded state (the rows the recording left, its clock and addon settings, the
//! member signed in), served by our server, rendered in headless Chromium at a desktop and a
//! phone width, and compared with the picture of the original kept in `fixtures/visual/`
//! (rendered once from the recordings by `chathub-tools visual references`).
//!
//! A failure writes ours, the original's and a difference picture to `target/visual/`.

use std::path::{Path, PathBuf};

use chathub::clock::Clock;
use chathub_tools::chromium::{Browser, Document};
use chathub_tools::compat::dbstate::{TABLES, insert_row, seed_group};
use chathub_tools::compat::exchange::{Jar, http_client, member_login, send};
use chathub_tools::compat::php_session::{php_admin_session, php_session_id};
use chathub_tools::visual::{
    CASES, Case, RECORDED_ORIGIN, SignedIn, WIDTHS, compare, decode_png, diff_image, image,
    reference_path, write_png,
};
use image::RgbaImage;
use mysql_async::prelude::*;
use serde_json::Value;

use crate::support::{PROVISION_KEY, TestApp, TestDb, fixtures_dir, start_stub};

/// The browser, or `None` (skip) where neither it nor the fixed font is installed outside CI.
async fn browser() -> Option<Browser> {
    let found = chathub_tools::chromium::find_browser()
        .filter(|_| chathub_tools::chromium::font_installed());
    let Some(program) = found else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium and fonts-wqy-zenhei (scripts/test.sh installs them)"
        );
        eprintln!("skipped: chromium or fonts-wqy-zenhei is not installed");
        return None;
    };
    Some(Browser::launch(program).await.expect("chromium starts"))
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).expect("fixture json")
}

/// The database as the recording found it: the group's schema and FastAdmin rows, then every
/// compared row the exchange left (a page view changes none that show) or, for a form sent,
/// the rows the exchange before it left, and the recording's own set-up statements.
async fn recorded_db(group: &Value, fx: &Value, before: &Value) -> TestDb {
    let db = TestDb::with_schema().await;
    let mut conn = db.conn().await;
    seed_group(&mut conn, group).await.expect("group seed");
    let rows = if fx["request"]["method"] == "GET" {
        &fx["expect"]["db_after"]
    } else {
        &before["expect"]["db_after"]
    };
    for t in TABLES {
        let filter = if *t == "fa_user" { " WHERE id > 1" } else { "" };
        conn.query_drop(format!("DELETE FROM `{t}`{filter}"))
            .await
            .expect("clear table");
        for row in rows[*t].as_array().into_iter().flatten() {
            insert_row(&mut conn, t, row).await.expect("recorded row");
        }
    }
    if fx["request"]["method"] != "GET" {
        for sql in fx["setup"]["before_sql"].as_array().into_iter().flatten() {
            conn.query_drop(sql.as_str().expect("sql"))
                .await
                .expect("before_sql");
        }
    }
    db
}

/// The exchange recorded just before `fixture` in its group.
fn previous_exchange(fixture: &Path) -> Value {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture.parent().unwrap())
        .expect("group dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    files.sort();
    let i = files
        .iter()
        .position(|p| p == fixture)
        .expect("fixture listed");
    assert!(i > 0, "{}: no exchange before it", fixture.display());
    read_json(&files[i - 1])
}

fn recorded_clock(fx: &Value) -> Clock {
    let at = chrono::DateTime::parse_from_str(
        fx["clock"].as_str().expect("clock"),
        "%Y-%m-%d %H:%M:%S%:z",
    )
    .expect("clock format");
    Clock::fake(*at.offset(), at.with_timezone(&chrono::Utc))
}

/// Our answer to the case's recorded request, in the recorded state; and the URL it was at.
async fn our_page(case: &Case) -> (String, String) {
    let fixture = fixtures_dir().join(format!("{}.json", case.recording));
    let fx = read_json(&fixture);
    let group = read_json(&fixture.parent().unwrap().join("_group.json"));
    let before = if fx["request"]["method"] == "GET" {
        Value::Null
    } else {
        previous_exchange(&fixture)
    };
    // A fresh stub answers its first sign-up with the recording's first inbox (101), so the
    // result page shows the recorded embed code.
    let stub = start_stub(PROVISION_KEY).await;
    let sessions = tempfile::tempdir().expect("tempdir");
    let mut env: Vec<(String, String)> = fx["setup"]["addon"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let k = format!("CHATHUB_ADDON_{}", k.to_ascii_uppercase());
            let v = v.as_str().unwrap_or_default();
            (
                k,
                if v == "@stub" {
                    stub.url()
                } else {
                    v.to_string()
                },
            )
        })
        .collect();
    env.push((
        "CHATHUB_PHP_SESSION_DIR".into(),
        sessions.path().display().to_string(),
    ));
    env.push(("CHATHUB_PROVISION_WORKER".into(), "0".into()));
    let app = TestApp::init()
        .on(recorded_db(&group, &fx, &before).await)
        .with_clock(recorded_clock(&fx))
        .with_envs(&env)
        .spawn()
        .await;
    let base = app.url("");
    let mut jar = Jar::new();
    match case.signed_in {
        SignedIn::Nobody => {}
        SignedIn::Member(email, password) => assert!(
            member_login(&http_client(), &base, &mut jar, email, password).await,
            "{}: {email} signs in",
            case.name
        ),
        SignedIn::Admin => {
            let admin = &group["admin"];
            let sid = php_session_id();
            std::fs::write(
                sessions.path().join(format!("sess_{sid}")),
                php_admin_session(
                    admin["id"].as_u64().expect("admin id"),
                    admin["username"].as_str().expect("username"),
                    admin["nickname"].as_str().expect("nickname"),
                    admin["token"].as_str().expect("token"),
                ),
            )
            .expect("session file");
            jar.insert("PHPSESSID".into(), sid);
        }
    }
    let req = &fx["request"];
    let path = req["path"].as_str().expect("path");
    let headers: Vec<(String, String)> = req["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
        .collect();
    let sent = send(
        &http_client(),
        &base,
        &mut jar,
        req["method"].as_str().expect("method"),
        path,
        &headers,
        req["body"].as_str(),
    )
    .await
    .expect("page answers");
    assert_eq!(sent.status, 200, "{}: {}", case.name, sent.body);
    let mut body = recorded_noise(&fx, &sent.body);
    for (ours, original) in case.as_original {
        assert!(body.contains(ours), "{}: {ours} is on our page", case.name);
        body = body.replace(ours, original);
    }
    if !case.unseen.is_empty() {
        body = body.replacen(
            "</head>",
            &format!("<style>{}</style></head>", case.unseen),
            1,
        );
    }
    (format!("{RECORDED_ORIGIN}{path}"), body)
}

/// Renew's order number is random on both sides (NOISE.md `order-number`) and ours is longer
/// (COMPAT.md#random-order-numbers, written in the fixture as the recorded number padded
/// with zeros): ours is shown as the recorded one, so only the look is compared.
fn recorded_noise(fx: &Value, body: &str) -> String {
    static ORDER: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"CH\d{17,}").expect("regex"));
    match ORDER.find(fx["expect"]["html"].as_str().unwrap_or_default()) {
        Some(recorded) => ORDER
            .replace_all(body, &recorded.as_str()[..19])
            .into_owned(),
        None => body.to_string(),
    }
}

fn out_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("visual")
}

fn reference(case: &str, width: u32) -> RgbaImage {
    let path = reference_path(&fixtures_dir().join("visual"), case, width);
    decode_png(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("reference png")
}

async fn render(browser: &mut Browser, url: &str, html: &str, width: u32) -> RgbaImage {
    chathub_tools::visual::render(browser, &Document { url, html }, width)
        .await
        .expect("screenshot")
}

/// Compare; on a difference write the three pictures and return the line to report.
fn check(label: &str, ours: &RgbaImage, original: &RgbaImage) -> Option<String> {
    let v = compare(ours, original);
    eprintln!("{label}: {}", v.summary());
    if v.passes() {
        return None;
    }
    let dir = out_dir();
    write_png(&dir.join(format!("{label}-ours.png")), ours).expect("write");
    write_png(&dir.join(format!("{label}-original.png")), original).expect("write");
    write_png(
        &dir.join(format!("{label}-diff.png")),
        &diff_image(ours, original, &v),
    )
    .expect("write");
    Some(format!("{label}: {} (see {})", v.summary(), dir.display()))
}

#[tokio::test]
async fn every_recorded_page_looks_like_the_original_on_desktop_and_phone() {
    let Some(mut browser) = browser().await else {
        return;
    };
    // `VISUAL_ONLY=landing,login` while working on some pages.
    let only = std::env::var("VISUAL_ONLY").unwrap_or_default();
    let mut failures = Vec::new();
    for case in CASES {
        if !only.is_empty() && !only.split(',').any(|o| o == case.name) {
            continue;
        }
        let (url, html) = our_page(case).await;
        let mut differs = false;
        for width in WIDTHS {
            let ours = render(&mut browser, &url, &html, width).await;
            if let Some(f) = check(
                &format!("{}-{width}", case.name),
                &ours,
                &reference(case.name, width),
            ) {
                differs = true;
                if case.deviation.is_none() {
                    failures.push(f);
                }
            }
        }
        if let Some(why) = case.deviation {
            assert!(
                differs,
                "{}: looks like the original now; remove its deviation ({why}) from CASES and COMPAT.md#visual-comparison",
                case.name
            );
        }
    }
    assert!(
        failures.is_empty(),
        "pages that look different:\n{}",
        failures.join("\n")
    );
}

/// The measure forgives a one-pixel shift and catches what a member would notice.
#[tokio::test]
async fn a_planted_change_on_the_landing_page_fails_and_a_one_pixel_shift_passes() {
    let Some(mut browser) = browser().await else {
        return;
    };
    let landing = CASES.iter().find(|c| c.name == "landing").unwrap();
    let (url, html) = our_page(landing).await;
    let original = reference("landing", 1280);
    let ours = render(&mut browser, &url, &html, 1280).await;
    assert!(
        compare(&ours, &original).passes(),
        "the landing page itself matches"
    );

    let mut shifted = RgbaImage::from_pixel(ours.width(), ours.height(), *ours.get_pixel(0, 0));
    image::imageops::replace(&mut shifted, &ours, 1, 0);
    assert!(
        compare(&shifted, &original).passes(),
        "a one-pixel shift passes"
    );

    for (what, css) in [
        (
            "the 推荐 badge removed",
            ".plan.hot::before{display:none!important}",
        ),
        (
            "the primary colour changed",
            ".btn.primary{background:#10b981!important}",
        ),
    ] {
        let planted = html.replacen("</head>", &format!("<style>{css}</style></head>"), 1);
        let img = render(&mut browser, &url, &planted, 1280).await;
        let v = compare(&img, &original);
        eprintln!("{what}: {}", v.summary());
        assert!(!v.passes(), "{what} is noticed");
    }
}
