//! Random identifiers: message ids, anonymous clientIds and conversation ids.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// 22 characters of URL-safe base64 over 16 random bytes (message ids, anonymous ids).
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
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
        let id = super::object_id(1_451_606_400_000);
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("5685c180"));
        assert!(id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }
}
