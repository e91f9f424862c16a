//! The benchmark scenarios. Each returns its measurements as one JSON object.

pub use crate::peer::Target;
use crate::peer::{ack, direct, parse, text, Delivered, Peer, Result, Sink, Stream};
use crate::stats::Latencies;
use futures_util::future::try_join_all;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A prefix that keeps the clientIds of different runs apart.
pub fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), nanos)
}

/// Opens `n` sessions named `{prefix}{k}`, at most 200 handshakes at a time.
async fn open_many(target: &Target, prefix: &str, n: usize) -> Result<Vec<Peer>> {
    let mut peers = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(200) {
        let chunk = (chunk_start..n.min(chunk_start + 200))
            .map(|k| Peer::open(target, format!("{prefix}{k}")));
        peers.extend(try_join_all(chunk).await?);
    }
    Ok(peers)
}

/// How fast a sender goes: at most `window` messages unacked, and with a `rate`,
/// message `k` not before `k / rate` seconds after the start.
#[derive(Clone, Copy)]
pub struct Pace {
    pub window: usize,
    pub rate: Option<f64>,
}

impl Pace {
    fn due(&self, start: Instant, k: usize) -> Option<Instant> {
        self.rate
            .map(|r| start + Duration::from_secs_f64(k as f64 / r))
    }
}

/// Sends `n` messages into `cid` at `pace`, and returns the send→ack latencies.
/// `body(k)` is the text of message `k`.
async fn pump(
    id: &str,
    sink: &mut Sink,
    stream: &mut Stream,
    cid: &str,
    n: usize,
    pace: Pace,
    body: impl Fn(usize) -> String,
) -> Result<Latencies> {
    let mut sent_at: Vec<Instant> = Vec::with_capacity(n);
    let mut latencies = Latencies::default();
    let mut acked = 0;
    let start = Instant::now();
    while acked < n {
        let mut next_due = None;
        while sent_at.len() < n && sent_at.len() - acked < pace.window {
            let k = sent_at.len();
            if let Some(due) = pace.due(start, k).filter(|d| *d > Instant::now()) {
                next_due = Some(due);
                break;
            }
            sink.feed(direct(id, cid, k as u64 + 1, &body(k))).await?;
            sent_at.push(Instant::now());
        }
        sink.flush().await?;
        let first = match next_due {
            Some(due) => tokio::select! {
                frame = stream.next() => frame,
                () = tokio::time::sleep_until(due.into()) => continue,
            },
            None => stream.next().await,
        };
        let mut frames = vec![first.ok_or("connection closed")??];
        while let Some(Some(more)) = stream.next().now_or_never() {
            frames.push(more?);
        }
        for frame in frames.into_iter().filter_map(parse) {
            if frame["cmd"] != "ack" {
                continue;
            }
            if frame.get("code").is_some() {
                return Err(format!("send failed: {frame}").into());
            }
            let Some(i) = frame["i"].as_u64() else {
                continue;
            };
            if let Some(at) = sent_at.get(i as usize - 1) {
                latencies.push(at.elapsed().as_micros() as u64);
                acked += 1;
            }
        }
    }
    Ok(latencies)
}

/// Splits `count` into `parts` nearly equal shares.
fn shares(count: u64, parts: usize) -> impl Iterator<Item = usize> {
    let parts = parts.max(1) as u64;
    (0..parts).map(move |p| (count / parts + u64::from(p < count % parts)) as usize)
}

/// `senders` sessions, each with its own conversation with `members`, together send
/// `count` messages as fast as acks allow. Returns (seconds, send→ack latencies).
async fn send_from_many(
    target: &Target,
    name: &str,
    members: &[String],
    count: u64,
    senders: usize,
    window: usize,
) -> Result<(f64, Latencies)> {
    let mut peers = open_many(target, &format!("{name}-{}-", run_tag()), senders).await?;
    let mut cids = Vec::new();
    for peer in &mut peers {
        cids.push(peer.start_conv(members).await?);
    }
    let started = Instant::now();
    let jobs = peers.into_iter().zip(cids).zip(shares(count, senders)).map(
        |((mut peer, cid), n)| async move {
            let id = peer.id.clone();
            let body = |k| format!("{name} {k}");
            let pace = Pace { window, rate: None };
            pump(&id, &mut peer.sink, &mut peer.stream, &cid, n, pace, body).await
        },
    );
    let mut all = Latencies::default();
    for l in try_join_all(jobs).await? {
        all.extend(l);
    }
    Ok((started.elapsed().as_secs_f64(), all))
}

pub async fn burst(
    target: &Target,
    to: &str,
    count: u64,
    senders: usize,
    window: usize,
) -> Result<Value> {
    // One conversation per sender with only the receiver, so senders get no deliveries.
    let (secs, acks) =
        send_from_many(target, "burst", &[to.to_owned()], count, senders, window).await?;
    Ok(json!({"scenario": "burst", "sent": count, "seconds": secs,
        "acked_per_sec": count as f64 / secs, "ack_us": acks.summary()}))
}

