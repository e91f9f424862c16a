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
//!
//! Behind a networked hub, pushes between nodes may be lost or reordered, so the
//! session repairs gaps: each conversation's floor follows the live messages
//! written, and a live message more than one above its floor is held while the
//! seqs in between are read from the store, as a push of its own (every lower seq
//! is committed, since seq order is commit order). A change of the session's
//! membership forgets the floor, so that nothing from outside its membership is
//! read. Transient conversations are at most once: never repaired.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::domain::event::{Event, Push};
use crate::domain::StoredMessage;
use crate::store::{Pending, PendingPage};

/// Messages read per page.
pub const PAGE: usize = 512;

struct Owed {
    pending: Pending,
    pushed: usize,
    /// A gap of live messages, not owed at login: pushed as live messages.
    repair: bool,
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

impl Login {
    fn new(cap: usize, hold_max: usize) -> Box<Login> {
        Box::new(Login {
            queue: VecDeque::new(),
            held: VecDeque::new(),
            reading: false,
            cap,
            hold_max,
        })
    }
}

/// A session's live delivery filter and its login push, if one is running.
#[derive(Default)]
pub struct Delivery {
    /// Per conversation of a login push: live messages up to this seq were covered
    /// by the push (or are owed to a later login).
    floors: HashMap<Arc<str>, i64>,
    login: Option<Box<Login>>,
    /// Set behind a networked hub: `(cap, hold_max)` for the pushes that fill gaps.
    repair: Option<(usize, usize)>,
}

/// What a page of the push produced.
pub struct Pushed {
    /// Pushed messages, oldest first: `offline: true` unless `repaired`.
    pub offline: Vec<StoredMessage>,
    /// The messages fill a gap in live delivery.
    pub repaired: bool,
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
            .map(|pending| Owed {
                pending,
                pushed: 0,
                repair: false,
            })
            .collect();
        self.login = (!queue.is_empty() && cap > 0).then(|| {
            let mut login = Login::new(cap, hold_max.max(1));
            login.queue = queue;
            login
        });
    }

    /// Repairs gaps from now on, each with a push of at most `cap` messages while
    /// up to `hold_max` live ones wait.
    pub fn repair_gaps(&mut self, cap: usize, hold_max: usize) {
        self.repair = Some((cap.max(1), hold_max.max(1)));
    }

    /// Whether gaps are repaired.
    pub fn repairing(&self) -> bool {
        self.repair.is_some()
    }

    /// After pushes may have been lost: what the store says is owed beyond each
    /// conversation's floor is pushed as live messages (a conversation already being
    /// pushed is left to that push).
    pub fn resync(&mut self, owed: Vec<Pending>) {
        let Some((cap, hold_max)) = self.repair else {
            return;
        };
        for p in owed {
            let floor = self.floors.get(&p.cid).copied().unwrap_or(p.after);
            let pushing = self
                .login
                .as_ref()
                .is_some_and(|l| l.queue.iter().any(|o| o.pending.cid == p.cid));
            if p.upto <= floor || pushing {
                continue;
            }
            let after = floor.max(p.after);
            self.queue_repair((cap, hold_max), Pending { after, ..p });
        }
    }

    /// Queues a push of `pending` as live messages, starting one if none runs.
    fn queue_repair(&mut self, (cap, hold_max): (usize, usize), pending: Pending) {
        let login = self.login.get_or_insert_with(|| Login::new(cap, hold_max));
        login.queue.push_back(Owed {
            pending,
            pushed: 0,
            repair: true,
        });
    }

    /// Forgets everything (the session closed).
    pub fn clear(&mut self) {
        *self = Delivery::default();
    }

    /// The session's own message was stored: it has it (its floor may move past it).
    pub fn own(&mut self, m: &StoredMessage) {
        if let Some(floor) = self.floors.get_mut(&m.cid) {
            if *floor + 1 == m.seq {
                *floor = m.seq;
            }
        }
    }

    /// A live push: `Some` to write it now, `None` if dropped or held.
    pub fn route(&mut self, push: Arc<Push>) -> Option<Arc<Push>> {
        if let Event::Membership { cid, .. } = &push.event {
            self.floors.remove(cid.as_str());
        }
        let Some((cid, seq)) = push.event.stored_position() else {
            return Some(push);
        };
        let floor = self.floors.get(cid).copied();
        if floor.is_some_and(|f| seq <= f) {
            return None;
        }
        // Repairing, a gap opens a push of its own unless one for this conversation
        // runs already (only then is the queue looked through).
        let gap = floor.filter(|f| seq > f + 1 && !push.room);
        if let (Some(repair), Some(floor)) = (self.repair, gap) {
            let owing = self
                .login
                .as_ref()
                .is_some_and(|l| l.queue.iter().any(|o| &*o.pending.cid == cid));
            if !owing {
                let pending = Pending {
                    cid: Arc::from(cid),
                    after: floor,
                    upto: seq - 1,
                    acked: Vec::new(),
                };
                self.queue_repair(repair, pending);
            }
        }
        let Some(login) = self.login.as_mut() else {
            self.passed(&push);
            return Some(push);
        };
        let Some(owed) = login.queue.iter_mut().find(|o| &*o.pending.cid == cid) else {
            self.passed(&push);
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

    /// Moves the floor of a live message's conversation to it, when repairing.
    fn passed(&mut self, push: &Push) {
        if let (Some(_), Some((cid, seq)), false) =
            (self.repair, push.event.stored_position(), push.room)
        {
            let floor = self.floors.entry(Arc::from(cid)).or_insert(seq);
            *floor = (*floor).max(seq);
        }
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
            repaired: false,
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
        out.repaired = owed.repair;
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
        let (mine, others): (VecDeque<_>, VecDeque<_>) = login
            .held
            .drain(..)
            .partition(|p| p.event.stored_position().map(|(c, _)| c) == Some(&*done.pending.cid));
        login.held = others;
        let rest = if login.queue.is_empty() {
            self.login.take().map(|l| l.held).unwrap_or_default()
        } else {
            VecDeque::new()
        };
        // Everything up to the push's end was pushed (or is owed to a later login).
        let floor = self.floors.entry(done.pending.cid.clone()).or_insert(0);
        *floor = (*floor).max(done.pending.upto);
        // Held messages go through the filter again: past the floor, each is written,
        // or (repairing) opens the push of a gap still before it.
        for push in mine.into_iter().chain(rest) {
            released.extend(self.route(push));
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
            extras: None,
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
