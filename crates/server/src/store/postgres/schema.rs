//! The PostgreSQL schema and its versioned migrations, run at startup. Nodes that
//! start together take an advisory lock, so each migration runs once.
//!
//! As in SQLite, a conversation has an internal number (`num`) and its messages a
//! gap-free per-conversation `seq`; a member's cursor is `acked` plus the acked runs
//! above it (`ranges`, `[[lo, hi], …]`). Ids that are compared or sorted are
//! `COLLATE "C"`, so PostgreSQL orders them bytewise, as the server does.

use tokio_postgres::Client;

use super::errors::pg;
use crate::store::{StoreError, StoreResult};

/// Migrations in order; the schema version is how many have run.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE conversations (
    num         BIGSERIAL PRIMARY KEY,
    "objectId"  TEXT COLLATE "C" NOT NULL UNIQUE,
    c           TEXT NOT NULL,
    m           JSONB NOT NULL DEFAULT '[]',
    mu          JSONB,
    name        TEXT,
    attr        JSONB,
    tr          BOOLEAN NOT NULL DEFAULT FALSE,
    sys         BOOLEAN NOT NULL DEFAULT FALSE,
    "unique"    BOOLEAN NOT NULL DEFAULT FALSE,
    unique_key  TEXT,
    lm          BIGINT,
    "createdAt" BIGINT NOT NULL,
    "updatedAt" BIGINT NOT NULL,
    extra       JSONB NOT NULL DEFAULT '{}',
    last_seq    BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX conversations_unique_key ON conversations (unique_key)
    WHERE "unique" AND unique_key IS NOT NULL;
CREATE INDEX conversations_lm ON conversations (lm);
CREATE INDEX conversations_name ON conversations (name) WHERE name IS NOT NULL;
CREATE INDEX conversations_creator ON conversations (c);
CREATE INDEX conversations_attr ON conversations USING GIN (attr jsonb_path_ops);
CREATE TABLE members (
    conv      BIGINT NOT NULL,
    client_id TEXT NOT NULL,
    acked     BIGINT NOT NULL,
    ranges    JSONB NOT NULL DEFAULT '[]',
    PRIMARY KEY (conv, client_id)
);
CREATE INDEX members_client ON members (client_id, conv);
CREATE TABLE messages (
    conv      BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    "msgId"   TEXT COLLATE "C" NOT NULL UNIQUE,
    "from"    TEXT NOT NULL,
    data      BYTEA NOT NULL,
    timestamp BIGINT NOT NULL,
    "ackAt"   BIGINT,
    receipt   BOOLEAN NOT NULL DEFAULT FALSE,
    meta      TEXT,
    PRIMARY KEY (conv, seq)
);
CREATE INDEX messages_time ON messages (conv, timestamp, seq);
CREATE INDEX messages_across ON messages (timestamp, "msgId");
CREATE INDEX messages_sender ON messages ("from", timestamp, "msgId");
"#];

/// The schema version this build writes.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Any number; nodes migrating at once serialise on it.
const MIGRATION_LOCK: i64 = 0x6c65_616e_7274;

/// Brings the database to [`VERSION`], each migration in its own transaction.
pub async fn migrate(client: &mut Client) -> StoreResult<()> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS leanrt_schema (version INTEGER NOT NULL)")
        .await
        .map_err(pg)?;
    loop {
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg)?;
        let version: i32 = tx
            .query_opt("SELECT version FROM leanrt_schema", &[])
            .await
            .map_err(pg)?
            .map_or(0, |r| r.get(0));
        if version > VERSION {
            return Err(StoreError::Unavailable {
                detail: format!(
                    "the database has schema version {version}, newer than this build's {VERSION}"
                ),
                retryable: false,
            });
        }
        let Some(step) = MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        tracing::info!(version = version + 1, "migrating the PostgreSQL schema");
        tx.batch_execute(step).await.map_err(pg)?;
        tx.execute("DELETE FROM leanrt_schema", &[])
            .await
            .map_err(pg)?;
        tx.execute(
            "INSERT INTO leanrt_schema (version) VALUES ($1)",
            &[&(version + 1)],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
    }
}
