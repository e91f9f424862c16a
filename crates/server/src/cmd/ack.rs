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
    let hub = conn.shared.hub.clone();
    let (rcp_cid, rcp_mid) = (cid.to_owned(), mid.to_owned());
    // The store runs operations in order, so acks need not hold up this connection.
    let receipt = Box::new(move |due: crate::store::Receipt| {
        let rcp = json!({"cmd": "rcp", "cid": rcp_cid, "id": rcp_mid, "t": due.at});
        if let Value::Object(rcp) = rcp {
            hub.deliver(&[due.to], &rcp, None, None);
        }
    });
    conn.shared
        .store
        .ack(client, cid.to_owned(), mid.to_owned(), now_ms(), receipt);
    Ok(())
}
