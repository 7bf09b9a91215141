//! The migration toolkit proves what it claims: `compat record` against our own server twice
//! gives recordings `compat diff` finds equal, and a planted behavioural change (another site
//! name, a mutated recorded answer) is reported with its route and field.

use chathub_tools::testing::{copy_tree, edit_json};
use std::path::Path;

use chathub::clock::Clock;
use chathub_tools::compat::diff::{self, Verdict};
use chathub_tools::compat::php_session;
use chathub_tools::compat::record::{RecordOptions, Recorder};
use chathub_tools::compat::{catalogue, cli, pictures};
use serde_json::{Value, json};

use crate::support::{TestApp, fixtures_dir, free_port};

#[test]
fn builtin_catalogue_is_generated_from_the_fixtures() {
    let fresh = catalogue::from_fixtures(&fixtures_dir()).expect("fixtures");
    if std::env::var("TOOLKIT_BLESS").is_ok_and(|v| v == "1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tools/chathub-tools/src/compat/catalogue.json");
        std::fs::write(path, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
        return;
    }
    assert!(
        catalogue::builtin().unwrap() == fresh,
        "tools/chathub-tools/src/compat/catalogue.json is stale: run TOOLKIT_BLESS=1 cargo test --test it toolkit::"
    );
    // Every route and branch the fixtures cover is in the catalogue.
    let exchanges: usize = fresh["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["exchanges"].as_array().unwrap().len())
        .sum();
    assert!(exchanges >= 200, "{exchanges}");
}

/// A site under test: our server on its own database, configured like a tester configures
/// the PHP addon (provision stub at `stub`, the catalogue's payment test keys), with an admin
/// signed in through a FastAdmin session file.
struct RecordedSite {
    app: TestApp,
    admin_cookie: (String, String),
    _sessions: tempfile::TempDir,
}

async fn recorded_site(stub_port: u16, site_name: &str, extra: &[(&str, &str)]) -> RecordedSite {
    let sessions = tempfile::tempdir().unwrap();
    let admin = &catalogue::builtin().unwrap()["groups"][0]["group"]["admin"];
    let sid = php_session::php_session_id();
    std::fs::write(
        sessions.path().join(format!("sess_{sid}")),
        php_session::php_admin_session(
            admin["id"].as_u64().unwrap(),
            admin["username"].as_str().unwrap(),
            admin["nickname"].as_str().unwrap(),
            admin["token"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let mut env: Vec<(String, String)> = vec![
        (
            "CHATHUB_ADDON_PROVISION_SERVER_URL".into(),
            format!("http://127.0.0.1:{stub_port}"),
        ),
        ("CHATHUB_ADDON_SITE_NAME".into(), site_name.into()),
        (
            "CHATHUB_PHP_SESSION_DIR".into(),
            sessions.path().display().to_string(),
        ),
        ("CHATHUB_REGISTER_TIMEOUT_SECS".into(), "4".into()),
        // The background provisioning worker (COMPAT.md#payment-provisioning-worker) would
        // change seeded tenants at its own pace, between exchanges: off, as in tests/compat.
        ("CHATHUB_PROVISION_WORKER".into(), "0".into()),
    ];
    for (k, v) in catalogue::site_profile_values() {
        env.push((format!("CHATHUB_ADDON_{}", k.to_ascii_uppercase()), v));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let app = TestApp::init()
        .with_envs(&env)
        .with_clock(Clock::system(tz))
        .spawn()
        .await;
    RecordedSite {
        app,
        admin_cookie: ("PHPSESSID".into(), sid),
        _sessions: sessions,
    }
}

/// Every group but the hanging provision server (it waits out a timeout by design).
fn test_subset() -> Vec<String> {
    catalogue::builtin().unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .filter(|g| g != "register-hang")
        .collect()
}

async fn record(site: &RecordedSite, stub_port: u16, out: &Path, only: Vec<String>) {
    record_with(site, stub_port, out, only, false).await;
}

async fn record_with(
    site: &RecordedSite,
    stub_port: u16,
    out: &Path,
    only: Vec<String>,
    screenshots: bool,
) {
    let recorder = Recorder::start(RecordOptions {
        target: format!("http://{}", site.app.addr),
        out: out.to_path_buf(),
        db: Some(site.app.db.url.clone()),
        admin_cookie: Some(site.admin_cookie.clone()),
        only,
        stub_listen: format!("127.0.0.1:{stub_port}").parse().unwrap(),
        provision_api_key: chathub::config::DEFAULT_PROVISION_API_KEY.into(),
        verbose: false,
        screenshots,
    })
    .await
    .expect("recorder");
    let summary = recorder.run().await.expect("record");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert!(summary.recorded > 10, "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_our_server_twice_differs_only_in_noise_and_a_new_site_name_is_reported() {
    // Each recording gets a fresh server (its HTTP client must not keep a connection to the
    // previous recorder's provision stub) on its own database, all on one stub port.
    let stub_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let [r1, r2, r3, r4, r5] =
        ["old1", "old2", "new", "renamed", "wrong-key"].map(|n| dir.path().join(n));
    let mut watch_report = String::new();
    // The planted provision failure: the new site sends another API key than the provision
    // server (the recorder's stub) accepts, so every sign-up is refused with 401.
    let wrong_key = [("CHATHUB_ADDON_PROVISION_API_KEY", "not-the-servers-key")];
    for (out, name, extra, only) in [
        (&r1, "ChatHub", &[][..], test_subset()),
        (&r2, "ChatHub", &[][..], test_subset()),
        (&r3, "ChatHub", &[][..], test_subset()),
        (&r4, "ChatHub Pro", &[][..], test_subset()),
        (&r5, "ChatHub", &wrong_key[..], vec!["register".to_string()]),
    ] {
        let s = recorded_site(stub_port, name, extra).await;
        record(&s, stub_port, out, only).await;
        if out == &r3 {
            // README step 5, "watch", on the switched site: the live check reads what the
            // recorded traffic left in the tables and the server's own /metrics.
            let live = tokio::process::Command::new(crate::support::CHATHUB_BIN)
                .env_clear()
                .env("CHATHUB_DATABASE_URL", &s.app.db.url)
                .env("CHATHUB_SESSION_SECRET", crate::support::SESSION_SECRET)
                .args(["check", "--live", "--metrics-url", &s.app.url("/metrics")])
                .output()
                .await
                .unwrap();
            watch_report = String::from_utf8_lossy(&live.stdout).into_owned();
        }
    }
    for check in [
        "webhooks:",
        "provisioning backlog:",
        "stuck tenants:",
        "provisioning failures:",
        "error rates:",
    ] {
        assert!(watch_report.contains(check), "{watch_report}");
    }

    // One recorded exchange has the fixture's shape: request, recorded answer, rows, calls.
    let landing: Value =
        serde_json::from_str(&std::fs::read_to_string(r1.join("public/001-landing.json")).unwrap())
            .unwrap();
    assert_eq!(landing["route"], "landing");
    assert_eq!(landing["expect"]["status"], 200);
    assert!(
        landing["expect"]["html"]
            .as_str()
            .unwrap()
            .contains("ChatHub")
    );
    assert!(landing["expect"]["db_after"]["fa_user"].is_array());
    assert!(landing["expect"]["provision_calls"].is_array());

    // The tester's admin session signs the admin exchanges in.
    let dashboard = std::fs::read_to_string(r1.join("admin/034-dashboard.json")).unwrap();
    assert!(!dashboard.contains("请登录后再操作"), "{dashboard}");
    assert!(dashboard.contains("\"status\": 200"), "{dashboard}");

    let load = |p: &Path| diff::load_recording(p).unwrap();
    let (old1, old2, new, renamed) = (load(&r1), load(&r2), load(&r3), load(&r4));
    assert_eq!(old1.len(), new.len());

    // Noise (times inside signed payment URLs, ...) is learnt from the two old recordings.
    let noise = std::slice::from_ref(&old2);
    let same = diff::diff_recordings(&old1, &new, noise, catalogue::compat_md());
    // NOISE.md's `same-time-row-order`: the dashboard and log lists are ordered by a
    // one-second timestamp, so rows written close together can swap places between two
    // recordings on a real clock. Such a difference must be a pure reordering of the same
    // rows; anything else still fails. Ties are broken by id ascending (as the original's
    // MariaDB did), so when the newest second holds more rows than the page shows, which of
    // them make the cut depends on where the seconds fell: the row cells (action, status,
    // and the log-derived series) may then name other rows, in the same number.
    const LOG_ROW_WORDS: [&str; 12] = [
        "set_expire",
        "suspend",
        "activate",
        "add",
        "del",
        "register",
        "reprovision",
        "pay_notify_alipay",
        "pay_notify_wechat",
        "success",
        "failed",
        "<NOISE>",
    ];
    let page_words = |dir: &Path, recording: &str| {
        let file: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(recording)).unwrap()).unwrap();
        let facts = chathub_tools::compat::normalize::page_facts(
            file["expect"]["html"].as_str().unwrap_or(""),
        );
        let mut w: Vec<String> = facts["text"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            // Times differ between real-clock recordings (noise); the rows must not.
            .filter(|w| !w.chars().next().is_some_and(|c| c.is_ascii_digit()) || !w.contains(':'))
            .filter(|w| !w.starts_with("[[") && !LOG_ROW_WORDS.contains(w))
            .map(str::to_string)
            .collect();
        w.sort();
        w
    };
    let reordered_only = |e: &diff::ExchangeDiff, other: &Path| {
        ["admin/061-", "admin/062-"]
            .iter()
            .any(|p| e.recording.contains(p))
            && e.differences
                .iter()
                .all(|d| d.path.starts_with("body.page.text"))
            && page_words(&r1, &e.recording) == page_words(other, &e.recording)
    };
    let unexplained: Vec<&diff::ExchangeDiff> = same
        .different()
        .filter(|e| !reordered_only(e, &r3))
        .collect();
    assert!(unexplained.is_empty(), "{}", same.render());

    let report = diff::diff_recordings(&old1, &renamed, noise, catalogue::compat_md());
    let different: Vec<&diff::ExchangeDiff> = report.different().collect();
    assert!(!different.is_empty(), "{}", report.render());
    let landing = different
        .iter()
        .find(|e| e.recording == "public/001-landing.json")
        .unwrap_or_else(|| panic!("landing not reported:\n{}", report.render()));
    assert_eq!(landing.route, "landing");
    assert!(
        landing
            .differences
            .iter()
            .any(|d| d.path.starts_with("body.page.title") && d.actual.contains("ChatHub Pro")),
        "{:?}",
        landing.differences
    );
    // Nothing but the site name changed (the admin pages do not show it, so their tied log
    // rows may only reorder, as above).
    for e in different.iter().filter(|e| !reordered_only(e, &r4)) {
        for d in &e.differences {
            assert!(
                d.actual.contains("ChatHub Pro") || d.expected.contains("ChatHub"),
                "{}: {d:?}",
                e.recording
            );
        }
    }
    // A page that also carries a known deviation (the member center's escaping and its
    // reprovision form) still fails on the new site name: a deviation explains its fields only.
    let my = different
        .iter()
        .find(|e| e.recording == "auth/010-my-after-login.json")
        .unwrap_or_else(|| panic!("member center not reported:\n{}", report.render()));
    assert!(
        my.differences
            .iter()
            .any(|d| d.path == "body.page.title" && d.actual.contains("ChatHub Pro")),
        "{my:?}"
    );
    // One line for the new title of the landing page, however many pages share it; the summary
    // comes first.
    let text = report.render();
    assert!(text.starts_with("diff: "), "{text}");
    assert!(text.contains("route landing:"), "{text}");
    let title_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("DIFFERENT body.page.title") && l.contains("ChatHub Pro"))
        .collect();
    assert!(!title_lines.is_empty(), "{text}");
    assert!(title_lines.len() < different.len(), "{text}");

    // The planted wrong provision key fails the gate on the sign-ups, although every sign-up
    // exchange names deviations; the subset recording is compared on what it holds and the
    // rest is one line.
    let broken = load(&r5);
    let report = diff::diff_recordings(&old1, &broken, noise, catalogue::compat_md());
    assert!(report.unexplained() > 0, "{}", report.render());
    assert_eq!(report.exchanges.len(), broken.len());
    assert!(report.only_in_new.is_empty());
    assert_eq!(report.only_in_old.len(), old1.len() - broken.len());
    let signup = report
        .different()
        .find(|e| e.recording == "register/003-existing-email-form-ok.json")
        .unwrap_or_else(|| panic!("sign-up not reported:\n{}", report.render()));
    assert!(
        signup
            .differences
            .iter()
            .any(|d| d.path.contains("fa_chathub_tenant") && d.path.ends_with(".status")),
        "{signup:?}"
    );
    let text = report.render();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("not compared:"))
            .count(),
        1,
        "{text}"
    );
    assert!(!text.contains("not in the new recording"), "{text}");
}

/// `record --screenshots` pictures every recorded page at both widths; `diff` finds no picture
/// different between two recordings of one site, and reports a page whose look alone changed
/// (a patched page: another button colour, no text or form touched) with exit code 1 and the
/// old, new and difference pictures side by side in the HTML report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_of_one_site_match_and_a_changed_look_fails_the_diff_side_by_side() {
    if let Err(e) = chathub_tools::visual::launch_browser().await {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must picture pages: {e}"
        );
        eprintln!("skipped: {e}");
        return;
    }
    let stub_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let [old, again, changed] = ["old", "again", "changed"].map(|n| dir.path().join(n));
    for out in [&old, &again] {
        let s = recorded_site(stub_port, "ChatHub", &[]).await;
        record_with(&s, stub_port, out, vec!["public".into()], true).await;
    }
    let landing = "public/001-landing.json";
    for width in chathub_tools::visual::WIDTHS {
        assert!(pictures::picture_path(&old, landing, width).exists());
    }
    // A JSON answer is no page to picture.
    assert!(!pictures::picture_path(&old, "public/010-register-missing-json.json", 1280).exists());

    let same = pictures::compare(
        &old,
        &again,
        &[],
        diff::load_recording(&old).unwrap().into_keys(),
    )
    .unwrap();
    assert!(same.compared >= 16, "{}", same.render());
    assert!(same.different.is_empty(), "{}", same.render());
    let html = dir.path().join("same.html");
    assert_eq!(
        cli::run_diff(&old, &again, &[], false, Some(&html)).unwrap(),
        0
    );
    assert!(
        !std::fs::read_to_string(&html)
            .unwrap()
            .contains("data:image/png")
    );

    // The planted change: the landing page's buttons in another colour.
    copy_tree(&again, &changed);
    edit_json(&changed, landing, |v| {
        let page = v["expect"]["html"].as_str().unwrap().replacen(
            "</head>",
            "<style>.btn.primary{background:#10b981!important}</style></head>",
            1,
        );
        v["expect"]["html"] = json!(page);
    });
    let patched = diff::load_recording(&changed).unwrap();
    let only_landing = patched
        .into_iter()
        .filter(|(k, _)| k == landing)
        .collect::<diff::Recording>();
    assert_eq!(pictures::take(&changed, &only_landing).await.unwrap(), 2);
    let report = pictures::compare(
        &old,
        &changed,
        std::slice::from_ref(&again),
        diff::load_recording(&old).unwrap().into_keys(),
    )
    .unwrap();
    let names: Vec<(&str, u32)> = report
        .different
        .iter()
        .map(|d| (d.recording.as_str(), d.width))
        .collect();
    assert_eq!(
        names,
        [(landing, 1280), (landing, 390)],
        "{}",
        report.render()
    );
    assert!(
        report
            .render()
            .contains("PICTURE DIFFERENT public/001-landing.json at 1280 px")
    );
    // The page facts are the same: the exit code is the pictures'.
    let facts = diff::diff_recordings(
        &diff::load_recording(&old).unwrap(),
        &diff::load_recording(&changed).unwrap(),
        &[],
        catalogue::compat_md(),
    );
    assert_eq!(facts.unexplained(), 0, "{}", facts.render());
    let html = dir.path().join("changed.html");
    assert_eq!(
        cli::run_diff(&old, &changed, &[], false, Some(&html)).unwrap(),
        1
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Pages that look different"), "{page}");
    assert!(page.contains("public/001-landing.json at 1280 px"));
    for alt in ["old site", "new site", "difference"] {
        assert!(page.contains(&format!("alt=\"{alt}\"")), "{alt}");
    }
    assert_eq!(page.matches("src=\"data:image/png;base64,").count(), 6);
}

type SiteState = (Option<String>, Vec<(u32, String)>, Vec<u32>, Option<u64>);

/// The parts of a site's database `record --db` changes.
async fn site_state(db: &crate::support::TestDb) -> SiteState {
    use mysql_async::prelude::*;
    let mut c = db.conn().await;
    let column: Option<String> = c
        .query_first(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'fa_user' AND COLUMN_NAME = 'password'",
        )
        .await
        .unwrap();
    let tenants: Vec<(u32, String)> = c
        .query("SELECT id, tenant_name FROM fa_chathub_tenant ORDER BY id")
        .await
        .unwrap();
    let users: Vec<u32> = c.query("SELECT id FROM fa_user ORDER BY id").await.unwrap();
    let status: mysql_async::Row = c
        .query_first("SHOW TABLE STATUS WHERE Name = 'fa_chathub_tenant'")
        .await
        .unwrap()
        .unwrap();
    let ai: Option<u64> = status.get("Auto_increment").unwrap();
    (column, tenants, users, ai)
}

/// README "record never leaves the site changed": interrupted after its first exchange (as by
/// Ctrl-C), `record --db` has put back the rows, id counters and the `fa_user.password`
/// column it changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_record_leaves_the_site_database_as_it_was() {
    let stub_port = free_port();
    let site = recorded_site(stub_port, "ChatHub", &[]).await;
    site.app
        .db
        .run_sql(
            // A migrated site (MIGRATIONS.md widens the column); the member group's stock
            // schema narrows it while recording.
            "ALTER TABLE fa_user MODIFY `password` varchar(255) NOT NULL DEFAULT '' COMMENT '密码';\n\
             INSERT INTO fa_chathub_tenant (id, tenant_name, domain, email, status, config) \
             VALUES (41, 'Real Shop', 'real', 'real@example.com', 'active', '{}')",
        )
        .await;
    let before = site_state(&site.app.db).await;
    assert_eq!(before.1, [(41, "Real Shop".to_string())]);
    assert_eq!(before.0.as_deref(), Some("varchar(255)"));
    let out = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(RecordOptions {
        target: format!("http://{}", site.app.addr),
        out: out.path().to_path_buf(),
        db: Some(site.app.db.url.clone()),
        admin_cookie: Some(site.admin_cookie.clone()),
        only: vec!["member".into()],
        stub_listen: format!("127.0.0.1:{stub_port}").parse().unwrap(),
        provision_api_key: chathub::config::DEFAULT_PROVISION_API_KEY.into(),
        verbose: false,
        screenshots: false,
    })
    .await
    .unwrap();
    let first = out.path().join("member/001-nosession-my.json");
    let stop = async {
        while !first.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let summary = recorder.run_until(stop).await.expect("restored");
    assert!(summary.is_none(), "the recording ran to its end first");
    assert_eq!(site_state(&site.app.db).await, before);
}

// ---- diff on recordings without a server (fixtures are recordings of the original)

/// `chathub compat diff <args>`: exit code and stdout.
#[test]
fn what_differs_between_two_old_recordings_is_noise_and_nothing_else_is() {
    let tmp = tempfile::tempdir().unwrap();
    let (old1, old2, new) = (
        tmp.path().join("old1"),
        tmp.path().join("old2"),
        tmp.path().join("new"),
    );
    for d in [&old1, &old2, &new] {
        copy_tree(&fixtures_dir().join("public"), &d.join("public"));
    }
    // The old site shows a counter that changes per request: noise.
    let counter = |n: &'static str| {
        move |v: &mut Value| {
            let h = v["expect"]["html"].as_str().unwrap();
            v["expect"]["html"] =
                json!(h.replacen("</body>", &format!("<p>visits {n}</p></body>"), 1));
        }
    };
    edit_json(&old1, "public/001-landing.json", counter("17"));
    edit_json(&old2, "public/001-landing.json", counter("18"));
    edit_json(&new, "public/001-landing.json", counter("99"));
    let load = |p: &Path| diff::load_recording(p).unwrap();
    let report = diff::diff_recordings(&load(&old1), &load(&new), &[load(&old2)], "");
    assert_eq!(report.unexplained(), 0, "{}", report.render());
    assert!(report.noise_fields >= 1);

    // Without the second old recording the counter is a difference.
    let report = diff::diff_recordings(&load(&old1), &load(&new), &[], "");
    assert_eq!(report.unexplained(), 1, "{}", report.render());

    // A change next to the noise is still reported.
    edit_json(&new, "public/001-landing.json", |v| {
        let h = v["expect"]["html"].as_str().unwrap();
        v["expect"]["html"] = json!(h.replacen("visits 99", "visitors 99", 1));
    });
    let report = diff::diff_recordings(&load(&old1), &load(&new), &[load(&old2)], "");
    let d: Vec<_> = report.different().collect();
    assert_eq!(d.len(), 1, "{}", report.render());
    assert!(d[0].differences[0].path.starts_with("body.page.text"));
    assert!(d[0].differences[0].actual.contains("visitors"));
}

