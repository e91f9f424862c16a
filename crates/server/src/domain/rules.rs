//! The conversation rules, written once for every store: who may send, read and
//! update, how members change, which fields an update may set, how unique
//! conversations are keyed and how large a record may grow.

use serde_json::{Map, Value};

use super::{Conversation, Refusal};

/// Top-level `_Conversation` fields that `conv update` may not set (§6.8).
pub const RESERVED_FIELDS: [&str; 11] = [
    "objectId",
    "c",
    "m",
    "mu",
    "tr",
    "sys",
    "unique",
    "lm",
    "createdAt",
    "updatedAt",
    super::temporary::EXPIRES_AT,
];

/// Deepest nesting of a stored field. Well below serde_json's read limit (128), so
/// that whatever an update writes can be read back, and `set_path` recursion stays
/// shallow whatever a client sends.
pub const MAX_NESTING: usize = 64;

/// What `conv start` asks for, already split into the record's parts.
#[derive(Clone, Debug)]
pub struct StartRequest {
    pub creator: String,
    /// Whether the creator is the first member (a client starting a conversation);
    /// one made with the master key has the members it is given.
    pub creator_joins: bool,
    /// Members as sent, without the creator.
    pub invited: Vec<String>,
    /// `attr` as sent: `name`, `attr` and custom top-level keys.
    pub attr: Map<String, Value>,
    pub transient: bool,
    pub unique: bool,
}

/// Limits a conversation must respect.
#[derive(Clone, Copy, Debug)]
pub struct RecordLimits {
    pub max_members: usize,
    /// Largest JSON size of `name`, `attr` and the custom keys together.
    pub max_record_bytes: usize,
}

/// The key that identifies a unique conversation: its sorted member set.
pub fn unique_key(members: &[String]) -> String {
    let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    serde_json::to_string(&sorted).unwrap_or_default()
}

/// A new conversation record with id `id`: members are the creator, then the
/// invitees in order without duplicates (none for transient ones); keys of `attr`
/// other than `name` and `attr` become custom top-level fields, reserved names among
/// them are ignored.
pub fn new_conversation(
    id: String,
    req: StartRequest,
    limits: RecordLimits,
    now: i64,
) -> Result<Conversation, Refusal> {
    let StartRequest {
        creator,
        creator_joins,
        invited,
        mut attr,
        transient,
        unique,
    } = req;
    let mut members = Vec::new();
    if !transient {
        if creator_joins {
            members.push(creator.clone());
        }
        for id in invited {
            if !members.contains(&id) {
                members.push(id);
            }
        }
        if members.len() > limits.max_members {
            return Err(Refusal::Full);
        }
    }
    let name = match attr.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Refusal::Invalid("attr.name must be a string".into())),
    };
    let custom = attr.remove("attr").filter(|v| !v.is_null());
    attr.retain(|k, _| !RESERVED_FIELDS.contains(&k.as_str()));
    let unique = unique && !transient;
    let conv = Conversation {
        id,
        unique_key: unique.then(|| unique_key(&members)),
        creator,
        members,
        muted: None,
        name,
        attr: custom,
        transient,
        system: false,
        unique,
        last_message_at: None,
        created_at: now,
        updated_at: now,
        extra: attr,
    };
    check_size(&conv, limits)?;
    Ok(conv)
}

/// Adds `ids` to a normal conversation; returns those actually added, in request
/// order. Refuses to exceed the member cap.
pub fn add_members(
    conv: &mut Conversation,
    ids: &[String],
    limits: RecordLimits,
    now: i64,
) -> Result<Vec<String>, Refusal> {
    let mut added: Vec<String> = Vec::new();
    for id in ids {
        if !conv.has_member(id) && !added.contains(id) {
            added.push(id.clone());
        }
    }
    if conv.members.len() + added.len() > limits.max_members {
        return Err(Refusal::Full);
    }
    conv.members.extend(added.iter().cloned());
    members_changed(conv, !added.is_empty(), now);
    Ok(added)
}

