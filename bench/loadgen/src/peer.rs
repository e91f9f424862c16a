//! One benchmark session: a WebSocket connection with an opened `session`, in the
//! v2 JSON dialect or (with `--v3`) in v3 protobuf under `lc.protobuf2.3`.

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::OnceLock;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Sink = SplitSink<Ws, Message>;
pub type Stream = SplitStream<Ws>;

/// Whether every session speaks v3 protobuf; set once, at start.
static V3: OnceLock<bool> = OnceLock::new();

/// Makes every session speak v3 protobuf instead of v2 JSON.
pub fn use_v3() {
    let _ = V3.set(true);
}

fn v3() -> bool {
    V3.get().copied().unwrap_or(false)
}

/// A frame given as v2 JSON text, in the dialect in use.
pub fn frame(text: String) -> Message {
    if !v3() {
        return Message::text(text);
    }
    let value: Value = serde_json::from_str(&text).expect("frames are JSON");
    Message::binary(leanrt_protocol::v3::encode(&value).expect("frames have a v3 form"))
}

/// A received frame as v2 JSON text; `None` for anything else.
pub fn text(msg: Message) -> Option<String> {
    match msg {
        Message::Text(text) => Some(text.as_str().to_owned()),
        Message::Binary(bytes) if v3() => leanrt_protocol::v3::decode(&bytes)
            .ok()
            .map(|map| Value::Object(map).to_string()),
        _ => None,
    }
}

/// Where the sessions connect.
pub struct Target {
    pub url: String,
    pub app: String,
}

/// An opened session.
pub struct Peer {
    pub id: String,
    pub sink: Sink,
    pub stream: Stream,
    next_i: i64,
}

impl Peer {
    /// Connects (TCP_NODELAY, a 4 KiB read buffer, writes buffered until flushed) and
    /// opens a session as `id`.
    pub async fn open(target: &Target, id: String) -> Result<Peer> {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(16 * 1024);
        let mut request = target.url.as_str().into_client_request()?;
        if v3() {
            let offer = "lc.protobuf2.3".parse()?;
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", offer);
        }
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        let (sink, stream) = ws.split();
        let mut peer = Peer {
            id,
            sink,
            stream,
            next_i: 1,
        };
        let opened = peer
            .request(json!({"cmd": "session", "op": "open", "appId": target.app, "ua": "leanrt-loadgen"}))
            .await?;
        if opened["op"] != "opened" {
            return Err(format!("session open failed: {opened}").into());
        }
        Ok(peer)
    }

    /// Sends `frame` with a fresh `i` and this peer's `peerId`, and returns the reply
    /// carrying that `i`. Frames in between are skipped.
    pub async fn request(&mut self, mut frame: Value) -> Result<Value> {
        let i = self.next_i;
        self.next_i += 1;
        frame["i"] = json!(i);
        frame["peerId"] = json!(self.id);
        self.sink.send(self::frame(frame.to_string())).await?;
        while let Some(msg) = self.stream.next().await {
            if let Some(reply) = parse(msg?) {
                if reply["i"] == i {
                    return Ok(reply);
                }
            }
        }
        Err("connection closed before the reply".into())
    }

    /// Creates a conversation with `members` and returns its cid.
    pub async fn start_conv(&mut self, members: &[String]) -> Result<String> {
        let started = self
            .request(json!({"cmd": "conv", "op": "start", "m": members, "attr": {"name": "bench"}}))
            .await?;
        started["cid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("conv start failed: {started}").into())
    }
}

/// The JSON object of a frame; `None` for anything else.
pub fn parse(msg: Message) -> Option<Value> {
    serde_json::from_str(&text(msg)?).ok()
}

/// The fields of a delivered message that a receiver needs.
#[derive(serde::Deserialize)]
pub struct Delivered<'a> {
    #[serde(borrow)]
    pub cmd: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    pub cid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pub id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pub msg: Option<std::borrow::Cow<'a, str>>,
}

/// The ack of a delivered message, as a v2 client writes it.
pub fn ack(peer_id: &str, cid: &str, mid: &str) -> Message {
    let text = format!(
        r#"{{"cmd":"ack","cid":{},"mid":{},"peerId":{}}}"#,
        Value::from(cid),
        Value::from(mid),
        Value::from(peer_id)
    );
    frame(text)
}

/// A `direct` frame for `cid` with serial `i`.
pub fn direct(peer_id: &str, cid: &str, i: u64, msg: &str) -> Message {
    frame(
        json!({"cmd": "direct", "cid": cid, "msg": msg, "i": i, "r": false, "transient": false, "peerId": peer_id})
            .to_string(),
    )
}
