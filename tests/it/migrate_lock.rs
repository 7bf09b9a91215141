//! `chathub migrate` started twice at once (two instances, a package upgrade beside a
//! container start): the database's named lock lets one change the schema at a time.

use crate::support::{CHATHUB_BIN, SESSION_SECRET, TestDb};
use chathub::db::schema::{self, MigrationLock};
use mysql_async::prelude::*;

const FASTADMIN_BASE: &str = include_str!("../../sql/fastadmin_base.sql");

fn migrate(db: &TestDb, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(CHATHUB_BIN);
    c.arg("migrate")
        .args(args)
        .env_clear()
        .env("CHATHUB_DATABASE_URL", &db.url)
        .env("CHATHUB_SESSION_SECRET", SESSION_SECRET);
    c
}

async fn table_count(db: &TestDb) -> i64 {
    let mut c = db.conn().await;
    c.exec_first(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
        (&db.name,),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn two_migrations_at_once_change_the_schema_once() {
    let db = TestDb::empty().await;
    db.run_sql(FASTADMIN_BASE).await;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            migrate(&db, &[])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<String> = runs
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    let applied = outs
        .iter()
        .filter(|o| o.contains("statement(s) applied"))
        .count();
    let current = outs
        .iter()
        .filter(|o| o.trim() == "schema is current: nothing to do")
        .count();
    assert_eq!((applied, current), (1, 1), "{outs:?}");
    let mut c = db.conn().await;
    let live = schema::inspect(&mut c, "fa_").await.unwrap();
    assert_eq!(schema::verify(&live, "fa_"), Vec::<String>::new());
}

#[tokio::test]
async fn a_migration_refuses_while_another_holds_the_lock_and_dry_run_still_shows_the_plan() {
    let db = TestDb::empty().await;
    db.run_sql(FASTADMIN_BASE).await;
    let before = table_count(&db).await;
    // Another instance's migration, mid-way.
    let mut other = db.conn().await;
    assert_eq!(
        schema::lock_migrations(&mut other, "fa_", 0).await.unwrap(),
        MigrationLock::Held
    );

    let out = migrate(&db, &["--lock-wait", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another `chathub migrate` is running on this database")
            && stderr.contains("Nothing was changed"),
        "{stderr}"
    );
    assert_eq!(table_count(&db).await, before, "nothing created");

    let dry = migrate(&db, &["--dry-run", "--lock-wait", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{stdout}");
    assert!(
        stdout.contains("-- dry run:")
            && stdout.contains("CREATE TABLE IF NOT EXISTS `fa_chathub_tenant`"),
        "{stdout}"
    );
    assert_eq!(table_count(&db).await, before, "a dry run changes nothing");

    // A migration that waits long enough runs once the other one ends.
    let waiting = migrate(&db, &["--lock-wait", "30"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // MariaDB frees a named lock when its connection ends.
    other.disconnect().await.unwrap();
    let out = tokio::task::spawn_blocking(move || waiting.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("statement(s) applied"));
    let mut c = db.conn().await;
    let live = schema::inspect(&mut c, "fa_").await.unwrap();
    assert_eq!(schema::verify(&live, "fa_"), Vec::<String>::new());
}
