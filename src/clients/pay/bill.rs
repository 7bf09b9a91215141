//! The gateways' daily trade bills as files: Alipay's zip of GBK CSVs (`…_业务明细.csv` and its
//! summary), WeChat Pay's UTF-8 CSV with a back-quote before every value. Pure parsing into
//! [`BillRow`]s; comparing them with the orders is `services::reconcile`'s.

use super::QueryError;
use crate::domain::money::Money;

/// Largest bill file read, and largest total its archive may inflate to (a day of a small
/// merchant's trades is a few kilobytes).
pub const MAX_BILL_BYTES: usize = 32 * 1024 * 1024;

/// One row of a bill that concerns an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillRow {
    pub out_trade_no: String,
    /// The gateway's transaction number.
    pub trade_no: String,
    pub kind: BillKind,
    pub amount: Money,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillKind {
    Payment,
    /// A refund, with its request number (`out_request_no` / `out_refund_no`).
    Refund {
        request_no: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BillError {
    #[error("bill file is not a zip archive: {0}")]
    Zip(&'static str),
    #[error("bill archive holds no 业务明细 CSV")]
    NoDetail,
    #[error("bill file has no header row")]
    NoHeader,
    #[error("bill file lacks the column {0}")]
    MissingColumn(&'static str),
}

/// A download's body, read within `limit` bytes.
pub(crate) async fn read_bounded(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, QueryError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| QueryError::Transport(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(QueryError::Transport("bill file too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// GET a bill URL (Alipay's `bill_download_url` needs no signature: it is a short-lived token).
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, QueryError> {
    let resp = http
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| QueryError::Transport(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(QueryError::Transport(format!("HTTP {}", resp.status())));
    }
    read_bounded(resp, limit).await
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// One zip entry: its name as stored (GBK for Alipay's) and its content.
pub type ZipEntry = (Vec<u8>, Vec<u8>);

/// The entries of a zip archive (stored or deflated), all together within `limit`.
pub fn unzip(archive: &[u8], limit: usize) -> Result<Vec<ZipEntry>, BillError> {
    use std::io::Read as _;
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    let tail_from = archive.len().saturating_sub(22 + 65_535);
    let eocd = (tail_from..archive.len().saturating_sub(21))
        .rev()
        .find(|&i| archive[i..].starts_with(&EOCD))
        .ok_or(BillError::Zip("no end of central directory"))?;
    let count = u16_at(archive, eocd + 10).ok_or(BillError::Zip("truncated"))?;
    let mut at = u32_at(archive, eocd + 16).ok_or(BillError::Zip("truncated"))?;
    let mut out = Vec::new();
    let mut total = 0usize;
    for _ in 0..count {
        let bad = BillError::Zip("bad central directory entry");
        if archive.get(at..at + 4) != Some(&[0x50, 0x4b, 0x01, 0x02]) {
            return Err(bad);
        }
        let method = u16_at(archive, at + 10).ok_or(BillError::Zip("truncated"))?;
        let crc = u32_at(archive, at + 16).ok_or(BillError::Zip("truncated"))? as u32;
        let packed = u32_at(archive, at + 20).ok_or(BillError::Zip("truncated"))?;
        let size = u32_at(archive, at + 24).ok_or(BillError::Zip("truncated"))?;
        let (n, x, c) = (
            u16_at(archive, at + 28).ok_or(BillError::Zip("truncated"))?,
            u16_at(archive, at + 30).ok_or(BillError::Zip("truncated"))?,
            u16_at(archive, at + 32).ok_or(BillError::Zip("truncated"))?,
        );
        let local = u32_at(archive, at + 42).ok_or(BillError::Zip("truncated"))?;
        let name = archive
            .get(at + 46..at + 46 + n)
            .ok_or(BillError::Zip("truncated"))?
            .to_vec();
        at += 46 + n + x + c;
        total = total.saturating_add(size);
        if total > limit {
            return Err(BillError::Zip("archive too large"));
        }
        if archive.get(local..local + 4) != Some(&[0x50, 0x4b, 0x03, 0x04]) {
            return Err(BillError::Zip("bad local header"));
        }
        let ln = u16_at(archive, local + 26).ok_or(BillError::Zip("truncated"))?;
        let lx = u16_at(archive, local + 28).ok_or(BillError::Zip("truncated"))?;
        let start = local + 30 + ln + lx;
        let data = archive
            .get(start..start + packed)
            .ok_or(BillError::Zip("truncated entry"))?;
        let content = match method {
            0 => data.to_vec(),
            8 => {
                let mut v = Vec::with_capacity(size);
                flate2::read::DeflateDecoder::new(data)
                    .take(limit as u64 + 1)
                    .read_to_end(&mut v)
                    .map_err(|_| BillError::Zip("entry does not inflate"))?;
                v
            }
            _ => return Err(BillError::Zip("unsupported compression")),
        };
        let mut sum = flate2::Crc::new();
        sum.update(&content);
        if content.len() != size || sum.sum() != crc {
            return Err(BillError::Zip("entry checksum differs"));
        }
        out.push((name, content));
    }
    Ok(out)
}

/// `业务明细` in GBK, as Alipay names the detail file inside the zip (and writes its cells).
const GBK_DETAIL: &[u8] = b"\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8";
const GBK_TRADE: &[u8] = b"\xbd\xbb\xd2\xd7";
const GBK_REFUND: &[u8] = b"\xcd\xcb\xbf\xee";

fn ends_with_detail_csv(name: &[u8]) -> bool {
    let Some(stem) = name.strip_suffix(b".csv") else {
        return false;
    };
    stem.ends_with(GBK_DETAIL) || stem.ends_with("业务明细".as_bytes())
}

/// Alipay's bill zip: the rows of its `…_业务明细.csv` (the `(汇总)` summary is left aside).
pub fn parse_alipay_zip(archive: &[u8], limit: usize) -> Result<Vec<BillRow>, BillError> {
    let entries = unzip(archive, limit)?;
    let (_, csv) = entries
        .iter()
        .find(|(name, _)| ends_with_detail_csv(name))
        .ok_or(BillError::NoDetail)?;
    Ok(parse_alipay_csv(csv))
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn money_abs(b: &[u8]) -> Option<Money> {
    let s = std::str::from_utf8(trim(b)).ok()?;
    Money::parse(s.strip_prefix('-').unwrap_or(s))
}

/// The detail CSV (GBK): `#` lines are titles and totals, one header row, then one row per
/// trade or refund in Alipay's fixed column order: 支付宝交易号, 商户订单号, 业务类型 (交易 /
/// 退款), …, 订单金额（元） (12th), …, 退款批次号/请求号 (22nd). GBK never uses ASCII bytes
/// inside a character, so commas and digits are found byte by byte.
pub fn parse_alipay_csv(csv: &[u8]) -> Vec<BillRow> {
    let mut rows = Vec::new();
    for line in csv.split(|&b| b == b'\n') {
        let line = trim(line);
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let f: Vec<&[u8]> = line.split(|&b| b == b',').map(trim).collect();
        if f.len() < 22 || f[0].is_empty() || !f[0].iter().all(u8::is_ascii_digit) {
            // The header row, or something that is no trade.
            continue;
        }
        let (Ok(trade_no), Ok(order_no), Some(amount)) = (
            std::str::from_utf8(f[0]),
            std::str::from_utf8(f[1]),
            money_abs(f[11]),
        ) else {
            continue;
        };
        let kind = if f[2] == GBK_TRADE || f[2] == "交易".as_bytes() {
            BillKind::Payment
        } else if f[2] == GBK_REFUND || f[2] == "退款".as_bytes() {
            BillKind::Refund {
                request_no: String::from_utf8_lossy(f[21]).into_owned(),
            }
        } else {
            continue;
        };
        rows.push(BillRow {
            out_trade_no: order_no.to_string(),
            trade_no: trade_no.to_string(),
            kind,
            amount,
        });
    }
    rows
}

/// WeChat Pay's trade bill (`bill_type=ALL`): a header row naming the columns (their order is
/// not promised, so they are found by name), detail rows whose every value starts with a
/// back-quote, then the summary (`总交易单数,…`) and its row.
pub fn parse_wechat_csv(csv: &[u8]) -> Result<Vec<BillRow>, BillError> {
    let text = String::from_utf8_lossy(csv);
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or(BillError::NoHeader)?
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &'static str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(BillError::MissingColumn(name))
    };
    let (trade, order, state) = (col("微信订单号")?, col("商户订单号")?, col("交易状态")?);
    let total = col("订单金额").or_else(|_| col("应结订单金额"))?;
    let (refund_no, refund_amount) = (col("商户退款单号")?, col("退款金额")?);
    let mut rows = Vec::new();
    for line in lines {
        let f: Vec<&str> = line
            .split(',')
            .map(|v| v.trim().trim_start_matches('`').trim())
            .collect();
        if f.first() == Some(&"总交易单数") {
            break;
        }
        let get = |i: usize| f.get(i).copied().unwrap_or_default();
        let (kind, amount) = match get(state) {
            "SUCCESS" => (BillKind::Payment, get(total)),
            "REFUND" => (
                BillKind::Refund {
                    request_no: get(refund_no).to_string(),
                },
                get(refund_amount),
            ),
            _ => continue,
        };
        let Some(amount) = Money::parse(amount.trim_start_matches('-')) else {
            continue;
        };
        rows.push(BillRow {
            out_trade_no: get(order).to_string(),
            trade_no: get(trade).to_string(),
            kind,
            amount,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_rows_are_found_by_column_name() {
        let csv = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n\
`2026-06-01 10:00:00,`wx1,`19,`0,`,`4200A,`CH1,`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`60.00,`0.00,`0,`0,`0.00,`0.00,`,`,`ChatHub 续费,`,`0.36000,`0.60%,`60.00,`0.00,`\n\
`2026-06-01 11:00:00,`wx1,`19,`0,`,`4200A,`CH1,`o1,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5000,`RF1,`20.00,`0.00,`ORIGINAL,`SUCCESS,`ChatHub 续费,`,`-0.12000,`0.60%,`0.00,`20.00,`\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n`1,`60.00,`20.00,`0.00,`0.24000,`60.00,`20.00\n";
        let rows = parse_wechat_csv(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].kind, BillKind::Payment);
        assert_eq!(rows[0].amount, Money::from_cents(6000));
        assert_eq!(
            rows[1].kind,
            BillKind::Refund {
                request_no: "RF1".into()
            }
        );
        assert_eq!(rows[1].amount, Money::from_cents(2000));
        assert!(parse_wechat_csv(b"").is_err());
        assert!(matches!(
            parse_wechat_csv("a,b\n".as_bytes()),
            Err(BillError::MissingColumn(_))
        ));
    }

    #[test]
    fn archives_that_are_not_zips_are_errors_not_panics() {
        for junk in [
            &b""[..],
            b"PK\x05\x06",
            b"<html>",
            &[
                0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f,
                0, 0,
            ],
        ] {
            assert!(parse_alipay_zip(junk, 1 << 20).is_err());
        }
    }
}
