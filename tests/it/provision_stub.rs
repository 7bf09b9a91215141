//! The stub provision server answers like the recorded fake (it backs `dev`, tests, bench).

use chathub_tools::provision_stub::StubMode;

use crate::support::{PROVISION_KEY, start_stub};

async fn post(url: &str, key: Option<&str>, idem: Option<&str>, body: &str) -> (u16, String) {
    let mut rb = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        rb = rb.header("X-API-Key", k);
    }
    if let Some(i) = idem {
        rb = rb.header("Idempotency-Key", i);
    }
    match rb.send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap()),
        Err(_) => (0, String::new()),
    }
}

#[tokio::test]
async fn provision_answers_deterministically_and_honours_idempotency_keys() {
    let stub = start_stub(PROVISION_KEY).await;
    let url = format!("{}/provision", stub.url());
    let body = r#"{"name":"Alice Second Shop","domain":"alice2","email":"alice@example.com","type":"web_widget","max_agents":2}"#;
    let (status, out) = post(&url, Some(PROVISION_KEY), Some("reg-1"), body).await;
    assert_eq!(status, 200);
    assert!(out.starts_with(r#"{"inbox_id": 101, "inbox_token": "6c3c62f023e7bb9d224c4211", "inbox_name": "Alice Second Shop", "team_id": 201, "team_name": "Alice Second Shop \u5ba2\u670d\u56e2\u961f""#), "{out}");
    assert!(out.contains(r#""agent_cw_password": "Cw9fa2c9345bbd!""#));
    assert!(out.contains("websiteToken:\\\"eaf6a3e42895ccc2e58c05fb\\\""));
    let (_, again) = post(&url, Some(PROVISION_KEY), Some("reg-1"), body).await;
    assert_eq!(
        again, out,
        "a repeated Idempotency-Key returns the cached body"
    );
    let (_, next) = post(&url, Some(PROVISION_KEY), Some("reg-2"), body).await;
    assert!(next.starts_with(r#"{"inbox_id": 102"#));
    assert_eq!(stub.calls().len(), 3);
}

#[tokio::test]
async fn wrong_key_validation_and_modes() {
    let stub = start_stub(PROVISION_KEY).await;
    let act = format!("{}/activate", stub.url());
    assert_eq!(
        post(&act, None, None, r#"{"inbox_id":111}"#).await,
        (401, r#"{"error": "Invalid or missing X-API-Key"}"#.into())
    );
    assert_eq!(
        post(&act, Some(PROVISION_KEY), None, r#"{"inbox_id":111}"#).await,
        (
            200,
            r#"{"success": true, "message": "Inbox 111 activated"}"#.into()
        )
    );
    let prov = format!("{}/provision", stub.url());
    assert_eq!(
        post(&prov, Some(PROVISION_KEY), None, r#"{"domain":"x"}"#).await,
        (400, r#"{"error": "name is required"}"#.into())
    );
    stub.set_mode(StubMode::Http500).await;
    assert_eq!(post(&prov, Some(PROVISION_KEY), None, "{}").await.0, 500);
    stub.set_mode(StubMode::Down).await;
    assert_eq!(
        post(&prov, Some(PROVISION_KEY), None, "{}").await.0,
        0,
        "connection refused"
    );
    stub.set_mode(StubMode::Ok).await;
    assert_eq!(
        post(&prov, Some(PROVISION_KEY), None, "{}").await,
        (400, r#"{"error": "name is required"}"#.into())
    );
}

#[tokio::test]
async fn like_upstream_a_failed_answer_is_replayed_per_key_and_from_the_third_hit_as_200() {
    let stub = start_stub(PROVISION_KEY).await;
    stub.cache_like_upstream(true);
    stub.set_mode(StubMode::Http500).await;
    let url = format!("{}/provision", stub.url());
    let body = r#"{"name":"Acme","domain":"acme","email":"a@example.com","type":"web_widget","max_agents":1}"#;
    let failure = r#"{"error": "Chatwoot API error: simulated internal failure"}"#;
    assert_eq!(
        post(&url, Some(PROVISION_KEY), Some("k1"), body).await,
        (500, failure.into())
    );
    // Chatwoot is back, but the key's answer is cached: its status once more, then 200.
    stub.set_mode(StubMode::Ok).await;
    assert_eq!(
        post(&url, Some(PROVISION_KEY), Some("k1"), body).await,
        (500, failure.into())
    );
    assert_eq!(
        post(&url, Some(PROVISION_KEY), Some("k1"), body).await,
        (200, failure.into())
    );
    assert_eq!(
        post(&url, Some(PROVISION_KEY), Some("k1"), body).await,
        (200, failure.into())
    );
    // Validation comes before the cache; a new key is provisioned.
    assert_eq!(
        post(&url, Some(PROVISION_KEY), Some("k1"), "{}").await,
        (400, r#"{"error": "name is required"}"#.into())
    );
    let (status, out) = post(&url, Some(PROVISION_KEY), Some("k2"), body).await;
    assert_eq!(status, 200);
    assert!(out.starts_with(r#"{"inbox_id": 101"#), "{out}");
    // Failing domains fail in every answering mode.
    stub.set_failing_domains(&["acme"]);
    assert_eq!(
        post(&url, Some(PROVISION_KEY), Some("k3"), body).await.0,
        500
    );
}
