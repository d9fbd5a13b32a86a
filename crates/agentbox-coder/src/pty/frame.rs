//! [`Framer`]: finds agentbox's markers in a PTY's output and cuts them out.
//!
//! A marker is `__agentbox_<token>_<kind>_<value>__`, printed by the scripts in `script.rs`
//! with one `printf`. `<token>` is a random 128-bit hex string the framer was told about, so
//! output that imitates a marker (without knowing a live token) passes through as output.
//! Markers need no line of their own (output without a trailing newline stays exact), and
//! terminal noise inside one — escape sequences, `\r`, `\n` from a terminal that wraps lines —
//! is skipped while matching and removed with the marker. Output outside markers is passed on
//! byte for byte.

use bytes::Bytes;

use super::ansi::{Escape, escape_len};

/// What every marker starts with.
const PREFIX: &str = "__agentbox_";
/// Raw bytes a marker candidate may span, noise included, before it is taken as output.
const MAX_CANDIDATE: usize = 8192;
/// The longest kind and value.
const MAX_KIND: usize = 16;
const MAX_VALUE: usize = 96;

/// A marker found in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The token it carried.
    pub token: String,
    /// What it says (`ready`, `pid`, `exit`, …).
    pub kind: String,
    /// Its value (digits, lowercase letters, hyphens).
    pub value: String,
}

/// One piece of a PTY's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Bytes that are no marker.
    Output(Bytes),
    /// A marker.
    Marker(Marker),
}

/// The result of matching at one position.
enum Match {
    /// A marker `len` raw bytes long.
    Found(usize, Marker),
    /// Could be a marker once more bytes arrive.
    Partial,
    /// Not a marker.
    No,
}

/// A streaming marker finder.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    /// `__agentbox_<token>_` for each live token, with the token.
    needles: Vec<(Vec<u8>, String)>,
    /// Bytes not yet known to be output (they may begin a marker).
    pending: Vec<u8>,
}

impl Framer {
    /// A framer recognising markers with these tokens.
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Self {
        let mut framer = Self::default();
        for token in tokens {
            framer.add_token(token);
        }
        framer
    }

    /// Also recognise markers with `token`.
    pub fn add_token(&mut self, token: &str) {
        if !self.needles.iter().any(|(_, t)| t == token) {
            self.needles
                .push((format!("{PREFIX}{token}_").into_bytes(), token.to_owned()));
        }
    }

    /// Stop recognising `token` (its markers become output).
    pub fn remove_token(&mut self, token: &str) {
        self.needles.retain(|(_, t)| t != token);
    }

    /// Feed output; returns the pieces that are certain now.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Piece> {
        self.pending.extend_from_slice(data);
        let mut pieces = Vec::new();
        let mut emitted = 0;
        let mut at = 0;
        while let Some(offset) = self.pending[at..].iter().position(|&b| b == b'_') {
            let start = at + offset;
            match self.match_at(start) {
                Match::Found(len, marker) => {
                    push_output(&mut pieces, &self.pending[emitted..start]);
                    pieces.push(Piece::Marker(marker));
                    emitted = start + len;
                    at = emitted;
                }
                Match::Partial => {
                    push_output(&mut pieces, &self.pending[emitted..start]);
                    self.pending.drain(..start);
                    return pieces;
                }
                Match::No => at = start + 1,
            }
        }
        push_output(&mut pieces, &self.pending[emitted..]);
        self.pending.clear();
        pieces
    }

    /// The end of the stream: whatever was held back is output.
    pub fn finish(&mut self) -> Vec<Piece> {
        let mut pieces = Vec::new();
        push_output(&mut pieces, &self.pending);
        self.pending.clear();
        pieces
    }

    fn match_at(&self, start: usize) -> Match {
        let buf = &self.pending[start..];
        let mut partial = false;
        for (needle, token) in &self.needles {
            match match_marker(buf, needle) {
                Candidate::Whole(len, kind, value) => {
                    return Match::Found(
                        len,
                        Marker {
                            token: token.clone(),
                            kind,
                            value,
                        },
                    );
                }
                Candidate::More => partial = true,
                Candidate::Not => {}
            }
        }
        if partial { Match::Partial } else { Match::No }
    }
}

