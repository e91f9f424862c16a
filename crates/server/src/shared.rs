//! State shared by all connections of one server.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::Signatures;
use crate::config::{Apps, Limits};
use crate::hub::Hub;
use crate::store::Store;

pub struct Shared {
    pub limits: Limits,
    pub apps: Apps,
    pub store: Arc<dyn Store>,
    pub hub: Arc<dyn Hub>,
    pub signatures: Signatures,
    /// The configured public WebSocket URL, if any.
    pub public_url: Option<String>,
    pub local_addr: SocketAddr,
}
