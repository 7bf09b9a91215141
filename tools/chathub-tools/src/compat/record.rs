//! `cargo compat record`: play the built-in catalogue against a running site (the PHP addon or
//! ours) and write one file per exchange in the fixtures' shape (request + recorded `expect`).
//!
//! The recorder owns the provision server the site talks to (a local `ProvisionStub` whose
//! mode it switches per exchange) and, given `--db`, the site's scratch database: each group
//! starts from its `_group.json` seed, and the rows after every exchange are recorded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use serde_json::{Value, json};

use super::ToolError;
use super::catalogue;
use super::dbstate;
use super::exchange::{self, Jars};
use crate::provision_stub::{ProvisionStub, StubMode};

pub struct RecordOptions {
    /// The site's base URL, e.g. `http://127.0.0.1:8088`.
    pub target: String,
    pub out: PathBuf,
    /// The site's (scratch!) database: reset and seeded per group, rows recorded.
    pub db: Option<String>,
    /// FastAdmin admin session cookie (`PHPSESSID`, value) the tester signed in with.
    pub admin_cookie: Option<(String, String)>,
    /// `group` or `group/NNN` items; empty = the whole catalogue.
    pub only: Vec<String>,
    pub stub_listen: SocketAddr,
    pub provision_api_key: String,
    /// Progress lines on stderr.
    pub verbose: bool,
    /// Also picture every recorded page at both widths (`pictures::take`).
    pub screenshots: bool,
}

#[derive(Debug, Default)]
pub struct RecordSummary {
    pub recorded: usize,
    pub external: usize,
    /// The catalogue's exchanges FastAdmin serves (not the addon), with the reason.
    pub not_recorded: Vec<(String, String)>,
    /// Exchanges that got no answer (connection refused, timeout): recorded with an `error`.
    pub errors: Vec<String>,
    /// Pictures written with `screenshots`.
    pub pictures: usize,
}

pub struct Recorder {
    opts: RecordOptions,
    stub: ProvisionStub,
    catalogue: Value,
}

impl Recorder {
    /// Start the provision stub (the site must be configured to call `stub_url()`).
    pub async fn start(opts: RecordOptions) -> Result<Recorder, ToolError> {
        // Before a recording that takes minutes, not after it.
        if opts.screenshots
            && (crate::chromium::find_browser().is_none() || !crate::chromium::font_installed())
        {
            return Err(ToolError::Usage(
                "--screenshots needs chromium and fonts-wqy-zenhei (apt-get install chromium fonts-wqy-zenhei)".into(),
            ));
        }
        let catalogue = catalogue::builtin()?;
        let stub = ProvisionStub::start(opts.stub_listen, &opts.provision_api_key)
            .await
            .map_err(|e| {
                ToolError::Io(format!(
                    "cannot start the provision stub on {}: {e}",
                    opts.stub_listen
                ))
            })?;
        Ok(Recorder {
            opts,
            stub,
            catalogue,
        })
    }

    pub fn stub_url(&self) -> String {
        self.stub.url()
    }

    /// Record every selected exchange; the site's database is put back as it was afterwards.
    pub async fn run(self) -> Result<RecordSummary, ToolError> {
        self.run_until(std::future::pending())
            .await?
            .ok_or_else(|| ToolError::Io("interrupted".into()))
    }

