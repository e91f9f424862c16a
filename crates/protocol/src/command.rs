//! Inbound client frames of the v2 JSON dialect, parsed once into typed commands.
//!
//! [`Envelope::parse`] reads a text frame into its routing part (`cmd`, `op`, `i`) and
//! its fields; [`Envelope::command`] then types the fields of the one command it
//! names. Every validation error a client can cause by the shape of a frame comes
//! from here, with its code (§6.9): the server's handlers take typed requests only.

use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::ErrorCode;

/// Longest accepted clientId, also for member lists (§6.11).
pub const MAX_CLIENT_ID: usize = 64;

/// Why a frame could not be typed: the code to answer with and a `detail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub code: ErrorCode,
    pub detail: String,
}

impl Invalid {
    fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Invalid {
            code,
            detail: detail.into(),
        }
    }

    /// A malformed frame (4200).
    fn bad(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, detail)
    }
}

/// JavaScript truthiness, as v2 clients compute their flags.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// A value that is not a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotANumber;

/// An optional integer: a JSON number (fractions truncate) or a numeric string, as
/// JavaScript would coerce it; `""` and `null` count as absent.
pub fn integer(v: Option<&Value>) -> Result<Option<i64>, NotANumber> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(NotANumber),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| Some(f as i64))
            .ok_or(NotANumber),
        Some(_) => Err(NotANumber),
    }
}

/// A frame that could not be read as an envelope, with its `i` if that was readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub error: Invalid,
    pub i: Option<Number>,
}

/// The fields of any v2 frame; unknown keys are skipped while parsing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    cmd: Option<Value>,
    op: Option<Value>,
    i: Option<Value>,
    app_id: Option<Value>,
    peer_id: Option<Value>,
    session_peer_ids: Option<Value>,
    t: Option<Value>,
    n: Option<Value>,
    s: Option<Value>,
    m: Option<Value>,
    attr: Option<Value>,
    transient: Option<Value>,
    unique: Option<Value>,
    cid: Option<Value>,
    #[serde(rename = "where")]
    where_: Option<Value>,
    sort: Option<Value>,
    limit: Option<Value>,
    l: Option<Value>,
    skip: Option<Value>,
    flag: Option<Value>,
    msg: Option<Value>,
    r: Option<Value>,
    mid: Option<Value>,
    tt: Option<Value>,
    tmid: Option<Value>,
    st: Option<Value>,
    tag: Option<Value>,
    device_id: Option<Value>,
    device_token: Option<Value>,
    mention_pids: Option<Value>,
    mention_all: Option<Value>,
    binary_msg: Option<Value>,
    temp_conv: Option<Value>,
    #[serde(rename = "tempConvTTL")]
    temp_conv_ttl: Option<Value>,
    temp_conv_ids: Option<Value>,
}

/// A frame's routing part and its untyped fields.
#[derive(Debug)]
pub struct Envelope {
    /// `None` for a heartbeat (an object without `cmd`, §2.3).
    pub cmd: Option<String>,
    /// `""` when absent.
    pub op: String,
    /// The serial id, echoed as the same JSON number.
    pub i: Option<Number>,
    fields: Fields,
}

