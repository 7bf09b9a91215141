//! The channels a tenant can connect, as the member pages and the account table name them.

/// A channel whose credentials `fa_chathub_channel_account.channel` can hold (its enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountChannel {
    Amazon,
    Jd,
    Taobao,
    Pdd,
    Tiktok,
}

impl AccountChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountChannel::Amazon => "amazon",
            AccountChannel::Jd => "jd",
            AccountChannel::Taobao => "taobao",
            AccountChannel::Pdd => "pdd",
            AccountChannel::Tiktok => "tiktok",
        }
    }
}

/// Every channel the member pages offer, in the original's order. `web_widget` is offered
/// but needs no credentials (the account table's enum cannot even store it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    WebWidget,
    Account(AccountChannel),
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::WebWidget,
        Channel::Account(AccountChannel::Amazon),
        Channel::Account(AccountChannel::Jd),
        Channel::Account(AccountChannel::Taobao),
        Channel::Account(AccountChannel::Pdd),
        Channel::Account(AccountChannel::Tiktok),
    ];

    /// `channelAuth` without `?channel=` means Amazon, as in the original.
    pub const DEFAULT: Channel = Channel::Account(AccountChannel::Amazon);

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WebWidget => "web_widget",
            Channel::Account(a) => a.as_str(),
        }
    }

    /// Exact, case-sensitive match (the original's strict `in_array`).
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The 13 Amazon marketplaces of the form, `(value, label)`, in the original's order.
pub const MARKETPLACES: [(&str, &str); 13] = [
    ("us", "US (amazon.com)"),
    ("jp", "JP (amazon.co.jp)"),
    ("de", "DE (amazon.de)"),
    ("uk", "UK (amazon.co.uk)"),
    ("fr", "FR (amazon.fr)"),
    ("it", "IT (amazon.it)"),
    ("es", "ES (amazon.es)"),
    ("ca", "CA (amazon.ca)"),
    ("in", "IN (amazon.in)"),
    ("br", "BR (amazon.com.br)"),
    ("mx", "MX (amazon.com.mx)"),
    ("au", "AU (amazon.com.au)"),
    ("sg", "SG (amazon.sg)"),
];

/// An Amazon marketplace code from [`MARKETPLACES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marketplace(&'static str);

impl Marketplace {
    /// Unknown or missing codes become `us`, as the original did.
    pub fn parse_or_us(s: &str) -> Marketplace {
        MARKETPLACES
            .iter()
            .find(|(code, _)| *code == s)
            .map(|(code, _)| Marketplace(code))
            .unwrap_or(Marketplace("us"))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// A stored account as far as the list needs it (never its credentials).
#[derive(Clone, Debug, PartialEq)]
pub struct AccountSummary {
    pub id: u32,
    pub channel: String,
    pub status: Option<String>,
    pub last_refresh_at: Option<String>,
}
