//! `conv query` (§6.7): compiling `where`, `sort`, `limit`, `skip` and `flag`, and
//! matching conversation documents in memory. Store-independent; stores narrow the
//! candidates with the hints ([`Query::object_ids`], [`Query::member`], …).

use std::cmp::Ordering;

use leanrt_protocol::command::{truthy, ConvQuery};
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::temporary;
use crate::time::parse_iso;

/// Fields holding dates; query values for them are normalised to ms.
const DATE_FIELDS: [&str; 3] = ["lm", "createdAt", "updatedAt"];

/// A parsed `conv query`.
#[derive(Clone, Debug)]
pub struct Query {
    pub filter: Filter,
    pub sort: Vec<(String, bool)>,
    pub skip: usize,
    pub limit: usize,
    pub compact: bool,
    pub with_last_message: bool,
    /// Whether system conversations may be returned (`where` mentions sys or objectId).
    pub include_system: bool,
    /// Whether temporary conversations may be returned (`where` mentions objectId,
    /// or `tempConvIds` names them); expired ones never are.
    pub include_temporary: bool,
    /// The time the query runs at (ms), for expiry.
    pub now: i64,
}

/// A `where` object, compiled.
#[derive(Clone, Debug)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Field(String, Cond),
}

/// One condition on a field.
#[derive(Clone, Debug)]
pub enum Cond {
    Eq(Value),
    Ne(Value),
    Cmp(Ordering, bool, Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    All(Vec<Value>),
    Exists(bool),
    Size(usize),
    Regex(Regex),
}

/// Why a `where` could not be compiled (sent as 4310 detail).
pub type QueryError = String;

impl Query {
    /// Compiles a `conv query` to run at `now`. With `tempConvIds`, `where` is
    /// ignored: the query is for those of the ids that name temporary conversations.
    pub fn parse(req: &ConvQuery, now: i64) -> Result<Query, QueryError> {
        let named = !req.temporary_ids.is_empty();
        let where_ = if named {
            let ids = req.temporary_ids.iter();
            let ids: Vec<&String> = ids.filter(|id| temporary::is_temporary(id)).collect();
            serde_json::json!({"objectId": {"$in": ids}})
                .as_object()
                .cloned()
                .unwrap_or_default()
        } else {
            req.where_.clone()
        };
        let by_id = mentions(&where_, "objectId");
        let include_system = mentions(&where_, "sys") || by_id;
        let filter = parse_object(&where_)?;
        let sort = match &req.sort {
            None => vec![("lm".to_owned(), true)],
            Some(s) => parse_sort(s),
        };
        let clamp = |v: i64, lo: i64, hi: i64| usize::try_from(v.clamp(lo, hi)).unwrap_or(0);
        let default_limit = if named {
            req.temporary_ids.len() as i64
        } else {
            10
        };
        Ok(Query {
            filter,
            sort,
            skip: clamp(req.skip.unwrap_or(0), 0, i64::MAX),
            limit: clamp(req.limit.unwrap_or(default_limit), 1, 1000),
            compact: req.flag & 1 != 0,
            with_last_message: req.flag & 2 != 0,
            include_system,
            include_temporary: by_id,
            now,
        })
    }

    /// Whether `doc` (see `Conversation::match_doc`) passes the filter.
    pub fn matches(&self, doc: &Value) -> bool {
        (self.include_system || doc.get("sys") != Some(&Value::Bool(true)))
            && self.may_return_temporary(doc)
            && self.filter.matches(doc)
    }

    /// Whether `doc` is no temporary conversation, or one this query may return.
    fn may_return_temporary(&self, doc: &Value) -> bool {
        let id = doc.get("objectId").and_then(Value::as_str);
        !id.is_some_and(temporary::is_temporary)
            || (self.include_temporary && !temporary::doc_expired(doc, self.now))
    }

    /// Orders documents by the sort keys; missing values sort lowest.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for (key, descending) in &self.sort {
            let ord = compare_opt(lookup(a, key), lookup(b, key));
            let ord = if *descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// A hint for the store: conversation ids the result must be among.
    pub fn object_ids(&self) -> Option<Vec<String>> {
        self.filter.field_values("objectId")
    }

