//! Redis keys and channels of the cluster, all under the prefix `lrt:`.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `lrt:nodes` | set | every node that has registered |
//! | `lrt:n:{node}` | string with a TTL | the node's lease, renewed by its heartbeat |
//! | `lrt:c:{client}` | hash | the clientId's sessions: `{node}/{conn}` → `1` |
//! | `lrt:s:{node}` | set | the node's sessions as `{conn}/{client}` (for the reaper) |
//! | `lrt:r:{cid}` | hash | a transient conversation's participants: `{node}/{conn}` → clientId |
//! | `lrt:rs:{node}` | set | the node's participations as `{conn}/{cid}` |
//! | `lrt:nonce:{nonce}` | string with a TTL | a signature nonce already used |
//! | `lrt:d:{client}` | hash with a TTL | single-device login: tag → the device last logged in |
//! | `lrt:i:{node}` | channel | what other nodes deliver to the node's sessions |

pub const NODES: &str = "lrt:nodes";

pub fn lease(node: &str) -> String {
    format!("lrt:n:{node}")
}

pub fn client(client: &str) -> String {
    format!("lrt:c:{client}")
}

pub fn node_sessions(node: &str) -> String {
    format!("lrt:s:{node}")
}

pub fn room(cid: &str) -> String {
    format!("lrt:r:{cid}")
}

pub fn node_rooms(node: &str) -> String {
    format!("lrt:rs:{node}")
}

pub fn inbox(node: &str) -> String {
    format!("lrt:i:{node}")
}

pub fn devices(client: &str) -> String {
    format!("lrt:d:{client}")
}

pub fn nonce(nonce: &str) -> String {
    format!("lrt:nonce:{nonce}")
}

/// A session as a hash field: `{node}/{conn}`.
pub fn session(node: &str, conn: u64) -> String {
    format!("{node}/{conn}")
}

/// The node and connection of a session field (node ids may hold `/`).
pub fn parse_session(field: &str) -> Option<(&str, u64)> {
    let (node, conn) = field.rsplit_once('/')?;
    Some((node, conn.parse().ok()?))
}

/// A member of a node's sets: `{conn}/{rest}` (clientIds and cids may hold `/`).
pub fn member(conn: u64, rest: &str) -> String {
    format!("{conn}/{rest}")
}

pub fn parse_member(member: &str) -> Option<(u64, &str)> {
    let (conn, rest) = member.split_once('/')?;
    Some((conn.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_with_slashes() {
        assert_eq!(parse_session(&session("a/b", 7)), Some(("a/b", 7)));
        assert_eq!(parse_member(&member(7, "x/y")), Some((7, "x/y")));
        assert_eq!(parse_session("nope"), None);
    }
}