impl Envelope {
    /// Reads one text frame. An error carries the frame's `i` when it could be read.
    pub fn parse(text: &str) -> Result<Envelope, Unreadable> {
        let unread = |detail: &str| Unreadable {
            error: Invalid::bad(detail),
            i: None,
        };
        if !text.trim_start().starts_with('{') {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => unread("a frame must be a JSON object"),
                Err(_) => unread("a frame must be JSON"),
            });
        }
        // The struct refuses duplicate keys, which JSON.parse accepts (last wins):
        // such frames take the slower path through a map.
        let fields = match serde_json::from_str::<Fields>(text) {
            Ok(fields) => fields,
            Err(_) => match serde_json::from_str::<Map<String, Value>>(text) {
                Ok(map) => Fields::deserialize(Value::Object(map))
                    .map_err(|_| unread("a frame must be JSON"))?,
                Err(_) => return Err(unread("a frame must be JSON")),
            },
        };
        Self::from_fields(fields)
    }

    /// Reads a frame already parsed into a JSON object (v3 frames come as one).
    pub fn from_map(map: Map<String, Value>) -> Result<Envelope, Unreadable> {
        let fields = Fields::deserialize(Value::Object(map)).map_err(|_| Unreadable {
            error: Invalid::bad("a frame must be JSON"),
            i: None,
        })?;
        Self::from_fields(fields)
    }

    fn from_fields(fields: Fields) -> Result<Envelope, Unreadable> {
        let i = match &fields.i {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.clone()),
            Some(_) => {
                return Err(Unreadable {
                    error: Invalid::bad("i must be a number"),
                    i: None,
                })
            }
        };
        let bad_names = || Unreadable {
            error: Invalid::bad("cmd and op must be strings"),
            i: i.clone(),
        };
        let cmd = match &fields.cmd {
            None => None,
            Some(Value::String(cmd)) => Some(cmd.clone()),
            Some(_) => return Err(bad_names()),
        };
        let op = match (&cmd, &fields.op) {
            (_, None | Some(Value::Null)) | (None, Some(_)) => String::new(),
            (_, Some(Value::String(op))) => op.clone(),
            (Some(_), Some(_)) => return Err(bad_names()),
        };
        Ok(Envelope { cmd, op, i, fields })
    }

    /// Whether this is a `direct` marked `transient`.
    pub fn is_transient_direct(&self) -> bool {
        self.cmd.as_deref() == Some("direct") && truthy(self.fields.transient.as_ref())
    }

    /// Types the fields of the command this frame names.
    pub fn command(&self) -> Result<Command, Invalid> {
        let f = &self.fields;
        let cmd = self.cmd.as_deref().unwrap_or_default();
        Ok(match (cmd, self.op.as_str()) {
            ("session", "open") => Command::SessionOpen(SessionOpen {
                app_id: match &f.app_id {
                    Some(Value::String(s)) => Some(s.clone()),
                    _ => None,
                },
                peer: match &f.peer_id {
                    None | Some(Value::Null) => Peer::Anonymous,
                    Some(Value::String(s)) if valid_client_id(s) => Peer::Id(s.clone()),
                    Some(_) => Peer::Invalid,
                },
                signature: self.signature(),
                session_token: text(f.st.as_ref()),
                tag: text(f.tag.as_ref()).filter(|t| !t.is_empty() && t != "default"),
                device: text(f.device_id.as_ref()).or_else(|| text(f.device_token.as_ref())),
                reconnect: truthy(f.r.as_ref()),
            }),
            ("session", "query") => Command::SessionQuery {
                ids: client_ids(f.session_peer_ids.as_ref(), "sessionPeerIds")?,
            },
            ("session", "close") => Command::SessionClose,
            ("conv", "start") => {
                let members = members(f.m.as_ref())?;
                let attr = match &f.attr {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(o)) => o.clone(),
                    Some(_) => return Err(Invalid::bad("attr must be an object")),
                };
                let temporary = match (
                    truthy(f.temp_conv.as_ref()),
                    integer(f.temp_conv_ttl.as_ref()),
                ) {
                    (false, _) => None,
                    (true, Ok(ttl)) => Some(TempConv { ttl }),
                    (true, Err(NotANumber)) => {
                        return Err(Invalid::new(
                            ErrorCode::ConversationApiFailed,
                            "tempConvTTL must be a number of seconds",
                        ))
                    }
                };
                Command::ConvStart(ConvStart {
                    members,
                    attr,
                    transient: truthy(f.transient.as_ref()),
                    unique: truthy(f.unique.as_ref()),
                    temporary,
                    signature: self.signature(),
                })
            }
            ("conv", op @ ("add" | "remove")) => {
                let change = MemberChange {
                    cid: self.cid(ErrorCode::ConversationNotFound)?,
                    members: members(f.m.as_ref())?,
                    signature: self.signature(),
                };
                if op == "add" {
                    Command::ConvAdd(change)
                } else {
                    Command::ConvRemove(change)
                }
            }
            ("conv", "query") => Command::ConvQuery(self.conv_query()?),
            ("conv", "count") => Command::ConvCount {
                cid: self.cid(ErrorCode::ConversationNotFound)?,
            },
            ("conv", "members") => Command::ConvMembers {
                cid: self.cid(ErrorCode::ConversationNotFound)?,
                limit: integer(f.limit.as_ref())
                    .map_err(|_| Invalid::bad("limit must be an integer"))?,
            },
            ("conv", "update") => Command::ConvUpdate {
                cid: self.cid(ErrorCode::ConversationNotFound)?,
                attr: match &f.attr {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(o)) => o.clone(),
                    Some(_) => {
                        return Err(Invalid::new(
                            ErrorCode::ConversationUpdateFailed,
                            "attr must be an object",
                        ))
                    }
                },
            },
            ("direct", _) => Command::Direct(Direct {
                cid: self.cid(ErrorCode::InvalidMessagingTarget)?,
                msg: match &f.msg {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(_) => return Err(Invalid::bad("msg must be a string")),
                },
                binary: match &f.binary_msg {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return Err(Invalid::bad("binaryMsg must be base64 bytes")),
                },
                transient: truthy(f.transient.as_ref()),
                receipt: truthy(f.r.as_ref()),
                mention_pids: client_ids(f.mention_pids.as_ref(), "mentionPids")?,
                mention_all: truthy(f.mention_all.as_ref()),
            }),
            ("ack", _) => Command::Ack {
                cid: self.cid(ErrorCode::InternalError)?,
                mid: required_str(f.mid.as_ref(), "mid", ErrorCode::InternalError)?,
            },
            ("logs", _) => Command::Logs(self.logs()?),
            (cmd, op) => return Err(Invalid::bad(format!("unknown command {cmd:?} op {op:?}"))),
        })
    }

    fn cid(&self, missing: ErrorCode) -> Result<String, Invalid> {
        required_str(self.fields.cid.as_ref(), "cid", missing)
    }

    fn signature(&self) -> Option<Signature> {
        let f = &self.fields;
        let (t_text, t) = match f.t.as_ref()? {
            Value::Number(n) => (n.to_string(), n.as_f64()?),
            Value::String(s) => (s.clone(), s.parse::<f64>().ok()?),
            _ => return None,
        };
        if !t.is_finite() {
            return None;
        }
        // `t` is in seconds; values that can only be milliseconds are accepted too.
        let t_ms = if t.abs() > 1e11 { t } else { t * 1000.0 };
        Some(Signature {
            t_text,
            t_ms: t_ms.clamp(i64::MIN as f64, i64::MAX as f64) as i64,
            nonce: f.n.as_ref()?.as_str()?.to_owned(),
            signature: f.s.as_ref()?.as_str()?.to_owned(),
        })
    }

    fn conv_query(&self) -> Result<ConvQuery, Invalid> {
        let f = &self.fields;
        let failed = |detail: &str| Invalid::new(ErrorCode::ConversationQueryFailed, detail);
        let where_ = match &f.where_ {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(w)) => w.clone(),
            // `where` may also come as JSON text.
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(Value::Object(w)) => w,
                _ => return Err(failed("where must be an object")),
            },
            Some(_) => return Err(failed("where must be an object")),
        };
        let sort = match &f.sort {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(failed("sort must be a string")),
        };
        let int = |v: Option<&Value>, name: &str| {
            integer(v).map_err(|_| failed(&format!("{name} must be an integer")))
        };
        Ok(ConvQuery {
            where_,
            sort,
            limit: int(f.limit.as_ref(), "limit")?,
            skip: int(f.skip.as_ref(), "skip")?,
            flag: int(f.flag.as_ref(), "flag")?.unwrap_or(0),
            temporary_ids: client_ids(f.temp_conv_ids.as_ref(), "tempConvIds")
                .map_err(|e| failed(&e.detail))?,
        })
    }

    fn logs(&self) -> Result<Logs, Invalid> {
        let f = &self.fields;
        let int = |v: Option<&Value>, name: &str| {
            integer(v).map_err(|_| Invalid::bad(format!("{name} must be a number")))
        };
        Ok(Logs {
            cid: self.cid(ErrorCode::ConversationNotFound)?,
            limit: match int(f.limit.as_ref(), "limit")? {
                Some(l) => Some(l),
                None => int(f.l.as_ref(), "l")?,
            },
            before: Bound {
                timestamp: int(f.t.as_ref(), "t")?,
                mid: optional_str(f.mid.as_ref(), "mid")?,
            },
            after: Bound {
                timestamp: int(f.tt.as_ref(), "tt")?,
                mid: optional_str(f.tmid.as_ref(), "tmid")?,
            },
        })
    }
}

