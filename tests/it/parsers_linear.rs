//! Every parser of outside input runs in (near) linear time up to the request body limit.
//!
//! One anonymous request must not be able to buy seconds of CPU (issue 15.2: a 0.97 MB Alipay
//! notification with 120k parameters took 33 s). Each case builds an adversarial input of
//! 1/64 of the body limit and of the full limit and compares the best of several CPU times: a
//! linear parser takes about 64 times as long on the larger one, a quadratic one about 4096
//! times. The bound (384) leaves room for cache misses on the larger input (they alone cost
//! up to 5x on memory-bound parsers) and a busy machine, and a case fails only when three
//! separate measurements all exceed it (or one exceeds it fourfold). No absolute time is
//! asserted.

use std::time::Duration;

use chathub::domain::php::Params;

/// The default `max_body_bytes`.
const BODY_LIMIT: usize = 1024 * 1024;
const SMALL: usize = BODY_LIMIT / 64;
const MAX_RATIO: f64 = 384.0;

const PUBLIC_KEY: &str = include_str!("../fixtures/keys/alipay_platform_public.pem");

/// CPU time of this thread: unlike wall-clock time, it does not grow when a loaded machine
/// preempts a long run more often than a short one.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass and nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn best_of(reps: usize, f: &mut dyn FnMut()) -> Duration {
    (0..reps)
        .map(|_| {
            let t = thread_cpu_time();
            f();
            thread_cpu_time() - t
        })
        .min()
        .unwrap()
}

/// `make(n)` builds an input of about `n` bytes; `run` parses it.
fn assert_linear<T>(name: &str, make: impl Fn(usize) -> T, run: impl Fn(&T)) {
    let small = make(SMALL);
    let large = make(BODY_LIMIT);
    let mut ratios = Vec::new();
    for _ in 0..3 {
        let t_small = best_of(15, &mut || run(&small));
        // A sub-microsecond run says nothing; count it as one microsecond.
        let ratio_of = |t: Duration| t.as_secs_f64() / t_small.as_secs_f64().max(1e-6);
        let first = best_of(1, &mut || run(&large));
        // Far past the bound: super-linear for sure, and another run of a quadratic parser
        // would only cost minutes more.
        if ratio_of(first) > 4.0 * MAX_RATIO {
            ratios.push(format!("{:.1} ({t_small:?} -> {first:?})", ratio_of(first)));
            break;
        }
        let t_large = first.min(best_of(2, &mut || run(&large)));
        let ratio = ratio_of(t_large);
        if ratio < MAX_RATIO {
            return;
        }
        ratios.push(format!("{ratio:.1} ({t_small:?} -> {t_large:?})"));
    }
    panic!(
        "{name}: 64x the input took more than {MAX_RATIO}x the CPU time: {}",
        ratios.join(", ")
    );
}

/// `prefix{i}=value&…` up to `n` bytes, every name different.
fn distinct_pairs(n: usize, prefix: &str, suffix: &str) -> String {
    let mut s = String::with_capacity(n + 64);
    let mut i = 0usize;
    while s.len() < n {
        s.push_str(&format!("{prefix}{i}{suffix}=v&"));
        i += 1;
    }
    s
}

#[test]
fn urlencoded_bodies() {
    assert_linear(
        "parse_urlencoded (distinct names)",
        |n| distinct_pairs(n, "k", ""),
        |s| {
            Params::parse_urlencoded(s.as_bytes()).unwrap();
        },
    );
    assert_linear(
        "parse_urlencoded (escapes)",
        |n| "%41+%e4%b8%ad%".repeat(n / 14),
        |s| {
            Params::parse_urlencoded(s.as_bytes()).unwrap();
        },
    );
    assert_linear(
        "Params::get (one name repeated)",
        |n| Params::parse_urlencoded("a=1&".repeat(n / 4).as_bytes()).unwrap(),
        |p| {
            assert!(p.get("a").is_some() && p.get("missing").is_none());
        },
    );
}

// Params::array used to drop an earlier value of the same key with `retain` on every element:
// quadratic in the number of distinct keys (issue 15.2).
#[test]
fn php_form_arrays() {
    assert_linear(
        "Params::array (distinct keys)",
        |n| Params::parse_urlencoded(distinct_pairs(n, "row[k", "]").as_bytes()).unwrap(),
        |p| {
            assert!(!p.array("row").is_empty());
        },
    );
}

#[test]
fn json_bodies() {
    let object = |n: usize, nested: bool| {
        let mut s = String::from(if nested { "{\"row\":{" } else { "{" });
        let mut i = 0;
        while s.len() < n {
            s.push_str(&format!("\"k{i}\":\"v\","));
            i += 1;
        }
        s.push_str("\"last\":1}");
        if nested {
            s.push('}');
        }
        s
    };
    assert_linear(
        "Params::from_json (flat)",
        |n| object(n, false),
        |s| {
            let v: serde_json::Value = serde_json::from_str(s).unwrap();
            Params::from_json(&v).unwrap();
        },
    );
    assert_linear(
        "Params::from_json (nested)",
        |n| object(n, true),
        |s| {
            let v: serde_json::Value = serde_json::from_str(s).unwrap();
            Params::from_json(&v).unwrap();
        },
    );
}

