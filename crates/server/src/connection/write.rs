//! Writing to the socket beside the reads: a write owns the sink while it runs and
//! hands it back. Frames are buffered by tungstenite and flushed once per chunk.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// Longest a chunk of writes may make no progress before the peer counts as a slow
/// consumer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the peer's close frame after sending ours.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames per flush.
pub const WRITE_BATCH: usize = 64;

/// The write half of a connection's WebSocket.
pub type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
/// How a write ended: `Err` when a chunk of it made no progress for [`WRITE_TIMEOUT`].
pub type Written = Result<Result<(), WsError>, tokio::time::error::Elapsed>;
/// A write in progress; it owns the sink and hands it back.
pub type Writing<S> = BoxFuture<'static, (Sink<S>, Written)>;

/// Writes `frames` in chunks, giving up only when a chunk makes no progress for
/// [`WRITE_TIMEOUT`]: a long push to a slow reader is not a stalled reader.
/// `abandon` ends it at once (the rest unwritten), handing the sink back for the close.
pub async fn write_all<S>(
    mut sink: Sink<S>,
    frames: Vec<Message>,
    abandon: Arc<Notify>,
) -> (Sink<S>, Written)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut frames = frames.into_iter().peekable();
    while frames.peek().is_some() {
        let chunk = async {
            for msg in frames.by_ref().take(WRITE_BATCH) {
                sink.feed(msg).await?;
            }
            sink.flush().await
        };
        let written = tokio::select! {
            written = tokio::time::timeout(WRITE_TIMEOUT, chunk) => written,
            () = abandon.notified() => break,
        };
        if !matches!(written, Ok(Ok(()))) {
            return (sink, written);
        }
    }
    (sink, Ok(Ok(())))
}

/// Waits for the write in progress, if any, without taking it, so that the wait can be
/// cancelled by `select!`.
pub async fn poll_writing<S>(writing: &mut Option<Writing<S>>) -> (Sink<S>, Written) {
    match writing {
        Some(write) => write.await,
        None => std::future::pending().await,
    }
}

/// The sink once any write in progress has finished (bounded by [`CLOSE_TIMEOUT`]),
/// or been abandoned; `None` if it did not finish.
pub async fn settle<S>(
    sink: &mut Option<Sink<S>>,
    writing: &mut Option<Writing<S>>,
    abandon: Option<&Notify>,
) -> Option<Sink<S>> {
    if let Some(write) = writing.take() {
        if let Some(abandon) = abandon {
            abandon.notify_one();
        }
        if let Ok((done, _)) = tokio::time::timeout(CLOSE_TIMEOUT, write).await {
            *sink = Some(done);
        }
    }
    sink.take()
}
