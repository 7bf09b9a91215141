//! The provision client against the stub server: outcomes and the original's error wording.

use std::time::Duration;

use chathub::clients::provision::{CallError, ProvisionClient, ProvisionPayload, ProvisionResult};
use chathub_tools::provision_stub::StubMode;

use crate::support::{PROVISION_KEY, start_stub};

fn payload() -> ProvisionPayload {
    ProvisionPayload {
        name: "Acme".into(),
        domain: "acme".into(),
        email: "a@example.com".into(),
        kind: "web_widget".into(),
        max_agents: 1,
    }
}

#[tokio::test]
async fn each_outcome_of_one_attempt() {
    let stub = start_stub(PROVISION_KEY).await;
    stub.set_hang_for(Duration::from_secs(3));
    let c = ProvisionClient::new();
    let t = Duration::from_secs(2);
    match c
        .provision(
            &stub.url(),
            PROVISION_KEY,
            "reg-0123456789abcdef",
            &payload(),
            t,
        )
        .await
    {
        ProvisionResult::Provisioned(p) => assert_eq!(p.inbox_id, Some(101)),
        other => panic!("{other:?}"),
    }
    let call = &stub.calls()[0];
    assert_eq!(call.header("x-api-key"), Some(PROVISION_KEY));
    assert_eq!(call.header("idempotency-key"), Some("reg-0123456789abcdef"));
    assert_eq!(call.header("content-type"), Some("application/json"));

    stub.set_mode(StubMode::Http500).await;
    let r = c
        .provision(&stub.url(), PROVISION_KEY, "k2", &payload(), t)
        .await;
    assert!(
        matches!(&r, ProvisionResult::Failed(e @ CallError::Http { status: 500, .. }) if e.log_text() == "HTTP 500"),
        "{r:?}"
    );

    stub.set_mode(StubMode::BadJson).await;
    assert!(matches!(
        c.provision(&stub.url(), PROVISION_KEY, "k3", &payload(), t)
            .await,
        ProvisionResult::InvalidBody(_)
    ));

    stub.set_mode(StubMode::Hang).await;
    match c
        .provision(
            &stub.url(),
            PROVISION_KEY,
            "k4",
            &payload(),
            Duration::from_millis(300),
        )
        .await
    {
        ProvisionResult::Failed(CallError::Transport(m)) => {
            assert!(
                m.starts_with("Operation timed out after ")
                    && m.ends_with(" milliseconds with 0 bytes received"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }

    stub.set_mode(StubMode::Down).await;
    let port = stub.addr().port();
    match c
        .provision(&stub.url(), PROVISION_KEY, "k5", &payload(), t)
        .await
    {
        ProvisionResult::Failed(CallError::Transport(m)) => {
            assert!(
                m.starts_with(&format!(
                    "Failed to connect to 127.0.0.1 port {port} after "
                )),
                "{m}"
            );
            assert!(m.ends_with(" ms: Couldn't connect to server"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn wrong_api_key_is_an_http_error_with_the_servers_message() {
    let stub = start_stub(PROVISION_KEY).await;
    let c = ProvisionClient::new();
    let (status, body) = c
        .activate(&stub.url(), "wrong", Some(111), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert_eq!(body, r#"{"error": "Invalid or missing X-API-Key"}"#);
    let (status, body) = c
        .suspend(
            &stub.url(),
            PROVISION_KEY,
            Some(111),
            "Alice Shop",
            "alice-shop",
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            r#"{"success": true, "message": "Inbox 111 suspended"}"#
        )
    );
    assert_eq!(
        stub.calls()[1].body,
        r#"{"inbox_id":111,"tenant_name":"Alice Shop","domain":"alice-shop"}"#
    );
}

/// `provision_server.py` replays a cached failure as `200 {"error": ...}`: a failure the
/// server answered (a retry needs a new key), not resources and not an unknown outcome.
#[tokio::test]
async fn a_cached_failure_answered_with_200_is_an_answered_failure() {
    let stub = start_stub(PROVISION_KEY).await;
    stub.cache_like_upstream(true);
    stub.set_mode(StubMode::Http500).await;
    let c = ProvisionClient::new();
    let t = Duration::from_secs(5);
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(
            c.provision(&stub.url(), PROVISION_KEY, "k", &payload(), t)
                .await,
        );
    }
    assert!(
        results.iter().all(|r| r.is_answered_failure()),
        "{results:?}"
    );
    assert!(
        matches!(&results[2], ProvisionResult::InvalidBody(b) if b.contains("simulated internal failure")),
        "{:?}",
        results[2]
    );
    stub.set_mode(StubMode::Hang).await;
    let r = c
        .provision(
            &stub.url(),
            PROVISION_KEY,
            "k9",
            &payload(),
            Duration::from_millis(300),
        )
        .await;
    assert!(!r.is_answered_failure() && r.is_unanswered(), "{r:?}");
}
