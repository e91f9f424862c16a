//! A REST request: method, path segments, decoded query parameters, headers and a
//! JSON body read to its `Content-Length`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::Error;

/// Largest accepted body.
const MAX_BODY: usize = 1024 * 1024;
/// Largest refused body that is still read (and dropped) before the answer.
const MAX_DRAINED: usize = 16 * 1024 * 1024;
/// Time allowed to send the body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Request {
    pub method: String,
    /// The path's segments, percent-decoded (`/1.2/rtm/x` → `["1.2", "rtm", "x"]`).
    pub segments: Vec<String>,
    query: HashMap<String, String>,
    headers: Vec<(String, String)>,
    /// The JSON body; an empty object when there was none.
    pub body: Map<String, Value>,
    /// The body's `message` as it was written, when it is an object or an array: a
    /// message is stored as sent, key order and all.
    pub raw_message: Option<String>,
}

/// The text of a body's `message`.
#[derive(serde::Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    message: Option<&'a serde_json::value::RawValue>,
}

impl Request {
    /// Reads the body of the request whose head is given; `read` holds the bytes
    /// already read past the head.
    pub async fn read(
        stream: &mut TcpStream,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        mut read: Vec<u8>,
    ) -> Result<Request, Error> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut req = Request {
            method: method.to_owned(),
            segments: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(percent_decode)
                .collect(),
            query: form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers,
            body: Map::new(),
            raw_message: None,
        };
        let len = match req.header("content-length") {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| Error::bad_request("bad Content-Length"))?,
        };
        if req.header("transfer-encoding").is_some() {
            return Err(Error::bad_request(
                "chunked bodies are not accepted: send Content-Length",
            ));
        }
        if len > MAX_BODY {
            // Read past a body of moderate size first, so that closing with it unread
            // does not reset the connection before the client sees the answer.
            if len <= MAX_DRAINED {
                let mut left = len.saturating_sub(read.len());
                let drain = async {
                    let mut sink = vec![0; 64 * 1024];
                    while left > 0 {
                        match stream.read(&mut sink).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => left = left.saturating_sub(n),
                        }
                    }
                };
                let _ = tokio::time::timeout(BODY_TIMEOUT, drain).await;
            }
            return Err(Error::new(413, 413, "Request entity too large."));
        }
        let body = async {
            while read.len() < len {
                if stream.read_buf(&mut read).await? == 0 {
                    break;
                }
            }
            Ok::<_, std::io::Error>(())
        };
        match tokio::time::timeout(BODY_TIMEOUT, body).await {
            Ok(Ok(())) if read.len() >= len => {}
            _ => return Err(Error::bad_request("the body ended before Content-Length")),
        }
        // A GET's body means nothing (SDKs send one anyway).
        if len > 0 && req.method != "GET" {
            match serde_json::from_slice(&read[..len]) {
                Ok(Value::Object(body)) => {
                    req.raw_message = serde_json::from_slice::<RawMessage>(&read[..len])
                        .ok()
                        .and_then(|r| r.message)
                        .map(|m| m.get().to_owned())
                        .filter(|m| m.starts_with(['{', '[']));
                    req.body = body;
                }
                Ok(Value::Null) => {}
                Ok(_) => return Err(Error::bad_request("the body must be a JSON object")),
                Err(e) => return Err(Error::bad_request(format!("the body is not JSON: {e}"))),
            }
        }
        Ok(req)
    }

    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first of `names` that the query or the body has, as text.
    pub fn param(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| {
            self.query
                .get(*name)
                .cloned()
                .or_else(|| match self.body.get(*name)? {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
        })
    }

    /// A parameter as an integer, if given.
    pub fn int(&self, names: &[&str]) -> Result<Option<i64>, Error> {
        self.param(names)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| Error::bad_request(format!("{} must be an integer", names[0])))
            })
            .transpose()
    }

    /// A parameter as a boolean (`true`/`1` or `false`/`0`, in any case: Python's
    /// SDK sends `True`), `false` when absent.
    pub fn flag(&self, name: &str) -> Result<bool, Error> {
        let value = self.param(&[name]).map(|v| v.to_ascii_lowercase());
        match value.as_deref() {
            None | Some("false" | "0" | "") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(Error::bad_request(format!("{name} must be true or false"))),
        }
    }
}

/// `%XX` sequences decoded; invalid UTF-8 replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_sequences_decode() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%E4%BD%A0"), "你");
    }
}
