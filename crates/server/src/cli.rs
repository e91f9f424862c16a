//! The command line: flags (each also an environment variable), logging, the runtime
//! and signal handling.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use crate::config::{App, Config, Limits};
use crate::server::Server;

/// A self-hostable server for the LeanCloud realtime v2 protocol.
#[derive(Parser, Debug)]
#[command(name = "leanrt-server", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "LEANRT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// SQLite database file, or `:memory:`.
    #[arg(long, env = "LEANRT_DB", default_value = "./leanrt.db")]
    db: String,
    /// An application as ID or ID:MASTER_KEY (the key enforces signatures); repeatable,
    /// space-separated in the environment (a key may contain commas). None: any appId
    /// is accepted.
    #[arg(long = "app", env = "LEANRT_APP", value_delimiter = ' ')]
    apps: Vec<App>,
    /// This node's id (default: random).
    #[arg(long, env = "LEANRT_NODE_ID")]
    node_id: Option<String>,
    /// WebSocket URL the router hands out (default: ws://HOST:PORT/ of the listener).
    #[arg(long, env = "LEANRT_PUBLIC_URL")]
    public_url: Option<String>,
    /// Concurrent connections; more are refused with HTTP 503.
    #[arg(long, env = "LEANRT_MAX_CONNECTIONS", default_value_t = 100_000)]
    max_connections: usize,
    /// Log filter (tracing EnvFilter syntax), e.g. info or leanrt_server=debug.
    #[arg(long, env = "LEANRT_LOG", default_value = "info")]
    log: String,
    /// Largest WebSocket frame or message in bytes (bigger: close 4109).
    #[arg(long, env = "LEANRT_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    max_frame_bytes: usize,
    /// Largest `msg` of a message in bytes (bigger: ack with code 4109).
    #[arg(long, env = "LEANRT_MAX_MESSAGE_BYTES", default_value_t = 5120)]
    max_message_bytes: usize,
    /// Members of a normal conversation (more: 4304).
    #[arg(long, env = "LEANRT_MAX_MEMBERS", default_value_t = 500)]
    max_members: usize,
    /// Frames per second per connection, acks and heartbeats not counted (more: code
    /// 4112); 0: no limit.
    #[arg(long, env = "LEANRT_RATE_LIMIT", default_value_t = 1000)]
    rate_limit: u32,
    /// Concurrent sessions of one clientId (more: closed with 4112).
    #[arg(long, env = "LEANRT_SESSIONS_PER_CLIENT", default_value_t = 64)]
    sessions_per_client: usize,
    /// Frames queued for one connection before it is closed with 4117.
    #[arg(long, env = "LEANRT_OUTBOUND_QUEUE", default_value_t = 1024)]
    outbound_queue: usize,
    /// Accepted clock distance of signature timestamps, in seconds.
    #[arg(long, env = "LEANRT_SIGNATURE_WINDOW", default_value_t = 3600)]
    signature_window: u64,
    /// Seconds of silence before a WebSocket ping; two silent intervals close with 4107.
    #[arg(long, env = "LEANRT_PING_INTERVAL", default_value_t = 90)]
    ping_interval: u64,
    /// Pending messages pushed per conversation at login (the newest; older ones wait
    /// for a later login). LeanCloud: 20.
    #[arg(long, env = "LEANRT_OFFLINE_PER_CONVERSATION", default_value_t = 1000)]
    offline_per_conversation: usize,
    /// Conversations pushed at login (those with the newest pending messages; the
    /// others wait for a later login). LeanCloud: 50.
    #[arg(long, env = "LEANRT_OFFLINE_CONVERSATIONS", default_value_t = 1000)]
    offline_conversations: usize,
}

impl Args {
    fn into_config(self) -> Result<Config, String> {
        let mut ids = std::collections::HashSet::new();
        if let Some(twice) = self.apps.iter().find(|a| !ids.insert(a.id.as_str())) {
            return Err(format!(
                "the app {:?} is given more than once (in --app or LEANRT_APP)",
                twice.id
            ));
        }
        Ok(Config {
            listen: self.listen,
            db: self.db,
            apps: self.apps,
            public_url: self.public_url,
            max_connections: self.max_connections,
            limits: Limits {
                max_frame_bytes: self.max_frame_bytes,
                max_message_bytes: self.max_message_bytes,
                max_members: self.max_members,
                frames_per_second: self.rate_limit,
                sessions_per_client: self.sessions_per_client,
                outbound_queue: self.outbound_queue,
                signature_window: Duration::from_secs(self.signature_window),
                ping_interval: Duration::from_secs(self.ping_interval.max(1)),
                offline_per_conversation: self.offline_per_conversation,
                offline_conversations: self.offline_conversations,
                ..Limits::default()
            },
            node_id: self.node_id,
            ..Config::default()
        })
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the server as the `leanrt-server` command with `args` (the first being the
/// program name) until SIGINT or SIGTERM; returns the process exit code.
pub fn cli_main(args: Vec<String>) -> i32 {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("leanrt-server: cannot start the runtime: {e}");
            return 1;
        }
    };
    let config = match args.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("leanrt-server: {e}");
            return 2;
        }
    };
    let result = runtime.block_on(async {
        let server = Server::bind(config).await?;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "listening on http://{}", server.local_addr());
        let _ = stdout.flush();
        server.run(terminated()).await
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("leanrt-server: {e}");
            1
        }
    }
}