#[test]
fn routing() {
    assert_linear(
        "routing::resolve (PATHINFO pairs)",
        |n| {
            format!(
                "/addons/chathub/index/payReturn{}",
                "/k%41/v%42".repeat(n / 10)
            )
        },
        |p| {
            chathub::web::routing::resolve(p, None, "admin.php");
        },
    );
    assert_linear(
        "routing::resolve (ThinkPHP s= with PATHINFO pairs and other parameters)",
        |n| {
            format!(
                "a=1&s=/addons/chathub/index/payReturn{}&b=2",
                "/k%41/v%42".repeat(n / 10)
            )
        },
        |q| {
            chathub::web::routing::resolve("/index.php", Some(q), "admin.php");
        },
    );
}

#[test]
fn cookies() {
    assert_linear(
        "KeepLogin::parse",
        |n| format!("1%7C86400%7C1795648047%7C{}", "a%7C".repeat(n / 4)),
        |s| {
            chathub::services::admin_auth::KeepLogin::parse(s);
        },
    );
    assert_linear(
        "Request::cookie (many pairs)",
        |n| {
            let header = distinct_pairs(n, "c", "").replace('&', "; ");
            let (parts, ()) = http::Request::builder()
                .uri("/addons/chathub/index/my")
                .header("cookie", header)
                .body(())
                .unwrap()
                .into_parts();
            chathub::web::http::Request::new(
                "t".into(),
                parts,
                bytes::Bytes::new(),
                "127.0.0.1:1".parse().unwrap(),
                &[],
                chathub::web::routing::Route::NotFound,
            )
            .unwrap()
        },
        |req| {
            assert!(req.cookie("chathub_session").is_none());
        },
    );
}

#[test]
fn php_session_files() {
    let file = |n: usize| {
        let mut entries = String::new();
        let mut count = 0;
        // Stays under php_serialize::MAX_INPUT, which refuses larger files outright.
        while entries.len() < n - 100 {
            entries.push_str(&format!("i:{count};s:5:\"hello\";"));
            count += 1;
        }
        format!("think|a:{count}:{{{entries}}}")
    };
    assert_linear("php_serialize::parse_session", file, |s| {
        chathub::domain::php_serialize::parse_session(s.as_bytes()).unwrap();
    });
}

#[test]
fn fastadmin_files() {
    assert_linear(
        "config::parse_ini_section",
        |n| {
            let mut s = String::from("[database]\n");
            let mut i = 0;
            while s.len() < n {
                s.push_str(&format!("key{i} = \"value\"\n"));
                i += 1;
            }
            s
        },
        |s| {
            chathub::config::parse_ini_section(s, "database");
        },
    );
    assert_linear(
        "config::parse_config_php",
        |n| {
            let mut s = String::from("<?php\nreturn [\n");
            let mut i = 0;
            while s.len() < n {
                s.push_str(&format!(
                    "['name' => 'k{i}', 'value' => 'v', 'content' => array()],\n"
                ));
                i += 1;
            }
            s.push_str("];\n");
            s
        },
        |s| {
            chathub::config::parse_config_php(s);
        },
    );
}

// verify_notify used to keep the last value of each name with `retain` per parameter:
// quadratic in the number of names (issue 15.2, 33 s of CPU for one 0.97 MB notification).
#[test]
fn alipay_notifications() {
    assert_alipay_linear("alipay::verify_notify (distinct names)", |n| {
        distinct_pairs(n, "k", "")
    });
}

#[test]
fn alipay_notification_with_repeated_names() {
    // One name repeated was the shape that stayed linear before the fix; it guards it too.
    assert_alipay_linear("alipay::verify_notify (one name repeated)", |n| {
        "k=v&".repeat(n / 4)
    });
}

/// A forged notification (the form `body(n)` plus a bogus `sign`) is refused in linear time.
fn assert_alipay_linear(name: &str, body: impl Fn(usize) -> String) {
    assert_linear(
        name,
        |n| {
            let mut p = Params::parse_urlencoded(body(n).as_bytes()).unwrap().0;
            p.push(("sign".into(), "AAAA".into()));
            p
        },
        |p| {
            assert!(chathub::clients::pay::alipay::verify_notify(p, PUBLIC_KEY).is_err());
        },
    );
}

#[test]
fn wechat_notifications() {
    use chathub::clients::pay::wechat::{
        NotifyHeaders, decrypt_notification, verify_notify_signature,
    };
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    let mut platform = chathub::clients::pay::wechat::KeySet::default();
    platform.set_any_serial(chathub::clients::pay::parse_public_key(PUBLIC_KEY).unwrap());
    assert_linear(
        "wechat envelope, signature and resource",
        |n| {
            let ct = "A".repeat(n / 4 * 4);
            format!(
                r#"{{"id":"x","resource":{{"algorithm":"AEAD_AES_256_GCM","ciphertext":"{ct}","associated_data":"transaction","nonce":"nonce0123456"}}}}"#
            )
        },
        |body| {
            let headers = NotifyHeaders {
                timestamp: Some("1795561549"),
                nonce: Some("n"),
                signature: Some("AAAA"),
                serial: None,
            };
            assert!(
                verify_notify_signature(&headers, body.as_bytes(), &platform, 1_795_561_549)
                    .is_err()
            );
            assert!(decrypt_notification(body.as_bytes(), KEY).is_err());
        },
    );
}

#[test]
fn provision_answers() {
    assert_linear(
        "Provisioned::from_body",
        |n| {
            let mut s = String::from("{\"inbox_id\":1,");
            let mut i = 0;
            while s.len() < n {
                s.push_str(&format!("\"k{i}\":[1,{{\"a\":\"b\"}}],"));
                i += 1;
            }
            s.push_str("\"embed_code\":\"<script>\"}");
            s
        },
        |s| {
            assert!(chathub::domain::tenant::Provisioned::from_body(s).is_some());
        },
    );
}