fn push_output(pieces: &mut Vec<Piece>, bytes: &[u8]) {
    if !bytes.is_empty() {
        pieces.push(Piece::Output(Bytes::copy_from_slice(bytes)));
    }
}

/// Reads raw bytes, skipping terminal noise after the first byte.
struct Cursor<'a> {
    buf: &'a [u8],
    i: usize,
}

enum Next {
    Byte(u8),
    /// The buffer ends (possibly inside noise).
    End,
    /// Too long to be a marker.
    TooLong,
}

impl Cursor<'_> {
    fn next(&mut self) -> Next {
        loop {
            if self.i >= MAX_CANDIDATE {
                return Next::TooLong;
            }
            let Some(&b) = self.buf.get(self.i) else {
                return Next::End;
            };
            if self.i > 0 {
                if b == b'\r' || b == b'\n' {
                    self.i += 1;
                    continue;
                }
                match escape_len(&self.buf[self.i..]) {
                    Escape::Complete(n) => {
                        self.i += n;
                        continue;
                    }
                    Escape::Incomplete => return Next::End,
                    Escape::None => {}
                }
            }
            self.i += 1;
            return Next::Byte(b);
        }
    }
}

/// Whether `buf` starts with a marker for `needle`.
enum Candidate {
    /// A marker this many raw bytes long, with its kind and value.
    Whole(usize, String, String),
    /// Maybe, once more bytes arrive.
    More,
    /// No.
    Not,
}