    /// The top-level fields the filter and the sort read, with `sys` and `objectId`
    /// (always checked) and the expiry when temporary conversations may be returned:
    /// a store may decode only these to match a candidate.
    pub fn fields(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::from(["sys".to_owned(), "objectId".to_owned()]);
        if self.include_temporary {
            out.insert(temporary::EXPIRES_AT.to_owned());
        }
        let mut stack = vec![&self.filter];
        while let Some(f) = stack.pop() {
            match f {
                Filter::All(parts) | Filter::Any(parts) => stack.extend(parts),
                Filter::Field(path, _) => {
                    out.insert(path.split('.').next().unwrap_or_default().to_owned());
                }
            }
        }
        for (key, _) in &self.sort {
            out.insert(key.split('.').next().unwrap_or_default().to_owned());
        }
        out
    }

    /// A hint for the store: the top-level conjuncts that are equalities to a scalar,
    /// as (field path, value). Every result has one of these values at that path
    /// (directly or as an element of an array there).
    pub fn equalities(&self) -> Vec<(&str, &Value)> {
        let Filter::All(parts) = &self.filter else {
            return Vec::new();
        };
        parts
            .iter()
            .filter_map(|f| match f {
                Filter::Field(k, Cond::Eq(v)) if !v.is_array() && !v.is_object() => {
                    Some((k.as_str(), v))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether results are ordered by `lm` first: `Some(true)` when descending.
    pub fn lm_order(&self) -> Option<bool> {
        match self.sort.first() {
            Some((key, descending)) if key == "lm" => Some(*descending),
            _ => None,
        }
    }

    /// A hint for the store: a clientId every result must have as a member.
    pub fn member(&self) -> Option<String> {
        let Filter::All(parts) = &self.filter else {
            return None;
        };
        parts.iter().find_map(|f| match f {
            Filter::Field(k, Cond::Eq(Value::String(m))) if k == "m" => Some(m.clone()),
            Filter::Field(k, Cond::All(ms)) if k == "m" => ms.first()?.as_str().map(String::from),
            _ => None,
        })
    }
}

fn mentions(where_: &Map<String, Value>, key: &str) -> bool {
    where_.iter().any(|(k, v)| {
        k == key
            || ((k == "$and" || k == "$or")
                && v.as_array().is_some_and(|parts| {
                    parts
                        .iter()
                        .any(|p| p.as_object().is_some_and(|o| mentions(o, key)))
                }))
    })
}

fn parse_sort(s: &str) -> Vec<(String, bool)> {
    s.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty() && *k != "-")
        .map(|k| match k.strip_prefix('-') {
            Some(k) => (k.to_owned(), true),
            None => (k.to_owned(), false),
        })
        .collect()
}

fn parse_object(where_: &Map<String, Value>) -> Result<Filter, QueryError> {
    let mut parts = Vec::new();
    for (key, value) in where_ {
        match key.as_str() {
            "$and" | "$or" => {
                let subs = value
                    .as_array()
                    .ok_or_else(|| format!("{key} needs an array"))?
                    .iter()
                    .map(|v| {
                        v.as_object()
                            .ok_or_else(|| format!("{key} needs objects"))
                            .and_then(parse_object)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(if key == "$and" {
                    Filter::All(subs)
                } else {
                    Filter::Any(subs)
                });
            }
            k if k.starts_with('$') => return Err(format!("unsupported operator {k}")),
            field => parse_field(field, value, &mut parts)?,
        }
    }
    Ok(Filter::All(parts))
}

/// Date fields compare as ms: Date objects and ISO strings are converted.
fn normalise(field: &str, value: &Value) -> Value {
    if !DATE_FIELDS.contains(&field) {
        return value.clone();
    }
    let iso = match value {
        Value::Object(o) if o.get("__type").and_then(Value::as_str) == Some("Date") => {
            o.get("iso").and_then(Value::as_str)
        }
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    iso.and_then(parse_iso)
        .map_or_else(|| value.clone(), Value::from)
}

fn is_operator_object(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| !o.is_empty() && o.keys().all(|k| k.starts_with('$')))
}

fn parse_field(field: &str, value: &Value, parts: &mut Vec<Filter>) -> Result<(), QueryError> {
    let push = |parts: &mut Vec<Filter>, cond| parts.push(Filter::Field(field.to_owned(), cond));
    if !is_operator_object(value) {
        push(parts, Cond::Eq(normalise(field, value)));
        return Ok(());
    }
    let ops = value.as_object().into_iter().flatten();
    let options = value
        .get("$options")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for (op, arg) in ops {
        let list = || {
            arg.as_array()
                .map(|a| a.iter().map(|v| normalise(field, v)).collect::<Vec<_>>())
                .ok_or_else(|| format!("{op} needs an array"))
        };
        let cond = match op.as_str() {
            "$ne" => Cond::Ne(normalise(field, arg)),
            "$lt" => Cond::Cmp(Ordering::Less, false, normalise(field, arg)),
            "$lte" => Cond::Cmp(Ordering::Less, true, normalise(field, arg)),
            "$gt" => Cond::Cmp(Ordering::Greater, false, normalise(field, arg)),
            "$gte" => Cond::Cmp(Ordering::Greater, true, normalise(field, arg)),
            "$in" => Cond::In(list()?),
            "$nin" => Cond::Nin(list()?),
            "$all" => Cond::All(list()?),
            "$exists" => Cond::Exists(truthy(Some(arg))),
            "$size" => {
                Cond::Size(arg.as_u64().ok_or("$size needs a non-negative integer")? as usize)
            }
            "$regex" => Cond::Regex(compile_regex(
                arg.as_str().ok_or("$regex needs a string")?,
                options,
            )?),
            "$options" => continue,
            other => return Err(format!("unsupported operator {other}")),
        };
        push(parts, cond);
    }
    Ok(())
}

/// Compiles a PCRE-style pattern, turning `\Q…\E` literals into escaped text.
fn compile_regex(pattern: &str, options: &str) -> Result<Regex, QueryError> {
    let mut translated = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("\\Q") {
        translated.push_str(&rest[..start]);
        let literal = &rest[start + 2..];
        let (lit, after) = literal.split_once("\\E").unwrap_or((literal, ""));
        translated.push_str(&regex::escape(lit));
        rest = after;
    }
    translated.push_str(rest);
    RegexBuilder::new(&translated)
        .case_insensitive(options.contains('i'))
        .multi_line(options.contains('m'))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("bad $regex: {e}"))
}

/// The value at a dot path.
fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, key| v.get(key))
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// A total order over JSON values: by type, then by value.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => type_rank(a)
            .cmp(&type_rank(b))
            .then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

fn compare_opt(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => compare_values(x, y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare_values(a, b) == Ordering::Equal,
        _ => a == b,
    }
}

impl Filter {
    fn matches(&self, doc: &Value) -> bool {
        match self {
            Filter::All(parts) => parts.iter().all(|p| p.matches(doc)),
            Filter::Any(parts) => parts.iter().any(|p| p.matches(doc)),
            Filter::Field(path, cond) => cond.matches(lookup(doc, path)),
        }
    }

    /// The ids a top-level `field` is restricted to by equality or `$in`.
    fn field_values(&self, field: &str) -> Option<Vec<String>> {
        let Filter::All(parts) = self else {
            return None;
        };
        parts.iter().find_map(|f| match f {
            Filter::Field(k, Cond::Eq(Value::String(v))) if k == field => Some(vec![v.clone()]),
            Filter::Field(k, Cond::In(vs)) if k == field => Some(
                vs.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
            ),
            _ => None,
        })
    }
}

impl Cond {
    fn matches(&self, value: Option<&Value>) -> bool {
        let elems: &[Value] = match value {
            Some(Value::Array(a)) => a,
            Some(v) => std::slice::from_ref(v),
            None => &[],
        };
        let any = |f: &dyn Fn(&Value) -> bool| value.is_some_and(|v| f(v) || elems.iter().any(f));
        match self {
            Cond::Eq(want) => any(&|v| json_eq(v, want)),
            Cond::Ne(want) => !any(&|v| json_eq(v, want)),
            Cond::Cmp(dir, or_equal, bound) => value.is_some_and(|v| {
                type_rank(v) == type_rank(bound) && {
                    let ord = compare_values(v, bound);
                    ord == *dir || (*or_equal && ord == Ordering::Equal)
                }
            }),
            Cond::In(list) => list.iter().any(|w| any(&|v| json_eq(v, w))),
            Cond::Nin(list) => !list.iter().any(|w| any(&|v| json_eq(v, w))),
            Cond::All(list) => {
                matches!(value, Some(Value::Array(_)))
                    && list.iter().all(|w| elems.iter().any(|v| json_eq(v, w)))
            }
            Cond::Exists(want) => value.is_some() == *want,
            Cond::Size(n) => matches!(value, Some(Value::Array(a)) if a.len() == *n),
            Cond::Regex(re) => value
                .and_then(Value::as_str)
                .is_some_and(|s| re.is_match(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(v: Value) -> ConvQuery {
        let mut frame = v.as_object().cloned().expect("object");
        frame.insert("cmd".into(), json!("conv"));
        frame.insert("op".into(), json!("query"));
        let text = Value::Object(frame).to_string();
        match leanrt_protocol::command::Envelope::parse(&text)
            .expect("envelope")
            .command()
            .expect("command")
        {
            leanrt_protocol::command::Command::ConvQuery(q) => q,
            other => panic!("not a query: {other:?}"),
        }
    }

    fn q(v: Value) -> Query {
        Query::parse(&typed(v), 0).expect("valid query")
    }

    #[test]
    fn operators_match() {
        let doc = json!({"objectId":"a","m":["x","y"],"attr":{"k":1},"name":"Room 1","lm":5});
        for (w, expected) in [
            (json!({"m":"x"}), true),
            (json!({"m":"z"}), false),
            (json!({"m":{"$all":["x","y"]}}), true),
            (json!({"m":{"$all":["x","z"]}}), false),
            (json!({"m":{"$size":2}}), true),
            (json!({"attr.k":1}), true),
            (json!({"attr.k":{"$gt":0,"$lt":2}}), true),
            (json!({"attr.k":{"$gte":2}}), false),
            (json!({"objectId":{"$in":["a","b"]}}), true),
            (json!({"objectId":{"$nin":["a"]}}), false),
            (
                json!({"name":{"$regex":"\\Qroom 1\\E","$options":"i"}}),
                true,
            ),
            (json!({"name":{"$regex":"^R.*2$"}}), false),
            (json!({"mu":{"$exists":false}}), true),
            (json!({"$or":[{"name":"x"},{"m":"y"}]}), true),
            (
                json!({"lm":{"$gt":{"__type":"Date","iso":"1970-01-01T00:00:00.004Z"}}}),
                true,
            ),
            (json!({"name":{"$ne":"Room 1"}}), false),
        ] {
            assert_eq!(q(json!({"where": w})).matches(&doc), expected, "{w}");
        }
    }

    #[test]
    fn sort_puts_missing_lowest() {
        let query = q(json!({"sort":"-lm,c"}));
        let mut docs = [json!({"c":"b"}), json!({"c":"a","lm":1}), json!({"c":"a"})];
        docs.sort_by(|a, b| query.compare(a, b));
        assert_eq!(
            docs,
            [json!({"c":"a","lm":1}), json!({"c":"a"}), json!({"c":"b"})]
        );
    }

    #[test]
    fn bad_where_is_rejected() {
        assert!(Query::parse(&typed(json!({"where": {"a": {"$bogus": 1}}})), 0).is_err());
        assert!(Query::parse(&typed(json!({"where": {"$or": 1}})), 0).is_err());
    }
}
