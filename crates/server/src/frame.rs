//! Inbound request access with typed field getters, and request failures.

use leanrt_protocol::ErrorCode;
use serde_json::{Map, Value};

/// Why a request failed: its code, with an optional human-readable `detail`.
#[derive(Debug)]
pub struct Failure {
    pub code: ErrorCode,
    pub detail: Option<String>,
}

impl Failure {
    pub fn with(code: ErrorCode, detail: impl Into<String>) -> Self {
        Failure {
            code,
            detail: Some(detail.into()),
        }
    }

    /// A malformed request (4200 with a detail).
    pub fn bad(detail: impl Into<String>) -> Self {
        Self::with(ErrorCode::InternalError, detail)
    }
}

impl From<ErrorCode> for Failure {
    fn from(code: ErrorCode) -> Self {
        Failure { code, detail: None }
    }
}

/// A parsed client frame: a JSON object with a `cmd` and, for requests, an `i`.
pub struct Request {
    pub cmd: String,
    pub op: String,
    pub frame: Map<String, Value>,
    /// The serial id, echoed as the same JSON number.
    pub i: Option<Value>,
}

/// JavaScript truthiness, as the v2 client computes its flags.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

impl Request {
    /// An optional string field.
    pub fn str(&self, key: &str) -> Result<Option<&str>, Failure> {
        match self.frame.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Failure::bad(format!("{key} must be a string"))),
        }
    }

    /// A required string field; `missing` is the failure when it is absent.
    pub fn required_str(&self, key: &str, missing: ErrorCode) -> Result<&str, Failure> {
        self.str(key)?
            .ok_or_else(|| Failure::with(missing, format!("{key} is required")))
    }

    /// A list of clientIds: absent means empty, a lone string is wrapped.
    pub fn client_ids(&self, key: &str) -> Result<Vec<String>, Failure> {
        let bad = || Failure::bad(format!("{key} must be an array of strings"));
        match self.frame.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(String::from).ok_or_else(bad))
                .collect(),
            Some(_) => Err(bad()),
        }
    }

    /// A flag in JavaScript truthiness.
    pub fn flag(&self, key: &str) -> bool {
        truthy(self.frame.get(key))
    }

    /// An optional integer; numeric strings and fractions are accepted.
    pub fn int(&self, key: &str) -> Result<Option<i64>, Failure> {
        let bad = || Failure::bad(format!("{key} must be a number"));
        match self.frame.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or_else(bad),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.parse::<f64>().map(|f| Some(f as i64)).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }
}
