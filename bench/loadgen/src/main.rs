//! `leanrt-loadgen`: drives leanrt-server over real WebSockets for the benchmarks in
//! `bench/`. Each subcommand prints one JSON object with its measurements on stdout.

mod heavy;
mod peer;
mod scenario;
mod soak;
mod stats;

use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Load generator for leanrt-server benchmarks")]
struct Cli {
    /// WebSocket URL of the server, e.g. ws://127.0.0.1:8080/
    #[arg(long)]
    url: String,
    /// appId used for every session.
    #[arg(long, default_value = "bench")]
    app: String,
    /// Speak v3 protobuf (`lc.protobuf2.3`, as LeanCloud's current SDKs do) instead
    /// of v2 JSON.
    #[arg(long)]
    v3: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Send `count` small messages from `senders` connections into one conversation
    /// that also holds `to` (the client under test), as fast as acks allow.
    Burst {
        #[arg(long)]
        to: String,
        #[arg(long, default_value_t = 200_000)]
        count: u64,
        #[arg(long, default_value_t = 4)]
        senders: usize,
        #[arg(long, default_value_t = 256)]
        window: usize,
    },
    /// One sender, a conversation of `members` online members: delivered messages per
    /// second, and send→ack and send→delivery latency.
    Fanout {
        #[arg(long, default_value_t = 100)]
        members: usize,
        /// Another node of the same cluster: every other member connects there.
        #[arg(long)]
        split_url: Option<String>,
        #[arg(long, default_value_t = 5_000)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        window: usize,
        /// Messages per second; unset: as fast as acks allow.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// `senders` connections each sending into its own conversation: committed
    /// (acked) messages per second.
    Ingest {
        #[arg(long, default_value_t = 50)]
        senders: usize,
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        window: usize,
    },
    /// Commit `count` messages for an offline receiver, then log it in and take them
    /// all: the server's RSS growth during the login push.
    Push {
        #[arg(long, default_value_t = 200_000)]
        count: u64,
        /// pid of leanrt-server, whose /proc status is read.
        #[arg(long)]
        server_pid: u32,
    },
    /// Create `conversations`, then measure send→ack latency alone and beside
    /// scanning `conv query`s at `rate` per second.
    Scan {
        #[arg(long, default_value_t = 100_000)]
        conversations: usize,
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Hold `conns` idle sessions and report the server's RSS growth per connection.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// pid of leanrt-server, whose /proc status is read.
        #[arg(long)]
        server_pid: u32,
    },
    /// Hold `conns` sessions for `seconds` with churn and steady messaging; prints one
    /// JSON line per `interval` seconds (then a summary line). See `bench/soak.js`.
    Soak {
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// Sessions per conversation.
        #[arg(long, default_value_t = 10)]
        group: usize,
        /// Messages per second, all sessions together.
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        /// Sessions closed and reopened per second, on average.
        #[arg(long, default_value_t = 20.0)]
        churn: f64,
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        #[arg(long, default_value_t = 60)]
        interval: u64,
        /// pid of leanrt-server, whose RSS is reported.
        #[arg(long)]
        server_pid: Option<u32>,
        /// New connections per second while ramping up.
        #[arg(long, default_value_t = 1_000)]
        ramp: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    if cli.v3 {
        peer::use_v3();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let target = scenario::Target {
        url: cli.url,
        app: cli.app,
    };
    let work = async move {
        match cli.scenario {
            Scenario::Burst {
                to,
                count,
                senders,
                window,
            } => scenario::burst(&target, &to, count, senders, window).await,
            Scenario::Fanout {
                members,
                split_url,
                count,
                window,
                rate,
            } => {
                let split = split_url.map(|url| peer::Target {
                    url,
                    app: target.app.clone(),
                });
                let pace = scenario::Pace { window, rate };
                scenario::fanout(&target, split.as_ref(), members, count, pace).await
            }
            Scenario::Ingest {
                senders,
                count,
                window,
            } => scenario::ingest(&target, senders, count, window).await,
            Scenario::Push { count, server_pid } => heavy::push(&target, count, server_pid).await,
            Scenario::Scan {
                conversations,
                rate,
                seconds,
            } => heavy::scan(&target, conversations, rate, seconds).await,
            Scenario::Idle { conns, server_pid } => {
                scenario::idle(&target, conns, server_pid).await
            }
            Scenario::Soak {
                conns,
                group,
                rate,
                churn,
                seconds,
                interval,
                server_pid,
                ramp,
            } => {
                let settings = soak::Soak {
                    conns,
                    group,
                    rate,
                    churn,
                    seconds,
                    interval: interval.max(1),
                    server_pid,
                    ramp_per_sec: ramp,
                };
                soak::soak(target, settings).await
            }
        }
    };
    let result = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(cli.timeout), work).await });
    match result {
        Ok(Ok(report)) => println!("{report}"),
        Ok(Err(err)) => {
            eprintln!("leanrt-loadgen: {err}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("leanrt-loadgen: timed out after {} s", cli.timeout);
            std::process::exit(2);
        }
    }
}
