//! A recipient's `ack` (§6.5): records delivery and sends the receipt, if asked for,
//! on the first ack from that clientId. No reply.

use serde_json::{json, Value};

use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::time::now_ms;

pub fn ack(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let cid = req.required_str("cid", leanrt_protocol::ErrorCode::InternalError)?;
    let mid = req.required_str("mid", leanrt_protocol::ErrorCode::InternalError)?;
    let client = conn.session()?.client.clone();
    let shared = conn.shared.clone();
    // The store runs operations in order, so acks need not hold up this connection.
    let pending = shared
        .store
        .ack(client, cid.to_owned(), mid.to_owned(), now_ms());
    let (cid, mid) = (cid.to_owned(), mid.to_owned());
    tokio::spawn(async move {
        match pending.await {
            Ok(Some(receipt)) => {
                let rcp = json!({"cmd": "rcp", "cid": cid, "id": mid, "t": receipt.at});
                if let Value::Object(rcp) = rcp {
                    shared.hub.deliver(&[receipt.to], &rcp, None, None);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "recording an ack failed"),
        }
    });
    Ok(())
}
