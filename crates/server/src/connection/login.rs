//! The login push, streamed, and the live messages around it.
//!
//! At login the session is attached first, then the store says what the clientId is
//! owed: per conversation, the seqs in `(cursor, upto]`. The push reads those in
//! pages, conversation by conversation, oldest activity first, while the client's
//! acks are read; the next page is read while the previous ones (at most two) are
//! written, so memory does not grow with the backlog.
//!
//! A live message of an owed conversation with a seq up to `upto` is in the push
//! (or, beyond the per-conversation cap, owed to a later login): it is dropped.
//! Later ones are held until that conversation's push is done, so that each
//! conversation arrives in seq order. When too many are held, a conversation's
//! held messages are dropped and its push extended over them instead: they are
//! committed, so the store has them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::domain::event::Push;
use crate::domain::StoredMessage;
use crate::store::{Pending, PendingPage};

/// Messages read per page.
pub const PAGE: usize = 512;

struct Owed {
    pending: Pending,
    pushed: usize,
}

struct Login {
    /// Conversations still to push; the first is in progress.
    queue: VecDeque<Owed>,
    held: VecDeque<Arc<Push>>,
    /// A page read is in flight.
    reading: bool,
    /// Messages pushed per conversation at most (`--offline-per-conversation`).
    cap: usize,
    /// Live messages held at most.
    hold_max: usize,
}

/// A session's live delivery filter and its login push, if one is running.
#[derive(Default)]
pub struct Delivery {
    /// Per conversation of a login push: live messages up to this seq were covered
    /// by the push (or are owed to a later login).
    floors: HashMap<Arc<str>, i64>,
    login: Option<Box<Login>>,
}

/// What a page of the push produced.
pub struct Pushed {
    /// Pushed messages (`offline: true`), oldest first.
    pub offline: Vec<StoredMessage>,
    /// Live messages released because their conversation's push is done.
    pub released: Vec<Arc<Push>>,
}

impl Delivery {
    /// Starts the push of what is owed.
    pub fn start(&mut self, owed: Vec<Pending>, cap: usize, hold_max: usize) {
        for p in &owed {
            self.floors.insert(p.cid.clone(), p.upto);
        }
        let queue: VecDeque<Owed> = owed
            .into_iter()
            .map(|pending| Owed { pending, pushed: 0 })
            .collect();
        self.login = (!queue.is_empty() && cap > 0).then(|| {
            Box::new(Login {
                queue,
                held: VecDeque::new(),
                reading: false,
                cap,
                hold_max: hold_max.max(1),
            })
        });
    }

    /// Forgets everything (the session closed).
    pub fn clear(&mut self) {
        *self = Delivery::default();
    }

    /// A live push: `Some` to write it now, `None` if dropped or held.
    pub fn route(&mut self, push: Arc<Push>) -> Option<Arc<Push>> {
        let Some((cid, seq)) = push.event.stored_position() else {
            return Some(push);
        };
        let floor = self.floors.get(cid).copied();
        if floor.is_some_and(|f| seq <= f) {
            return None;
        }
        let Some(login) = self.login.as_mut() else {
            return Some(push);
        };
        let Some(owed) = login.queue.iter_mut().find(|o| &*o.pending.cid == cid) else {
            return Some(push);
        };
        if login.held.len() < login.hold_max {
            login.held.push_back(push);
            return None;
        }
        // Too many held: the push covers this conversation's up to this one.
        owed.pending.upto = owed.pending.upto.max(seq);
        let cid: Arc<str> = owed.pending.cid.clone();
        login
            .held
            .retain(|p| p.event.stored_position().map(|(c, _)| c) != Some(&*cid));
        self.floors.insert(cid, seq);
        None
    }

    /// The next page to read, if the push goes on and none is being read.
    pub fn next_read(&mut self) -> Option<(Pending, usize)> {
        let login = self.login.as_mut()?;
        if login.reading {
            return None;
        }
        let owed = login.queue.front()?;
        login.reading = true;
        Some((owed.pending.clone(), PAGE.min(login.cap - owed.pushed)))
    }

    /// Takes a page read for the conversation in progress.
    pub fn on_page(&mut self, page: PendingPage) -> Pushed {
        let mut out = Pushed {
            offline: Vec::new(),
            released: Vec::new(),
        };
        let Some(login) = self.login.as_mut() else {
            return out;
        };
        login.reading = false;
        let Some(owed) = login.queue.front_mut() else {
            return out;
        };
        owed.pushed += page.messages.len();
        owed.pending.after = owed.pending.after.max(page.scanned_to);
        out.offline = page.messages;
        if owed.pending.after >= owed.pending.upto || owed.pushed >= login.cap {
            self.finish_front(&mut out.released);
        }
        out
    }