fn valid_client_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_CLIENT_ID
}

fn optional_str(v: Option<&Value>, key: &str) -> Result<Option<String>, Invalid> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Invalid::bad(format!("{key} must be a string"))),
    }
}

fn required_str(v: Option<&Value>, key: &str, missing: ErrorCode) -> Result<String, Invalid> {
    optional_str(v, key)?.ok_or_else(|| Invalid::new(missing, format!("{key} is required")))
}

/// A list of clientIds: absent means empty, a lone string is wrapped.
/// A string field; anything else counts as absent.
fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

fn client_ids(v: Option<&Value>, key: &str) -> Result<Vec<String>, Invalid> {
    let bad = || Invalid::bad(format!("{key} must be an array of strings"));
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(String::from).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Member ids (`m`): clientIds, each non-empty and at most 64 characters.
fn members(v: Option<&Value>) -> Result<Vec<String>, Invalid> {
    let ids = client_ids(v, "m")?;
    match ids.iter().find(|id| !valid_client_id(id)) {
        Some(id) => Err(Invalid::bad(format!("invalid clientId {id:?}"))),
        None => Ok(ids),
    }
}

/// The signing fields of a frame (§6.10): `t` as sent and in ms, `n` and `s`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub t_text: String,
    pub t_ms: i64,
    pub nonce: String,
    pub signature: String,
}

