//! Schema inspection and migration (`chathub migrate`, `chathub check`).
//!
//! The expected shape of the addon's tables is `install.sql` (the original's, `__PREFIX__`
//! replaced), parsed once. What a database holds is read from `information_schema`, never from
//! a version table: a site may have run the original's upgrades by hand, half of them, or none.
//! The plan is the difference between the two, restricted to changes that cannot lose data:
//! create missing tables, add missing columns and keys, extend enums, widen `fa_user` columns.
//! Anything else that differs is reported and left alone for a human.

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::*;
use sha2::Digest as _;

/// The original addon's `install.sql`, verbatim apart from the placeholder.
pub const INSTALL_SQL: &str = include_str!("../../install.sql");

/// Widths our `fa_user` needs (COMPAT.md `fa-user-column-widths`): a bcrypt hash is 60
/// characters, and `register` stores the email as the username.
pub const USER_PASSWORD_WIDTH: u32 = 255;
pub const USER_USERNAME_WIDTH: u32 = 100;
/// Shortest `fa_user.password` that holds a bcrypt hash.
pub const BCRYPT_HASH_LEN: u32 = 60;

/// `install.sql` with the site's table prefix, split into statements.
pub fn install_statements(prefix: &str) -> Vec<String> {
    INSTALL_SQL
        .replace("__PREFIX__", prefix)
        .split(';')
        .map(strip_sql_comments)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn strip_sql_comments(stmt: &str) -> String {
    stmt.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("database: {0}")]
    Database(#[from] mysql_async::Error),
    #[error("no database selected in database_url")]
    NoDatabase,
}

// ---------------------------------------------------------------------------------------------
// Expected schema (install.sql)

/// One column as `install.sql` declares it.
#[derive(Clone, Debug)]
pub struct ExpectedColumn {
    pub name: String,
    /// The whole definition after the name, e.g. `int(11) unsigned NOT NULL DEFAULT 0 COMMENT 'ID'`.
    pub definition: String,
    /// Normalised type (see [`normalize_type`]).
    pub column_type: String,
    pub nullable: bool,
}

#[derive(Clone, Debug)]
pub struct ExpectedKey {
    pub name: String,
    /// `KEY `idx_user_id` (`user_id`)` as written.
    pub definition: String,
}

#[derive(Clone, Debug)]
pub struct ExpectedTable {
    /// Name without the prefix, e.g. `chathub_tenant`.
    pub base_name: String,
    pub columns: Vec<ExpectedColumn>,
    pub keys: Vec<ExpectedKey>,
    /// The `CREATE TABLE IF NOT EXISTS` statement with `__PREFIX__` still in it.
    pub create_sql: String,
}

/// The addon's tables, in `install.sql` order: the original's five, then chathub's own.
pub fn expected_tables() -> Vec<ExpectedTable> {
    install_statements("__PREFIX__")
        .iter()
        .filter_map(|s| parse_create_table(s))
        .collect()
}

fn parse_create_table(stmt: &str) -> Option<ExpectedTable> {
    let rest = stmt.split_once("`__PREFIX__")?.1;
    let base_name = rest.split('`').next()?.to_string();
    let open = stmt.find('(')?;
    let close = stmt.rfind(')')?;
    let mut columns = Vec::new();
    let mut keys = Vec::new();
    for line in stmt[open + 1..close].lines() {
        let line = line.trim().trim_end_matches(',').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(after_tick) = line.strip_prefix('`') {
            let (name, definition) = after_tick.split_once('`')?;
            let definition = definition.trim().to_string();
            let column_type = normalize_type(type_of_definition(&definition));
            let upper = definition.to_ascii_uppercase();
            let nullable = !upper.contains("NOT NULL");
            columns.push(ExpectedColumn {
                name: name.to_string(),
                definition,
                column_type,
                nullable,
            });
        } else if line.starts_with("PRIMARY KEY") {
            keys.push(ExpectedKey {
                name: "PRIMARY".into(),
                definition: line.to_string(),
            });
        } else if line.starts_with("KEY") || line.starts_with("UNIQUE KEY") {
            let name = line.split('`').nth(1)?.to_string();
            keys.push(ExpectedKey {
                name,
                definition: line.to_string(),
            });
        }
    }
    Some(ExpectedTable {
        base_name,
        columns,
        keys,
        create_sql: stmt.to_string(),
    })
}

/// The type part of a column definition: `enum('a','b')`, `int(11) unsigned`, `text`.
fn type_of_definition(def: &str) -> &str {
    let mut depth = 0;
    let mut in_quote = false;
    let bytes = def.as_bytes();
    let mut end = def.len();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => in_quote = !in_quote,
            b'(' if !in_quote => depth += 1,
            b')' if !in_quote => depth -= 1,
            b' ' if !in_quote && depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let base = &def[..end];
    let after = def[end..].trim_start();
    let lower = after.to_ascii_lowercase();
    if lower.starts_with("unsigned") {
        // Keep "unsigned" as part of the type, as information_schema's COLUMN_TYPE does.
        &def[..end + (def.len() - end - after.len()) + "unsigned".len()]
    } else {
        base
    }
}

/// Lower-cased type without integer display widths, so MariaDB's `int(11) unsigned` and
/// MySQL 8's `int unsigned` compare equal.
pub fn normalize_type(t: &str) -> String {
    let t = t.trim();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("enum(") || lower.starts_with("set(") {
        // Enum values are case-sensitive data; only the keyword is folded.
        let open = t.find('(').unwrap_or(0);
        return format!("{}{}", &lower[..open], &t[open..]);
    }
    for int in ["tinyint", "smallint", "mediumint", "bigint", "int"] {
        if let Some(rest) = lower.strip_prefix(int)
            && rest.starts_with('(')
            && let Some(close) = rest.find(')')
        {
            return format!("{int}{}", &rest[close + 1..]);
        }
    }
    lower
}

/// Values of an `enum('a','b')` type, or `None` for other types.
pub fn enum_values(column_type: &str) -> Option<Vec<String>> {
    let inner = column_type
        .trim()
        .strip_prefix("enum(")
        .or_else(|| column_type.trim().strip_prefix("ENUM("))?
        .strip_suffix(')')?;
    let mut values = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if in_quote && chars.peek() == Some(&'\'') => {
                cur.push('\'');
                chars.next();
            }
            '\'' => {
                if in_quote {
                    values.push(std::mem::take(&mut cur));
                }
                in_quote = !in_quote;
            }
            c if in_quote => cur.push(c),
            _ => {}
        }
    }
    Some(values)
}

