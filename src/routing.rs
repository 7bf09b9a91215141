//! ThinkPHP 5 / FastAdmin URL rules for the addon, in one place.
//!
//! Every quirk kept here is one the recordings of the original show (golden README §27).

/// Every public method of the original `Index` controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    // public pages
    Landing,
    RegisterPage,
    Register,
    Login,
    DoLogin,
    Logout,
    // member area
    My,
    ChangePassword,
    Renew,
    ChannelList,
    ChannelAuth,
    ChannelCallback,
    Reprovision,
    // payments
    PayAlipay,
    PayWechat,
    PayNotify,
    PayReturn,
    // FastAdmin admin actions
    Index,
    Add,
    Del,
    Dashboard,
    Logs,
    Suspend,
    Activate,
    SetExpire,
}

impl Action {
    pub const ALL: [Action; 25] = [
        Action::Landing,
        Action::RegisterPage,
        Action::Register,
        Action::Login,
        Action::DoLogin,
        Action::Logout,
        Action::My,
        Action::ChangePassword,
        Action::Renew,
        Action::ChannelList,
        Action::ChannelAuth,
        Action::ChannelCallback,
        Action::Reprovision,
        Action::PayAlipay,
        Action::PayWechat,
        Action::PayNotify,
        Action::PayReturn,
        Action::Index,
        Action::Add,
        Action::Del,
        Action::Dashboard,
        Action::Logs,
        Action::Suspend,
        Action::Activate,
        Action::SetExpire,
    ];

    /// The method name as written in the original controller.
    pub fn name(self) -> &'static str {
        match self {
            Action::Landing => "landing",
            Action::RegisterPage => "registerPage",
            Action::Register => "register",
            Action::Login => "login",
            Action::DoLogin => "doLogin",
            Action::Logout => "logout",
            Action::My => "my",
            Action::ChangePassword => "changePassword",
            Action::Renew => "renew",
            Action::ChannelList => "channelList",
            Action::ChannelAuth => "channelAuth",
            Action::ChannelCallback => "channelCallback",
            Action::Reprovision => "reprovision",
            Action::PayAlipay => "payAlipay",
            Action::PayWechat => "payWechat",
            Action::PayNotify => "payNotify",
            Action::PayReturn => "payReturn",
            Action::Index => "index",
            Action::Add => "add",
            Action::Del => "del",
            Action::Dashboard => "dashboard",
            Action::Logs => "logs",
            Action::Suspend => "suspend",
            Action::Activate => "activate",
            Action::SetExpire => "setExpire",
        }
    }

    /// ThinkPHP dispatches `action` case-insensitively (`registerPage` = `REGISTERPAGE`).
    pub fn from_segment(seg: &str) -> Option<Action> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(seg))
    }

    /// Actions that need a FastAdmin admin session in the original (`Backend` without
    /// `$noNeedLogin`).
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Action::Index
                | Action::Add
                | Action::Del
                | Action::Dashboard
                | Action::Logs
                | Action::Suspend
                | Action::Activate
                | Action::SetExpire
        )
    }
}

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

/// Resolve a request path (no query string) against the addon's URL rules.
pub fn resolve(path: &str, admin_entry: &str) -> Route {
    match path {
        "/healthz" => return Route::Health,
        "/readyz" => return Route::Ready,
        "/metrics" => return Route::Metrics,
        _ => {}
    }
    // ThinkPHP strips the configured `url_html_suffix` (html) from the end of PATH_INFO
    // before splitting, so `/payReturn/order/CH1.html` binds `order=CH1`; any other
    // suffix stays part of the segment (`landing.json` is an unknown action).
    let trimmed = path.strip_suffix(".html").unwrap_or(path);
    let mut segs: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();

    // `/<admin_entry>/addons/...`: where the original's admin pages link. FastAdmin itself
    // answers 404 there (its admin entry disables routing); we serve the admin actions so
    // those links work (COMPAT.md#admin-entry-links).
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

    if segs.len() < 2
        || !segs[0].eq_ignore_ascii_case("addons")
        || !segs[1].eq_ignore_ascii_case("chathub")
    {
        return Route::NotFound;
    }
    // fastadmin-addons route `/addons/:addon/[:controller]/[:action]`: both default to index.
    let controller = segs.get(2).copied().unwrap_or("index");
    if !controller.eq_ignore_ascii_case("index") {
        return Route::NotFound;
    }
    let action_seg = segs.get(3).copied().unwrap_or("index");
    let mut path_params = Vec::new();
    let rest = segs.get(4..).unwrap_or(&[]);
    for pair in rest.chunks(2) {
        let key = percent_decode(pair[0]);
        let value = pair.get(1).map(|v| percent_decode(v)).unwrap_or_default();
        path_params.push((key, value));
    }
    match Action::from_segment(action_seg) {
        Some(action) if via_admin_entry && !action.is_admin() => Route::NotFound,
        Some(action) => Route::Action {
            action,
            via_admin_entry,
            path_params,
        },
        None if via_admin_entry => Route::NotFound,
        None => Route::UnknownAction {
            name: percent_decode(action_seg),
        },
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "pGTnXkhdmy.php";

    fn action(path: &str) -> Option<(Action, Vec<(String, String)>)> {
        match resolve(path, ENTRY) {
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
            resolve("/addons/chathub/index/landing.json", ENTRY),
            Route::UnknownAction {
                name: "landing.json".into()
            }
        );
        assert_eq!(
            resolve("/addons/chathub/index/render", ENTRY),
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
            resolve("/addons/chathub/nosuch/landing", ENTRY),
            Route::NotFound
        );
        assert_eq!(
            resolve("/addons/nosuchaddon/index/landing", ENTRY),
            Route::NotFound
        );
        assert_eq!(resolve("/", ENTRY), Route::NotFound);
        assert_eq!(resolve("/assets/css/backend.css", ENTRY), Route::NotFound);
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
        match resolve("/pGTnXkhdmy.php/addons/chathub/index/dashboard", ENTRY) {
            Route::Action {
                action: Action::Dashboard,
                via_admin_entry: true,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            resolve("/pGTnXkhdmy.php/addons/chathub/index/landing", ENTRY),
            Route::NotFound
        );
        assert_eq!(resolve("/pGTnXkhdmy.php", ENTRY), Route::NotFound);
    }

    #[test]
    fn percent_encoded_path_values_are_decoded() {
        let (_, p) = action("/addons/chathub/index/my/error/%E7%A7%9F%E6%88%B7").unwrap();
        assert_eq!(p[0].1, "租户");
    }
}
