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
            // Runs of one conversation from one sender go out together: each session
            // is woken, and written to, once per run.
            let mut messages = commit.messages.into_iter().peekable();
            while let Some(first) = messages.next() {
                let push = if first.room { Push::in_room } else { Push::new };
                let mut run = vec![push(Event::Message(first.msg.clone()))];
                while let Some(next) = messages.next_if(|n| {
                    n.msg.cid == first.msg.cid
                        && n.origin == first.origin
                        && std::sync::Arc::ptr_eq(&n.members, &first.members)
                }) {
                    run.push(push(Event::Message(next.msg)));
                }
                if first.room {
                    let cid = &first.msg.cid;
                    self.hub
                        .deliver_room(cid, first.origin.as_ref(), &run)
                        .await;
                } else {
                    let except = first.origin.as_ref();
                    self.hub.deliver(&first.members, except, &run).await;
                }
            }
            for r in commit.receipts {
                let push = Push::new(Event::Receipt {
                    cid: r.cid,
                    mid: r.mid,
                    at: r.at,
                });
                self.hub
                    .deliver(std::slice::from_ref(&r.to), None, &[push])
                    .await;
            }
        }
    }
}
