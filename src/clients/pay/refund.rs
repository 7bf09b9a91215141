//! What a refund call, a refund query or a refund notification came to, for both gateways.

/// A verified answer about one refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundState {
    /// The money went back; the gateway's refund number when it gave one.
    Succeeded { refund_no: Option<String> },
    /// Accepted; the final word comes later (a query, or WeChat Pay's notification).
    Processing,
    /// The gateway has no such refund: the request never arrived (send it again, same number).
    NotFound,
    /// Authentic, final refusal or failure (the gateway's code or state).
    Failed(String),
}

/// What a verified answer about a refund must be about.
pub struct RefundExpect<'a> {
    pub order_no: &'a str,
    pub request_no: &'a str,
    pub amount: crate::domain::money::Money,
}