/// Removes `ids`; returns those actually removed, in request order.
pub fn remove_members(conv: &mut Conversation, ids: &[String], now: i64) -> Vec<String> {
    let mut removed: Vec<String> = Vec::new();
    for id in ids {
        if conv.has_member(id) && !removed.contains(id) {
            removed.push(id.clone());
        }
    }
    conv.members.retain(|m| !removed.contains(m));
    members_changed(conv, !removed.is_empty(), now);
    removed
}

/// A unique conversation is found by its *current* member set.
fn members_changed(conv: &mut Conversation, changed: bool, now: i64) {
    if changed {
        conv.updated_at = now;
        if conv.unique {
            conv.unique_key = Some(unique_key(&conv.members));
        }
    }
}

/// Normal conversations take messages from members; transient ones from anyone;
/// an expired temporary one from no one.
pub fn may_send(conv: &Conversation, from: &str) -> Result<(), Refusal> {
    conv.alive(crate::time::now_ms())?;
    if conv.transient || conv.has_member(from) {
        Ok(())
    } else {
        Err(Refusal::NotMember)
    }
}

/// The master key (the REST API) may send to and read any conversation.
pub fn master_key(_: &Conversation, _: &str) -> Result<(), Refusal> {
    Ok(())
}

/// History of a normal conversation is for its members; of a transient one for anyone.
pub fn may_read(conv: &Conversation, requester: &str) -> Result<(), Refusal> {
    may_send(conv, requester)
}

/// Applies `conv update` (§6.8) as `actor`: each key is a dot path whose value is
/// replaced (`attr.k` merges into `attr`). Members may update normal conversations,
/// only the creator a transient one; no one an expired temporary one.
pub fn update(
    conv: &mut Conversation,
    actor: &str,
    changes: Map<String, Value>,
    limits: RecordLimits,
    now: i64,
) -> Result<(), Refusal> {
    conv.alive(now)?;
    let allowed = if conv.transient {
        conv.creator == actor
    } else {
        conv.has_member(actor)
    };
    if !allowed {
        return Err(Refusal::NotMember);
    }
    apply_update(conv, changes, limits, now)
}

/// Applies an update's dot paths to `conv`, whoever asks (see [`update`]).
pub fn apply_update(
    conv: &mut Conversation,
    changes: Map<String, Value>,
    limits: RecordLimits,
    now: i64,
) -> Result<(), Refusal> {
    let mut doc = conv.extra.clone();
    if let Some(name) = conv.name.clone() {
        doc.insert("name".into(), Value::String(name));
    }
    if let Some(attr) = conv.attr.clone() {
        doc.insert("attr".into(), attr);
    }
    for (path, value) in changes {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) || RESERVED_FIELDS.contains(&parts[0]) {
            return Err(Refusal::Invalid(format!("cannot set {path}")));
        }
        if parts.len() + nesting(&value) > MAX_NESTING {
            return Err(Refusal::Invalid(format!(
                "more than {MAX_NESTING} levels of nesting"
            )));
        }
        set_path(&mut doc, &parts, value);
    }
    let name = match doc.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Refusal::Invalid("name must be a string".into())),
    };
    let mut updated = conv.clone();
    updated.name = name;
    updated.attr = doc.remove("attr");
    updated.extra = doc;
    updated.updated_at = now;
    check_size(&updated, limits)?;
    *conv = updated;
    Ok(())
}

/// Refuses a record whose custom part outgrew the limit.
fn check_size(conv: &Conversation, limits: RecordLimits) -> Result<(), Refusal> {
    let size = serde_json::to_string(&conv.extra).map_or(0, |s| s.len())
        + conv
            .attr
            .as_ref()
            .and_then(|a| serde_json::to_string(a).ok())
            .map_or(0, |s| s.len())
        + conv.name.as_ref().map_or(0, String::len);
    if size > limits.max_record_bytes {
        return Err(Refusal::TooLarge(format!(
            "the conversation's name, attr and custom fields would take {size} bytes, over {}",
            limits.max_record_bytes
        )));
    }
    Ok(())
}

