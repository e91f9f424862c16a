//! `soak`: hold `conns` sessions for a long time with churn (sessions that close and
//! open again) and steady messaging, and print one JSON line per interval:
//! connections held, connects and disconnects, messages sent, acked and delivered,
//! delivery and ack latency percentiles, server RSS and errors.
//!
//! Sessions are grouped `group` at a time into one conversation each; every session
//! sends on a jittered timer so that the total rate is about `rate` messages per
//! second, and each message reaches the `group - 1` other members. Every session lives
//! for a random (exponential) time with mean `conns / churn` seconds, then closes its
//! socket and opens a new one with the same clientId; messages sent to it meanwhile
//! arrive as offline pushes, counted apart and not in the latency figures.

use crate::peer::{self, parse, Peer, Result, Target};
use futures_util::future::try_join_all;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Settings of a soak run.
pub struct Soak {
    pub conns: usize,
    pub group: usize,
    pub rate: f64,
    pub churn: f64,
    pub seconds: u64,
    pub interval: u64,
    pub server_pid: Option<u32>,
    pub ramp_per_sec: usize,
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    connects: AtomicU64,
    disconnects: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    delivered_offline: AtomicU64,
    errors: AtomicU64,
    error_sample: Mutex<Option<String>>,
    delivery_us: Mutex<Vec<u64>>,
    ack_us: Mutex<Vec<u64>>,
}

impl Counters {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Relaxed);
        if let Ok(mut s) = self.error_sample.lock() {
            s.get_or_insert(what);
        }
    }
}

/// A cheap per-task random source (xorshift), enough for jitter.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// An exponential variate with `mean`.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

