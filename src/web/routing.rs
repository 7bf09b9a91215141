//! ThinkPHP 5 / FastAdmin URL rules for the addon, in one place.
//!
//! Every quirk kept here is one the recordings of the original show (golden README §27).

use crate::domain::action::Action;
use crate::domain::php::{rawurldecode_lossy, urldecode_lossy};

/// What a request path resolved to.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// A controller method of the addon, with PATHINFO `/<key>/<value>` pairs after it.
    Action {
        action: Action,
        via_admin_entry: bool,
        path_params: Vec<(String, String)>,
    },
    /// `/addons/chathub/index/<name>` where `<name>` is not a public method (private helpers,
    /// `landing.json`, typos): the original sends these through FastAdmin's admin-login check.
    UnknownAction {
        name: String,
    },
    /// Liveness and readiness probes (outside the addon's URL space).
    Health,
    Ready,
    Metrics,
    /// Anything else: FastAdmin's 404 page.
    NotFound,
}

/// Resolve a request (path and raw query string) against the addon's URL rules, the way
/// ThinkPHP 5 behind FastAdmin's nginx rules would dispatch it.
///
/// ThinkPHP has two ways to name the route: the URL path (PATH_INFO) and its "compatibility
/// mode" query parameter `s` (`var_pathinfo`). `Request::pathinfo()` checks `$_GET['s']`
/// first: when it is set, its value *replaces* PATH_INFO whatever the path says, and `s` is
/// removed from the GET parameters. So `/index.php?s=/addons/chathub/index/landing`,
/// `/?s=addons/chathub/index/landing` and even `/any/missing/page?s=/addons/...` (FastAdmin's
/// `try_files ... /index.php?s=$uri&$args` puts its own `s` first, and PHP keeps the last one)
/// all run the addon's `landing`. `pathinfo()` then only strips leading `/`, `path()` strips a
/// `.html` suffix in any letter case, and the router splits on `/`; see [`dispatch`].
pub fn resolve(path: &str, query: Option<&str>, admin_entry: &str) -> Route {
    let s = query.and_then(thinkphp_s_param);
    if s.is_none() {
        match path {
            "/healthz" => return Route::Health,
            "/readyz" => return Route::Ready,
            "/metrics" => return Route::Metrics,
            _ => {}
        }
    }
    // PHP sees the URI nginx decoded and with `//` merged (`merge_slashes`).
    let decoded = rawurldecode_lossy(path);
    let mut segs: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();

    // `/<admin_entry>/addons/...`: where the original's admin pages link. FastAdmin itself
    // answers 404 there (its admin entry disables routing); we serve the admin actions so
    // those links work (COMPAT.md#admin-entry-links). With `?s=` on the admin entry the same
    // holds for the route `s` names.
    let mut via_admin_entry = false;
    if segs
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case(admin_entry))
    {
        via_admin_entry = true;
        segs.remove(0);
    } else if segs.first() == Some(&"index.php") {
        // FastAdmin's front entry with explicit PATH_INFO reaches the same route.
        segs.remove(0);
    }
    match s {
        Some(SParam::Path(pathinfo)) => dispatch(&pathinfo, via_admin_entry),
        // `s[]=...` makes `$_GET['s']` an array: ThinkPHP fails with an error page.
        Some(SParam::Array) => Route::NotFound,
        None => dispatch(&segs.join("/"), via_admin_entry),
    }
}

/// The value of `$_GET['s']` as PHP would build it from the raw query string.
enum SParam {
    Path(String),
    Array,
}

/// PHP's query parsing, as far as it decides whether `$_GET['s']` exists: pairs split on `&`,
/// names and values URL-decoded (`+` is a space), leading spaces of a name dropped, a name cut
/// at a decoded NUL (`%73=`, `+s=`, `s%00x=` all set `s`), and the last assignment wins
/// (`?s=/index/index&s=/addons/chathub/...` runs the addon).
fn thinkphp_s_param(query: &str) -> Option<SParam> {
    let mut last = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = urldecode_lossy(name);
        let name = name
            .split('\0')
            .next()
            .unwrap_or("")
            .trim_start_matches(' ');
        if name == "s" {
            last = Some(SParam::Path(urldecode_lossy(value)));
        } else if name.starts_with("s[") {
            last = Some(SParam::Array);
        }
    }
    last
}

