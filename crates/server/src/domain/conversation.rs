//! The `_Conversation` record (§6.2) and what `conv start` asks the store to create.

use serde_json::{json, Map, Value};

/// A `_Conversation` record. Times are ms since the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub creator: String,
    /// Members in insertion order; always empty for transient conversations.
    pub members: Vec<String>,
    pub muted: Option<Vec<String>>,
    pub name: Option<String>,
    pub attr: Option<Value>,
    pub transient: bool,
    pub system: bool,
    pub unique: bool,
    /// For unique conversations, the key of their current member set
    /// ([`crate::domain::rules::unique_key`]); the store finds them by it.
    pub unique_key: Option<String>,
    /// `lm`: the time of the last stored message.
    pub last_message_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Custom top-level keys.
    pub extra: Map<String, Value>,
}

impl Conversation {
    /// Whether `client` is a member (never, for transient conversations).
    pub fn has_member(&self, client: &str) -> bool {
        self.members.iter().any(|m| m == client)
    }

    /// The members `after` has that `self` lacks, and those `self` has that `after`
    /// lost, each in member order.
    pub fn member_changes(&self, after: &Conversation) -> (Vec<String>, Vec<String>) {
        let absent = |from: &Conversation, of: &Conversation| -> Vec<String> {
            from.members
                .iter()
                .filter(|m| !of.has_member(m))
                .cloned()
                .collect()
        };
        (absent(after, self), absent(self, after))
    }

    /// The record as a document for `where` matching: dates are ms numbers and the
    /// boolean flags are always present.
    pub fn match_doc(&self) -> Value {
        let mut doc = self.extra.clone();
        doc.insert("objectId".into(), json!(self.id));
        doc.insert("c".into(), json!(self.creator));
        if !self.transient {
            doc.insert("m".into(), json!(self.members));
        }
        if let Some(mu) = &self.muted {
            doc.insert("mu".into(), json!(mu));
        }
        if let Some(name) = &self.name {
            doc.insert("name".into(), json!(name));
        }
        if let Some(attr) = &self.attr {
            doc.insert("attr".into(), attr.clone());
        }
        doc.insert("tr".into(), json!(self.transient));
        doc.insert("sys".into(), json!(self.system));
        doc.insert("unique".into(), json!(self.unique));
        if let Some(lm) = self.last_message_at {
            doc.insert("lm".into(), json!(lm));
        }
        doc.insert("createdAt".into(), json!(self.created_at));
        doc.insert("updatedAt".into(), json!(self.updated_at));
        Value::Object(doc)
    }
}