fn match_marker(buf: &[u8], needle: &[u8]) -> Candidate {
    let mut c = Cursor { buf, i: 0 };
    for &want in needle {
        match c.next() {
            Next::Byte(b) if b == want => {}
            Next::Byte(_) | Next::TooLong => return Candidate::Not,
            Next::End => return Candidate::More,
        }
    }
    let mut kind = String::new();
    loop {
        match c.next() {
            Next::Byte(b'_') if !kind.is_empty() => break,
            Next::Byte(b) if b.is_ascii_lowercase() && kind.len() < MAX_KIND => {
                kind.push(char::from(b));
            }
            Next::End => return Candidate::More,
            _ => return Candidate::Not,
        }
    }
    let mut value = String::new();
    loop {
        match c.next() {
            Next::Byte(b'_') => break,
            Next::Byte(b)
                if (b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && value.len() < MAX_VALUE =>
            {
                value.push(char::from(b));
            }
            Next::End => return Candidate::More,
            _ => return Candidate::Not,
        }
    }
    match c.next() {
        Next::Byte(b'_') => Candidate::Whole(c.i, kind, value),
        Next::End => Candidate::More,
        _ => Candidate::Not,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "00112233445566778899aabbccddeeff";

    fn marker(kind: &str, value: &str) -> String {
        format!("__agentbox_{TOKEN}_{kind}_{value}__")
    }

    /// Everything a framer makes of `chunks`: output joined, markers in order.
    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<(String, String)>) {
        let mut f = Framer::new([TOKEN]);
        let mut out = Vec::new();
        let mut markers = Vec::new();
        let mut take = |pieces: Vec<Piece>| {
            for p in pieces {
                match p {
                    Piece::Output(b) => out.extend_from_slice(&b),
                    Piece::Marker(m) => markers.push((m.kind, m.value)),
                }
            }
        };
        for c in chunks {
            take(f.feed(c));
        }
        take(f.finish());
        (out, markers)
    }

    #[test]
    fn output_without_a_trailing_newline_is_exact() {
        let text = format!("no newline{}", marker("exit", "0"));
        let (out, markers) = run(&[text.as_bytes()]);
        assert_eq!(out, b"no newline");
        assert_eq!(markers, [("exit".into(), "0".into())]);
    }

    #[test]
    fn markers_split_at_every_byte_are_found() {
        let text = format!("a_b{}c\r\n{}", marker("pid", "4242"), marker("exit", "137"));
        for cut in 0..text.len() {
            let (a, b) = text.as_bytes().split_at(cut);
            let (out, markers) = run(&[a, b]);
            assert_eq!(out, b"a_bc\r\n", "cut at {cut}");
            assert_eq!(
                markers,
                [("pid".into(), "4242".into()), ("exit".into(), "137".into())],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_fake_marker_with_another_token_is_output() {
        let fake = "__agentbox_ffffffffffffffffffffffffffffffff_exit_0__";
        let upper = "__AGENTBOX_00000000000000000000000000000000__ 0\n";
        let text = format!("{fake}{upper}{}", marker("exit", "9"));
        let (out, markers) = run(&[text.as_bytes()]);
        assert_eq!(out, format!("{fake}{upper}").into_bytes());
        assert_eq!(markers, [("exit".into(), "9".into())]);
    }

    #[test]
    fn noise_inside_a_marker_is_removed_with_it() {
        let real = marker("exit", "3");
        let (head, tail) = real.split_at(20);
        let noisy = format!("out\x1b[0m{head}\x1b[K\r\n\x1b]0;title\x07{tail}\x1b[?25h");
        let (out, markers) = run(&[noisy.as_bytes()]);
        assert_eq!(out, b"out\x1b[0m\x1b[?25h");
        assert_eq!(markers, [("exit".into(), "3".into())]);
    }

    #[test]
    fn ansi_noise_around_output_is_kept_as_output() {
        let text = format!("\x1b[31mred\x1b[0m{}", marker("exit", "0"));
        let (out, _) = run(&[text.as_bytes()]);
        assert_eq!(out, b"\x1b[31mred\x1b[0m");
    }

    #[test]
    fn a_mebibyte_line_passes_whole() {
        let line = vec![b'a'; 1024 * 1024];
        let underscores = vec![b'_'; 64 * 1024];
        let mut text = line.clone();
        text.extend_from_slice(&underscores);
        text.extend_from_slice(marker("exit", "0").as_bytes());
        let chunks: Vec<&[u8]> = text.chunks(4093).collect();
        let (out, markers) = run(&chunks);
        assert_eq!(out.len(), line.len() + underscores.len());
        assert_eq!(markers.len(), 1);
    }

    #[test]
    fn an_unfinished_marker_at_the_end_is_output() {
        let real = marker("exit", "0");
        let cut = &real.as_bytes()[..30];
        let (out, markers) = run(&[b"x", cut]);
        assert_eq!(out, [b"x".as_slice(), cut].concat());
        assert!(markers.is_empty());
    }

    #[test]
    fn malformed_markers_are_output() {
        for bad in [
            format!("__agentbox_{TOKEN}_EXIT_0__"),
            format!("__agentbox_{TOKEN}_exit_0_x"),
            format!("__agentbox_{TOKEN}__0__"),
            format!("__agentbox_{TOKEN}_exit_{}__", "9".repeat(200)),
        ] {
            let (out, markers) = run(&[bad.as_bytes()]);
            assert_eq!(out, bad.as_bytes(), "{bad}");
            assert!(markers.is_empty(), "{bad}");
        }
    }

    #[test]
    fn tokens_can_be_added_and_removed() {
        let other = "ffeeddccbbaa99887766554433221100";
        let mut f = Framer::new([TOKEN]);
        let text = format!("__agentbox_{other}_start_0__");
        let mut pieces = f.feed(text.as_bytes());
        // The trailing `__` could begin a marker, so it waits for more bytes.
        pieces.extend(f.finish());
        let output: Vec<u8> = pieces
            .iter()
            .flat_map(|p| match p {
                Piece::Output(b) => b.to_vec(),
                Piece::Marker(_) => panic!("not a live token"),
            })
            .collect();
        assert_eq!(output, text.as_bytes());
        f.add_token(other);
        assert!(matches!(&f.feed(text.as_bytes())[..], [Piece::Marker(m)] if m.token == other));
        f.remove_token(other);
        assert!(matches!(&f.feed(text.as_bytes())[..], [Piece::Output(_)]));
    }
}
