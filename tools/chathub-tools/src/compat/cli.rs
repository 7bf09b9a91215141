//! `cargo compat ...`: the migration toolkit's subcommands (README "Switching a site over", step 3).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;

use super::{ToolError, catalogue, diff, pictures, record, report};

#[derive(Subcommand, Debug)]
pub enum CompatCommand {
    /// Print the addon settings the catalogue expects and write the test keys it was made with.
    Profile {
        /// Where to write the test key files.
        #[arg(long, default_value = "chathub-site-keys")]
        keys_dir: PathBuf,
        /// The provision stub address `record` will listen on.
        #[arg(long, default_value = "127.0.0.1:5566")]
        stub_listen: SocketAddr,
    },
    /// Play the built-in scenario catalogue against a running site; one file per exchange.
    Record {
        /// The site's base URL, e.g. http://127.0.0.1:8088
        #[arg(long)]
        target: String,
        /// Output directory (one `<group>/<NNN-slug>.json` per exchange).
        #[arg(long)]
        out: PathBuf,
        /// The site's SCRATCH database (reset and seeded per group; rows recorded).
        #[arg(long)]
        db: Option<String>,
        /// FastAdmin admin session of the tester, `PHPSESSID=<value>`.
        #[arg(long)]
        admin_cookie: Option<String>,
        /// Only these groups or exchanges (`member`, `payments/027`), comma separated.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Address of the local provision stub the site must call.
        #[arg(long, default_value = "127.0.0.1:5566")]
        stub_listen: SocketAddr,
        /// The API key the site sends to the provision server.
        #[arg(long, env = "CHATHUB_RECORD_PROVISION_API_KEY", default_value = chathub::config::DEFAULT_PROVISION_API_KEY, hide_default_value = true)]
        provision_api_key: String,
        /// Also picture every recorded page in headless Chromium, 1280 and 390 px wide
        /// (`<NNN-slug>-<width>.png` beside each file; needs chromium and fonts-wqy-zenhei).
        #[arg(long)]
        screenshots: bool,
    },
    /// Compare two recordings (old site A, new site B); exit 1 on an unexplained difference.
    Diff {
        /// Recording of the old site (or `fixtures/`).
        a: PathBuf,
        /// Recording of the new site.
        b: PathBuf,
        /// Another recording of the OLD site: fields differing between old recordings are noise
        /// (repeat it: noise that shows up in only one pair of recordings is learnt too).
        #[arg(long)]
        noise: Vec<PathBuf>,
        /// Also list every masked field of every exchange and why it is masked.
        #[arg(long)]
        explain_noise: bool,
        /// Also write a one-file HTML report with both sides' page facts side by side.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Receive nginx `mirror` copies, replay safe GETs to both sites, report differences per
    /// route (every `--report-secs` and at Ctrl-C). Never forwards a POST or a writing action.
    Shadow {
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        /// The site users are served by (old).
        #[arg(long)]
        primary: String,
        /// The candidate (new).
        #[arg(long)]
        shadow: String,
        /// Compare one request in N.
        #[arg(long, default_value_t = 1)]
        sample: u64,
        #[arg(long, default_value_t = 8)]
        max_in_flight: usize,
        #[arg(long, default_value_t = 300)]
        report_secs: u64,
        /// Also compare signed-in member GETs: replay the member's session cookie (PHPSESSID,
        /// chathub_session; no other cookie) to both sites.
        #[arg(long)]
        member_cookies: bool,
    },
    /// Regenerate the built-in catalogue from a fixtures tree (prints JSON).
    #[command(hide = true)]
    Catalogue {
        #[arg(default_value = "fixtures")]
        fixtures: PathBuf,
    },
}

/// `PHPSESSID=value` (or a bare value, taken as `PHPSESSID`).
pub fn parse_admin_cookie(s: &str) -> Result<(String, String), ToolError> {
    let (name, value) = s.split_once('=').unwrap_or(("PHPSESSID", s));
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || value.is_empty() || value.contains(';') || name.contains(' ') {
        return Err(ToolError::Usage(
            "--admin-cookie wants NAME=VALUE, e.g. PHPSESSID=abc123".into(),
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

fn print_profile(stub: &str, keys_dir: Option<&std::path::Path>) {
    println!(
        "Configure the site under test (addons/chathub/config.php, or CHATHUB_ADDON_* for chathub):"
    );
    println!("  provision_server_url = {stub}");
    for (k, v) in catalogue::SITE_PROFILE {
        match (v.strip_prefix("@file:"), keys_dir) {
            (Some(f), Some(d)) => println!("  {k} = <contents of {}>", d.join(f).display()),
            (Some(f), None) => println!("  {k} = <contents of the test key {f}>"),
            (None, _) => println!("  {k} = {v}"),
        }
    }
}

pub async fn run(cmd: &CompatCommand) -> i32 {
    match run_inner(cmd).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cargo compat: {e}");
            2
        }
    }
}

async fn run_inner(cmd: &CompatCommand) -> Result<i32, ToolError> {
    match cmd {
        CompatCommand::Profile {
            keys_dir,
            stub_listen,
        } => {
            record::write_site_keys(keys_dir)?;
            print_profile(&format!("http://{stub_listen}"), Some(keys_dir));
            Ok(0)
        }
        CompatCommand::Record {
            target,
            out,
            db,
            admin_cookie,
            only,
            stub_listen,
            provision_api_key,
            screenshots,
        } => {
            let admin_cookie = admin_cookie
                .as_deref()
                .map(parse_admin_cookie)
                .transpose()?;
            if admin_cookie.is_none() {
                eprintln!("note: no --admin-cookie: the admin exchanges are recorded signed out");
            }
            match db {
                None => eprintln!(
                    "note: no --db: groups are not reset or seeded and no rows are recorded"
                ),
                Some(_) => eprintln!("note: {}", super::site_backup::what_record_changes()),
            }
            let recorder = record::Recorder::start(record::RecordOptions {
                target: target.clone(),
                out: out.clone(),
                db: db.clone(),
                admin_cookie,
                only: only.clone(),
                stub_listen: *stub_listen,
                provision_api_key: provision_api_key.clone(),
                verbose: true,
                screenshots: *screenshots,
            })
            .await?;
            let keys = out.join("_site-keys");
            record::write_site_keys(&keys)?;
            println!("provision stub listening on {}", recorder.stub_url());
            print_profile(&recorder.stub_url(), Some(&keys));
            let Some(summary) = recorder
                .run_until(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?
            else {
                println!("record: interrupted; the site's database is as it was before");
                return Ok(130);
            };
            for e in &summary.errors {
                println!("no answer: {e}");
            }
            for (name, why) in &summary.not_recorded {
                println!("not recorded: {name}: {why}");
            }
            println!(
                "record: {} exchanges written to {}, {} FastAdmin exchanges not recorded, {} without an answer",
                summary.recorded,
                out.display(),
                summary.external,
                summary.errors.len()
            );
            if *screenshots {
                println!("record: {} pictures of recorded pages", summary.pictures);
            }
            Ok(if summary.errors.is_empty() { 0 } else { 1 })
        }
        CompatCommand::Diff {
            a,
            b,
            noise,
            explain_noise,
            html,
        } => run_diff(a, b, noise, *explain_noise, html.as_deref()),
        CompatCommand::Shadow {
            listen,
            primary,
            shadow,
            sample,
            max_in_flight,
            report_secs,
            member_cookies,
        } => {
            let s = super::shadow::start(super::shadow::ShadowOptions {
                listen: *listen,
                primary: primary.clone(),
                shadow: shadow.clone(),
                sample: *sample,
                max_in_flight: *max_in_flight,
                member_cookies: *member_cookies,
            })
            .await?;
            println!(
                "shadow: listening on {} (primary {primary}, shadow {shadow})",
                s.addr()
            );
            let mut tick =
                tokio::time::interval(std::time::Duration::from_secs((*report_secs).max(1)));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => print!("{}", s.report.render()),
                    _ = tokio::signal::ctrl_c() => {
                        print!("{}", s.report.render());
                        let different: u64 = s.report.routes.lock().map(|r| r.values().map(|x| x.different).sum()).unwrap_or(0);
                        return Ok(if different > 0 { 1 } else { 0 });
                    }
                }
            }
        }
        CompatCommand::Catalogue { fixtures } => {
            let c = catalogue::from_fixtures(fixtures)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&c).map_err(|e| ToolError::Format(e.to_string()))?
            );
            Ok(0)
        }
    }
}

