//! Shared state handed to every handler.

use std::sync::{Arc, RwLock};

use crate::clock::Clock;
use crate::config::{AddonConfig, Config};
use crate::db::Db;
use crate::services::sessions::Sessions;

pub struct App {
    pub config: Config,
    /// The addon's `config.php` values; swapped atomically when the file changes.
    addon: RwLock<Arc<AddonConfig>>,
    pub db: Db,
    pub clock: Clock,
    pub sessions: Sessions,
    /// Sign-ups in flight and per client address (in memory; see `signup_gate::SignupGate`).
    pub signup_gate: crate::services::signup_gate::SignupGate,
    /// Outbound HTTP (provision server, WeChat Pay). Per-call timeouts are set by callers.
    pub http: reqwest::Client,
    /// Provision-server client (one attempt per call; callers own retries).
    pub provision: crate::clients::provision::ProvisionClient,
    /// Counters behind `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl App {
    pub fn new(config: Config, db: Db, clock: Clock) -> App {
        let sessions = Sessions::new(secrecy::ExposeSecret::expose_secret(&config.session_secret));
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let signup_gate =
            crate::services::signup_gate::SignupGate::new(config.register_attempts_per_address);
        App {
            signup_gate,
            addon: RwLock::new(Arc::new(config.addon.clone())),
            config,
            db,
            clock,
            sessions,
            http,
            provision: crate::clients::provision::ProvisionClient::with_metrics(metrics.clone()),
            metrics,
        }
    }

    /// The addon configuration in force now (cheap: an `Arc` clone).
    pub fn addon(&self) -> Arc<AddonConfig> {
        match self.addon.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace_addon(&self, new: AddonConfig) {
        match self.addon.write() {
            Ok(mut g) => *g = Arc::new(new),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(new),
        }
    }
}