// ---------------------------------------------------------------------------------------------
// Live schema (information_schema)

#[derive(Clone, Debug)]
pub struct LiveColumn {
    pub name: String,
    /// `COLUMN_TYPE` as the server reports it.
    pub column_type: String,
    pub nullable: bool,
    /// The column's line from `SHOW CREATE TABLE`, without name and trailing comma: used to
    /// widen a column while keeping every other attribute exactly as the site has it.
    pub definition: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct LiveTable {
    pub columns: Vec<LiveColumn>,
    pub keys: BTreeSet<String>,
}

impl LiveTable {
    pub fn column(&self, name: &str) -> Option<&LiveColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The tables of interest as they exist now, keyed by full name (prefix included).
#[derive(Clone, Debug, Default)]
pub struct LiveSchema {
    pub database: String,
    pub tables: BTreeMap<String, LiveTable>,
}

/// The server's version string (`10.11.19-MariaDB-...`), which also proves a working session.
pub async fn server_version<Q: Queryable>(conn: &mut Q) -> Result<String, SchemaError> {
    let v: Option<String> = conn.query_first("SELECT VERSION()").await?;
    Ok(v.unwrap_or_default())
}

/// Read the addon's tables and `fa_user` from `information_schema`.
pub async fn inspect<Q: Queryable>(conn: &mut Q, prefix: &str) -> Result<LiveSchema, SchemaError> {
    let database: Option<Option<String>> = conn.query_first("SELECT DATABASE()").await?;
    let database = database.flatten().ok_or(SchemaError::NoDatabase)?;
    let mut names: Vec<String> = expected_tables()
        .iter()
        .map(|t| format!("{prefix}{}", t.base_name))
        .collect();
    names.push(format!("{prefix}user"));

    let mut schema = LiveSchema {
        database: database.clone(),
        tables: BTreeMap::new(),
    };
    for name in names {
        let cols: Vec<(String, String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (&database, &name),
            )
            .await?;
        if cols.is_empty() {
            continue;
        }
        let keys: Vec<String> = conn
            .exec(
                "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&database, &name),
            )
            .await?;
        let create: Option<(String, String)> = conn
            .query_first(format!("SHOW CREATE TABLE `{name}`"))
            .await?;
        let lines = create
            .map(|(_, sql)| column_lines(&sql))
            .unwrap_or_default();
        let columns = cols
            .into_iter()
            .map(|(col, column_type, nullable)| LiveColumn {
                definition: lines.get(&col).cloned(),
                name: col,
                column_type,
                nullable: nullable.eq_ignore_ascii_case("YES"),
            })
            .collect();
        schema.tables.insert(
            name,
            LiveTable {
                columns,
                keys: keys.into_iter().collect(),
            },
        );
    }
    Ok(schema)
}

/// Column name → definition from a `SHOW CREATE TABLE` text.
fn column_lines(create_sql: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in create_sql.lines() {
        let line = line.trim().trim_end_matches(',');
        if let Some(rest) = line.strip_prefix('`')
            && let Some((name, def)) = rest.split_once('`')
        {
            out.insert(name.to_string(), def.trim().to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Plan

/// One statement of a migration and why it is there.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub table: String,
    pub sql: String,
    pub why: String,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Differences no safe migration resolves (left for a human; `check` fails on them).
    pub unresolved: Vec<String>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }

    /// The statements as a script (what `--dry-run` prints).
    pub fn script(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            out.push_str(&format!("-- {}\n{};\n\n", s.why, s.sql));
        }
        out
    }
}

/// Columns the original's v1.6 upgrade MODIFYs even though their type may already match
/// (nullability/default changed): `chathub_log.tenant_id` gained `DEFAULT 0` for system rows.
const V16_MODIFIED_COLUMNS: &[(&str, &str)] = &[("chathub_log", "tenant_id")];

/// What it takes to bring `live` to `install.sql` plus our `fa_user` widths.
pub fn plan(live: &LiveSchema, prefix: &str) -> Plan {
    let mut plan = Plan::default();
    for table in expected_tables() {
        let full = format!("{prefix}{}", table.base_name);
        match live.tables.get(&full) {
            None => plan.steps.push(Step {
                table: full.clone(),
                sql: table.create_sql.replace("__PREFIX__", prefix),
                why: format!("create {full} (install.sql)"),
            }),
            Some(existing) => plan_table_upgrade(&table, &full, existing, &mut plan),
        }
    }
    plan_user_widening(live, prefix, &mut plan);
    plan
}

// Long on purpose: one pass over the table's columns, keys and enums against install.sql.
fn plan_table_upgrade(table: &ExpectedTable, full: &str, live: &LiveTable, plan: &mut Plan) {
    let mut clauses: Vec<String> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    // Columns present once the clauses before run, for `AFTER` placement.
    let mut present: BTreeSet<&str> = live.columns.iter().map(|c| c.name.as_str()).collect();
    let mut previous: Option<&str> = None;
    for col in &table.columns {
        match live.column(&col.name) {
            None => {
                let place = match previous {
                    Some(p) if present.contains(p) => format!(" AFTER `{p}`"),
                    Some(_) => String::new(),
                    None => " FIRST".into(),
                };
                clauses.push(format!(
                    "ADD COLUMN `{}` {}{place}",
                    col.name, col.definition
                ));
                reasons.push(format!("add {}", col.name));
                present.insert(&col.name);
            }
            Some(have) => {
                let have_type = normalize_type(&have.column_type);
                if have_type == col.column_type {
                    let documented = V16_MODIFIED_COLUMNS
                        .iter()
                        .any(|(t, c)| *t == table.base_name && *c == col.name);
                    let definition_differs = have
                        .definition
                        .as_deref()
                        .is_some_and(|d| !same_definition(d, &col.definition));
                    if documented && (have.nullable != col.nullable || definition_differs) {
                        clauses.push(format!("MODIFY COLUMN `{}` {}", col.name, col.definition));
                        reasons.push(format!("modify {} (v1.6)", col.name));
                    } else if have.nullable != col.nullable {
                        plan.unresolved.push(format!(
                            "{full}.{}: nullability differs from install.sql",
                            col.name
                        ));
                    }
                } else if let (Some(have_vals), Some(want_vals)) = (
                    enum_values(&have.column_type),
                    enum_values(&col.column_type),
                ) {
                    if have_vals.iter().all(|v| want_vals.contains(v)) {
                        // Extending an enum keeps every stored value.
                        clauses.push(format!("MODIFY COLUMN `{}` {}", col.name, col.definition));
                        reasons.push(format!("extend enum {}", col.name));
                    } else {
                        plan.unresolved.push(format!(
                            "{full}.{}: enum {} has values install.sql lacks; not narrowing",
                            col.name, have.column_type
                        ));
                    }
                } else if is_integer(&have_type)
                    && is_integer(&col.column_type)
                    && V16_MODIFIED_COLUMNS
                        .iter()
                        .any(|(t, c)| *t == table.base_name && *c == col.name)
                {
                    // Strict mode makes the server refuse (not truncate) if a row does not fit.
                    clauses.push(format!("MODIFY COLUMN `{}` {}", col.name, col.definition));
                    reasons.push(format!("modify {} (v1.6)", col.name));
                } else {
                    plan.unresolved.push(format!(
                        "{full}.{}: type {} differs from install.sql {}",
                        col.name, have.column_type, col.column_type
                    ));
                }
            }
        }
        previous = Some(&col.name);
    }
    for key in &table.keys {
        if !live.keys.contains(&key.name) {
            clauses.push(format!("ADD {}", key.definition));
            reasons.push(format!("add key {}", key.name));
        }
    }
    if !clauses.is_empty() {
        plan.steps.push(Step {
            table: full.to_string(),
            sql: format!("ALTER TABLE `{full}`\n  {}", clauses.join(",\n  ")),
            why: format!("upgrade {full}: {}", reasons.join(", ")),
        });
    }
}

fn is_integer(t: &str) -> bool {
    ["tinyint", "smallint", "mediumint", "bigint", "int"]
        .iter()
        .any(|p| t.starts_with(p))
}

/// Two column definitions mean the same (case of keywords and integer display widths aside).
fn same_definition(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.replace("DEFAULT '0'", "DEFAULT 0");
        let t = type_of_definition(&s).to_string();
        format!("{} {}", normalize_type(&t), s[t.len()..].trim()).to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

/// `fa_user.password`/`username` are `varchar(32)` on stock FastAdmin; widen (never shrink),
/// keeping the rest of the site's column definition verbatim.
fn plan_user_widening(live: &LiveSchema, prefix: &str, plan: &mut Plan) {
    let full = format!("{prefix}user");
    let Some(user) = live.tables.get(&full) else {
        return;
    };
    let mut clauses = Vec::new();
    let mut reasons = Vec::new();
    for (name, width) in [
        ("username", USER_USERNAME_WIDTH),
        ("password", USER_PASSWORD_WIDTH),
    ] {
        let Some(col) = user.column(name) else {
            continue;
        };
        let Some(have) = varchar_width(&col.column_type) else {
            continue; // text, or something else already unbounded enough
        };
        if have >= width {
            continue;
        }
        let Some(def) = &col.definition else {
            plan.unresolved
                .push(format!("{full}.{name}: definition unreadable"));
            continue;
        };
        let old_type = type_of_definition(def);
        let widened = format!("varchar({width}){}", &def[old_type.len()..]);
        clauses.push(format!("MODIFY COLUMN `{name}` {widened}"));
        reasons.push(format!("{name} varchar({have}) -> varchar({width})"));
    }
    if !clauses.is_empty() {
        plan.steps.push(Step {
            table: full.clone(),
            sql: format!("ALTER TABLE `{full}`\n  {}", clauses.join(",\n  ")),
            why: format!(
                "widen {full} (COMPAT.md fa-user-column-widths): {}",
                reasons.join(", ")
            ),
        });
    }
}

/// `n` of a `varchar(n)` type.
pub fn varchar_width(column_type: &str) -> Option<u32> {
    column_type
        .trim()
        .to_ascii_lowercase()
        .strip_prefix("varchar(")?
        .split(')')
        .next()?
        .parse()
        .ok()
}

/// Whether this connection now holds the migration lock, or who does.
#[derive(Debug, PartialEq, Eq)]
pub enum MigrationLock {
    Held,
    /// Another connection kept it past the wait (its MariaDB connection id, if still known).
    Busy {
        holder: Option<u64>,
    },
}

/// The named lock every `chathub migrate` on this database and prefix takes, from any host or
/// container: MariaDB keeps named locks server-side and frees them when the connection ends.
pub async fn lock_migrations<Q: Queryable>(
    conn: &mut Q,
    prefix: &str,
    wait_secs: u32,
) -> Result<MigrationLock, SchemaError> {
    let database: Option<Option<String>> = conn.query_first("SELECT DATABASE()").await?;
    let database = database.flatten().ok_or(SchemaError::NoDatabase)?;
    let name = migration_lock_name(&database, prefix);
    let got: Option<Option<i64>> = conn
        .exec_first("SELECT GET_LOCK(?, ?)", (&name, wait_secs))
        .await?;
    if got.flatten() == Some(1) {
        return Ok(MigrationLock::Held);
    }
    let holder: Option<Option<u64>> = conn.exec_first("SELECT IS_USED_LOCK(?)", (&name,)).await?;
    Ok(MigrationLock::Busy {
        holder: holder.flatten(),
    })
}

/// MySQL caps lock names at 64 characters; a long database name is hashed into one.
fn migration_lock_name(database: &str, prefix: &str) -> String {
    let name = format!("chathub_migrate:{database}:{prefix}");
    if name.len() <= 64 {
        return name;
    }
    let digest = sha2::Sha256::digest(name.as_bytes());
    format!("chathub_migrate:{}", hex::encode(&digest[..20]))
}

/// Inspect, plan and (unless `dry_run`) apply. Each step is one statement, so each table's
/// change is atomic; DDL cannot share a transaction, so a failure leaves earlier tables
/// upgraded and the next run picks up where this one stopped.
pub async fn migrate<Q: Queryable>(
    conn: &mut Q,
    prefix: &str,
    dry_run: bool,
) -> Result<Plan, SchemaError> {
    let live = inspect(conn, prefix).await?;
    let plan = plan(&live, prefix);
    if !dry_run {
        // Refuse rather than truncate if a row does not fit a modified column.
        conn.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')")
            .await?;
        for step in &plan.steps {
            conn.query_drop(&step.sql).await?;
        }
    }
    Ok(plan)
}

// ---------------------------------------------------------------------------------------------
// Verification (`chathub check`)

/// Every way `live` differs from `install.sql` (empty = matches): missing tables, columns,
/// keys, type or enum differences, nullability.
pub fn verify(live: &LiveSchema, prefix: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for table in expected_tables() {
        let full = format!("{prefix}{}", table.base_name);
        let Some(have) = live.tables.get(&full) else {
            problems.push(format!("table {full} missing"));
            continue;
        };
        for col in &table.columns {
            match have.column(&col.name) {
                None => problems.push(format!("{full}.{} missing", col.name)),
                Some(c) => {
                    let t = normalize_type(&c.column_type);
                    if t != col.column_type {
                        match (enum_values(&t), enum_values(&col.column_type)) {
                            (Some(h), Some(w)) => {
                                let missing: Vec<_> =
                                    w.iter().filter(|v| !h.contains(v)).cloned().collect();
                                let extra: Vec<_> =
                                    h.iter().filter(|v| !w.contains(v)).cloned().collect();
                                problems.push(format!(
                                    "{full}.{} enum differs (missing {:?}, extra {:?})",
                                    col.name, missing, extra
                                ));
                            }
                            _ => problems.push(format!(
                                "{full}.{} is {} (expected {})",
                                col.name, c.column_type, col.column_type
                            )),
                        }
                    } else if c.nullable != col.nullable {
                        problems.push(format!(
                            "{full}.{} is {}NULL (expected {}NULL)",
                            col.name,
                            if c.nullable { "" } else { "NOT " },
                            if col.nullable { "" } else { "NOT " }
                        ));
                    }
                }
            }
        }
        for key in &table.keys {
            if !have.keys.contains(&key.name) {
                problems.push(format!("{full} key {} missing", key.name));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_sql_parses_into_the_addon_tables() {
        let t = expected_tables();
        let names: Vec<_> = t.iter().map(|t| t.base_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "chathub_tenant",
                "chathub_log",
                "chathub_order",
                "chathub_channel_account",
                "chathub_gateway_log",
                "chathub_session_revoked",
                "chathub_login_throttle",
                "chathub_provision_state",
                "chathub_pay_query",
                "chathub_pay_cert",
                "chathub_lifecycle",
                "chathub_refund",
                "chathub_reconcile"
            ]
        );
        let session = &t[5];
        assert_eq!(session.columns[0].column_type, "char(64)");
        assert!(session.keys.iter().any(|k| k.name == "PRIMARY"));
        let tenant = &t[0];
        assert_eq!(tenant.columns.len(), 23);
        let id = &tenant.columns[0];
        assert_eq!(id.column_type, "int unsigned");
        assert!(!id.nullable);
        let status = tenant.columns.iter().find(|c| c.name == "status").unwrap();
        assert_eq!(
            enum_values(&status.column_type).unwrap(),
            ["pending", "provisioning", "active", "suspended", "disabled"]
        );
        assert!(tenant.keys.iter().any(|k| k.name == "idx_user_id"));
        assert!(tenant.keys.iter().any(|k| k.name == "PRIMARY"));
        let order = &t[2];
        assert!(order.keys.iter().any(|k| k.name == "uk_order_no"));
    }

    #[test]
    fn types_normalise_across_servers() {
        assert_eq!(normalize_type("int(11) unsigned"), "int unsigned");
        assert_eq!(normalize_type("INT UNSIGNED"), "int unsigned");
        assert_eq!(normalize_type("bigint(20)"), "bigint");
        assert_eq!(normalize_type("decimal(10,2)"), "decimal(10,2)");
        assert_eq!(normalize_type("varchar(32)"), "varchar(32)");
        assert_eq!(normalize_type("ENUM('A','b')"), "enum('A','b')");
        assert_eq!(
            type_of_definition("int(11) unsigned NOT NULL DEFAULT 0"),
            "int(11) unsigned"
        );
        assert_eq!(
            type_of_definition("enum('a b','c') NOT NULL"),
            "enum('a b','c')"
        );
        assert_eq!(enum_values("enum('it''s','x')").unwrap(), ["it's", "x"]);
        assert_eq!(varchar_width("varchar(32)"), Some(32));
        assert_eq!(varchar_width("text"), None);
    }
}
