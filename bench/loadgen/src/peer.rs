//! One benchmark session: a WebSocket connection with an opened `session`.

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Sink = SplitSink<Ws, Message>;
pub type Stream = SplitStream<Ws>;

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
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(&target.url, Some(config), true).await?;
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
        self.sink.send(Message::text(frame.to_string())).await?;
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

/// The JSON object of a text frame; `None` for anything else.
pub fn parse(msg: Message) -> Option<Value> {
    match msg {
        Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
        _ => None,
    }
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
    Message::text(text)
}

/// A `direct` frame for `cid` with serial `i`.
pub fn direct(peer_id: &str, cid: &str, i: u64, msg: &str) -> Message {
    Message::text(
        json!({"cmd": "direct", "cid": cid, "msg": msg, "i": i, "r": false, "transient": false, "peerId": peer_id})
            .to_string(),
    )
}
