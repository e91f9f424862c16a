//! Router lookup (§1): `GET {router}/v1/route?_t=..&appId=..[&secure=1]` answers
//! the WebSocket URL to connect to.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where the engine finds its WebSocket server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Connect to this ws/wss URL directly.
    Server(String),
    /// Ask the router at this http(s) base URL on every (re)connect.
    Router(String),
}

/// LeanCloud's original router for a region (`cn` or `us`), as 2.4.0 hard-codes it.
pub fn default_router(region: &str) -> Option<&'static str> {
    match region {
        "cn" => Some("http://router-g0-push.leancloud.cn"),
        "us" => Some("http://router-a0-push.leancloud.cn"),
        _ => None,
    }
}

/// The lookup URL. `appId` is inserted verbatim, as 2.4.0 does.
pub fn route_url(router: &str, app_id: &str, secure: bool) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let base = router.trim_end_matches('/');
    let secure = if secure { "&secure=1" } else { "" };
    format!("{base}/v1/route?_t={now}&appId={app_id}{secure}")
}

/// How long one lookup (with its redirects) may take before it counts as failed.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Router answers are small; anything bigger is not a router.
const MAX_RESPONSE: u64 = 64 * 1024;
/// Redirects followed in one lookup (2.4.0's `xmlhttprequest` follows them without end).
const MAX_REDIRECTS: usize = 10;

#[derive(Deserialize)]
struct Route {
    server: Option<String>,
    ttl: Option<serde_json::Value>,
}

/// `v` as JavaScript's `v * 1000` reads it, over 1000: 2.4.0 computes the route's
/// expiry as `now + ttl * 1000`, so `"3600"` works and `"soon"` does not.
fn js_number(v: &serde_json::Value) -> f64 {
    use serde_json::Value;
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Null => 0.0,
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

/// Resolves the WebSocket URL, following 301, 302, 303 and 307 redirects as 2.4.0's
/// router client does. Errors are human-readable and become `error` events.
pub async fn resolve(endpoint: &Endpoint, app_id: &str, secure: bool) -> Result<String, String> {
    let router = match endpoint {
        Endpoint::Server(url) => return Ok(url.clone()),
        Endpoint::Router(router) => router,
    };
    let lookup = async {
        let mut url = route_url(router, app_id, secure);
        for _ in 0..=MAX_REDIRECTS {
            let answer = http_get(&url).await?;
            match (answer.status, answer.location) {
                (301 | 302 | 303 | 307, Some(location)) => url = join_url(&url, &location)?,
                (301 | 302 | 303 | 307, None) => {
                    return Err(format!("router {router}: a redirect without Location"))
                }
                (status, _) => return Ok((status, answer.body)),
            }
        }
        Err(format!(
            "router {router}: more than {MAX_REDIRECTS} redirects"
        ))
    };
    let (status, body) = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
        .await
        .map_err(|_| format!("router {router}: timed out"))??;
    if !(200..300).contains(&status) {
        return Err(format!("router {router}: HTTP status {status}"));
    }
    let route: Route = serde_json::from_slice(&body)
        .map_err(|e| format!("router {router}: invalid JSON answer: {e}"))?;
    match (route.server, route.ttl.as_ref().map(js_number)) {
        // 2.4.0 connects while `now <= expires`, which holds for any ttl ≥ 0.
        (Some(server), Some(ttl)) if ttl >= 0.0 => Ok(server),
        _ => Err("WebSocket connet failed.".to_owned()),
    }
}

/// A redirect's `Location`, absolute or relative to `base`.
fn join_url(base: &str, location: &str) -> Result<String, String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_owned());
    }
    let target = parse_url(base)?;
    let scheme = if target.tls { "https" } else { "http" };
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{}{location}", target.authority));
    }
    let path = target.path.split('?').next().unwrap_or("/");
    let dir = &path[..path.rfind('/').map_or(0, |at| at + 1)];
    Ok(format!("{scheme}://{}{dir}{location}", target.authority))
}

/// The parts of an http(s) URL a GET needs.
struct Target<'a> {
    tls: bool,
    /// `host[:port]` as the URL spells it: the `Host` header, which a server bound to a
    /// wildcard address builds its answer from, so the port must stay in it.
    authority: &'a str,
    host: &'a str,
    port: u16,
    path: &'a str,
}