    /// Record until done or until `stop` resolves (Ctrl-C: `Ok(None)`); either way, and after
    /// an error, the rows, id counters and columns `--db` touched are restored first.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Option<RecordSummary>, ToolError> {
        let db_err = |e: mysql_async::Error| {
            ToolError::Db(format!(
                "{}: {e}",
                super::redact_url(self.opts.db.as_deref().unwrap_or(""))
            ))
        };
        let backup = match self.opts.db.as_deref() {
            Some(url) => {
                let pool = mysql_async::Pool::new(url);
                let mut c = pool.get_conn().await.map_err(db_err)?;
                let b = super::site_backup::take(&mut c).await?;
                drop(c);
                Some((pool, b))
            }
            None => None,
        };
        let result = tokio::select! {
            r = self.run_groups() => Some(r),
            _ = stop => None,
        };
        if let Some((pool, b)) = backup {
            let mut c = pool.get_conn().await.map_err(db_err)?;
            super::site_backup::restore(&mut c, &b).await?;
            drop(c);
            let _ = pool.disconnect().await;
        }
        result.transpose()
    }

    async fn run_groups(&self) -> Result<RecordSummary, ToolError> {
        let o = &self.opts;
        std::fs::create_dir_all(&o.out)?;
        let started = chrono::Local::now();
        let mut settings = json!({
                "target": o.target,
                "started": started.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
                "only": o.only,
                "database": o.db.is_some(),
                "admin_session": o.admin_cookie.is_some(),
                "provision_stub": self.stub.url(),
                "chathub_version": env!("CARGO_PKG_VERSION"),
                "screenshots": o.screenshots,
        });
        write_json(&o.out.join("_record.json"), &settings)?;
        let pool = o.db.as_deref().map(mysql_async::Pool::new);
        let client = exchange::http_client();
        let mut summary = RecordSummary::default();
        for g in self.catalogue["groups"].as_array().into_iter().flatten() {
            let gname = g["name"].as_str().unwrap_or_default();
            if !catalogue::group_selected(&o.only, gname) {
                continue;
            }
            let mut conn = match &pool {
                Some(p) => {
                    let mut c = p.get_conn().await.map_err(|e| {
                        ToolError::Db(format!(
                            "{}: {e}",
                            super::redact_url(o.db.as_deref().unwrap_or(""))
                        ))
                    })?;
                    dbstate::reset_to_group(&mut c, &g["group"]).await?;
                    Some(c)
                }
                None => None,
            };
            if o.verbose {
                eprintln!("record: group {gname}");
            }
            // Every exchange of a selected group is played (later ones rely on the state earlier
            // ones leave); only the selected ones are written.
            let mut jars = Jars::new();
            for ex in g["exchanges"].as_array().into_iter().flatten() {
                let recording = ex["recording"].as_str().unwrap_or_default();
                if ex["external"].as_bool() == Some(true) {
                    self.external_actions(&mut jars, ex);
                    summary.external += 1;
                    if catalogue::selected(&o.only, gname, recording) {
                        let why = ex["external_reason"]
                            .as_str()
                            .unwrap_or("served by FastAdmin");
                        summary.not_recorded.push((
                            recording.to_string(),
                            format!("served by FastAdmin, not the addon ({why})"),
                        ));
                    }
                    continue;
                }
                let file = self.play(&client, &mut jars, conn.as_mut(), ex).await?;
                if !catalogue::selected(&o.only, gname, recording) {
                    continue;
                }
                if let Some(err) = file.get("error").and_then(Value::as_str) {
                    summary.errors.push(format!("{recording}: {err}"));
                }
                write_json(&o.out.join(recording), &file)?;
                summary.recorded += 1;
            }
        }
        if let Some(p) = pool {
            let _ = p.disconnect().await;
        }
        if o.screenshots {
            if o.verbose {
                eprintln!("record: pictures of the recorded pages");
            }
            let recorded = super::diff::load_recording(&o.out)?;
            summary.pictures = super::pictures::take(&o.out, &recorded).await?;
        }
        // `diff` names what was not recorded, and why, from here.
        settings["not_recorded"] = summary
            .not_recorded
            .iter()
            .map(|(r, why)| json!({"recording": r, "reason": why}))
            .collect();
        settings["no_answer"] = json!(summary.errors);
        write_json(&o.out.join("_record.json"), &settings)?;
        Ok(summary)
    }

    /// FastAdmin's admin sign-in (served by FastAdmin, not recorded): the client carries the
    /// tester's admin session cookie from then on. (FastAdmin's recorded GET logout signs
    /// nobody out: its logout acts on POST only.)
    fn external_actions(&self, jars: &mut Jars, ex: &Value) {
        for action in ex["actions"].as_array().into_iter().flatten() {
            if let Some(a) = action.get("admin_login") {
                let client = a["client"].as_str().unwrap_or("admin").to_string();
                if let Some((name, value)) = &self.opts.admin_cookie {
                    jars.entry(client)
                        .or_default()
                        .insert(name.clone(), value.clone());
                }
            }
        }
    }

    async fn play(
        &self,
        client: &reqwest::Client,
        jars: &mut Jars,
        mut conn: Option<&mut mysql_async::Conn>,
        ex: &Value,
    ) -> Result<Value, ToolError> {
        let setup = &ex["setup"];
        if let Some(c) = conn.as_deref_mut() {
            for sql in setup["before_sql"].as_array().into_iter().flatten() {
                c.query_drop(sql.as_str().unwrap_or_default())
                    .await
                    .map_err(|e| ToolError::Db(format!("before_sql: {e}")))?;
            }
        }
        let mode = StubMode::parse(setup["provision_mode"].as_str().unwrap_or("ok"))
            .ok_or_else(|| ToolError::Format("unknown provision mode".into()))?;
        self.stub.set_mode(mode).await;
        self.stub.set_hang_for(Duration::from_secs(
            setup["stub_hang_for_secs"].as_u64().unwrap_or(6),
        ));
        let snap = match conn.as_deref_mut() {
            Some(c) if ex["restore_db_after"].as_bool() == Some(true) => {
                Some(dbstate::snapshot(c).await?)
            }
            _ => None,
        };
        let default_client = ex["client"].as_str().unwrap_or("anon").to_string();
        let mut error = None;
        let mut warning = None;
        // State a withheld recording left behind (a member signed in).
        for action in setup["actions_before"].as_array().into_iter().flatten() {
            if let Some(l) = action.get("login") {
                let jar = jars
                    .entry(l["client"].as_str().unwrap_or(&default_client).to_string())
                    .or_default();
                let signed_in = exchange::member_login(
                    client,
                    &self.opts.target,
                    jar,
                    l["email"].as_str().unwrap_or_default(),
                    l["password"].as_str().unwrap_or_default(),
                )
                .await;
                if !signed_in {
                    warning = Some(
                        "actions_before: the member sign-in did not answer 302; the exchange ran signed out"
                            .to_string(),
                    );
                }
            }
        }
        let _ = self.stub.take_calls();

        let req = &ex["request"];
        let headers: Vec<(String, String)> = req["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
            .collect();
        let method = req["method"].as_str().unwrap_or("GET");
        let jar = jars.entry(default_client).or_default();
        let now = chrono::Local::now();
        let t0 = Instant::now();
        let sent = exchange::send(
            client,
            &self.opts.target,
            jar,
            method,
            req["path"].as_str().unwrap_or("/"),
            &headers,
            req["body"].as_str(),
        )
        .await;
        let duration = t0.elapsed().as_secs_f64();
        let calls: Vec<Value> = self
            .stub
            .take_calls()
            .iter()
            .map(exchange::stub_call_json)
            .collect();
        let db_after = match conn.as_deref_mut() {
            Some(c) => dbstate::dump_db(c).await?,
            None => Value::Null,
        };
        if let (Some(c), Some(s)) = (conn, &snap) {
            dbstate::restore(c, s).await?;
        }
        let mut file = json!({
            "recording": ex["recording"],
            "scenario": ex["scenario"],
            "route": ex["route"],
            "deviations": ex["deviations"],
            "client": ex["client"],
            "clock": now.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
            "clock_epoch": now.timestamp_millis() as f64 / 1000.0,
            "duration_s": duration,
            "tolerance_s": 3.0 + duration,
            "setup": setup,
            "request": req,
            "masks": ex["masks"],
            "provision_calls_at_most": ex["provision_calls_at_most"],
        });
        match sent {
            Ok(s) => {
                file["expect"] = exchange::recorded_expect(
                    &s,
                    method.eq_ignore_ascii_case("HEAD"),
                    db_after,
                    calls,
                );
            }
            Err(e) => error = Some(e),
        }
        if let Some(e) = error {
            file["error"] = json!(e);
        }
        if let Some(w) = warning {
            file["warning"] = json!(w);
        }
        Ok(file)
    }
}

fn write_json(path: &Path, v: &Value) -> Result<(), ToolError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(v).map_err(|e| ToolError::Format(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| ToolError::Io(format!("{}: {e}", path.display())))
}

/// Write the site profile's key files where the tester can point config.php at them.
pub fn write_site_keys(dir: &Path) -> Result<(), ToolError> {
    std::fs::create_dir_all(dir)?;
    for (name, pem) in catalogue::SITE_KEYS {
        std::fs::write(dir.join(name), pem)?;
    }
    Ok(())
}
