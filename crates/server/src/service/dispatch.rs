//! Live delivery: one task takes the store's commit stream in order and pushes each
//! message to the online sessions of the members it had at its seq (or to the
//! participants of a transient conversation), then the receipts the commit made due.
//! Being one, it keeps every conversation's messages in seq order for every session.

use super::Service;
use crate::domain::event::{Event, Push};

impl Service {
    pub(super) async fn dispatch(&self) {
        let Some(mut commits) = self.store.commits() else {
            tracing::error!("the commit stream was already taken");
            return;
        };
        while let Some(commit) = commits.recv().await {
            for c in commit.messages {
                let cid = c.msg.cid.clone();
                let push = Push::new(Event::Message(c.msg));
                if c.room {
                    self.hub.deliver_room(&cid, c.origin.as_ref(), push).await;
                } else {
                    self.hub.deliver(&c.members, c.origin.as_ref(), push).await;
                }
            }
            for r in commit.receipts {
                let push = Push::new(Event::Receipt {
                    cid: r.cid,
                    mid: r.mid,
                    at: r.at,
                });
                self.hub
                    .deliver(std::slice::from_ref(&r.to), None, push)
                    .await;
            }
        }
    }
}
