//! The command line: flags (each also an environment variable), logging, the runtime
//! and signal handling.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{App, Config, Limits};
use crate::leancloud::{export, import};
use crate::server::Server;
use crate::store::{open_store, sqlite_to_postgres, Copied};

/// A self-hostable server for the LeanCloud realtime v2 protocol.
#[derive(Parser, Debug)]
#[command(
    name = "leanrt-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Args,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Pull an app's conversations and message history from LeanCloud's REST API
    /// into a directory (resumable: run it again to go on).
    Export(ExportArgs),
    /// Load exported conversations and history into the data file (the server must
    /// not be running on it).
    Import(ImportArgs),
    /// Copy an SQLite deployment (conversations, history, cursors) into PostgreSQL,
    /// one conversation per transaction (resumable: run it again to go on). The
    /// server must not be running on the file.
    Migrate(MigrateArgs),
}

#[derive(clap::Args, Debug)]
struct MigrateArgs {
    /// The SQLite data file.
    #[arg(long)]
    from: PathBuf,
    /// The PostgreSQL database, as postgres://USER@HOST:PORT/DB (created if missing).
    #[arg(long)]
    to: String,
}

#[derive(clap::Args, Debug)]
struct ExportArgs {
    /// The app's API domain, e.g. https://abcd1234.api.lncldglobal.com.
    #[arg(long, env = "LEANCLOUD_API")]
    api: String,
    #[arg(long, env = "LEANCLOUD_APP_ID")]
    app_id: String,
    /// The app's master key (sent as a header only; never logged or written).
    #[arg(long, env = "LEANCLOUD_MASTER_KEY", hide_env_values = true)]
    master_key: String,
    /// The export directory.
    #[arg(long)]
    out: PathBuf,
    /// Requests per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
}

#[derive(clap::Args, Debug)]
struct ImportArgs {
    /// Export directories or files (.jsonl, .json, .ndjson, optionally .gz).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// SQLite database file, or a `postgres://` URL.
    #[arg(long, env = "LEANRT_DB", default_value = "./leanrt.db")]
    db: String,
    /// Members kept per conversation (LeanCloud uses the first 500).
    #[arg(long, env = "LEANRT_MAX_MEMBERS", default_value_t = 500)]
    max_members: usize,
    /// Where records that map to no conversation are written.
    #[arg(long, default_value = "./leanrt-import-unmapped.jsonl")]
    unmapped: PathBuf,
}

/// The server's flags.
#[derive(clap::Args, Debug)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "LEANRT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// SQLite database file (or `:memory:`), or a PostgreSQL database as
    /// `postgres://USER@HOST:PORT/DB` (created if it does not exist).
    #[arg(long, env = "LEANRT_DB", default_value = "./leanrt.db")]
    db: String,
    /// An application as ID or ID:MASTER_KEY (the key enforces signatures); repeatable,
    /// space-separated in the environment (a key may contain commas). None: any appId
    /// is accepted.
    #[arg(long = "app", env = "LEANRT_APP", value_delimiter = ' ')]
    apps: Vec<App>,
    /// An app's master key for the REST API, as ID:MASTER_KEY, without making its
    /// clients sign; repeatable, space-separated in the environment.
    #[arg(
        long = "api-key",
        env = "LEANRT_API_KEY",
        value_delimiter = ' ',
        hide_env_values = true
    )]
    api_keys: Vec<App>,
    /// Redis for several nodes (presence, cross-node delivery, shared nonces), as
    /// redis://HOST:PORT; none: one node.
    #[arg(long, env = "LEANRT_REDIS")]
    redis: Option<String>,
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
        if let Some(bare) = self.api_keys.iter().find(|a| a.master_key.is_none()) {
            return Err(format!("--api-key {:?}: expected ID:MASTER_KEY", bare.id));
        }
        Ok(Config {
            listen: self.listen,
            db: self.db,
            apps: self.apps,
            api_keys: self.api_keys,
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
            redis: self.redis,
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

/// Runs the `leanrt-server` command with `args` (the first being the program name):
/// the server until SIGINT or SIGTERM, or `export` or `import`; returns the process
/// exit code.
pub fn cli_main(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let log = match cli.command {
        None => cli.serve.log.as_str(),
        Some(_) => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_new(log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Export(args)) => run_export(args),
        Some(Command::Import(args)) => run_import(args),
        Some(Command::Migrate(args)) => run_migrate(args),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("leanrt-server: cannot start the runtime: {e}");
            1
        })
}

fn serve(args: Args) -> i32 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
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

fn run_export(args: ExportArgs) -> i32 {
    let options = export::Options {
        api: args.api,
        app_id: args.app_id,
        master_key: args.master_key,
        out: args.out,
        rate: args.rate,
    };
    match export::run(&options) {
        Ok(t) => {
            println!(
                "exported {} conversations and {} messages ({} pages) to {}",
                t.conversations,
                t.messages,
                t.pages,
                options.out.display()
            );
            if !t.skipped.is_empty() {
                println!(
                    "history not exported for {} conversation(s): {}",
                    t.skipped.len(),
                    t.skipped.join(" ")
                );
            }
            0
        }
        Err(e) => {
            eprintln!("leanrt-server export: {e}");
            1
        }
    }
}

fn run_migrate(args: MigrateArgs) -> i32 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut shown = std::time::Instant::now();
    let progress = |c: &Copied| {
        if shown.elapsed() >= Duration::from_secs(1) {
            shown = std::time::Instant::now();
            eprintln!(
                "migrate: {}/{} conversations, {} messages",
                c.conversations + c.skipped,
                c.total,
                c.messages
            );
        }
    };
    match runtime.block_on(sqlite_to_postgres(&args.from, &args.to, progress)) {
        Ok(c) => {
            println!(
                "migrated {} conversations, {} messages and {} member cursors; {} conversations were in the database already",
                c.conversations, c.messages, c.cursors, c.skipped
            );
            0
        }
        Err(e) => {
            eprintln!("leanrt-server migrate: {e}");
            1
        }
    }
}

fn run_import(args: ImportArgs) -> i32 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let store = open_store(&args.db).await.map_err(|e| e.to_string())?;
        let totals = import::run(&*store, &args.inputs, args.max_members, &args.unmapped).await;
        store.close().await;
        totals
    });
    match result {
        Ok(t) => {
            println!(
                "imported {} conversations ({} new) and {} messages; {} duplicates skipped; {} unmapped records{}",
                t.conversations,
                t.created,
                t.messages,
                t.duplicates,
                t.unmapped,
                if t.unmapped > 0 {
                    format!(" (written to {})", args.unmapped.display())
                } else {
                    String::new()
                }
            );
            0
        }
        Err(e) => {
            eprintln!("leanrt-server import: {e}");
            1
        }
    }
}
