//! Random identifiers: message ids, anonymous clientIds and conversation ids.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// 22 characters of URL-safe base64 over 16 random bytes (anonymous clientIds).
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// A temporary conversation's id: its prefix, then a [`random_id`].
pub fn temporary_id() -> String {
    format!("{}{}", crate::domain::temporary::PREFIX, random_id())
}

/// A message id of the same shape: 16 bytes, the first 6 the time in ms (big-endian),
/// the other 10 random. Ids made close in time share a prefix, so the store's unique
/// index on them takes each commit's ids in a few pages instead of one random page
/// each, which kept ingest from slowing down as the history grows.
pub fn message_id(now_ms: i64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&now_ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&rand::random::<[u8; 10]>());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An ObjectId-like conversation id: 4 bytes of seconds then 8 random bytes, as 24
/// lowercase hex digits.
pub fn object_id(now_ms: i64) -> String {
    let secs = (now_ms / 1000) as u32;
    format!("{secs:08x}{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        assert_eq!(super::random_id().len(), 22);
        let (a, b) = (
            super::message_id(1_451_606_400_000),
            super::message_id(1_451_606_400_001),
        );
        assert_eq!((a.len(), b.len()), (22, 22));
        assert_eq!(a[..6], b[..6], "close in time, same prefix");
        assert_ne!(super::message_id(1), super::message_id(1), "random tail");
        let temp = super::temporary_id();
        assert!(temp.starts_with("_tmp:") && temp.len() == 27);
        assert_ne!(temp, super::temporary_id());
        let id = super::object_id(1_451_606_400_000);
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("5685c180"));
        assert!(id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }
}
