//! `_Conversation` as a data class: create, query, count, update (with `__op` on
//! `m`) and delete under `/1.1/classes/_Conversation[/{id}]` and their v1.2 twins
//! `/1.2/rtm/conversations[/{id}[/members]]`, and `GET /1.1/scan/classes/_Conversation`.

use leanrt_protocol::command::ConvQuery;
use serde_json::{json, Map, Value};

use super::request::Request;
use super::{Error, Reply};
use crate::domain::query::Query;
use crate::domain::Conversation;
use crate::json::render;
use crate::service::{Creation, MemberOp, Service};
use crate::time::iso;

/// Records per query page: LeanCloud's default and maximum.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

fn record(conv: &Conversation) -> Value {
    render::conversation(conv, false, None, crate::time::now_ms())
}

/// Whether the caller asked for the whole record back (`fetchWhenSave`, `new`).
fn fetch_when_save(req: &Request) -> Result<bool, Error> {
    Ok(req.flag("fetchWhenSave")? || req.flag("new")?)
}

/// A list of clientIds: an array of strings.
fn client_ids(v: &Value, field: &str) -> Result<Vec<String>, Error> {
    v.as_array()
        .and_then(|ids| {
            ids.iter()
                .map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| Error::bad_request(format!("{field} must be an array of clientIds")))
}

/// `m` as a write gives it: an array (set), or `{"__op": "Add" | "AddUnique" |
/// "Remove", "objects": [...]}`.
fn member_op(v: &Value) -> Result<MemberOp, Error> {
    if v.is_array() {
        return Ok(MemberOp::Set(client_ids(v, "m")?));
    }
    let op = v.get("__op").and_then(Value::as_str).unwrap_or_default();
    let objects = || client_ids(v.get("objects").unwrap_or(&Value::Null), "m.objects");
    match op {
        "Add" | "AddUnique" => Ok(MemberOp::Add(objects()?)),
        "Remove" => Ok(MemberOp::Remove(objects()?)),
        _ => Err(Error::bad_request(
            "m: expected an array or an Add, AddUnique or Remove operation",
        )),
    }
}

/// Field values as stored: `{"__op":"Delete"}` clears a field; other operations on
/// fields other than `m` are refused.
fn plain(field: &str, v: Value) -> Result<Value, Error> {
    match v.get("__op").and_then(Value::as_str) {
        None => Ok(v),
        Some("Delete") => Ok(Value::Null),
        Some(op) => Err(Error::bad_request(format!(
            "{field}: the {op} operation is not supported by leanrt-server"
        ))),
    }
}

/// `POST`: a new conversation with exactly the members given (`c` is not added).
pub async fn create(service: &Service, req: &Request, v1_2: bool) -> Reply {
    let mut body = req.body.clone();
    if body.get("sys").and_then(Value::as_bool) == Some(true) {
        return Err(Error::bad_request(
            "system conversations (sys) cannot be created by leanrt-server",
        ));
    }
    let members = match body.remove("m") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => match member_op(&v)? {
            MemberOp::Add(ids) | MemberOp::Set(ids) => ids,
            MemberOp::Remove(_) => Vec::new(),
        },
    };
    let creator = match body.remove("c") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(c)) => c,
        Some(_) => return Err(Error::bad_request("c must be a clientId")),
    };
    let flag = |body: &mut Map<String, Value>, key: &str| {
        matches!(body.remove(key), Some(Value::Bool(true)))
    };
    let (transient, unique) = (flag(&mut body, "tr"), flag(&mut body, "unique"));
    let mut fields = Map::new();
    for (k, v) in body {
        fields.insert(k.clone(), plain(&k, v)?);
    }
    let (conv, _) = service
        .create_as(Creation {
            creator,
            members,
            fields,
            transient,
            unique,
        })
        .await?;
    if v1_2 || fetch_when_save(req)? {
        Ok(record(&conv))
    } else {
        Ok(json!({"objectId": conv.id, "createdAt": iso(conv.created_at)}))
    }
}

/// `PUT`: fields by dot path, and `m` operations.
pub async fn update(service: &Service, req: &Request, cid: &str) -> Reply {
    let mut fields = Map::new();
    let mut members = None;
    for (k, v) in req.body.clone() {
        match k.as_str() {
            "m" => members = Some(member_op(&v)?),
            "mu" => {
                return Err(Error::bad_request(
                    "mu: muting is not supported by leanrt-server",
                ))
            }
            _ => {
                let v = plain(&k, v)?;
                fields.insert(k, v);
            }
        }
    }
    let conv = service.update_as(cid, fields, members).await?;
    updated(req, &conv)
}

fn updated(req: &Request, conv: &Conversation) -> Reply {
    if fetch_when_save(req)? {
        Ok(record(conv))
    } else {
        Ok(json!({"updatedAt": iso(conv.updated_at), "objectId": conv.id}))
    }
}

