//! The compatibility runner can fail: its comparison reports exactly what was changed, and the
//! NOISE.md masks hide only noise (planted changes inside masked fields are still reported).

use chathub::clock::Clock;
use chathub_tools::compat::compare::{
    Actual, CompareOptions, Difference, actual_doc, compare, expected_doc,
};
use chathub_tools::compat::{dbstate, normalize, php_session};
use serde_json::{Value, json};

use crate::support::fixtures_dir;

fn fixture_json(rel: &str) -> Value {
    let p = fixtures_dir().join(rel);
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).expect("json")
}

fn options(masks: &[&str]) -> CompareOptions {
    CompareOptions {
        masks: masks.iter().map(|m| m.to_string()).collect(),
        expected_clock: 1_795_561_549,
        actual_clock: 1_795_561_549,
        tolerance_s: 3,
        provision_calls_at_most: false,
    }
}

fn paths(d: &[Difference]) -> Vec<String> {
    d.iter().map(|d| d.path.clone()).collect()
}

/// Replays public/001 (landing) against the real server on its group's seed and returns what
/// the comparison says for a given (possibly mutated) `expect`.
async fn landing_against(expect_edit: impl Fn(&mut Value)) -> Vec<Difference> {
    let fx = fixture_json("public/001-landing.json");
    let group = fixture_json("public/_group.json");
    let db = crate::support::TestDb::with_schema().await;
    dbstate::seed_group(&mut db.conn().await, &group)
        .await
        .unwrap();
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let now =
        chrono::DateTime::parse_from_str(fx["clock"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S%:z")
            .unwrap()
            .with_timezone(&chrono::Utc);
    let app = crate::support::spawn_app_on(db, &[], Some(Clock::fake(tz, now))).await;
    let resp = app.get(fx["request"]["path"].as_str().unwrap()).await;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.text().await.unwrap();
    let mut conn = app.db.conn().await;
    let db_after = dbstate::dump_db(&mut conn).await.unwrap();
    let actual = Actual {
        status,
        headers,
        body,
        db_after,
        provision_calls: vec![],
    };
    let mut expect = fx["expect"].clone();
    expect_edit(&mut expect);
    let o = CompareOptions {
        expected_clock: fx["clock_epoch"].as_f64().unwrap() as i64,
        actual_clock: now.timestamp(),
        ..options(&[])
    };
    compare(&expected_doc(&expect), &actual_doc(&actual, false), &o)
}

#[tokio::test]
async fn a_passing_fixture_passes_and_each_mutation_is_reported_at_its_field() {
    assert_eq!(landing_against(|_| {}).await, vec![]);

    let d = landing_against(|e| e["status"] = json!(201)).await;
    assert_eq!(paths(&d), ["status"]);

    let d = landing_against(|e| {
        let h =
            e["html"]
                .as_str()
                .unwrap()
                .replacen("<title>ChatHub - AI", "<title>ChatHub · AI", 1);
        e["html"] = json!(h);
    })
    .await;
    assert_eq!(paths(&d), ["body.page.title"]);

    let d = landing_against(|e| e["db_after"]["fa_user"][0]["nickname"] = json!("Alice Ltd")).await;
    assert_eq!(paths(&d), ["db_after.fa_user[id=2].nickname"]);

    let d = landing_against(|e| e["content_type"] = json!("text/html; charset=UTF-8")).await;
    assert_eq!(paths(&d), ["content_type"]);
}

fn doc(expect: Value) -> Value {
    expected_doc(&expect)
}

fn base() -> Value {
    json!({"status": 200, "location": null, "content_type": "text/html; charset=utf-8", "cors": {},
           "cookies": {"set": [], "cleared": []}, "text": "ok", "db_after": {}, "provision_calls": []})
}

fn with(f: impl Fn(&mut Value)) -> Value {
    let mut v = base();
    f(&mut v);
    doc(v)
}

#[test]
fn planted_visible_text_and_field_name_are_reported() {
    let page = |t: &str, field: &str| {
        with(|v| {
            v.as_object_mut().unwrap().remove("text");
            v["html"] = json!(format!("<p>{t}</p><form><input name={field}></form>"));
        })
    };
    let d = compare(
        &page("请登录", "email"),
        &page("请登陆", "email"),
        &options(&[]),
    );
    assert_eq!(d.len(), 1);
    assert!(d[0].path.starts_with("body.page.text"), "{d:?}");
    let d = compare(
        &page("请登录", "email"),
        &page("请登录", "mail"),
        &options(&[]),
    );
    assert_eq!(paths(&d), ["body.page.forms[0].fields[0].name"]);
}

#[test]
fn planted_location_parameter_is_reported_and_encoding_is_not() {
    let loc = |l: &str| with(|v| v["location"] = json!(l));
    let e = loc("/addons/chathub/index/login?error=%E8%AF%B7+x");
    assert_eq!(
        compare(
            &e,
            &loc("/addons/chathub/index/login?error=%E8%AF%B7%20x"),
            &options(&[])
        ),
        vec![]
    );
    let d = compare(
        &e,
        &loc("/addons/chathub/index/login?eror=%E8%AF%B7+x"),
        &options(&[]),
    );
    // A renamed parameter: the old one is gone, the new one appeared, each named.
    assert_eq!(paths(&d), ["location.query.eror", "location.query.error"]);
}

fn tenant_doc(epoch: i64, expire: &str) -> Value {
    with(|v| {
        v["db_after"] = json!({"fa_chathub_tenant": [
            {"id": 1, "createtime": epoch, "expire_at": expire, "config": "{\"plan\":\"pro\"}"}
        ]})
    })
}

#[test]
fn clock_masks_tolerate_seconds_but_report_a_day() {
    let o = options(&["now-epoch", "now-datetime"]);
    let now = 1_795_561_549;
    let e = tenant_doc(now, "2026-12-25 07:05:49");
    assert_eq!(
        compare(&e, &tenant_doc(now + 2, "2026-12-25 07:05:51"), &o),
        vec![]
    );
    let d = compare(&e, &tenant_doc(now + 86_400, "2026-12-25 07:05:49"), &o);
    assert_eq!(paths(&d), ["db_after.fa_chathub_tenant[id=1].createtime"]);
    let d = compare(&e, &tenant_doc(now, "2026-12-26 07:05:49"), &o);
    assert_eq!(paths(&d), ["db_after.fa_chathub_tenant[id=1].expire_at"]);
    // Without the masks the same few seconds are a difference.
    assert_eq!(
        compare(
            &e,
            &tenant_doc(now + 2, "2026-12-25 07:05:49"),
            &options(&[])
        )
        .len(),
        1
    );
}

#[test]
fn tenant_config_compares_by_value_and_double_encoding_shows() {
    let cfg =
        |c: &str| with(|v| v["db_after"] = json!({"fa_chathub_tenant": [{"id": 1, "config": c}]}));
    let e = cfg(r#"{"plan":"pro","price":60}"#);
    assert_eq!(
        compare(&e, &cfg(r#"{"price": 60, "plan": "pro"}"#), &options(&[])),
        vec![]
    );
    let d = compare(
        &e,
        &cfg(r#""{\"plan\":\"pro\",\"price\":60}""#),
        &options(&[]),
    );
    assert_eq!(paths(&d), ["db_after.fa_chathub_tenant[id=1].config.$json"]);
}

fn call(key: &str) -> Value {
    with(|v| {
        v["provision_calls"] = json!([{"method": "POST", "path": "/provision",
            "content_type": "application/json", "x_api_key": "k", "idempotency_key": key,
            "mode": "ok", "json": {"name": "A"}}])
    })
}

#[test]
fn idempotency_key_keeps_its_shape() {
    let o = options(&["idempotency-key"]);
    let e = call("reg-0123456789abcdef");
    assert_eq!(compare(&e, &call("reg-fedcba9876543210"), &o), vec![]);
    assert_eq!(
        paths(&compare(&e, &call("reg-XYZ"), &o)),
        ["provision_calls[0].idempotency_key"]
    );
    assert_eq!(
        paths(&compare(&e, &call("reg-0123456789ABCDEF"), &o)),
        ["provision_calls[0].idempotency_key"]
    );
}

fn register_result(shown: &str, stored: &str) -> Value {
    with(|v| {
        v.as_object_mut().unwrap().remove("text");
        v["html"] = json!(format!("<p>您的登录密码：{shown}</p>"));
        v["db_after"] = json!({"fa_chathub_tenant": [
            {"id": 1, "config": format!("{{\"initial_password\":\"{stored}\"}}")}
        ]});
    })
}

#[test]
fn shown_initial_password_must_be_the_stored_one() {
    let o = options(&["initial-password"]);
    let e = register_result("69e174ceae", "69e174ceae");
    assert_eq!(
        compare(&e, &register_result("0a1b2c3d4e", "0a1b2c3d4e"), &o),
        vec![]
    );
    let d = compare(&e, &register_result("0a1b2c3d4e", "ffffffffff"), &o);
    assert!(
        paths(&d).iter().any(|p| p.starts_with("body.page.text")),
        "{d:?}"
    );
}

fn renew(order_in_db: &str, order_in_link: &str) -> Value {
    with(|v| {
        v.as_object_mut().unwrap().remove("text");
        v["html"] = json!(format!(
            "<a href=\"/addons/chathub/index/payAlipay?order={order_in_link}\">支付宝</a>"
        ));
        v["db_after"] = json!({"fa_chathub_order": [{"id": 8, "order_no": order_in_db}]});
    })
}

#[test]
fn order_numbers_are_placeholders_that_must_agree_and_carry_their_time() {
    let o = options(&["order-number"]);
    let e = renew("CH20261125070549102", "CH20261125070549102");
    assert_eq!(
        compare(&e, &renew("CH20261125070550555", "CH20261125070550555"), &o),
        vec![]
    );
    assert!(!compare(&e, &renew("CH20261125070550555", "CH20261125070550556"), &o).is_empty());
    assert!(!compare(&e, &renew("CH20261126070549102", "CH20261126070549102"), &o).is_empty());
    // Our 16-digit numbers (COMPAT.md#random-order-numbers) match expectations of that shape
    // only, and an original-shape number inside a longer digit run is not taken for one.
    let ours = |n: &str| {
        renew(
            &format!("CH20261125070550{n}"),
            &format!("CH20261125070550{n}"),
        )
    };
    let e16 = renew(
        "CH202611250705490000000000000000",
        "CH202611250705490000000000000000",
    );
    assert_eq!(compare(&e16, &ours("8411093375521904"), &o), vec![]);
    assert!(!compare(&e, &ours("8411093375521904"), &o).is_empty());
    assert!(
        !compare(
            &e16,
            &renew("CH20261125070550555", "CH20261125070550555"),
            &o
        )
        .is_empty()
    );
    assert!(!compare(&e16, &ours("84110933755219"), &o).is_empty());
}

#[test]
fn alipay_sign_is_compared_when_the_timestamp_is_the_same() {
    let o = options(&["alipay-sign", "now-datetime"]);
    let loc = |ts: &str, sign: &str| {
        with(|v| {
            v["location"] = json!(format!(
                "https://openapi.alipay.com/gateway.do?timestamp={ts}&sign={sign}"
            ))
        })
    };
    let e = loc("2026-11-25+07%3A05%3A49", "AAA");
    assert_eq!(
        compare(&e, &loc("2026-11-25+07%3A05%3A50", "BBB"), &o),
        vec![]
    );
    assert_eq!(
        paths(&compare(&e, &loc("2026-11-25+07%3A05%3A49", "BBB"), &o)),
        ["location.query.sign"]
    );
}

#[test]
fn bcrypt_hashes_are_masked_by_shape_only() {
    let o = options(&["bcrypt-hash"]);
    let user = |pw: &str| with(|v| v["db_after"] = json!({"fa_user": [{"id": 7, "password": pw}]}));
    let e = user("$2y$10$UKGik.I5OjTnQ/5YMQ2a4OiEidWFn6/E.cqGgaUHvHS8k1TzOSAWe");
    assert_eq!(
        compare(
            &e,
            &user("$2y$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"),
            &o
        ),
        vec![]
    );
    assert_eq!(
        compare(&e, &user("5f4dcc3b5aa765d61d8327deb882cf99"), &o).len(),
        1
    );
}

#[test]
fn admin_session_file_is_php_serialize_with_byte_lengths() {
    assert_eq!(
        php_session::php_admin_session(1, "admin", "Admin", "5d1fbd57-7b41-4bc1-8b62-3fbb2c9be7a0"),
        "think|a:1:{s:5:\"admin\";a:4:{s:2:\"id\";i:1;s:8:\"username\";s:5:\"admin\";\
         s:8:\"nickname\";s:5:\"Admin\";s:5:\"token\";s:36:\"5d1fbd57-7b41-4bc1-8b62-3fbb2c9be7a0\";}}"
    );
    assert!(php_session::php_admin_session(1, "admin", "管理员", "t").contains("s:9:\"管理员\";"));
    let id = php_session::php_session_id();
    assert_eq!(id.len(), 26);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
    );
}

// ---- normaliser

#[test]
fn facts_ignore_markup_but_keep_what_users_see() {
    let a = normalize::page_facts(
        "<html><head><title> T </title><style>p{}</style></head><body>\n<p>Hello <b>wo</b>rld</p><div>x</div>\
             <script>var s='no';</script><a href=\"/l?a=1\">go</a>\
             <form method=POST action=\"/f\"><input name=email required><select name=plan>\
             <option value=basic selected>基础版</option></select><button>提交</button></form>\
             <button onclick=\"showEmbed('&lt;script&gt;\\nX')\">嵌入代码</button></body></html>",
    );
    let b = normalize::page_facts(
        "<!DOCTYPE html><html><head><title>T</title></head><body><p>Hello <b>wo</b>rld</p>\
             <div>x</div><a href=\"/l?a=1\">go</a><form action=\"/f\" method=\"post\">\
             <input required name=\"email\"><input type=hidden name=csrf value=zz>\
             <select name=\"plan\"><option selected value=\"basic\">基础版</option></select>\
             <button type=submit>提交</button></form>\
             <button data-embed=\"&lt;script&gt;&#10;X\">嵌入代码</button></body></html>",
    );
    assert_eq!(a["title"], "T");
    assert_eq!(a["text"], "Hello world x go 基础版 提交 嵌入代码");
    assert_eq!(a["text"], b["text"]);
    assert_eq!(a["forms"], b["forms"]);
    assert_eq!(a["links"], b["links"]);
    assert_eq!(a["data"], json!(["<script>\nX"]));
    assert_eq!(b["data"], json!(["<script>\nX"]));
}

#[test]
fn a_renamed_field_or_changed_text_is_visible_in_the_facts() {
    let a = normalize::page_facts("<form><input name=email></form><p>登录</p>");
    let b = normalize::page_facts("<form><input name=mail></form><p>登录</p>");
    let c = normalize::page_facts("<form><input name=email></form><p>登陆</p>");
    assert_ne!(a["forms"], b["forms"]);
    assert_eq!(a["text"], b["text"]);
    assert_ne!(a["text"], c["text"]);
}

fn member_center(links: &[&str]) -> Value {
    with(|v| {
        v.as_object_mut().unwrap().remove("text");
        let html: String = links
            .iter()
            .map(|q| format!("<a href=\"/addons/chathub/index/reprovision?ids={q}\">重新开通</a>"))
            .collect();
        v["html"] = json!(html);
    })
}

/// COMPAT.md#reprovision-link-token: the session token on a link is a per-session random value,
/// read as a placeholder; it must be there, be 32 hex, and be the same token on every link.
#[test]
fn session_tokens_on_links_are_placeholders_that_must_agree() {
    let o = options(&[]);
    let zeros = "0".repeat(32);
    let ours = "0180524f48d53939e87bc5bf04e712eb";
    let other = "89dc2a47ad48bff7dee47355b199d36a";
    let e = member_center(&[&format!("13&token={zeros}"), &format!("14&token={zeros}")]);
    let same = member_center(&[&format!("13&token={ours}"), &format!("14&token={ours}")]);
    assert_eq!(compare(&e, &same, &o), vec![]);
    let two = member_center(&[&format!("13&token={ours}"), &format!("14&token={other}")]);
    assert_eq!(paths(&compare(&e, &two, &o)), ["body.page.links[1].href"]);
    let missing = member_center(&["13", &format!("14&token={ours}")]);
    assert!(!compare(&e, &missing, &o).is_empty());
    let short = member_center(&[
        &format!("13&token={}", &ours[..31]),
        &format!("14&token={ours}"),
    ]);
    assert!(!compare(&e, &short, &o).is_empty());
    let wrong_id = member_center(&[&format!("16&token={ours}"), &format!("14&token={ours}")]);
    assert!(!compare(&e, &wrong_id, &o).is_empty());
}

#[test]
fn the_runner_finds_the_token_a_page_hands_out() {
    let token = "0180524f48d53939e87bc5bf04e712eb";
    let form = format!(
        "<form method=post><input type=hidden name=csrf_token value={token}><input name=old_password></form>"
    );
    assert_eq!(normalize::page_token(&form).as_deref(), Some(token));
    let channel =
        format!("<form method=post><input type=hidden name=__token__ value={token}></form>");
    assert_eq!(normalize::page_token(&channel).as_deref(), Some(token));
    let link = format!(
        "<a href=\"/addons/chathub/index/reprovision?ids=13&amp;token={token}\">重新开通</a>"
    );
    assert_eq!(normalize::page_token(&link).as_deref(), Some(token));
    assert_eq!(normalize::page_token("<a href=\"/my?ids=1\">x</a>"), None);
}