#[test]
fn a_difference_on_a_documented_deviation_is_reported_as_that_deviation() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    copy_tree(&fixtures_dir().join("admin"), &a.join("admin"));
    copy_tree(&fixtures_dir().join("admin"), &b.join("admin"));
    // The original answers FastAdmin's 404 at the admin entry; we serve the action.
    edit_json(&a, "admin/002-nosession-entry-index.json", |v| {
        v["expect"]["status"] = json!(404)
    });
    let load = |p: &Path| diff::load_recording(p).unwrap();
    let report = diff::diff_recordings(&load(&a), &load(&b), &[], catalogue::compat_md());
    assert_eq!(report.unexplained(), 0, "{}", report.render());
    let e = report
        .exchanges
        .iter()
        .find(|e| e.recording == "admin/002-nosession-entry-index.json")
        .unwrap();
    assert_eq!(
        e.verdict,
        Verdict::KnownDeviation(vec!["admin-entry-links".into()])
    );
    assert!(
        report
            .render()
            .contains("known deviation (admin-entry-links)")
    );
    assert!(report.render().starts_with("diff: "));
    // Without COMPAT.md's anchor the same difference fails.
    let report = diff::diff_recordings(&load(&a), &load(&b), &[], "");
    assert_eq!(report.unexplained(), 1);
}

