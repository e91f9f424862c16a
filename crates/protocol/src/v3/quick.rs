//! Fast paths for the most frequent frames: a recipient's `ack` (read) and the ack of
//! a stored message (written), field by field, without the schema-driven codec. Any
//! other shape returns `None` and goes the general way ([`super::codec`]); the tests
//! check that both ways agree.

use prost::bytes::Buf;
use prost::encoding::{decode_key, decode_varint, encode_key, encode_varint, WireType};

/// `GenericCommand` fields: `cmd`, `peerId`, `i`, `ackMessage`.
const CMD: u32 = 1;
const PEER_ID: u32 = 4;
const I: u32 = 5;
const ACK_MESSAGE: u32 = 105;
/// `CommandType.ack`.
const ACK: u64 = 3;
/// `AckCommand` fields: `mid`, `cid`, `t`, `uid`, `fromts`, `tots`.
const MID: u32 = 3;
const CID: u32 = 4;
const T: u32 = 5;
const UID: u32 = 6;
const FROMTS: u32 = 7;
const TOTS: u32 = 8;

/// A recipient's ack: of one message, or of a time range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuickAck {
    pub peer_id: Option<String>,
    pub cid: String,
    pub mid: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// The ack `bytes` hold, if they are an ack without `i` made only of the fields above.
pub fn ack(mut bytes: &[u8]) -> Option<QuickAck> {
    let mut ack = QuickAck::default();
    let (mut is_ack, mut has_cid) = (false, false);
    while bytes.has_remaining() {
        let (tag, wire) = decode_key(&mut bytes).ok()?;
        match (tag, wire) {
            (CMD, WireType::Varint) => is_ack = decode_varint(&mut bytes).ok()? == ACK,
            (PEER_ID, WireType::LengthDelimited) => ack.peer_id = Some(text(&mut bytes)?),
            (ACK_MESSAGE, WireType::LengthDelimited) => {
                let len = usize::try_from(decode_varint(&mut bytes).ok()?).ok()?;
                let mut inner = bytes.get(..len)?;
                bytes.advance(len);
                while inner.has_remaining() {
                    match decode_key(&mut inner).ok()? {
                        (CID, WireType::LengthDelimited) => {
                            ack.cid = text(&mut inner)?;
                            has_cid = true;
                        }
                        (MID, WireType::LengthDelimited) => ack.mid = Some(text(&mut inner)?),
                        (FROMTS, WireType::Varint) => ack.from = Some(int64(&mut inner)?),
                        (TOTS, WireType::Varint) => ack.to = Some(int64(&mut inner)?),
                        _ => return None,
                    }
                }
            }
            // `i` (a request) or anything else is for the general decoder.
            _ => return None,
        }
    }
    (is_ack && has_cid).then_some(ack)
}

/// The reply to a stored message, `ack {i, uid, t}`, addressed to `peer`.
pub fn stored_ack(i: Option<i64>, uid: &str, t: i64, peer: Option<&str>) -> Vec<u8> {
    let mut inner = Vec::with_capacity(uid.len() + 16);
    put_text(&mut inner, UID, uid);
    encode_key(T, WireType::Varint, &mut inner);
    encode_varint(t as u64, &mut inner);
    let mut out = Vec::with_capacity(inner.len() + 32);
    encode_key(CMD, WireType::Varint, &mut out);
    encode_varint(ACK, &mut out);
    if let Some(peer) = peer {
        put_text(&mut out, PEER_ID, peer);
    }
    if let Some(i) = i {
        encode_key(I, WireType::Varint, &mut out);
        // int32: a negative value is sign-extended to ten bytes, as protobuf does.
        encode_varint(i32::try_from(i).unwrap_or_default() as i64 as u64, &mut out);
    }
    encode_key(ACK_MESSAGE, WireType::LengthDelimited, &mut out);
    encode_varint(inner.len() as u64, &mut out);
    out.extend_from_slice(&inner);
    out
}

fn put_text(out: &mut Vec<u8>, field: u32, value: &str) {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(value.len() as u64, out);
    out.extend_from_slice(value.as_bytes());
}

fn text(bytes: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(decode_varint(bytes).ok()?).ok()?;
    let s = std::str::from_utf8(bytes.get(..len)?).ok()?.to_owned();
    bytes.advance(len);
    Some(s)
}

fn int64(bytes: &mut &[u8]) -> Option<i64> {
    decode_varint(bytes).ok().map(|v| v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v3::{decode, encode};
    use serde_json::json;

    #[test]
    fn reads_what_the_general_decoder_reads() {
        let one = encode(&json!({"cmd": "ack", "cid": "c", "mid": "m", "peerId": "bob"})).unwrap();
        let quick = ack(&one).unwrap();
        assert_eq!(
            (
                quick.cid.as_str(),
                quick.mid.as_deref(),
                quick.peer_id.as_deref()
            ),
            ("c", Some("m"), Some("bob"))
        );
        let general = decode(&one).unwrap();
        assert_eq!(
            (general["cid"].clone(), general["mid"].clone()),
            (json!("c"), json!("m"))
        );
        let range = encode(&json!({"cmd": "ack", "cid": "c", "fromts": 1_700_000_000_000_i64, "tots": 1_700_000_000_001_i64})).unwrap();
        let quick = ack(&range).unwrap();
        assert_eq!(
            (quick.from, quick.to, quick.mid),
            (Some(1_700_000_000_000), Some(1_700_000_000_001), None)
        );
    }

    #[test]
    fn a_stored_ack_reads_as_the_general_encoder_writes_it() {
        let quick = stored_ack(Some(7), "mid-1", 1_700_000_000_123, Some("alice"));
        let general = json!({"cmd": "ack", "i": 7, "uid": "mid-1", "t": 1_700_000_000_123_i64, "peerId": "alice"});
        assert_eq!(
            decode(&quick).unwrap(),
            decode(&encode(&general).unwrap()).unwrap()
        );
        let bare = stored_ack(None, "m", 1, None);
        assert_eq!(
            decode(&bare).unwrap(),
            decode(&encode(&json!({"cmd": "ack", "uid": "m", "t": 1})).unwrap()).unwrap()
        );
    }

    #[test]
    fn other_shapes_take_the_general_way() {
        let with_i = encode(&json!({"cmd": "ack", "i": 1, "cid": "c", "mid": "m"})).unwrap();
        assert_eq!(ack(&with_i), None);
        let direct = encode(&json!({"cmd": "direct", "cid": "c", "msg": "m"})).unwrap();
        assert_eq!(ack(&direct), None);
        let no_cid = encode(&json!({"cmd": "ack", "mid": "m"})).unwrap();
        assert_eq!(ack(&no_cid), None);
        let extra = encode(&json!({"cmd": "ack", "cid": "c", "mid": "m", "code": 1})).unwrap();
        assert_eq!(ack(&extra), None);
        assert_eq!(ack(&[0x0a]), None);
        assert_eq!(
            ack(&[0x08, 0x03, 0xca, 0x06, 0x05, 0x22]),
            None,
            "a truncated inner message"
        );
    }
}
