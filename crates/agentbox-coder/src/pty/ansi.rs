//! Terminal escape sequences (ECMA-48): how long one is, and a streaming stripper.
//!
//! Recognised: CSI (`ESC [` parameters, intermediates, final byte), OSC (`ESC ]` … BEL or
//! `ESC \`), DCS/SOS/PM/APC strings (`ESC P|X|^|_` … `ESC \`), nF escapes (`ESC (B` and the
//! like) and two-byte escapes (`ESC =`, `ESC 7`, …). A lone `ESC` before a byte that starts
//! none of them is one byte long.

/// The escape character.
pub(crate) const ESC: u8 = 0x1b;

/// Escape sequences longer than this are taken as garbage, not held back for more input.
pub(crate) const MAX_ESCAPE: usize = 4096;

/// The length of the escape sequence at the start of `buf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// `buf` does not start with `ESC`.
    None,
    /// A whole sequence of this many bytes.
    Complete(usize),
    /// It may go on past the end of `buf`.
    Incomplete,
}

/// The escape sequence `buf` starts with.
pub(crate) fn escape_len(buf: &[u8]) -> Escape {
    if buf.first() != Some(&ESC) {
        return Escape::None;
    }
    let Some(&kind) = buf.get(1) else {
        return Escape::Incomplete;
    };
    let capped = |e: Escape| match e {
        Escape::Incomplete if buf.len() >= MAX_ESCAPE => Escape::Complete(buf.len()),
        other => other,
    };
    match kind {
        b'[' => {
            let mut i = 2;
            while i < buf.len() && (0x30..=0x3f).contains(&buf[i]) {
                i += 1;
            }
            while i < buf.len() && (0x20..=0x2f).contains(&buf[i]) {
                i += 1;
            }
            match buf.get(i) {
                None => capped(Escape::Incomplete),
                Some(b) if (0x40..=0x7e).contains(b) => Escape::Complete(i + 1),
                // Malformed: drop what was read, keep the odd byte.
                Some(_) => Escape::Complete(i),
            }
        }
        b']' | b'P' | b'X' | b'^' | b'_' => {
            let bel_ends = kind == b']';
            let mut i = 2;
            while i < buf.len() {
                match buf[i] {
                    0x07 if bel_ends => return Escape::Complete(i + 1),
                    ESC => match buf.get(i + 1) {
                        Some(b'\\') => return Escape::Complete(i + 2),
                        None => return capped(Escape::Incomplete),
                        // Another escape starts: this string was cut off.
                        Some(_) => return Escape::Complete(i),
                    },
                    _ => i += 1,
                }
            }
            capped(Escape::Incomplete)
        }
        0x20..=0x2f => {
            let mut i = 2;
            while i < buf.len() && (0x20..=0x2f).contains(&buf[i]) {
                i += 1;
            }
            match buf.get(i) {
                None => capped(Escape::Incomplete),
                Some(b) if (0x30..=0x7e).contains(b) => Escape::Complete(i + 1),
                Some(_) => Escape::Complete(i),
            }
        }
        0x30..=0x7e => Escape::Complete(2),
        _ => Escape::Complete(1),
    }
}

/// Removes escape sequences from a byte stream, and turns `\r\n` into `\n`; sequences and
/// line ends split between chunks are handled.
#[derive(Debug, Default)]
pub(crate) struct AnsiStripper {
    carry: Vec<u8>,
}

impl AnsiStripper {
    /// The text of `chunk` (with what was held back from the last chunk).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut input = std::mem::take(&mut self.carry);
        input.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            match input[i] {
                ESC => match escape_len(&input[i..]) {
                    Escape::Complete(n) => i += n,
                    Escape::Incomplete => {
                        self.carry = input[i..].to_vec();
                        return out;
                    }
                    // Never for a buffer starting with ESC; keep the byte if it were.
                    Escape::None => {
                        out.push(ESC);
                        i += 1;
                    }
                },
                b'\r' => match input.get(i + 1) {
                    Some(b'\n') => {
                        out.push(b'\n');
                        i += 2;
                    }
                    Some(_) => {
                        out.push(b'\r');
                        i += 1;
                    }
                    None => {
                        self.carry = vec![b'\r'];
                        return out;
                    }
                },
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        out
    }

    /// Whatever was held back, at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        let carry = std::mem::take(&mut self.carry);
        if carry == b"\r" { carry } else { Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_all(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = AnsiStripper::default();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.push(c));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn lengths() {
        assert_eq!(escape_len(b"x"), Escape::None);
        assert_eq!(escape_len(b"\x1b"), Escape::Incomplete);
        assert_eq!(escape_len(b"\x1b[31mred"), Escape::Complete(5));
        assert_eq!(escape_len(b"\x1b[?2004h"), Escape::Complete(8));
        assert_eq!(escape_len(b"\x1b[1;3"), Escape::Incomplete);
        assert_eq!(escape_len(b"\x1b]0;title\x07x"), Escape::Complete(10));
        assert_eq!(escape_len(b"\x1b]8;;http://x\x1b\\y"), Escape::Complete(15));
        assert_eq!(escape_len(b"\x1b]0;tit"), Escape::Incomplete);
        assert_eq!(escape_len(b"\x1b(B"), Escape::Complete(3));
        assert_eq!(escape_len(b"\x1b="), Escape::Complete(2));
        assert_eq!(escape_len(b"\x1b\x01"), Escape::Complete(1));
        assert_eq!(escape_len(b"\x1bP1$r\x1b\\"), Escape::Complete(7));
    }

    #[test]
    fn runaway_sequences_are_capped() {
        let mut long = b"\x1b]".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_ESCAPE));
        assert_eq!(escape_len(&long), Escape::Complete(long.len()));
    }

    #[test]
    fn stripping_handles_splits_anywhere() {
        let text = b"\x1b[1;32mgreen\x1b[0m\r\n\x1b]0;t\x07plain\rover\r\n";
        let want = b"green\nplain\rover\n".to_vec();
        assert_eq!(strip_all(&[text]), want);
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(strip_all(&[a, b]), want, "cut at {cut}");
        }
    }
}