/// `compat diff`: the text report on stdout, the HTML report to `html`; 1 when a fact or a
/// picture differs unexplained.
pub fn run_diff(
    a: &std::path::Path,
    b: &std::path::Path,
    noise: &[PathBuf],
    explain_noise: bool,
    html: Option<&std::path::Path>,
) -> Result<i32, ToolError> {
    let ra = diff::load_recording(a)?;
    let rb = diff::load_recording(b)?;
    let rn = noise
        .iter()
        .map(|n| diff::load_recording(n))
        .collect::<Result<Vec<_>, _>>()?;
    let (sa, sb) = (report::settings(a), report::settings(b));
    let mut warnings = report::settings_warnings(&sa, &sb);
    for n in noise {
        warnings.extend(report::settings_warnings(&sa, &report::settings(n)));
    }
    let mut skipped = report::not_recorded(&sa);
    skipped.extend(report::not_recorded(&sb));
    skipped.sort();
    skipped.dedup();
    let r = diff::diff_recordings(&ra, &rb, &rn, catalogue::compat_md());
    let both = ra.keys().filter(|k| rb.contains_key(*k)).cloned();
    let pictures = pictures::compare(a, b, noise, both)?;
    print!("{}", report::render(&r, &warnings, &skipped));
    print!("{}", pictures.render());
    if explain_noise {
        print!("{}", report::render_noise(&r));
    }
    if let Some(path) = html {
        std::fs::write(
            path,
            report::render_html(&r, &pictures, &ra, &rb, &warnings),
        )
        .map_err(|e| ToolError::Io(format!("{}: {e}", path.display())))?;
        println!("HTML report written to {}", path.display());
    }
    Ok(if r.unexplained() > 0 || !pictures.different.is_empty() {
        1
    } else {
        0
    })
}
