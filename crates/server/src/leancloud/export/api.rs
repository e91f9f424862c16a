//! LeanCloud's REST API as the export reads it: master-key requests, a request rate
//! limit, and retries with backoff on 429, 5xx and dropped connections.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Attempts of one request before the export stops (resumable).
const ATTEMPTS: u32 = 10;
/// The first retry waits this long; each next one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Largest reply body read.
const MAX_BODY: u64 = 64 << 20;

/// Why a request failed for good.
#[derive(Debug)]
pub enum Failure {
    /// The export cannot go on: bad credentials, not a LeanCloud API, retries spent.
    Fatal(String),
    /// The API answered this 4xx (not 401 or 429) with this body.
    Refused { status: u16, body: String },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Fatal(reason) => f.write_str(reason),
            Failure::Refused { status, body } => write!(f, "HTTP {status}: {body}"),
        }
    }
}

/// A master-key client of one app's API domain.
pub struct Api {
    base: String,
    app_id: String,
    /// Only ever sent as a header; never printed or written.
    master_key: String,
    agent: ureq::Agent,
    interval: Duration,
    next_slot: Instant,
    /// Whether any request got an answer: before that, an unreachable host is a
    /// wrong `--api`, not a reason to retry.
    reached: bool,
    pub requests: u64,
    pub retries: u64,
}

/// What one attempt gave.
enum Attempt {
    Done(Value),
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    Fail(Failure),
}

impl Api {
    /// A client of `base` (`https://API_DOMAIN`), at most `rate` requests a second.
    pub fn new(base: &str, app_id: &str, master_key: &str, rate: f64) -> Result<Api, String> {
        let tls = native_tls::TlsConnector::new().map_err(|e| format!("TLS: {e}"))?;
        let agent = ureq::AgentBuilder::new()
            .tls_connector(Arc::new(tls))
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(120))
            .build();
        let base = base.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!(
                "--api must be an http(s) URL such as https://abcd1234.api.lncldglobal.com, not {base:?}"
            ));
        }
        Ok(Api {
            base: base.to_owned(),
            app_id: app_id.to_owned(),
            master_key: master_key.to_owned(),
            agent,
            interval: Duration::from_secs_f64(1.0 / rate.max(0.01)),
            next_slot: Instant::now(),
            reached: false,
            requests: 0,
            retries: 0,
        })
    }

    /// `GET path?query`, retried until it gives a JSON reply or fails for good.
    pub fn get(&mut self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.attempt(path, query) {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(f) => return Err(f),
                Attempt::Retry { reason, .. } if attempt == ATTEMPTS => {
                    return Err(Failure::Fatal(format!(
                        "{path}: {reason} in each of {ATTEMPTS} attempts; run the same command \
                         again later to resume"
                    )))
                }
                Attempt::Retry { reason, after } => {
                    let wait = after.unwrap_or(backoff).min(MAX_BACKOFF);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    eprintln!("{path}: {reason}; retrying in {:.1} s", wait.as_secs_f64());
                    std::thread::sleep(wait);
                    self.retries += 1;
                    attempt += 1;
                }
            }
        }
    }

    fn pace(&mut self) {
        let now = Instant::now();
        if self.next_slot > now {
            std::thread::sleep(self.next_slot - now);
        }
        self.next_slot = Instant::now().max(self.next_slot) + self.interval;
    }

    fn attempt(&mut self, path: &str, query: &[(&str, String)]) -> Attempt {
        self.pace();
        self.requests += 1;
        let mut request = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("X-LC-Id", &self.app_id)
            .set("X-LC-Key", &format!("{},master", self.master_key))
            .set("Accept", "application/json");
        for (k, v) in query {
            request = request.query(k, v);
        }
        let (status, response) = match request.call() {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(status, r)) => (status, r),
            Err(ureq::Error::Transport(t)) if !self.reached => {
                return Attempt::Fail(Failure::Fatal(format!(
                    "cannot reach {}: {t}; check --api (the app's API domain, from the console's settings)",
                    self.base
                )))
            }
            Err(ureq::Error::Transport(t)) => {
                return Attempt::Retry {
                    reason: format!("connection failed ({t})"),
                    after: None,
                }
            }
        };
        self.reached = true;
        let after = response
            .header("Retry-After")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = String::new();
        let read = response
            .into_reader()
            .take(MAX_BODY)
            .read_to_string(&mut body);
        if status == 429 || status >= 500 {
            return Attempt::Retry {
                reason: format!("HTTP {status}"),
                after,
            };
        }
        if let Err(e) = read {
            return Attempt::Retry {
                reason: format!("the reply broke off ({e})"),
                after: None,
            };
        }
        let json: Option<Value> = serde_json::from_str(&body).ok();
        match (status, json) {
            (401, _) => Attempt::Fail(Failure::Fatal(format!(
                "LeanCloud refused the credentials (HTTP 401 {}): check --app-id and --master-key",
                snippet(&body)
            ))),
            (200..=299, Some(v)) => Attempt::Done(v),
            (_, None) => Attempt::Fail(Failure::Fatal(format!(
                "{}{path} is not a LeanCloud API (HTTP {status}, {}); check --api",
                self.base,
                snippet(&body)
            ))),
            (status, Some(_)) => Attempt::Fail(Failure::Refused {
                status,
                body: snippet(&body),
            }),
        }
    }
}

/// The start of a reply body, for messages.
fn snippet(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &body[..i]),
        None => body.to_owned(),
    }
}
