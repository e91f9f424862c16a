//! Scenarios of load beside the message path: a large login push (server memory),
//! and scanning `conv query`s beside sends (what reads cost the writer).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::{json, Value};

use crate::peer::{self, ack, parse, text, Delivered, Peer, Result, Target};
use crate::scenario::{burst, rss_bytes, run_tag};
use crate::stats::Latencies;

/// `count` messages are committed for a receiver while it is offline; it then logs
/// in and takes them all (acking each read). Reports the server's RSS growth, peak
/// against before the login, sampled every 10 ms.
pub async fn push(target: &Target, count: u64, server_pid: u32) -> Result<Value> {
    let to = format!("push-{}-r", run_tag());
    burst(target, &to, count, 4, 256).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_bytes(server_pid)?;
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Ok(rss) = rss_bytes(server_pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let mut peer = Peer::open(target, to).await?;
    let mut got = 0;
    while got < count {
        let mut frames = vec![peer.stream.next().await.ok_or("connection closed")??];
        while let Some(Some(more)) = peer.stream.next().now_or_never() {
            frames.push(more?);
        }
        for frame in frames {
            let Some(text) = text(frame) else { continue };
            let Ok(d) = serde_json::from_str::<Delivered>(&text) else {
                continue;
            };
            if d.cmd == "direct" {
                got += 1;
                let (cid, mid) = (d.cid.unwrap_or_default(), d.id.unwrap_or_default());
                peer.sink.feed(ack(&peer.id, &cid, &mid)).await?;
            }
        }
        peer.sink.flush().await?;
    }
    let secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    let peak = peak.load(Ordering::Relaxed);
    Ok(
        json!({"scenario": "push", "messages": count, "seconds": secs,
        "rss_before": before, "rss_peak": peak, "growth_bytes": peak.saturating_sub(before)}),
    )
}

/// Sends `frames` on `peer` with at most `window` unanswered, and waits for every reply.
async fn pipelined(peer: &mut Peer, frames: Vec<Value>, window: usize) -> Result<()> {
    let total = frames.len();
    let mut frames = frames.into_iter().enumerate();
    let (mut sent, mut answered) = (0, 0);
    while answered < total {
        while sent < total && sent - answered < window {
            let Some((k, mut f)) = frames.next() else {
                break;
            };
            f["i"] = json!(k + 1);
            peer.sink.feed(peer::frame(f.to_string())).await?;
            sent += 1;
        }
        peer.sink.flush().await?;
        let reply = parse(peer.stream.next().await.ok_or("connection closed")??);
        if reply.is_some_and(|r| r.get("i").is_some()) {
            answered += 1;
        }
    }
    Ok(())
}

/// Sequential sends for `seconds`: the send→ack latencies.
async fn sends(peer: &mut Peer, cid: &str, seconds: f64) -> Result<Latencies> {
    let mut latencies = Latencies::default();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut i = 1_000_000u64;
    while Instant::now() < until {
        i += 1;
        let frame = json!({"cmd": "direct", "cid": cid, "msg": "ping", "i": i});
        let at = Instant::now();
        peer.sink.send(peer::frame(frame.to_string())).await?;
        loop {
            let reply = parse(peer.stream.next().await.ok_or("connection closed")??);
            if reply.is_some_and(|r| r["i"] == i) {
                break;
            }
        }
        latencies.push(at.elapsed().as_micros() as u64);
        // A steady trickle, not a saturating loop: about 500 sends/s.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(latencies)
}

/// Queries at `rate`/s (at most 16 unanswered) until `stop`: (answered, latencies).
async fn queries(peer: &mut Peer, rate: f64, stop: Arc<AtomicBool>) -> Result<(u64, Latencies)> {
    let mut latencies = Latencies::default();
    let started = Instant::now();
    let mut sent_at: std::collections::HashMap<u64, Instant> = Default::default();
    let (mut sent, mut answered) = (0u64, 0u64);
    // Matches nothing, and no index narrows it: every conversation is read.
    let query = |i: u64| json!({"cmd": "conv", "op": "query", "where": {"attr.level": {"$gte": 100}}, "limit": 10, "i": i});
    while !stop.load(Ordering::Relaxed) {
        let due = started + Duration::from_secs_f64(sent as f64 / rate);
        if sent_at.len() < 16 && Instant::now() >= due {
            sent += 1;
            peer.sink.send(peer::frame(query(sent).to_string())).await?;
            sent_at.insert(sent, Instant::now());
            continue;
        }
        let wait = due
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let frame = tokio::select! {
            f = peer.stream.next() => f.ok_or("connection closed")??,
            () = tokio::time::sleep(wait) => continue,
        };
        if let Some(reply) = parse(frame) {
            if let Some(at) = reply["i"].as_u64().and_then(|i| sent_at.remove(&i)) {
                latencies.push(at.elapsed().as_micros() as u64);
                answered += 1;
            }
        }
    }
    Ok((answered, latencies))
}

/// `conversations` conversations exist; a sender's send→ack latency is measured for
/// `seconds` alone, then again beside a client sending scanning queries at `rate`/s.
pub async fn scan(target: &Target, conversations: usize, rate: f64, seconds: f64) -> Result<Value> {
    let tag = run_tag();
    // A connection runs one conversation request at a time: create from several.
    const OWNERS: usize = 8;
    let fills = (0..OWNERS).map(|o| {
        let tag = tag.clone();
        async move {
            let mut owner = Peer::open(target, format!("scan-{tag}-owner{o}")).await?;
            let starts = (o..conversations)
                .step_by(OWNERS)
                .map(|k| json!({"cmd": "conv", "op": "start", "m": [], "attr": {"name": format!("c{k}"), "attr": {"level": k % 10}}}))
                .collect();
            pipelined(&mut owner, starts, 64).await
        }
    });
    futures_util::future::try_join_all(fills).await?;
    // Let the checkpoint of the fill pass before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut sender = Peer::open(target, format!("scan-{tag}-sender")).await?;
    let cid = sender.start_conv(&[]).await?;
    let alone = sends(&mut sender, &cid, seconds).await?.summary();
    let mut reader = Peer::open(target, format!("scan-{tag}-reader")).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        tokio::spawn(async move { queries(&mut reader, rate, stop).await })
    };
    let beside = sends(&mut sender, &cid, seconds).await?.summary();
    stop.store(true, Ordering::Relaxed);
    let (answered, query_us) = load.await??;
    let ratio =
        beside["p99"].as_f64().unwrap_or(0.0) / alone["p99"].as_f64().unwrap_or(1.0).max(1.0);
    Ok(
        json!({"scenario": "scan", "conversations": conversations, "query_rate": rate,
        "queries_per_sec": answered as f64 / seconds, "query_us": query_us.summary(),
        "ack_us_alone": alone, "ack_us_beside": beside, "ack_p99_ratio": ratio}),
    )
}