    /// The push failed: live delivery resumes, the rest stays owed.
    pub fn abandon(&mut self) -> Vec<Arc<Push>> {
        self.login
            .take()
            .map(|login| login.held.into_iter().collect())
            .unwrap_or_default()
    }

    /// Ends the conversation in progress and releases its held messages.
    fn finish_front(&mut self, released: &mut Vec<Arc<Push>>) {
        let Some(login) = self.login.as_mut() else {
            return;
        };
        let Some(done) = login.queue.pop_front() else {
            return;
        };
        let floor = self.floors.get(&done.pending.cid).copied().unwrap_or(0);
        let (mine, others): (VecDeque<_>, VecDeque<_>) = login
            .held
            .drain(..)
            .partition(|p| p.event.stored_position().map(|(c, _)| c) == Some(&*done.pending.cid));
        login.held = others;
        released.extend(
            mine.into_iter()
                .filter(|p| p.event.stored_position().is_some_and(|(_, s)| s > floor)),
        );
        if login.queue.is_empty() {
            released.extend(login.held.drain(..));
            self.login = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Event;

    fn owed(cid: &str, after: i64, upto: i64) -> Pending {
        Pending {
            cid: Arc::from(cid),
            after,
            upto,
            acked: Vec::new(),
        }
    }

    fn live(cid: &str, seq: i64) -> Arc<Push> {
        Push::new(Event::Message(Arc::new(StoredMessage {
            cid: Arc::from(cid),
            seq,
            id: format!("{cid}{seq}"),
            from: "x".into(),
            data: String::new(),
            timestamp: 0,
            ack_at: None,
            receipt: false,
        })))
    }

    fn page(cid: &str, seqs: std::ops::RangeInclusive<i64>, scanned_to: i64) -> PendingPage {
        PendingPage {
            messages: seqs
                .map(|seq| match &live(cid, seq).event {
                    Event::Message(m) => (**m).clone(),
                    _ => unreachable!(),
                })
                .collect(),
            scanned_to,
        }
    }

    fn seqs(pushes: &[Arc<Push>]) -> Vec<i64> {
        pushes
            .iter()
            .filter_map(|p| p.event.stored_position().map(|(_, s)| s))
            .collect()
    }

    #[test]
    fn live_messages_wait_for_their_conversation_and_none_twice() {
        let mut d = Delivery::default();
        d.start(vec![owed("a", 0, 3)], 1000, 10);
        assert!(d.route(live("a", 2)).is_none(), "in the push");
        assert!(d.route(live("a", 4)).is_none(), "held");
        assert!(d.route(live("b", 1)).is_some(), "not owed");
        let (p, limit) = d.next_read().expect("a read");
        assert_eq!((&*p.cid, limit), ("a", PAGE));
        assert!(d.next_read().is_none(), "one read at a time");
        let pushed = d.on_page(page("a", 1..=3, 3));
        assert_eq!(pushed.offline.len(), 3);
        assert_eq!(seqs(&pushed.released), [4]);
        assert!(d.next_read().is_none(), "done");
        assert!(d.route(live("a", 3)).is_none(), "still below the floor");
        assert!(d.route(live("a", 5)).is_some());
    }

    #[test]
    fn too_many_held_extends_the_push_instead() {
        let mut d = Delivery::default();
        d.start(vec![owed("a", 0, 2)], 100, 2);
        for seq in 3..=6 {
            assert!(d.route(live("a", seq)).is_none());
        }
        let (p, _) = d.next_read().expect("a read");
        assert_eq!(p.upto, 5, "the push now reads what overflowed");
        let pushed = d.on_page(page("a", 1..=5, 5));
        assert_eq!(seqs(&pushed.released), [6]);
    }

    #[test]
    fn the_cap_leaves_the_rest_for_a_later_login() {
        let mut d = Delivery::default();
        d.start(vec![owed("a", 0, 10), owed("b", 0, 1)], 4, 10);
        assert_eq!(d.next_read().map(|(_, l)| l), Some(4));
        let pushed = d.on_page(page("a", 1..=4, 4));
        assert!(pushed.released.is_empty());
        assert!(d.route(live("a", 7)).is_none(), "owed to a later login");
        assert!(d.route(live("a", 11)).is_some());
        assert_eq!(
            d.next_read().map(|(p, _)| p.cid.to_string()),
            Some("b".into())
        );
    }
}
