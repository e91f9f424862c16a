//! The HTTP side of a connection: reads the request head, then answers the router
//! (`GET /v1/route`, §1), CORS preflights and the REST API (`/1.1/…`, `/1.2/…`), or
//! upgrades to a WebSocket on any path.

use std::time::Duration;

use leanrt_protocol::v3::subprotocol::Unsupported;
use leanrt_protocol::v3::Subprotocol;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::config::AppCheck;
use crate::connection::Dialect;
use crate::server::Shared;

/// Largest accepted request head.
const MAX_HEAD: usize = 8 * 1024;
/// Time allowed to send the request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// `ttl` of router answers, in seconds.
const ROUTE_TTL: u64 = 3600;
/// Per-connection read buffer; small buffers keep idle connections cheap.
const READ_BUFFER: usize = 1024;
/// Frames are written out once this much is buffered, or at the end of a batch.
const WRITE_BUFFER: usize = 16 * 1024;

/// A parsed request head.
struct Head {
    method: String,
    path: String,
    upgrade: bool,
    key: Option<String>,
    /// `Sec-WebSocket-Protocol`: the subprotocols offered.
    protocols: Option<String>,
    host: Option<String>,
    /// Every header of a REST request (empty for other requests).
    headers: Vec<(String, String)>,
    len: usize,
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(len) = req.parse(buf)? else {
        return Ok(None);
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::to_owned)
    };
    let path = req.path.unwrap_or_default();
    // Only the REST API reads other headers: upgrades and the router copy none.
    let headers = if crate::rest::is_rest_path(path) {
        req.headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Head {
        upgrade: header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
        key: header("sec-websocket-key"),
        protocols: header("sec-websocket-protocol"),
        host: header("host"),
        headers,
        method: req.method.unwrap_or_default().to_owned(),
        path: path.to_owned(),
        len,
    }))
}

async fn read_head(stream: &mut TcpStream) -> Option<(Head, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        loop {
            if let Some(head) = parse_head(&buf).ok()? {
                return Some(head);
            }
            if buf.len() >= MAX_HEAD || stream.read_buf(&mut buf).await.ok()? == 0 {
                return None;
            }
        }
    };
    let head = tokio::time::timeout(HEAD_TIMEOUT, read).await.ok()??;
    Some((head, buf))
}

/// The browser shim (`GET /leanrt-shim.js`) that points the original 2.4.0 bundle at
/// this server.
const SHIM: &str = include_str!("../assets/leanrt-shim.js");

/// Writes a complete JSON response with CORS headers and closes the stream.
pub async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    respond_as(stream, status, "application/json", body).await
}

/// Writes a complete response of `content_type` with CORS headers and closes the stream.
async fn respond_as(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS\r\n\
         Access-Control-Allow-Headers: *\r\nAccess-Control-Max-Age: 86400\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The value of `key` in a query string (no percent-decoding: appIds are plain).
fn query_param<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == key).then_some(v))
}

/// The WebSocket URL handed out by the router.
fn server_url(shared: &Shared, host: Option<&str>) -> String {
    if let Some(url) = &shared.public_url {
        return url.clone();
    }
    let addr = shared.local_addr;
    match host {
        // A wildcard address is not connectable: use the name the client used.
        Some(host) if addr.ip().is_unspecified() => format!("ws://{host}/"),
        _ => format!("ws://{addr}/"),
    }
}

fn route(shared: &Shared, head: &Head) -> (&'static str, String) {
    let app_id = query_param(&head.path, "appId").unwrap_or_default();
    if let AppCheck::Unknown = shared.service.apps.check(app_id) {
        let body = json!({"code": 4100, "error": "APP_NOT_AVAILABLE"});
        return ("404 Not Found", body.to_string());
    }
    let url = server_url(shared, head.host.as_deref());
    let body = json!({"groupId": "g0", "server": url, "secondary": url, "ttl": ROUTE_TTL});
    ("200 OK", body.to_string())
}

/// Serves the HTTP request on `stream`, returning the WebSocket if it upgraded;
/// plain HTTP requests are answered here.
pub async fn accept(
    mut stream: TcpStream,
    shared: &Shared,
) -> Option<(WebSocketStream<TcpStream>, Dialect)> {
    let Some((head, buf)) = read_head(&mut stream).await else {
        respond(&mut stream, "400 Bad Request", r#"{"error":"bad request"}"#).await;
        return None;
    };
    if head.upgrade && head.method == "GET" {
        let Some(key) = &head.key else {
            respond(
                &mut stream,
                "400 Bad Request",
                r#"{"error":"missing Sec-WebSocket-Key"}"#,
            )
            .await;
            return None;
        };
        // The chosen subprotocol is echoed: the v3 SDKs fail without it.
        let (dialect, echo) = match Subprotocol::negotiate(head.protocols.as_deref()) {
            Ok(None) => (Dialect::Json, String::new()),
            Ok(Some((protocol, name))) => (
                Dialect::V3(protocol),
                format!("Sec-WebSocket-Protocol: {name}\r\n"),
            ),
            Err(Unsupported(offered)) => {
                let body = json!({"error": format!("unsupported subprotocol {offered:?}; \
                    served: none (v2 JSON), lc.protobuf2.3, lc.protobuf2.1, lc.proto2base64.3, \
                    lc.proto2base64.1")});
                respond(&mut stream, "400 Bad Request", &body.to_string()).await;
                return None;
            }
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n{echo}\r\n",
            derive_accept_key(key.as_bytes())
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return None;
        }
        let max = shared.service.limits.max_frame_bytes;
        // Writes are buffered up to WRITE_BUFFER and flushed once per batch; a reply
        // may be larger than any buffer (logs of 1000 messages, a query of 1000
        // conversations with their members): the connection's own backlog bounds what
        // waits, not tungstenite.
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(WRITE_BUFFER)
            .max_write_buffer_size(usize::MAX)
            .max_frame_size(Some(max))
            .max_message_size(Some(max));
        let rest = buf[head.len..].to_vec();
        drop(buf);
        let ws =
            WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(config)).await;
        return Some((ws, dialect));
    }
    let path = head.path.split('?').next().unwrap_or_default();
    if head.method != "OPTIONS" && crate::rest::is_rest_path(path) {
        let rest = buf[head.len..].to_vec();
        crate::rest::serve(stream, shared, &head.method, &head.path, head.headers, rest).await;
        return None;
    }
    if head.method == "GET" && path == "/leanrt-shim.js" {
        respond_as(
            &mut stream,
            "200 OK",
            "application/javascript; charset=utf-8",
            SHIM,
        )
        .await;
        return None;
    }
    let (status, body) = match (head.method.as_str(), path) {
        ("OPTIONS", _) => ("204 No Content", String::new()),
        ("GET", "/v1/route") => route(shared, &head),
        _ => ("404 Not Found", r#"{"error":"not found"}"#.to_owned()),
    };
    respond(&mut stream, status, &body).await;
    None
}
