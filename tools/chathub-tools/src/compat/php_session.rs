//! The PHP session FastAdmin writes when an admin signs in (the runner and the toolkit's tests
//! play FastAdmin).

pub fn php_session_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    use rand::Rng as _;
    let mut n: u128 = rand::thread_rng().r#gen();
    (0..26)
        .map(|_| {
            let c = ALPHABET[(n % 32) as usize] as char;
            n /= 32;
            c
        })
        .collect()
}

/// PHP's `session_encode()` of ThinkPHP's `think` prefix holding FastAdmin's admin array.
pub fn php_admin_session(id: u64, username: &str, nickname: &str, token: &str) -> String {
    let s = |v: &str| format!("s:{}:\"{v}\";", v.len());
    format!(
        "think|a:1:{{{}a:4:{{{}i:{id};{}{}{}{}{}{}}}}}",
        s("admin"),
        s("id"),
        s("username"),
        s(username),
        s("nickname"),
        s(nickname),
        s("token"),
        s(token),
    )
}
