//! Shared state handed to every handler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

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
    /// Pages that depend on nothing but the addon configuration.
    pub rendered: RenderCache,
}

/// Pages that depend on nothing but the addon configuration (landing), rendered once for
/// the configuration in force: a reload swaps the `Arc`, and the next request renders
/// again. Derived from the configuration only, so instances never disagree.
#[derive(Default)]
pub struct RenderCache(Mutex<HashMap<&'static str, (Arc<AddonConfig>, Bytes)>>);

impl RenderCache {
    pub fn get_or_render(
        &self,
        page: &'static str,
        addon: &Arc<AddonConfig>,
        render: impl FnOnce(&AddonConfig) -> Bytes,
    ) -> Bytes {
        let lock = || self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((for_config, bytes)) = lock().get(page)
            && Arc::ptr_eq(for_config, addon)
        {
            return bytes.clone();
        }
        let bytes = render(addon);
        lock().insert(page, (addon.clone(), bytes.clone()));
        bytes
    }
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
            rendered: RenderCache::default(),
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