#[test]
fn a_deviation_explains_its_fields_and_nothing_else_in_the_exchange() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for g in ["member", "register"] {
        copy_tree(&fixtures_dir().join(g), &a.join(g));
        copy_tree(&fixtures_dir().join(g), &b.join(g));
    }
    // The member center names reprovision-link-token and member-center-escaping: a changed
    // site name on it is neither.
    edit_json(&b, "member/013-my-all-statuses.json", |v| {
        let h = v["expect"]["html"].as_str().unwrap();
        v["expect"]["html"] = json!(h.replace("ChatHub", "ChatHub Pro"));
    });
    // A sign-up with a wrong provision key (its exchange names register-existing-email-
    // requires-login and tenant-config-encoding): the call carries another key, the tenant stays
    // pending.
    edit_json(&b, "register/003-existing-email-form-ok.json", |v| {
        v["expect"]["provision_calls"][0]["x_api_key"] = json!("not-the-servers-key");
        for t in v["expect"]["db_after"]["fa_chathub_tenant"]
            .as_array_mut()
            .unwrap()
        {
            t["status"] = json!("pending");
        }
    });
    // A difference in a field the deviation lists stays explained: the older member center
    // showed the plan name raw.
    edit_json(&a, "member/014-my-just-paid.json", |v| {
        let h = v["expect"]["html"].as_str().unwrap();
        v["expect"]["html"] = json!(h.replace("&lt;i&gt;gold&lt;/i&gt;", "gold"));
    });
    let load = |p: &Path| diff::load_recording(p).unwrap();
    let report = diff::diff_recordings(&load(&a), &load(&b), &[], catalogue::compat_md());
    let text = report.render();
    let different: Vec<&str> = report.different().map(|e| e.recording.as_str()).collect();
    assert_eq!(
        different,
        [
            "member/013-my-all-statuses.json",
            "register/003-existing-email-form-ok.json"
        ],
        "{text}"
    );
    let d = |name: &str| {
        report
            .exchanges
            .iter()
            .find(|e| e.recording == name)
            .unwrap()
            .clone()
    };
    assert!(
        d("member/013-my-all-statuses.json")
            .differences
            .iter()
            .any(|x| x.path == "body.page.title" && x.actual.contains("ChatHub Pro")),
        "{text}"
    );
    let signup: Vec<String> = d("register/003-existing-email-form-ok.json")
        .differences
        .iter()
        .map(|x| x.path.clone())
        .collect();
    assert!(
        signup.contains(&"provision_calls[0].x_api_key".to_string()),
        "{signup:?}"
    );
    assert!(
        signup
            .iter()
            .any(|p| p.starts_with("db_after.fa_chathub_tenant") && p.ends_with(".status")),
        "{signup:?}"
    );
    let escaped = d("member/014-my-just-paid.json");
    assert_eq!(
        escaped.verdict,
        Verdict::KnownDeviation(vec!["member-center-escaping".into()]),
        "{text}"
    );
    assert!(text.contains("DIFFERENT body.page.title"), "{text}");
    assert!(
        text.contains("known deviation (member-center-escaping)"),
        "{text}"
    );
}