/// `POST` or `DELETE …/{id}/members` with `client_ids`.
pub async fn change_members(service: &Service, req: &Request, cid: &str, add: bool) -> Reply {
    let ids = client_ids(
        req.body.get("client_ids").unwrap_or(&Value::Null),
        "client_ids",
    )?;
    let op = if add {
        MemberOp::Add(ids)
    } else {
        MemberOp::Remove(ids)
    };
    let conv = service.update_as(cid, Map::new(), Some(op)).await?;
    updated(req, &conv)
}

/// `GET …/{id}/members`: `{"result": [...]}`.
pub async fn members(service: &Service, cid: &str) -> Reply {
    let conv = existing(service, cid).await?;
    Ok(json!({ "result": conv.members }))
}

async fn existing(service: &Service, cid: &str) -> Result<Conversation, Error> {
    service
        .find_conversation(cid)
        .await?
        .ok_or_else(|| Error::not_found("Object not found."))
}

/// `GET …/{id}`.
pub async fn get(service: &Service, cid: &str) -> Reply {
    Ok(record(&existing(service, cid).await?))
}

/// `DELETE …/{id}`: the conversation and its history; `{}`.
pub async fn delete(service: &Service, cid: &str) -> Reply {
    if service.delete_conversation(cid).await? {
        Ok(json!({}))
    } else {
        Err(Error::not_found("Object not found."))
    }
}

fn where_param(req: &Request) -> Result<Map<String, Value>, Error> {
    match req.param(&["where"]) {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(w)) => Ok(w),
            _ => Err(Error::bad_request("where must be a JSON object")),
        },
    }
}

fn parse(
    where_: &Map<String, Value>,
    sort: Option<String>,
    skip: i64,
    limit: i64,
) -> Result<Query, Error> {
    let req = ConvQuery {
        where_: where_.clone(),
        sort,
        limit: Some(limit),
        skip: Some(skip),
        flag: 0,
        temporary_ids: Vec::new(),
    };
    Query::parse(&req, crate::time::now_ms()).map_err(|e| Error::bad_request(format!("where: {e}")))
}

async fn find(service: &Service, query: Query) -> Result<Vec<Conversation>, Error> {
    let hits = service.find_conversations(query).await?;
    Ok(hits.into_iter().map(|(c, _)| c).collect())
}

/// How many conversations match: counted page by page (no index counts them).
async fn count(service: &Service, where_: &Map<String, Value>) -> Result<usize, Error> {
    let mut total = 0;
    loop {
        let page = find(
            service,
            parse(where_, Some("objectId".into()), total as i64, MAX_LIMIT)?,
        )
        .await?;
        total += page.len();
        if page.len() < MAX_LIMIT as usize {
            return Ok(total);
        }
    }
}

/// `GET` of the class: `where`, `order`, `limit` (0 with `count`), `skip`, `count`
/// → `{"results": [...], "count"?: n}`.
pub async fn list(service: &Service, req: &Request) -> Reply {
    let where_ = where_param(req)?;
    let limit = req.int(&["limit"])?.unwrap_or(DEFAULT_LIMIT);
    if !(0..=MAX_LIMIT).contains(&limit) {
        return Err(Error::bad_request(format!(
            "limit must be 0 to {MAX_LIMIT}"
        )));
    }
    let skip = req.int(&["skip"])?.unwrap_or(0).max(0);
    let results = if limit == 0 {
        Vec::new()
    } else {
        let order = req.param(&["order"]).or_else(|| Some("-createdAt".into()));
        find(service, parse(&where_, order, skip, limit)?).await?
    };
    let mut reply = json!({ "results": results.iter().map(record).collect::<Vec<_>>() });
    if req.flag("count")? {
        reply["count"] = json!(count(service, &where_).await?);
    }
    Ok(reply)
}

/// `GET /1.1/scan/classes/_Conversation`: every conversation in `objectId` order,
/// `limit` (default 100, at most 1000) at a time; `cursor` goes on where the last
/// page stopped and is absent on the last page.
pub async fn scan(service: &Service, req: &Request) -> Reply {
    let mut where_ = where_param(req)?;
    let limit = req
        .int(&["limit"])?
        .unwrap_or(DEFAULT_LIMIT)
        .clamp(1, MAX_LIMIT);
    if let Some(after) = req.param(&["cursor"]).filter(|c| !c.is_empty()) {
        let bound = json!({ "objectId": { "$gt": after } });
        where_ = match where_.is_empty() {
            true => bound.as_object().cloned().unwrap_or_default(),
            false => json!({ "$and": [Value::Object(where_), bound] })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
    }
    let page = find(service, parse(&where_, Some("objectId".into()), 0, limit)?).await?;
    let mut reply = json!({ "results": page.iter().map(record).collect::<Vec<_>>() });
    if page.len() == limit as usize {
        if let Some(last) = page.last() {
            reply["cursor"] = json!(last.id);
        }
    }
    Ok(reply)
}