fn take(v: &Mutex<Vec<u64>>) -> Vec<u64> {
    v.lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

pub async fn soak(target: Target, s: Soak) -> Result<Value> {
    let target = Arc::new(target);
    let tag = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let group = s.group.clamp(2, s.conns.max(2));
    let ids: Vec<String> = (0..s.conns).map(|k| format!("soak-{tag}-{k}")).collect();

    // One conversation per group, created by its first member.
    let mut cids = Vec::new();
    for members in ids.chunks(group) {
        let mut creator = Peer::open(&target, members[0].clone()).await?;
        cids.push(creator.start_conv(&members[1..]).await?);
    }
    let cids = Arc::new(cids);
    let counters = Arc::new(Counters::default());
    let clock = Arc::new(Instant::now());
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Each session sends every `conns / rate` seconds on average.
    let send_every = if s.rate > 0.0 {
        Duration::from_secs_f64(s.conns as f64 / s.rate)
    } else {
        Duration::from_secs(u64::MAX / 4)
    };
    let mean_life = if s.churn > 0.0 {
        s.conns as f64 / s.churn
    } else {
        f64::INFINITY
    };

    let ramp_started = Instant::now();
    let mut tasks = Vec::with_capacity(s.conns);
    let ramp_gap = Duration::from_secs_f64(1.0 / s.ramp_per_sec.max(1) as f64);
    for (k, id) in ids.into_iter().enumerate() {
        let cid = cids[k / group].clone();
        tasks.push(tokio::spawn(session(
            target.clone(),
            id,
            cid,
            k as u64,
            send_every,
            mean_life,
            counters.clone(),
            clock.clone(),
            stop.clone(),
            stopping.clone(),
        )));
        if k % 50 == 49 {
            tokio::time::sleep(ramp_gap * 50).await;
        }
    }
    // Wait (bounded) until the ramp is done.
    let ramp_deadline = Instant::now() + Duration::from_secs(120);
    while (counters.connected.load(Relaxed) as usize) < s.conns && Instant::now() < ramp_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ramp_secs = ramp_started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"event": "ramp", "connections": counters.connected.load(Relaxed), "target": s.conns,
               "seconds": ramp_secs, "conversations": cids.len(), "errors": counters.errors.load(Relaxed)})
    );

    // Reset the interval counters after the ramp, then report every interval.
    let started = Instant::now();
    let mut totals = json!({"sent": 0, "acked": 0, "delivered": 0, "delivered_offline": 0, "errors": 0,
                            "connects": 0, "disconnects": 0});
    let counter_names = [
        ("sent", &counters.sent),
        ("acked", &counters.acked),
        ("delivered", &counters.delivered),
        ("delivered_offline", &counters.delivered_offline),
        ("errors", &counters.errors),
        ("connects", &counters.connects),
        ("disconnects", &counters.disconnects),
    ];
    for (_, c) in &counter_names {
        c.store(0, Relaxed);
    }
    take(&counters.delivery_us);
    take(&counters.ack_us);
    let mut min_connected = u64::MAX;
    let mut worst_p99 = 0u64;
    let mut rss_first = None;
    let mut rss_last = None;
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(s.seconds) {
        let left = Duration::from_secs(s.seconds).saturating_sub(started.elapsed());
        tokio::time::sleep(Duration::from_secs(s.interval).min(left)).await;
        n += 1;
        let mut line =
            json!({"event": "interval", "n": n, "t": started.elapsed().as_secs_f64().round()});
        for (name, c) in &counter_names {
            let v = c.swap(0, Relaxed);
            line[*name] = json!(v);
            totals[*name] = json!(totals[*name].as_u64().unwrap_or(0) + v);
        }
        let connected = counters.connected.load(Relaxed);
        min_connected = min_connected.min(connected);
        line["connections"] = json!(connected);
        let mut d = take(&counters.delivery_us);
        d.sort_unstable();
        let mut a = take(&counters.ack_us);
        a.sort_unstable();
        let p99 = percentile(&d, 0.99);
        worst_p99 = worst_p99.max(p99);
        line["delivery_ms"] = json!({"p50": percentile(&d, 0.5) as f64 / 1000.0,
            "p99": p99 as f64 / 1000.0, "max": d.last().copied().unwrap_or(0) as f64 / 1000.0});
        line["ack_ms"] = json!({"p50": percentile(&a, 0.5) as f64 / 1000.0, "p99": percentile(&a, 0.99) as f64 / 1000.0});
        if let Some(pid) = s.server_pid {
            let rss = rss_bytes(pid);
            rss_first = rss_first.or(rss);
            rss_last = rss.or(rss_last);
            line["server_rss_mb"] =
                json!(rss.map(|b| (b as f64 / 1048576.0 * 10.0).round() / 10.0));
        }
        if let Ok(mut sample) = counters.error_sample.lock() {
            if let Some(e) = sample.take() {
                line["error_sample"] = json!(e);
            }
        }
        println!("{line}");
    }
    stopping.store(true, Relaxed);
    stop.notify_waiters();
    let _ = tokio::time::timeout(Duration::from_secs(10), try_join_all(tasks)).await;
    let mb = |b: Option<u64>| b.map(|b| (b as f64 / 1048576.0 * 10.0).round() / 10.0);
    Ok(
        json!({"event": "summary", "scenario": "soak", "target_connections": s.conns,
        "min_connections": if min_connected == u64::MAX { 0 } else { min_connected },
        "ramp_seconds": ramp_secs, "seconds": started.elapsed().as_secs_f64(), "totals": totals,
        "worst_interval_delivery_p99_ms": worst_p99 as f64 / 1000.0,
        "server_rss_mb_first": mb(rss_first), "server_rss_mb_last": mb(rss_last)}),
    )
}