#[test]
fn every_deviation_the_catalogue_names_lists_its_fields() {
    use chathub_tools::compat::deviations::{FieldSpec, field_lists};
    let fields = field_lists(catalogue::compat_md()).expect("COMPAT.md field patterns parse");
    let named: std::collections::BTreeSet<String> = catalogue::builtin().unwrap()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["exchanges"].as_array().unwrap().clone())
        .flat_map(|e| e["deviations"].as_array().unwrap().clone())
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect();
    for a in &named {
        assert!(
            fields.get(a).is_some_and(|f| !f.is_empty()),
            "COMPAT.md#{a} has no `- **Toolkit fields:**` line"
        );
    }
    let d = |path: &str, old: &str, new: &str| chathub_tools::compat::compare::Difference {
        path: path.into(),
        expected: old.into(),
        actual: new.into(),
    };
    let rows = FieldSpec::parse("db_after.fa_chathub_order[*].order_no").unwrap();
    assert!(rows.explains(&d("db_after.fa_chathub_order[id=3].order_no", "a", "b")));
    assert!(!rows.explains(&d("db_after.fa_chathub_order[id=3].order_note", "a", "b")));
    assert!(!rows.explains(&d("db_after.fa_chathub_order[id=3].status", "a", "b")));
    let shape = FieldSpec::parse(r"** ~ <ORDER(\+16)?#\d+>").unwrap();
    assert!(shape.explains(&d(
        "body.page.text",
        "…号：<ORDER#1> 租户…",
        "…号：<ORDER+16#1> 租户…"
    )));
    assert!(!shape.explains(&d(
        "body.page.text",
        "…号：<ORDER#1> ChatHub…",
        "…号：<ORDER+16#1> ChatHub Pro…"
    )));
}

