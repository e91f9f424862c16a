//! Choosing the v3 subprotocol a client offered (`Sec-WebSocket-Protocol`).

/// A v3 subprotocol: the framing, and whether offline messages are pushed at login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subprotocol {
    /// Base64 text frames (`lc.proto2base64.*`) instead of binary frames.
    pub base64: bool,
    /// `…2.3`: unread counts after login; `…2.1`: offline messages pushed.
    pub unread_mode: bool,
}

/// A client offered subprotocols, none of which is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl Subprotocol {
    /// Reads one name.
    pub fn parse(name: &str) -> Option<Self> {
        let (base64, version) = if let Some(v) = name.strip_prefix("lc.protobuf2.") {
            (false, v)
        } else if let Some(v) = name.strip_prefix("lc.proto2base64.") {
            (true, v)
        } else {
            return None;
        };
        let unread_mode = match version {
            "3" => true,
            "1" => false,
            _ => return None,
        };
        Some(Subprotocol {
            base64,
            unread_mode,
        })
    }

    /// Picks from a `Sec-WebSocket-Protocol` header value: the first name served.
    /// No header is the v2 JSON dialect (`Ok(None)`); names of which none is
    /// served are refused.
    pub fn negotiate(offered: Option<&str>) -> Result<Option<(Self, String)>, Unsupported> {
        let Some(offered) = offered.filter(|o| !o.trim().is_empty()) else {
            return Ok(None);
        };
        offered
            .split(',')
            .map(str::trim)
            .find_map(|name| Self::parse(name).map(|p| (p, name.to_owned())))
            .map(Some)
            .ok_or_else(|| Unsupported(offered.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_negotiation() {
        let binary3 = Subprotocol {
            base64: false,
            unread_mode: true,
        };
        assert_eq!(Subprotocol::parse("lc.protobuf2.3"), Some(binary3));
        assert_eq!(
            Subprotocol::parse("lc.proto2base64.1"),
            Some(Subprotocol {
                base64: true,
                unread_mode: false
            })
        );
        assert_eq!(
            Subprotocol::parse("lc.protobuf.3"),
            None,
            "the pre-3.5 package"
        );
        assert_eq!(Subprotocol::parse("lc.json.3"), None);
        assert_eq!(Subprotocol::negotiate(None), Ok(None));
        assert_eq!(Subprotocol::negotiate(Some(" ")), Ok(None));
        assert_eq!(
            Subprotocol::negotiate(Some("chat, lc.protobuf2.3")),
            Ok(Some((binary3, "lc.protobuf2.3".to_owned())))
        );
        assert_eq!(
            Subprotocol::negotiate(Some("lc.json.3")),
            Err(Unsupported("lc.json.3".into()))
        );
    }
}
