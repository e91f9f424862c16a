//! Conversation lookup: `GET /1.2/rtm/{conversations|chatrooms}/{id}` and
//! `GET /1.1/classes/_Conversation/{id}`, the record as clients see it.

use super::{Error, Reply};
use crate::json::render;
use crate::service::Service;

pub async fn get(service: &Service, cid: &str) -> Reply {
    let conv = service
        .find_conversation(cid)
        .await?
        .ok_or_else(|| Error::not_found("Object not found."))?;
    Ok(render::conversation(&conv, false, None))
}