/// Counts the `direct` frames a member receives until `expect`, acking each read's
/// frames in one write, and returns the send→delivery latencies. Message bodies are
/// `"{k}:{micros since start}"`.
async fn receive(mut peer: Peer, expect: usize, start: Arc<Instant>) -> Result<Latencies> {
    let mut latencies = Latencies::default();
    let mut got = 0;
    while got < expect {
        let mut frames = vec![peer.stream.next().await.ok_or("connection closed")??];
        while let Some(Some(more)) = peer.stream.next().now_or_never() {
            frames.push(more?);
        }
        let now = start.elapsed().as_micros() as u64;
        for frame in frames {
            let Some(text) = text(frame) else { continue };
            let Ok(d) = serde_json::from_str::<Delivered>(&text) else {
                continue;
            };
            if d.cmd != "direct" {
                continue;
            }
            got += 1;
            let sent = d
                .msg
                .as_deref()
                .and_then(|m| m.split_once(':'))
                .and_then(|(_, t)| t.parse::<u64>().ok());
            if let Some(sent) = sent {
                latencies.push(now.saturating_sub(sent));
            }
            let (cid, mid) = (d.cid.unwrap_or_default(), d.id.unwrap_or_default());
            peer.sink.feed(ack(&peer.id, &cid, &mid)).await?;
        }
        peer.sink.flush().await?;
    }
    Ok(latencies)
}

/// One sender, `members` receivers (every other one on `split`, another node, when
/// given).
pub async fn fanout(
    target: &Target,
    split: Option<&Target>,
    members: usize,
    count: u64,
    pace: Pace,
) -> Result<Value> {
    let tag = run_tag();
    let mut sender = Peer::open(target, format!("fan-{tag}-sender")).await?;
    let peers = match split {
        None => open_many(target, &format!("fan-{tag}-m"), members).await?,
        Some(other) => {
            let (a, b) = (format!("fan-{tag}-a"), format!("fan-{tag}-b"));
            let here = open_many(target, &a, members - members / 2);
            let there = open_many(other, &b, members / 2);
            let (here, there) = tokio::join!(here, there);
            let (mut here, there) = (here?, there?);
            here.extend(there);
            here
        }
    };
    let ids: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
    let cid = sender.start_conv(&ids).await?;
    // Let the `joined` notifications settle before timing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Arc::new(Instant::now());
    let receivers: Vec<_> = peers
        .into_iter()
        .map(|p| tokio::spawn(receive(p, count as usize, start.clone())))
        .collect();
    let id = sender.id.clone();
    let clock = start.clone();
    let acks = pump(
        &id,
        &mut sender.sink,
        &mut sender.stream,
        &cid,
        count as usize,
        pace,
        |k| format!("{k}:{}", clock.elapsed().as_micros()),
    )
    .await?;
    let mut delivery = Latencies::default();
    for r in receivers {
        delivery.extend(r.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    let delivered = count * members as u64;
    Ok(
        json!({"scenario": "fanout", "members": members, "sent": count, "delivered": delivered, "seconds": secs,
        "delivered_per_sec": delivered as f64 / secs, "ack_us": acks.summary(), "delivery_us": delivery.summary()}),
    )
}

pub async fn ingest(target: &Target, senders: usize, count: u64, window: usize) -> Result<Value> {
    // Each sender alone in its conversation: nothing but the commit is measured.
    let (secs, acks) = send_from_many(target, "ingest", &[], count, senders, window).await?;
    Ok(
        json!({"scenario": "ingest", "senders": senders, "acked": count, "seconds": secs,
        "acked_per_sec": count as f64 / secs, "ack_us": acks.summary()}),
    )
}

/// Resident set size of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or("no VmRSS in /proc status")?;
    Ok(kb * 1024)
}

pub async fn idle(target: &Target, conns: usize, server_pid: u32) -> Result<Value> {
    let before = rss_bytes(server_pid)?;
    let peers = open_many(target, &format!("idle-{}-", run_tag()), conns).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_bytes(server_pid)?;
    drop(peers);
    let per = after.saturating_sub(before) as f64 / conns as f64;
    Ok(
        json!({"scenario": "idle", "conns": conns, "rss_before": before, "rss_after": after, "bytes_per_conn": per}),
    )
}

#[cfg(test)]
mod tests {
    use super::shares;

    #[test]
    fn shares_add_up() {
        let s: Vec<usize> = shares(10, 3).collect();
        assert_eq!(s, vec![4, 3, 3]);
        assert_eq!(shares(200_000, 4).sum::<usize>(), 200_000);
    }
}