/// The `peerId` of a `session open`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// None given: the server picks an id.
    Anonymous,
    Id(String),
    /// Not a string, empty, or over 64 characters (refused with 4103).
    Invalid,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionOpen {
    /// `None` when missing or not a string (refused with 4100).
    pub app_id: Option<String>,
    pub peer: Peer,
    pub signature: Option<Signature>,
    /// `st`: the session token of an earlier login (v3 reconnects), in place of a
    /// signature.
    pub session_token: Option<String>,
    /// `tag` (v3): sessions of one clientId with the same tag exclude each other
    /// (single-device login); `None` for none or `"default"`.
    pub tag: Option<String>,
    /// The device logging in: `deviceId`, else Swift's `deviceToken`.
    pub device: Option<String>,
    /// `r` (v3): a reconnect of an earlier session, not a new login.
    pub reconnect: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConvStart {
    /// Members as sent (without the creator).
    pub members: Vec<String>,
    /// `attr` as sent: `name`, `attr` and custom top-level keys.
    pub attr: Map<String, Value>,
    pub transient: bool,
    pub unique: bool,
    /// `tempConv` (v3): a temporary conversation is asked for.
    pub temporary: Option<TempConv>,
    pub signature: Option<Signature>,
}

/// What `conv start` asks of a temporary conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempConv {
    /// `tempConvTTL`: its lifetime in seconds, when given.
    pub ttl: Option<i64>,
}

/// `conv add` or `conv remove`.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberChange {
    pub cid: String,
    pub members: Vec<String>,
    pub signature: Option<Signature>,
}

/// `conv query`; `where` is compiled by the server's query module.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvQuery {
    pub where_: Map<String, Value>,
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub skip: Option<i64>,
    pub flag: i64,
    /// `tempConvIds` (v3): the temporary conversations asked for by id, in place of
    /// `where`.
    pub temporary_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Direct {
    pub cid: String,
    pub msg: String,
    pub transient: bool,
    /// `r`: the sender wants receipts.
    pub receipt: bool,
    /// `binaryMsg` (v3), as base64: the content, in place of `msg`.
    pub binary: Option<String>,
    /// `mentionPids` and `mentionAll` (v3).
    pub mention_pids: Vec<String>,
    pub mention_all: bool,
}

/// A `logs` bound: a time and optionally a message id that refines it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bound {
    pub timestamp: Option<i64>,
    pub mid: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Logs {
    pub cid: String,
    /// `limit`, else `l`.
    pub limit: Option<i64>,
    /// Exclusive upper bound (`t`, `mid`).
    pub before: Bound,
    /// Exclusive lower bound (`tt`, `tmid`).
    pub after: Bound,
}

