//! Server configuration: what the CLI and library users set.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// One application: its id and, when signatures are enforced, its master key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    pub id: String,
    pub master_key: Option<String>,
}

impl std::str::FromStr for App {
    type Err = String;

    /// Parses `ID` or `ID:MASTER_KEY`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, key) = match s.split_once(':') {
            Some((id, key)) => (id, Some(key.to_owned())),
            None => (s, None),
        };
        if id.is_empty() || key.as_deref() == Some("") {
            return Err(format!("invalid app {s:?}: expected ID or ID:MASTER_KEY"));
        }
        Ok(App {
            id: id.to_owned(),
            master_key: key,
        })
    }
}

/// Limits enforced per connection, session and conversation (§6.11).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest WebSocket frame or message accepted; bigger ones close with 4109.
    pub max_frame_bytes: usize,
    /// Largest `msg` of a `direct`; bigger ones get an ack with code 4109.
    pub max_message_bytes: usize,
    /// Members of a normal conversation (4304 beyond).
    pub max_members: usize,
    /// Frames per second per connection (a token bucket with one second of burst);
    /// recipient `ack`s and heartbeats are not counted; 0 turns the limit off.
    pub frames_per_second: u32,
    /// Concurrent sessions of one clientId.
    pub sessions_per_client: usize,
    /// Frames that may wait in one connection's outbound queue; a fuller queue closes
    /// the connection with 4117 SLOW_CONSUMER.
    pub outbound_queue: usize,
    /// Accepted distance between a signature's `t` and the server clock.
    pub signature_window: Duration,
    /// Maximal number of nonces remembered for replay detection.
    pub nonce_cache: usize,
    /// Quiet time after which the server sends a WebSocket ping; a connection quiet
    /// for two intervals is closed with 4107 READ_TIMEOUT.
    pub ping_interval: Duration,
    /// Offline push at login (§6.5): at most this many pending messages (the oldest)
    /// of each conversation. Newer ones stay pending for a later login.
    pub offline_per_conversation: usize,
    /// Offline push at login: at most this many conversations (those with the newest
    /// pending messages). The others stay queued for a later login.
    pub offline_conversations: usize,
    /// Largest JSON size of a conversation's `name`, `attr` and custom fields
    /// together; an update beyond gets 4306, a start 4301.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 64 * 1024,
            max_message_bytes: 5120,
            max_members: 500,
            frames_per_second: 1000,
            sessions_per_client: 64,
            outbound_queue: 1024,
            signature_window: Duration::from_secs(3600),
            nonce_cache: 100_000,
            ping_interval: Duration::from_secs(90),
            offline_per_conversation: 1000,
            offline_conversations: 1000,
            max_record_bytes: 32 * 1024,
        }
    }
}

/// Everything needed to start a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// SQLite database file (or `:memory:`), or a `postgres://` URL.
    pub db: String,
    /// The Redis of a cluster of nodes (`redis://HOST:PORT`); none: one node.
    pub redis: Option<String>,
    /// Known applications. Empty means any appId is accepted, unsigned.
    pub apps: Vec<App>,
    /// Master keys that open the REST API for an app without making its clients
    /// sign (an app's key in `apps` opens it too).
    pub api_keys: Vec<App>,
    /// The WebSocket URL the router hands out; derived from the bound address if unset.
    pub public_url: Option<String>,
    /// Concurrent connections (HTTP and WebSocket) before new ones are refused.
    pub max_connections: usize,
    /// How long graceful shutdown waits for connections to close.
    pub drain_timeout: Duration,
    /// This node's id in session ids (random when unset).
    pub node_id: Option<String>,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: "./leanrt.db".to_owned(),
            redis: None,
            apps: Vec::new(),
            api_keys: Vec::new(),
            public_url: None,
            max_connections: 100_000,
            drain_timeout: Duration::from_secs(5),
            node_id: None,
            limits: Limits::default(),
        }
    }
}

/// The app table as used at run time.
#[derive(Debug, Default)]
pub struct Apps {
    by_id: HashMap<String, Option<String>>,
    rest_keys: HashMap<String, String>,
}

/// What the server knows about an appId.
pub enum AppCheck<'a> {
    Unknown,
    Open,
    Signed { master_key: &'a str },
}

impl Apps {
    pub fn new(apps: &[App], api_keys: &[App]) -> Self {
        let keyed = |a: &App| Some((a.id.clone(), a.master_key.clone()?));
        Apps {
            by_id: apps
                .iter()
                .map(|a| (a.id.clone(), a.master_key.clone()))
                .collect(),
            rest_keys: apps.iter().chain(api_keys).filter_map(keyed).collect(),
        }
    }

    /// The master key that opens the REST API for `app_id`, if any.
    pub fn rest_key(&self, app_id: &str) -> Option<&str> {
        self.rest_keys.get(app_id).map(String::as_str)
    }

    /// Whether `app_id` may connect, and with which signature rules.
    pub fn check(&self, app_id: &str) -> AppCheck<'_> {
        if self.by_id.is_empty() {
            return AppCheck::Open;
        }
        match self.by_id.get(app_id) {
            None => AppCheck::Unknown,
            Some(None) => AppCheck::Open,
            Some(Some(key)) => AppCheck::Signed { master_key: key },
        }
    }
}
