//! Admission to `register` (see [`SignupGate`]): in memory and per instance, like the
//! resources it protects.

use std::net::IpAddr;

use tokio::time::{Duration, Instant};

/// Why a sign-up was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The instance (or this address) has as many sign-ups in flight as it takes, until the
    /// request's deadline.
    Busy,
    /// The address used up its attempts of the window.
    TooManyAttempts,
}

/// Sign-ups one instance works on at once (more wait their turn within their deadline). A
/// sign-up holds no database connection while it waits for the provision server, so this
/// bounds outbound calls and bcrypt work, not the pool; it is per instance, like the
/// resources it protects.
const MAX_IN_FLIGHT: usize = 16;
/// Sign-ups of one client address in flight at once; more wait for their turn (within their
/// own deadline), so one client cannot take all of [`MAX_IN_FLIGHT`].
const MAX_IN_FLIGHT_PER_ADDRESS: usize = 2;
/// The window of `register_attempts_per_address`.
const ATTEMPT_WINDOW: Duration = Duration::from_secs(600);
/// Addresses remembered before expired windows are dropped.
const TRACKED_ADDRESSES: usize = 50_000;

/// Admission to `register`: a per-instance cap on sign-ups in flight, a per-address cap on
/// concurrent ones, and a per-address attempt budget per window (both per-address limits off
/// when the budget is 0), which is also what makes
/// "该邮箱已注册" useless for listing members' addresses. In memory, per instance: it
/// protects this instance's resources, and with several instances an address gets the
/// budget once per instance (COMPAT.md#register-throttle).
pub struct SignupGate {
    attempts_per_address: u32,
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    addresses: std::sync::Mutex<std::collections::HashMap<IpAddr, AddressEntry>>,
}

struct AddressEntry {
    window_start: Instant,
    attempts: u32,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Held for the whole sign-up.
pub struct Admitted {
    _instance: tokio::sync::OwnedSemaphorePermit,
    _address: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl SignupGate {
    pub fn new(attempts_per_address: u32) -> SignupGate {
        SignupGate {
            attempts_per_address,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            addresses: Default::default(),
        }
    }

    pub async fn admit(&self, ip: IpAddr, deadline: Instant) -> Result<Admitted, Refused> {
        let address = if self.attempts_per_address == 0 {
            None
        } else {
            Some(self.admit_address(ip, deadline).await?)
        };
        // Waiting costs nothing here (no connection is held yet); the deadline bounds it.
        let instance = tokio::time::timeout_at(deadline, self.in_flight.clone().acquire_owned())
            .await
            .map_err(|_| Refused::Busy)?
            .map_err(|_| Refused::Busy)?;
        Ok(Admitted {
            _instance: instance,
            _address: address,
        })
    }

    async fn admit_address(
        &self,
        ip: IpAddr,
        deadline: Instant,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, Refused> {
        let key = address_key(ip);
        let slots = {
            let mut map = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if map.len() >= TRACKED_ADDRESSES && !map.contains_key(&key) {
                map.retain(|_, e| {
                    now.duration_since(e.window_start) < ATTEMPT_WINDOW
                        || e.slots.available_permits() < MAX_IN_FLIGHT_PER_ADDRESS
                });
                if map.len() >= TRACKED_ADDRESSES {
                    // Fail closed rather than forget budgets under a flood of addresses.
                    return Err(Refused::Busy);
                }
            }
            let entry = map.entry(key).or_insert_with(|| AddressEntry {
                window_start: now,
                attempts: 0,
                slots: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PER_ADDRESS)),
            });
            if now.duration_since(entry.window_start) >= ATTEMPT_WINDOW {
                entry.window_start = now;
                entry.attempts = 0;
            }
            if entry.attempts >= self.attempts_per_address {
                return Err(Refused::TooManyAttempts);
            }
            entry.attempts += 1;
            entry.slots.clone()
        };
        tokio::time::timeout_at(deadline, slots.acquire_owned())
            .await
            .map_err(|_| Refused::Busy)?
            .map_err(|_| Refused::Busy)
    }
}

/// IPv6 clients usually hold a whole /64: count them by it.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}