/// Levels of arrays and objects in `value` (0 for a scalar), without recursion.
fn nesting(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|c| (c, depth + 1))),
            _ => continue,
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// Sets `value` at a dot `path` of `root`, creating (or replacing non-objects with)
/// objects on the way. `path` is never empty.
fn set_path(root: &mut Map<String, Value>, path: &[&str], value: Value) {
    let mut node = root;
    let (last, parents) = path.split_last().expect("a path has a segment");
    for key in parents {
        let slot = node
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        node = match slot {
            Value::Object(inner) => inner,
            _ => unreachable!("made an object above"),
        };
    }
    node.insert((*last).to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIMITS: RecordLimits = RecordLimits {
        max_members: 3,
        max_record_bytes: 200,
    };

    fn start(invited: &[&str], attr: Value, transient: bool) -> Result<Conversation, Refusal> {
        let req = StartRequest {
            creator: "a".into(),
            creator_joins: true,
            invited: invited.iter().map(|s| s.to_string()).collect(),
            attr: attr.as_object().cloned().unwrap_or_default(),
            transient,
            unique: true,
        };
        new_conversation("cid".into(), req, LIMITS, 1)
    }

    #[test]
    fn start_orders_members_and_splits_attr() {
        let conv = start(
            &["b", "a", "b"],
            json!({"name":"n","attr":{"k":1},"x":2,"m":[]}),
            false,
        )
        .expect("conv");
        assert_eq!(conv.members, ["a", "b"]);
        assert_eq!(conv.name.as_deref(), Some("n"));
        assert_eq!(conv.attr, Some(json!({"k":1})));
        assert_eq!(Value::Object(conv.extra), json!({"x":2}));
        assert_eq!(conv.unique_key.as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(
            start(&["b", "c", "d"], json!({}), false),
            Err(Refusal::Full)
        );
        let room = start(&["b"], json!({}), true).expect("room");
        assert!(room.members.is_empty() && !room.unique);
    }

    #[test]
    fn updates_respect_paths_owners_and_size() {
        let mut conv = start(&["b"], json!({"attr":{"k":1}}), false).expect("conv");
        let set = |v: Value| v.as_object().cloned().expect("object");
        update(&mut conv, "b", set(json!({"attr.k":2,"n.o":3})), LIMITS, 5).expect("update");
        assert_eq!(conv.attr, Some(json!({"k":2})));
        assert_eq!(conv.extra.get("n"), Some(&json!({"o":3})));
        assert_eq!(conv.updated_at, 5);
        for (who, change) in [
            ("z", json!({"x":1})),
            ("a", json!({"m":1})),
            ("a", json!({"x.":1})),
        ] {
            let before = conv.clone();
            assert!(update(&mut conv, who, set(change), LIMITS, 6).is_err());
            assert_eq!(conv, before, "a refused update changes nothing");
        }
        let big = json!({"blob": "x".repeat(300)});
        assert!(matches!(
            update(&mut conv, "a", set(big), LIMITS, 7),
            Err(Refusal::TooLarge(_))
        ));
        let mut room = start(&[], json!({}), true).expect("room");
        assert_eq!(
            update(&mut room, "b", set(json!({"x":1})), LIMITS, 8),
            Err(Refusal::NotMember)
        );
        update(&mut room, "a", set(json!({"x":1})), LIMITS, 8).expect("the creator may");
    }

    #[test]
    fn member_changes_rekey_unique_conversations() {
        let mut conv = start(&["b"], json!({}), false).expect("conv");
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            add_members(&mut conv, &ids(&["c", "c", "a"]), LIMITS, 2),
            Ok(ids(&["c"]))
        );
        assert_eq!(conv.unique_key.as_deref(), Some(r#"["a","b","c"]"#));
        assert_eq!(
            add_members(&mut conv, &ids(&["d"]), LIMITS, 3),
            Err(Refusal::Full)
        );
        assert_eq!(remove_members(&mut conv, &ids(&["b", "x"]), 4), ids(&["b"]));
        assert_eq!(conv.members, ids(&["a", "c"]));
        assert_eq!(conv.updated_at, 4);
    }
}