/// One clientId for the whole run: connect, serve until its lifetime ends, reconnect.
#[allow(clippy::too_many_arguments)]
async fn session(
    target: Arc<Target>,
    id: String,
    cid: String,
    seed: u64,
    send_every: Duration,
    mean_life: f64,
    counters: Arc<Counters>,
    clock: Arc<Instant>,
    stop: Arc<tokio::sync::Notify>,
    stopping: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut rng = Rng::new(seed + 1);
    while !stopping.load(Relaxed) {
        let peer = match Peer::open(&target, id.clone()).await {
            Ok(p) => p,
            Err(e) => {
                counters.error(format!("connect {id}: {e}"));
                tokio::time::sleep(Duration::from_millis(500 + (rng.unit() * 1000.0) as u64)).await;
                continue;
            }
        };
        counters.connects.fetch_add(1, Relaxed);
        counters.connected.fetch_add(1, Relaxed);
        let life = Duration::from_secs_f64(rng.exp(mean_life).min(1e9));
        let result = serve(
            peer, &cid, &mut rng, send_every, life, &counters, &clock, &stop, &stopping,
        )
        .await;
        counters.connected.fetch_sub(1, Relaxed);
        counters.disconnects.fetch_add(1, Relaxed);
        if let Err(e) = result {
            if !stopping.load(Relaxed) {
                counters.error(format!("{id}: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    mut peer: Peer,
    cid: &str,
    rng: &mut Rng,
    send_every: Duration,
    life: Duration,
    counters: &Counters,
    clock: &Instant,
    stop: &tokio::sync::Notify,
    stopping: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    let end = tokio::time::Instant::now() + life;
    let mut next_send = tokio::time::Instant::now() + send_every.mul_f64(rng.unit() * 2.0);
    let mut next_i: u64 = 1_000;
    let mut pending: std::collections::HashMap<u64, Instant> = Default::default();
    loop {
        if stopping.load(Relaxed) {
            let _ = peer.sink.close().await;
            return Ok(());
        }
        tokio::select! {
            _ = stop.notified() => {
                let _ = peer.sink.close().await;
                return Ok(());
            }
            _ = tokio::time::sleep_until(end) => {
                let _ = peer.sink.close().await;
                return Ok(());
            }
            _ = tokio::time::sleep_until(next_send) => {
                next_send += send_every.mul_f64(0.5 + rng.unit());
                next_i += 1;
                let body = format!("{}:{}", next_i, clock.elapsed().as_micros());
                let frame = json!({"cmd": "direct", "cid": cid, "msg": body, "i": next_i,
                                   "r": false, "transient": false, "peerId": peer.id});
                pending.insert(next_i, Instant::now());
                peer.sink.send(peer::frame(frame.to_string())).await?;
                counters.sent.fetch_add(1, Relaxed);
            }
            msg = peer.stream.next() => {
                let mut frames = vec![msg.ok_or("closed by the server")??];
                while let Some(Some(more)) = peer.stream.next().now_or_never() {
                    frames.push(more?);
                }
                let now = clock.elapsed().as_micros() as u64;
                let mut wrote = false;
                for msg in frames {
                    if let Message::Close(frame) = &msg {
                        return Err(format!("closed by the server: {frame:?}").into());
                    }
                    let Some(frame) = parse(msg) else { continue };
                    match frame["cmd"].as_str() {
                        Some("direct") => {
                            if frame["offline"] == true {
                                counters.delivered_offline.fetch_add(1, Relaxed);
                            } else {
                                counters.delivered.fetch_add(1, Relaxed);
                                let sent = frame["msg"].as_str()
                                    .and_then(|m| m.split_once(':'))
                                    .and_then(|(_, t)| t.parse::<u64>().ok());
                                if let (Some(sent), Ok(mut l)) = (sent, counters.delivery_us.lock()) {
                                    l.push(now.saturating_sub(sent));
                                }
                            }
                            let ack = json!({"cmd": "ack", "cid": frame["cid"], "mid": frame["id"], "peerId": peer.id});
                            peer.sink.feed(peer::frame(ack.to_string())).await?;
                            wrote = true;
                        }
                        Some("ack") => {
                            if frame.get("code").is_some() {
                                counters.error(format!("ack with an error: {frame}"));
                            } else {
                                counters.acked.fetch_add(1, Relaxed);
                            }
                            if let Some(at) = frame["i"].as_u64().and_then(|i| pending.remove(&i)) {
                                if let Ok(mut l) = counters.ack_us.lock() {
                                    l.push(at.elapsed().as_micros() as u64);
                                }
                            }
                        }
                        Some("error") => counters.error(format!("error frame: {frame}")),
                        Some("session") if frame["op"] == "closed" => {
                            return Err(format!("session closed: {frame}").into());
                        }
                        _ => {}
                    }
                }
                if wrote {
                    peer.sink.flush().await?;
                }
            }
        }
    }
}