fn parse_url(url: &str) -> Result<Target<'_>, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("router URL must be http(s): {url}"));
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => (
            host,
            port.parse().map_err(|_| format!("bad port in {url}"))?,
        ),
        _ => (authority, default_port),
    };
    Ok(Target {
        tls,
        authority,
        host: host.trim_start_matches('[').trim_end_matches(']'),
        port,
        path,
    })
}

/// What a GET answered.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

/// A minimal HTTP/1.0 GET (no keep-alive, so no chunked answers).
async fn http_get(url: &str) -> Result<Answer, String> {
    let target = parse_url(url)?;
    let tcp = TcpStream::connect((target.host, target.port))
        .await
        .map_err(|e| format!("router {}: {e}", target.host))?;
    let _ = tcp.set_nodelay(true);
    if target.tls {
        let tls = tokio_native_tls::TlsConnector::from(crate::tls::connector()?)
            .connect(target.host, tcp)
            .await
            .map_err(|e| format!("router {}: TLS: {e}", target.host))?;
        exchange(tls, &target).await
    } else {
        exchange(tcp, &target).await
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    target: &Target<'_>,
) -> Result<Answer, String> {
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    let io = |e: std::io::Error| format!("router {}: {e}", target.host);
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .await
        .map_err(io)?;
    parse_response(&raw).ok_or_else(|| format!("router {}: malformed HTTP answer", target.host))
}

fn parse_response(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (key, value) = l.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let body = raw[end + 4..].to_vec();
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    Some(Answer {
        status,
        location: header("location"),
        body: if chunked { dechunk(&body)? } else { body },
    })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = route_url("http://r.example/", "APP", true);
        assert!(u.starts_with("http://r.example/v1/route?_t="));
        assert!(u.ends_with("&appId=APP&secure=1"));
        assert!(!route_url("http://r", "A", false).contains("secure"));
        let t = parse_url("http://127.0.0.1:8080/v1/route?x=1").unwrap();
        assert_eq!(
            (t.tls, t.host, t.port, t.path),
            (false, "127.0.0.1", 8080, "/v1/route?x=1")
        );
        assert_eq!(t.authority, "127.0.0.1:8080");
        let t = parse_url("https://h.example").unwrap();
        assert_eq!(
            (t.tls, t.authority, t.host, t.port, t.path),
            (true, "h.example", "h.example", 443, "/")
        );
        let t = parse_url("http://[::1]:9/x").unwrap();
        assert_eq!((t.authority, t.host, t.port), ("[::1]:9", "::1", 9));
        assert!(parse_url("ftp://x").is_err());
        assert_eq!(
            default_router("us"),
            Some("http://router-a0-push.leancloud.cn")
        );
        assert_eq!(default_router("eu"), None);
    }

    #[test]
    fn responses() {
        let a = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!(
            (a.status, a.body.as_slice(), a.location),
            (200, &b"{}"[..], None)
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap().body, b"{}");
        let moved =
            parse_response(b"HTTP/1.1 302 Found\r\nlocation:  /elsewhere \r\n\r\n").unwrap();
        assert_eq!(moved.location.as_deref(), Some("/elsewhere"));
        assert!(parse_response(b"garbage").is_none());
    }

    #[test]
    fn redirects_and_ttls() {
        let base = "http://r.example:8080/v1/route?_t=1";
        assert_eq!(
            join_url(base, "https://x.example/y").unwrap(),
            "https://x.example/y"
        );
        assert_eq!(
            join_url(base, "/a?b=1").unwrap(),
            "http://r.example:8080/a?b=1"
        );
        assert_eq!(
            join_url(base, "other").unwrap(),
            "http://r.example:8080/v1/other"
        );
        use serde_json::json;
        for (ttl, number) in [
            (json!(3600), 3600.0),
            (json!("3600"), 3600.0),
            (json!(" 5 "), 5.0),
            (json!(""), 0.0),
            (json!(null), 0.0),
        ] {
            assert_eq!(js_number(&ttl), number, "{ttl}");
        }
        assert!(js_number(&json!("soon")).is_nan());
    }
}
