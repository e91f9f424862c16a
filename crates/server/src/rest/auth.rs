//! Who may call the REST API: the app id and its master key, in the headers
//! LeanCloud accepts (`X-LC-Id` with `X-LC-Key: KEY,master` or
//! `X-LC-Sign: md5(ts + KEY),ts,master`) and their legacy `X-AVOSCloud-*` and
//! `X-Uluru-*` names.

use std::time::Duration;

use md5::{Digest, Md5};

use super::request::Request;
use super::Error;

const APP_ID: &[&str] = &[
    "x-lc-id",
    "x-avoscloud-application-id",
    "x-uluru-application-id",
];
const SIGN: &[&str] = &["x-lc-sign", "x-avoscloud-request-sign"];

fn first<'a>(req: &'a Request, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| req.header(n)).map(str::trim)
}

/// What the request authenticates with.
#[derive(Debug, PartialEq, Eq)]
enum Credential<'a> {
    /// A key, and whether it was marked as the master key.
    Key { key: &'a str, master: bool },
    /// `md5(ts + key)` in hex, `ts` in ms, and the master mark.
    Sign {
        digest: &'a str,
        ts: &'a str,
        master: bool,
    },
}

fn credential(req: &Request) -> Option<Credential<'_>> {
    if let Some(sign) = first(req, SIGN) {
        let mut parts = sign.split(',').map(str::trim);
        let digest = parts.next()?;
        let ts = parts.next()?;
        let master = parts.next() == Some("master");
        return Some(Credential::Sign { digest, ts, master });
    }
    if let Some(key) = first(req, &["x-lc-key"]) {
        return Some(match key.rsplit_once(',') {
            Some((key, "master")) => Credential::Key { key, master: true },
            _ => Credential::Key { key, master: false },
        });
    }
    if let Some(key) = first(req, &["x-avoscloud-master-key"]) {
        return Some(Credential::Key { key, master: true });
    }
    first(
        req,
        &["x-avoscloud-application-key", "x-uluru-application-key"],
    )
    .map(|key| Credential::Key { key, master: false })
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The app id of a request made with that app's master key; `master_key` gives the
/// key of an app id, when the app has one. A signed request's `ts` must be within
/// `window` of `now_ms`.
pub fn authenticate<'k>(
    req: &Request,
    master_key: impl Fn(&str) -> Option<&'k str>,
    now_ms: i64,
    window: Duration,
) -> Result<String, Error> {
    let unauthorized = || Error::new(401, 401, "Unauthorized.");
    let app_id = first(req, APP_ID).ok_or_else(unauthorized)?;
    let key = master_key(app_id).ok_or_else(unauthorized)?;
    let valid = match credential(req).ok_or_else(unauthorized)? {
        Credential::Key { key: given, master } => master && same(given.as_bytes(), key.as_bytes()),
        Credential::Sign { digest, ts, master } => {
            let fresh = ts.parse::<i64>().is_ok_and(|t| {
                now_ms.abs_diff(t) <= u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
            });
            let expected = hex::encode(Md5::digest(format!("{ts}{key}")));
            master && fresh && same(digest.to_ascii_lowercase().as_bytes(), expected.as_bytes())
        }
    };
    if valid {
        Ok(app_id.to_owned())
    } else {
        Err(unauthorized())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_signature_checks() {
        // LeanCloud's example: key UtOCzqb67d3sN12Kts4URwy8 at 1453014943466.
        let expected = hex::encode(Md5::digest("1453014943466UtOCzqb67d3sN12Kts4URwy8"));
        assert_eq!(expected, "d5bcbb897e19b2f6633c716dfdfaf9be");
    }
}
