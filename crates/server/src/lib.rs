//! leanrt-server: a self-hostable server for the LeanCloud realtime v2 protocol
//! (router, WebSocket JSON dialect, SQLite store), usable as a library. The layers
//! are described in `ARCHITECTURE.md`; [`Server::bind_with`] takes other backends
//! ([`store::Store`], [`hub::Hub`], [`auth::NonceCache`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), leanrt_server::Error> {
//! let config = leanrt_server::Config {
//!     listen: "127.0.0.1:0".parse().expect("address"),
//!     db: ":memory:".into(),
//!     ..Default::default()
//! };
//! let server = leanrt_server::Server::bind(config).await?.spawn();
//! println!("listening on http://{}", server.local_addr());
//! server.shutdown().await
//! # }
//! ```

pub mod auth;
mod cli;
pub mod cluster;
mod config;
mod connection;
pub mod domain;
pub mod hub;
mod ids;
mod json;
mod leancloud;
mod rest;
mod router;
mod server;
mod service;
pub mod store;
mod time;
mod v3;

pub use cli::cli_main;
pub use config::{App, Config, Limits};
pub use server::{Backends, Error, Server, ServerHandle};