#[test]
fn admin_cookie_argument_is_name_and_value() {
    use chathub_tools::compat::cli::parse_admin_cookie;
    assert_eq!(
        parse_admin_cookie("PHPSESSID=abc").unwrap(),
        ("PHPSESSID".into(), "abc".into())
    );
    assert_eq!(
        parse_admin_cookie("abc").unwrap(),
        ("PHPSESSID".into(), "abc".into())
    );
    assert!(parse_admin_cookie("PHPSESSID=").is_err());
    assert!(parse_admin_cookie("PHPSESSID=a; path=/").is_err());
    assert_eq!(
        chathub_tools::compat::redact_url("mysql://root:s3cret@db:3306/site"),
        "mysql://root:***@db:3306/site"
    );
}

// ---- shadow mode

#[test]
fn shadow_forwards_only_reads() {
    use chathub_tools::compat::shadow::{action_of, forwardable};
    assert_eq!(action_of("/addons/chathub/index").as_deref(), Some("index"));
    assert_eq!(
        action_of("/addons/chathub/index/landing").as_deref(),
        Some("landing")
    );
    assert_eq!(
        action_of("/addons/chathub/index/registerPage.html?plan=pro").as_deref(),
        Some("registerpage")
    );
    assert_eq!(action_of("/index/user/login"), None);
    // Every spelling ThinkPHP dispatches to the addon (COMPAT.md#thinkphp-s-form).
    for (path, action) in [
        ("/index.php/addons/chathub/index/my", "my"),
        ("/admin.php/addons/chathub/index/index", "index"),
        ("/addons|chathub|index|landing", "landing"),
        ("/addons/_chathub_/index/landing.HTML", "landing"),
        ("/index.php?s=/addons/chathub/index/landing", "landing"),
        ("/?s=addons/chathub/index/my", "my"),
        (
            "/no/such/file?s=/index/index&s=/ADDONS/ChatHub/Index/logout",
            "logout",
        ),
    ] {
        assert_eq!(action_of(path).as_deref(), Some(action), "{path}");
    }
    assert_eq!(action_of("/?s=/index/user/login"), None);
    assert!(!forwardable("GET", "/?s=addons/chathub/index/logout"));
    assert!(forwardable("GET", "/addons/chathub/index/login"));
    assert!(forwardable("HEAD", "/addons/chathub/index"));
    assert!(!forwardable("POST", "/addons/chathub/index/login"));
    assert!(!forwardable("GET", "/addons/chathub/index/logout"));
    assert!(!forwardable(
        "GET",
        "/addons/chathub/index/payReturn?out_trade_no=X"
    ));
    assert!(!forwardable("GET", "/addons/chathub/index/renew/id/11"));
    assert!(!forwardable("GET", "/other"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_reports_a_differing_page_per_route_and_never_forwards_a_post() {
    let (primary, candidate, shadow) = crate::support::renamed_sites_and_a_shadow(true).await;
    let mirror = format!("http://{}", shadow.addr());
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{mirror}/addons/chathub/index/landing"))
        .header("Cookie", "theme=dark")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    client
        .post(format!("{mirror}/addons/chathub/index/register"))
        .form(&[
            ("plan", "pro"),
            ("company_name", "X"),
            ("email", "x@example.com"),
        ])
        .send()
        .await
        .unwrap();
    client
        .get(format!("{mirror}/addons/chathub/index/logout"))
        .send()
        .await
        .unwrap();
    let report = shadow.report.clone();
    let mut landing = None;
    for _ in 0..200 {
        landing = report.route("landing");
        if landing.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let landing = landing.expect("landing compared");
    assert_eq!((landing.compared, landing.different), (1, 1));
    // A member's session cookie is replayed: the page is compared as a signed-in one.
    client
        .get(format!("{mirror}/?s=/addons/chathub/index/landing"))
        .header("Cookie", "theme=dark; PHPSESSID=member1")
        .send()
        .await
        .unwrap();
    let mut signed_in = None;
    for _ in 0..200 {
        signed_in = report.route("landing (signed in)");
        if signed_in.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(signed_in.expect("signed-in landing compared").compared, 1);
    assert!(
        landing.examples[0]
            .1
            .iter()
            .any(|d| d.path == "body.page.title" && d.actual.contains("ChatHub Pro")),
        "{:?}",
        landing.examples
    );
    assert_eq!(
        report
            .skipped_unsafe
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert!(report.route("register").is_none());
    let first = report.render();
    assert!(
        first.contains("route landing: 1 compared, 1 different"),
        "{first}"
    );
    assert!(
        first.contains("new difference on /addons/chathub/index/landing"),
        "{first}"
    );
    assert!(first.contains("old \"ChatHub"), "{first}");
    // The same difference again is counted, not shown again.
    client
        .get(format!("{mirror}/addons/chathub/index/landing"))
        .send()
        .await
        .unwrap();
    for _ in 0..200 {
        if report.route("landing").is_some_and(|l| l.compared == 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let again = report.render();
    assert!(
        again.contains("route landing: 2 compared, 2 different"),
        "{again}"
    );
    assert!(
        !again.contains("new difference on /addons/chathub/index/landing\n"),
        "{again}"
    );
    // The mirrored POST reached neither site.
    use mysql_async::prelude::*;
    for site in [&primary, &candidate] {
        let n: Option<u64> = site
            .db
            .conn()
            .await
            .query_first("SELECT COUNT(*) FROM fa_chathub_tenant")
            .await
            .unwrap();
        assert_eq!(n, Some(0));
    }
}
