//! PostgreSQL errors as [`StoreError`]s, and the text PostgreSQL cannot hold.

use tokio_postgres::error::SqlState;

use crate::domain::Refusal;
use crate::store::StoreError;

/// A failed statement. Retryable when nothing was applied and trying again may
/// succeed: a lost connection, a deadlock or serialization failure between nodes,
/// a server shutting down or starting.
pub fn pg(e: tokio_postgres::Error) -> StoreError {
    let retryable = e.is_closed()
        || match e.code() {
            // No SQLSTATE: the connection or the socket failed.
            None => true,
            Some(code) => {
                code.code().starts_with("08")
                    || [
                        SqlState::T_R_SERIALIZATION_FAILURE,
                        SqlState::T_R_DEADLOCK_DETECTED,
                        SqlState::ADMIN_SHUTDOWN,
                        SqlState::CRASH_SHUTDOWN,
                        SqlState::CANNOT_CONNECT_NOW,
                        SqlState::TOO_MANY_CONNECTIONS,
                    ]
                    .contains(code)
            }
        };
    let detail = match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {}", db.message()),
        None => format!("PostgreSQL: {e}"),
    };
    StoreError::Unavailable { detail, retryable }
}

/// A failure to reach PostgreSQL at all (pool, timeout): worth retrying.
pub fn unreachable(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        detail: format!("PostgreSQL: {detail}"),
        retryable: true,
    }
}

/// Refuses text with a NUL character, which PostgreSQL's `text` and `jsonb` cannot
/// store: checked before any statement, so it fails its own operation, not the
/// batch it is in.
pub fn storable<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<(), Refusal> {
    if texts.into_iter().any(|t| t.contains('\0')) {
        return Err(Refusal::Invalid(
            "text with a NUL character cannot be stored".into(),
        ));
    }
    Ok(())
}
