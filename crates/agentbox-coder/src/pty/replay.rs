//! [`Replay`]: after a PTY reconnect, the agent replays its recent output (the last 64 KiB);
//! this skips what was delivered before the drop. It remembers the last marker delivered and
//! how many output bytes followed it; after a reconnect it drops everything up to that marker
//! and then that many output bytes. If the marker is no longer in the replay (a new marker
//! comes first), the output in between is lost, and [`Replay::lost`] says so.

use std::collections::VecDeque;

use super::frame::{Marker, Piece};

/// Markers remembered to tell replayed ones from new ones.
const SEEN: usize = 256;

#[derive(Debug)]
struct Resync {
    /// Drop everything until this marker comes again (`None`: from the start).
    until: Option<Marker>,
    /// Then drop this many output bytes.
    skip: u64,
}

/// What was delivered, to skip it when it is replayed.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    last_marker: Option<Marker>,
    seen: VecDeque<Marker>,
    since_marker: u64,
    resync: Option<Resync>,
    lost: bool,
}

impl Replay {
    /// The connection was re-established: the output starts over with the replay.
    pub fn reconnected(&mut self) {
        self.resync = Some(Resync {
            until: self.last_marker.clone(),
            skip: self.since_marker,
        });
    }

    /// Whether output was lost in a reconnect since [`Replay::reset_lost`].
    pub fn lost(&self) -> bool {
        self.lost
    }

    /// Forget that output was lost.
    pub fn reset_lost(&mut self) {
        self.lost = false;
    }

    /// The pieces of `pieces` not delivered before.
    pub fn accept(&mut self, pieces: Vec<Piece>) -> Vec<Piece> {
        let mut out = Vec::with_capacity(pieces.len());
        for piece in pieces {
            match piece {
                Piece::Output(mut bytes) => {
                    if let Some(resync) = &mut self.resync {
                        if resync.until.is_some() {
                            continue;
                        }
                        let drop = usize::try_from(resync.skip)
                            .unwrap_or(usize::MAX)
                            .min(bytes.len());
                        resync.skip -= drop as u64;
                        let _ = bytes.split_to(drop);
                        if resync.skip == 0 {
                            self.resync = None;
                        }
                        if bytes.is_empty() {
                            continue;
                        }
                    }
                    self.since_marker += bytes.len() as u64;
                    out.push(Piece::Output(bytes));
                }
                Piece::Marker(marker) => {
                    if let Some(resync) = &mut self.resync {
                        match &resync.until {
                            Some(until) if *until == marker => {
                                resync.until = None;
                                if resync.skip == 0 {
                                    self.resync = None;
                                }
                                continue;
                            }
                            // Replayed from before the last marker.
                            Some(_) if self.seen.contains(&marker) => continue,
                            // A new marker while the last one was not found again: it fell
                            // out of the replay, and the output after it with it.
                            Some(_) => self.lost = true,
                            // Output was being skipped, and it ended early.
                            None if resync.skip > 0 => self.lost = true,
                            None => {}
                        }
                        self.resync = None;
                    }
                    self.last_marker = Some(marker.clone());
                    if self.seen.len() == SEEN {
                        self.seen.pop_front();
                    }
                    self.seen.push_back(marker.clone());
                    self.since_marker = 0;
                    out.push(Piece::Marker(marker));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn m(kind: &str) -> Piece {
        Piece::Marker(Marker {
            token: "t".into(),
            kind: kind.into(),
            value: "0".into(),
        })
    }

    fn o(text: &str) -> Piece {
        Piece::Output(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn the_replay_is_skipped_up_to_what_was_delivered() {
        let mut r = Replay::default();
        let first = r.accept(vec![m("ready"), o("noise"), m("pid"), o("hello ")]);
        assert_eq!(first.len(), 4);
        r.reconnected();
        let again = r.accept(vec![
            m("ready"),
            o("noise"),
            m("pid"),
            o("hello wor"),
            o("ld"),
            m("exit"),
        ]);
        assert_eq!(again, vec![o("wor"), o("ld"), m("exit")]);
        assert!(!r.lost());
    }

    #[test]
    fn without_a_marker_the_replay_is_skipped_by_length() {
        let mut r = Replay::default();
        r.accept(vec![o("abc")]);
        r.reconnected();
        assert_eq!(r.accept(vec![o("abcdef")]), vec![o("def")]);
    }

    #[test]
    fn a_marker_gone_from_the_replay_means_lost_output() {
        let mut r = Replay::default();
        r.accept(vec![m("pid"), o("x")]);
        r.reconnected();
        // The ring buffer kept only the tail: no `pid` marker, then the exit.
        let after = r.accept(vec![o("...tail"), m("exit")]);
        assert_eq!(after, vec![m("exit")]);
        assert!(r.lost());
        r.reset_lost();
        assert!(!r.lost());
    }
}
