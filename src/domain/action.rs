//! The addon's actions: every public method of the original `Index` controller.

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
    /// chathub's own: 查询支付状态 (COMPAT.md#payment-query-and-expiry).
    QueryPay,
    /// chathub's own: the orders list with 查询支付状态 and 退款 (COMPAT.md#refunds).
    Orders,
    /// chathub's own: 退款 on a paid order (COMPAT.md#refunds).
    Refund,
    /// chathub's own: the reconciliation reports (COMPAT.md#reconciliation).
    Reconcile,
    /// chathub's own: WeChat Pay's refund notifications (COMPAT.md#refunds).
    RefundNotify,
}

impl Action {
    pub const ALL: [Action; 30] = [
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
        Action::QueryPay,
        Action::Orders,
        Action::Refund,
        Action::Reconcile,
        Action::RefundNotify,
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
            Action::QueryPay => "queryPay",
            Action::Orders => "orders",
            Action::Refund => "refund",
            Action::Reconcile => "reconcile",
            Action::RefundNotify => "refundNotify",
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
                | Action::QueryPay
                | Action::Orders
                | Action::Refund
                | Action::Reconcile
        )
    }
}
