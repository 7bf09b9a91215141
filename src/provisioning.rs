//! Re-provisioning an existing tenant (the original's `_provisionAsync`): used by the
//! user's `reprovision`, by payments for tenants without resources, and by the background
//! worker that finishes tenants left in `provisioning`.

use std::time::Duration;

use crate::app::App;
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::tenant::{self, TenantId};
use crate::error::AppError;
use crate::provision::{ProvisionPayload, ProvisionResult};

/// The original gave curl 30 s (connect 5 s) here.
pub const REPROVISION_TIMEOUT: Duration = Duration::from_secs(30);

/// `reprov-<id>-md5(domain|channel_type)`: deterministic, so a repeat within the provision
/// server's cache window returns the same resources instead of creating new ones.
pub fn reprovision_key(id: TenantId, domain: &str, channel_type: &str) -> String {
    format!(
        "reprov-{}-{:x}",
        id.0,
        md5::compute(format!("{domain}|{channel_type}").as_bytes())
    )
}

/// One provision attempt for an existing tenant, with the original's log rows
/// (`reprovision`, operator `system`). `Ok(true)` when the tenant is now active.
/// A tenant that no longer exists is `Ok(false)` with nothing written.
pub async fn reprovision_once(
    app: &App,
    id: TenantId,
    timeout: Duration,
) -> Result<bool, AppError> {
    let t = &app.db.t;
    let mut conn = app.db.conn().await?;
    let Some(tenant) = tenant::find(&mut conn, t, id).await? else {
        return Ok(false);
    };
    drop(conn);
    let addon = app.addon();
    let payload = ProvisionPayload {
        name: tenant.tenant_name.clone(),
        domain: tenant.domain.clone(),
        email: tenant.email.clone(),
        kind: tenant.channel_type.clone(),
        max_agents: tenant.max_agents,
    };
    let key = reprovision_key(id, &tenant.domain, &tenant.channel_type);
    let result = app
        .provision
        .provision(
            &addon.provision_server_url,
            addon.provision_api_key(),
            &key,
            &payload,
            timeout,
        )
        .await;
    let mut conn = app.db.conn().await?;
    let now = app.clock.epoch();
    let (ok, detail, status) = match &result {
        ProvisionResult::Provisioned(p) => {
            let mut tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await?;
            tenant::apply_provisioned_no_touch(&mut tx, t, id, p, &app.clock.datetime()).await?;
            let detail = format!(
                "补建资源成功 (inbox_id={})",
                p.inbox_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "?".into())
            );
            log::insert(
                &mut tx,
                t,
                &NewLog {
                    tenant_id: id.0,
                    action: "reprovision",
                    detail: &detail,
                    status: LogStatus::Success,
                    operator: "system",
                    createtime: now,
                },
            )
            .await?;
            tx.commit().await?;
            return Ok(true);
        }
        ProvisionResult::Failed(e) => (
            false,
            format!("重试 provision 失败: {}", e.log_text()),
            LogStatus::Failed,
        ),
        ProvisionResult::InvalidBody(body) => (
            false,
            format!("响应无效: {}", php_substr(body, 200)),
            LogStatus::Failed,
        ),
    };
    log::insert(
        &mut conn,
        t,
        &NewLog {
            tenant_id: id.0,
            action: "reprovision",
            detail: &detail,
            status,
            operator: "system",
            createtime: now,
        },
    )
    .await?;
    Ok(ok)
}

/// PHP's `substr($s, 0, $n)` counts bytes; never split a UTF-8 character.
fn php_substr(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprovision_key_is_the_originals() {
        // md5("alice-pending|web_widget")
        let k = reprovision_key(TenantId(13), "alice-pending", "web_widget");
        assert_eq!(
            k,
            format!("reprov-13-{:x}", md5::compute(b"alice-pending|web_widget"))
        );
    }
}