/// A typed client command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    SessionOpen(SessionOpen),
    /// `session query` (ping).
    SessionQuery {
        ids: Vec<String>,
    },
    SessionClose,
    ConvStart(ConvStart),
    ConvAdd(MemberChange),
    ConvRemove(MemberChange),
    ConvQuery(ConvQuery),
    ConvCount {
        cid: String,
    },
    /// `conv members`: who of a conversation is online (the Swift SDK's
    /// `getOnlineMembers` of a chat room).
    ConvMembers {
        cid: String,
        limit: Option<i64>,
    },
    ConvUpdate {
        cid: String,
        attr: Map<String, Value>,
    },
    Direct(Direct),
    /// A recipient's ack of a delivered message.
    Ack {
        cid: String,
        mid: String,
    },
    Logs(Logs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(frame: Value) -> Result<Command, Invalid> {
        Envelope::parse(&frame.to_string())
            .map_err(|e| e.error)?
            .command()
    }

    #[test]
    fn envelopes() {
        let e = Envelope::parse(r#"{"cmd":"ack","cid":"c","mid":"m"}"#).expect("ack");
        assert_eq!(
            (e.cmd.as_deref(), e.op.as_str(), e.i.is_none()),
            (Some("ack"), "", true)
        );
        assert!(Envelope::parse("{}").expect("heartbeat").cmd.is_none());
        for (text, detail) in [
            ("[1]", "a frame must be a JSON object"),
            ("nope", "a frame must be JSON"),
            (r#"{"cmd":"x","i":"1"}"#, "i must be a number"),
            (r#"{"cmd":1}"#, "cmd and op must be strings"),
        ] {
            assert_eq!(Envelope::parse(text).expect_err(text).error.detail, detail);
        }
        // Duplicate keys: the last one wins, as in JSON.parse.
        let e = Envelope::parse(r#"{"cmd":"x","cmd":"ack","cid":"c","mid":"m"}"#).expect("dup");
        assert_eq!(e.cmd.as_deref(), Some("ack"));
    }

    #[test]
    fn one_integer_parser_for_every_command() {
        assert_eq!(integer(Some(&json!("5"))), Ok(Some(5)));
        assert_eq!(integer(Some(&json!(5.9))), Ok(Some(5)));
        assert_eq!(integer(Some(&json!(""))), Ok(None));
        assert_eq!(integer(Some(&json!("five"))), Err(NotANumber));
        assert_eq!(integer(Some(&json!("NaN"))), Err(NotANumber));
        let Command::ConvQuery(q) =
            command(json!({"cmd":"conv","op":"query","limit":"5"})).expect("query")
        else {
            panic!("not a query")
        };
        assert_eq!(q.limit, Some(5));
        let Command::Logs(l) = command(json!({"cmd":"logs","cid":"c","limit":"5"})).expect("logs")
        else {
            panic!("not logs")
        };
        assert_eq!(l.limit, Some(5));
        assert_eq!(
            command(json!({"cmd":"conv","op":"members","cid":"c","limit":"5"})),
            Ok(Command::ConvMembers {
                cid: "c".into(),
                limit: Some(5)
            })
        );
    }

    #[test]
    fn field_errors_carry_their_codes() {
        for (frame, code) in [
            (json!({"cmd":"conv","op":"add","m":["a"]}), 4303),
            (json!({"cmd":"conv","op":"start","m":[1]}), 4200),
            (json!({"cmd":"conv","op":"start","m":[""]}), 4200),
            (json!({"cmd":"conv","op":"update","cid":"c","attr":1}), 4306),
            (json!({"cmd":"conv","op":"query","where":3}), 4310),
            (json!({"cmd":"conv","op":"query","limit":"x"}), 4310),
            (json!({"cmd":"direct","msg":"x"}), 4401),
            (json!({"cmd":"direct","cid":"c","msg":{}}), 4200),
            (json!({"cmd":"ack","cid":"c"}), 4200),
            (json!({"cmd":"logs","cid":"c","t":"x"}), 4200),
            (json!({"cmd":"conv","op":"bogus"}), 4200),
        ] {
            let err = command(frame.clone()).expect_err(&frame.to_string());
            assert_eq!(err.code.code(), code, "{frame}");
        }
    }

    #[test]
    fn session_open_and_signature_fields() {
        let Command::SessionOpen(open) = command(json!({
            "cmd":"session","op":"open","appId":"app","peerId":"alice","t":1451606400,"n":"x","s":"y"
        }))
        .expect("open") else {
            panic!("not open")
        };
        assert_eq!(open.app_id.as_deref(), Some("app"));
        assert_eq!(open.peer, Peer::Id("alice".into()));
        let sig = open.signature.expect("signed");
        assert_eq!(
            (sig.t_text.as_str(), sig.t_ms),
            ("1451606400", 1_451_606_400_000)
        );
        let Command::SessionOpen(open) =
            command(json!({"cmd":"session","op":"open","appId":3,"peerId":""})).expect("open")
        else {
            panic!("not open")
        };
        assert_eq!(
            (open.app_id, open.peer, open.signature),
            (None, Peer::Invalid, None)
        );
    }
}
