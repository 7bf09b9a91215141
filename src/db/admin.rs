//! FastAdmin's own tables, read only: `fa_admin`, `fa_auth_group_access`, `fa_auth_group`,
//! `fa_auth_rule`. We never write them (FastAdmin owns its admins).

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::db::{Tables, int, text};
use crate::error::AppError;

/// An `fa_admin.id`; its own type so a member or tenant id cannot be passed by mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdminId(pub u32);

/// The columns of `fa_admin` that decide whether a session still stands.
#[derive(Clone)]
pub struct AdminRow {
    pub id: AdminId,
    pub username: String,
    /// Rotated by FastAdmin at every login and blanked at logout.
    pub token: String,
    pub status: String,
    pub loginip: Option<String>,
}

/// The token signs FastAdmin's sessions and keeplogin cookies: never in logs.
impl std::fmt::Debug for AdminRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .field("status", &self.status)
            .field("loginip", &self.loginip)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_carries_no_token() {
        let row = AdminRow {
            id: AdminId(1),
            username: "admin".into(),
            token: "0f6c1f5a-secret-token".into(),
            status: "normal".into(),
            loginip: None,
        };
        let dbg = format!("{row:?}");
        assert!(
            !dbg.contains("secret-token") && dbg.contains("admin"),
            "{dbg}"
        );
    }
}

pub async fn find<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: AdminId,
) -> Result<Option<AdminRow>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT id, username, token, status, loginip FROM `{}` WHERE id = ?",
                t.admin
            ),
            (id.0,),
        )
        .await?;
    // By position, in the SELECT's order (no lookup by name per column).
    Ok(row.map(|r| {
        let col = |i: usize| r.as_ref(i).and_then(text);
        AdminRow {
            id: AdminId(r.as_ref(0).and_then(int).unwrap_or_default() as u32),
            username: col(1).unwrap_or_default(),
            token: col(2).unwrap_or_default(),
            status: col(3).unwrap_or_default(),
            loginip: col(4),
        }
    }))
}

/// What an admin's groups grant, as FastAdmin's `Auth::getRuleList()` computes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grants {
    /// A group whose `rules` is `*`: every action.
    Everything,
    /// Lower-cased names of the enabled rules the groups list.
    Rules(Vec<String>),
}

impl Grants {
    pub fn allows_any(&self, names: &[String]) -> bool {
        match self {
            Grants::Everything => true,
            Grants::Rules(rules) => rules.iter().any(|r| names.contains(r)),
        }
    }
}

/// The admin's grants: enabled groups (`status = 'normal'`) → rule ids → enabled rules.
pub async fn grants<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    admin: AdminId,
) -> Result<Grants, AppError> {
    let groups: Vec<Option<String>> = conn
        .exec(
            format!(
                "SELECT ag.rules FROM `{}` aga JOIN `{}` ag ON aga.group_id = ag.id \
                 WHERE aga.uid = ? AND ag.status = 'normal'",
                t.auth_group_access, t.auth_group
            ),
            (admin.0,),
        )
        .await?;
    let mut ids: Vec<u32> = Vec::new();
    for rules in groups.into_iter().flatten() {
        for part in rules.split(',').map(str::trim) {
            if part == "*" {
                return Ok(Grants::Everything);
            }
            if let Ok(id) = part.parse::<u32>()
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return Ok(Grants::Rules(Vec::new()));
    }
    let placeholders = vec!["?"; ids.len()].join(",");
    let rows: Vec<(Option<String>, Option<String>)> = conn
        .exec(
            format!(
                "SELECT name, `condition` FROM `{}` WHERE status = 'normal' AND id IN ({placeholders})",
                t.auth_rule
            ),
            ids,
        )
        .await?;
    let rules = rows
        .into_iter()
        // FastAdmin evaluates a rule's `condition` as PHP code; we cannot, so such a rule
        // grants nothing here (fail closed).
        .filter(|(_, cond)| cond.as_deref().is_none_or(|c| c.trim().is_empty()))
        .filter_map(|(name, _)| name)
        .map(|n| n.to_lowercase())
        .collect();
    Ok(Grants::Rules(rules))
}
