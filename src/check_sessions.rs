//! `check`'s line on the PHP session store that admin recognition and the members' switch
//! read (`services::php_session`): files in `php_session_dir`, or ThinkPHP's Redis driver.

use crate::config::Config;
use crate::services::php_session;

/// The store's line, built with `check`'s outcomes (`[ok, warn, fail]`), so this file needs
/// nothing from `check` (which calls it).
pub async fn php_sessions<T>(config: &Config, outcome: [fn(String) -> T; 3]) -> T {
    let [ok, warn, fail] = outcome;
    if let Some(store) = &config.php_session_redis {
        let (place, answer) = php_session::redis_answers(store).await;
        return match answer {
            Ok(()) => ok(format!(
                "Redis at {place} answers (key prefix {:?})",
                store.key_prefix
            )),
            Err(e) => fail(format!(
                "Redis at {place} does not answer ({e}): FastAdmin's admins and the PHP \
                 addon's members are not recognised"
            )),
        };
    }
    let Some(dir) = &config.php_session_dir else {
        return warn(
            "no store (php_session_dir or php_session_redis_url): admin pages answer \
             请登录后再操作, and members signed in on the PHP addon must sign in again"
                .into(),
        );
    };
    match std::fs::read_dir(dir) {
        Ok(_) => ok(format!("files in {}", dir.display())),
        Err(e) => fail(format!(
            "php_session_dir {} cannot be read: {e}",
            dir.display()
        )),
    }
}