/// ThinkPHP's routing of a PATH_INFO (already decoded) against the one rule FastAdmin's addon
/// package registers, `addons/:addon/[:controller]/[:action]`:
/// - `pathinfo()` strips leading `/`; `path()` strips the `url_html_suffix` (`html`) at the end,
///   case-insensitively (`/\.(html)$/i`), so `landing.HTML` binds `landing`, while any other
///   suffix stays part of the segment (`landing.json` is an unknown action);
/// - `Route::check` turns the `/` separators into `|` and splits on `|`, so a literal `|` is a
///   separator too (`addons|chathub|index|landing`), and drops trailing separators;
/// - `addons` is compared case-insensitively; the addon name is lower-cased (`url_convert`)
///   and then looked up through `Loader::parseName`, which trims `_`, so `_ChatHub_` is the
///   addon; an empty name fails;
/// - an empty or missing controller or action is `index` (`addons/chathub//payNotify` runs
///   `index/payNotify`); the controller class name is `parseName($c, 1)` of the lower-cased
///   name, so only `index` and `_index` find `controller\Index`;
/// - anything after the action is `/<key>/<value>` PATHINFO parameters.
fn dispatch(pathinfo: &str, via_admin_entry: bool) -> Route {
    let p = pathinfo.trim_start_matches('/');
    let p = match p.len().checked_sub(5) {
        Some(cut) if p.is_char_boundary(cut) && p[cut..].eq_ignore_ascii_case(".html") => &p[..cut],
        _ => p,
    };
    let p = p.trim_end_matches(['/', '|']);
    let m: Vec<&str> = p.split(['/', '|']).collect();
    if m.len() < 2 || !m[0].eq_ignore_ascii_case("addons") {
        return Route::NotFound;
    }
    if m[1].to_ascii_lowercase().trim_matches('_') != "chathub" {
        return Route::NotFound;
    }
    let segment = |i: usize| m.get(i).copied().filter(|s| !s.is_empty());
    let controller = segment(2).unwrap_or("index");
    if !(controller.eq_ignore_ascii_case("index") || controller.eq_ignore_ascii_case("_index")) {
        return Route::NotFound;
    }
    let action_seg = segment(3).unwrap_or("index");
    let path_params = m
        .get(4..)
        .unwrap_or(&[])
        .chunks(2)
        .map(|pair| {
            let value = pair.get(1).copied().unwrap_or_default();
            (pair[0].to_string(), value.to_string())
        })
        .collect();
    match Action::from_segment(action_seg) {
        Some(action) if via_admin_entry && !action.is_admin() => Route::NotFound,
        Some(action) => Route::Action {
            action,
            via_admin_entry,
            path_params,
        },
        None if via_admin_entry => Route::NotFound,
        None => Route::UnknownAction {
            name: action_seg.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "pGTnXkhdmy.php";

    fn action(path: &str) -> Option<(Action, Vec<(String, String)>)> {
        match resolve(path, None, ENTRY) {
            Route::Action {
                action,
                path_params,
                ..
            } => Some((action, path_params)),
            _ => None,
        }
    }

    #[test]
    fn action_names_are_case_insensitive() {
        for p in [
            "/addons/chathub/index/registerPage",
            "/addons/chathub/index/registerpage",
            "/addons/chathub/index/REGISTERPAGE",
        ] {
            assert_eq!(action(p).unwrap().0, Action::RegisterPage, "{p}");
        }
    }

    #[test]
    fn html_suffix_and_trailing_slash_are_accepted() {
        assert_eq!(
            action("/addons/chathub/index/landing.html").unwrap().0,
            Action::Landing
        );
        assert_eq!(
            action("/addons/chathub/index/landing/").unwrap().0,
            Action::Landing
        );
    }

    #[test]
    fn other_suffixes_make_an_unknown_action() {
        assert_eq!(
            resolve("/addons/chathub/index/landing.json", None, ENTRY),
            Route::UnknownAction {
                name: "landing.json".into()
            }
        );
        assert_eq!(
            resolve("/addons/chathub/index/render", None, ENTRY),
            Route::UnknownAction {
                name: "render".into()
            }
        );
    }

    #[test]
    fn controller_and_addon_names_are_case_insensitive() {
        assert_eq!(
            action("/addons/chathub/Index/landing").unwrap().0,
            Action::Landing
        );
        assert_eq!(
            action("/addons/CHATHUB/index/landing").unwrap().0,
            Action::Landing
        );
    }

    #[test]
    fn pathinfo_pairs_become_parameters() {
        let (a, p) = action("/addons/chathub/index/payNotify/pay_method/alipay").unwrap();
        assert_eq!(a, Action::PayNotify);
        assert_eq!(p, vec![("pay_method".into(), "alipay".into())]);
        let (_, p) =
            action("/addons/chathub/index/payReturn/order/CH20261125070642102.html").unwrap();
        assert_eq!(p, vec![("order".into(), "CH20261125070642102".into())]);
        let (_, p) = action("/addons/chathub/index/del/ids/15").unwrap();
        assert_eq!(p, vec![("ids".into(), "15".into())]);
    }

    #[test]
    fn missing_controller_or_action_defaults_to_index() {
        assert_eq!(action("/addons/chathub").unwrap().0, Action::Index);
        assert_eq!(action("/addons/chathub/index").unwrap().0, Action::Index);
    }

    #[test]
    fn unknown_controller_addon_and_foreign_paths_are_not_found() {
        assert_eq!(
            resolve("/addons/chathub/nosuch/landing", None, ENTRY),
            Route::NotFound
        );
        assert_eq!(
            resolve("/addons/nosuchaddon/index/landing", None, ENTRY),
            Route::NotFound
        );
        assert_eq!(resolve("/", None, ENTRY), Route::NotFound);
        assert_eq!(
            resolve("/assets/css/backend.css", None, ENTRY),
            Route::NotFound
        );
    }

    #[test]
    fn explicit_front_entry_reaches_the_addon() {
        assert_eq!(
            action("/index.php/addons/chathub/index/landing").unwrap().0,
            Action::Landing
        );
    }

    #[test]
    fn admin_entry_serves_admin_actions_only() {
        match resolve(
            "/pGTnXkhdmy.php/addons/chathub/index/dashboard",
            None,
            ENTRY,
        ) {
            Route::Action {
                action: Action::Dashboard,
                via_admin_entry: true,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            resolve("/pGTnXkhdmy.php/addons/chathub/index/landing", None, ENTRY),
            Route::NotFound
        );
        assert_eq!(resolve("/pGTnXkhdmy.php", None, ENTRY), Route::NotFound);
    }

    #[test]
    fn percent_encoded_path_values_are_decoded() {
        let (_, p) = action("/addons/chathub/index/my/error/%E7%A7%9F%E6%88%B7").unwrap();
        assert_eq!(p[0].1, "租户");
    }

    /// Resolve a request target (`path?query`) as the server does.
    fn at(target: &str) -> Route {
        match target.split_once('?') {
            Some((path, query)) => resolve(path, Some(query), ENTRY),
            None => resolve(target, None, ENTRY),
        }
    }

    #[test]
    fn html_suffix_is_stripped_in_any_case() {
        assert_eq!(
            at("/addons/chathub/index/landing.HTML"),
            at("/addons/chathub/index/landing")
        );
        let (_, p) = action("/addons/chathub/index/payReturn/order/CH1.Html").unwrap();
        assert_eq!(p, vec![("order".into(), "CH1".into())]);
    }

    #[test]
    fn the_s_parameter_names_the_route_like_the_path() {
        let wechat = Route::Action {
            action: Action::PayNotify,
            via_admin_entry: false,
            path_params: vec![("pay_method".into(), "wechat".into())],
        };
        for target in [
            "/index.php?s=/addons/chathub/index/payNotify/pay_method/wechat",
            "/index.php?s=addons/chathub/index/payNotify/pay_method/wechat",
            "/?s=/addons/chathub/index/payNotify/pay_method/wechat",
            "/?s=//addons/chathub/index/paynotify/pay_method/wechat.html",
            "/index.php?s=/ADDONS/ChatHub/Index/PAYNOTIFY/pay_method/wechat.HTML",
            "/index.php?s=%2Faddons%2Fchathub%2Findex%2FpayNotify%2Fpay_method%2Fwechat",
            "/index.php?x=1&s=/addons/chathub/index/payNotify/pay_method/wechat&y=2",
            // PHP's name decoding: `%73` is `s`, leading spaces dropped, cut at NUL.
            "/index.php?%73=/addons/chathub/index/payNotify/pay_method/wechat",
            "/index.php?+s=/addons/chathub/index/payNotify/pay_method/wechat",
            "/index.php?s%00x=/addons/chathub/index/payNotify/pay_method/wechat",
            // The last `s` wins; `s` beats the path (try_files puts `s=$uri` first).
            "/?s=/index/index&s=/addons/chathub/index/payNotify/pay_method/wechat",
            "/no/such/page?s=/addons/chathub/index/payNotify/pay_method/wechat",
            "/index.php/index/user/login?s=/addons/chathub/index/payNotify/pay_method/wechat",
            "/assets/x.css?s=/addons/chathub/index/payNotify/pay_method/wechat",
            // ThinkPHP's router: `|` separates, `_` around the addon name is trimmed,
            // `_index` is the Index controller, an empty controller is `index`.
            "/?s=addons|chathub|index|payNotify|pay_method|wechat",
            "/?s=/addons/_chathub_/index/payNotify/pay_method/wechat",
            "/?s=/addons/chathub/_index/payNotify/pay_method/wechat",
            "/?s=/addons/chathub//payNotify/pay_method/wechat",
        ] {
            assert_eq!(at(target), wechat, "{target}");
        }
        assert_eq!(
            at("/index.php?s=/addons/chathub/index/landing"),
            at("/addons/chathub/index/landing")
        );
        assert_eq!(at("/?s=/addons/chathub"), at("/addons/chathub"));
        assert_eq!(
            at("/?s=/addons/chathub/index/render"),
            at("/addons/chathub/index/render")
        );
        assert_eq!(
            at("/?s=/addons/chathub/index/my/error/%E7%A7%9F%E6%88%B7"),
            at("/addons/chathub/index/my/error/%E7%A7%9F%E6%88%B7")
        );
    }

    #[test]
    fn the_same_quirks_hold_for_the_path_form() {
        assert_eq!(
            at("/addons/_chathub/index/landing"),
            at("/addons/chathub/index/landing")
        );
        assert_eq!(
            at("/addons%7Cchathub%7Cindex%7Clanding"),
            at("/addons/chathub/index/landing")
        );
        assert_eq!(
            at("/addons/%63hathub/index/landing"),
            at("/addons/chathub/index/landing")
        );
    }

    #[test]
    fn s_on_a_route_outside_the_addon_stays_fastadmins() {
        for target in [
            "/?s=/index/user/login",
            "/index.php?s=",
            "/index.php?s",
            "/?s=/addons/chathubx/index/landing",
            "/?s=/addons/other/index/index",
            "/?s=/addons//chathub/index/landing",
            "/?s=/addons/chathub/nosuch/landing",
            "/?s=/addons/chathub/index_/landing",
            "/?s=x/addons/chathub/index/landing",
            // `$_GET` is case-sensitive; `S` is another parameter.
            "/?S=/addons/chathub/index/landing",
            // An array `s` is an error page in ThinkPHP.
            "/?s[]=/addons/chathub/index/landing",
            // The last `s` wins, also over an addon path.
            "/?s=/addons/chathub/index/landing&s=/index/index",
            "/addons/chathub/index/landing?s=/index/index",
            "/?x=/addons/chathub/index/landing",
            "/healthz?s=/index/index",
        ] {
            assert_eq!(at(target), Route::NotFound, "{target}");
        }
        assert_eq!(at("/healthz"), Route::Health);
    }

    #[test]
    fn s_on_the_admin_entry_serves_admin_actions_only() {
        assert_eq!(
            at("/pGTnXkhdmy.php?s=/addons/chathub/index/dashboard"),
            at("/pGTnXkhdmy.php/addons/chathub/index/dashboard")
        );
        assert!(matches!(
            at("/pGTnXkhdmy.php?s=/addons/chathub/index/dashboard"),
            Route::Action {
                action: Action::Dashboard,
                via_admin_entry: true,
                ..
            }
        ));
        assert_eq!(
            at("/pGTnXkhdmy.php?s=addons/chathub/index/landing"),
            Route::NotFound
        );
    }
}
