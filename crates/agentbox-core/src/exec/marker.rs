//! Framing of session output by a marker line.
//!
//! A session sends each command followed by a line printing a fresh random marker (and, on
//! stdout, the command's exit code): the command's output is everything before the line
//! `<marker> <exit code>\n`. Text that only looks like a marker (another token) passes through
//! as output. Bytes after the marker line (output of background jobs) are kept so that they
//! can be carried over to the next command.
//!
//! ```
//! use agentbox_core::exec::marker::MarkedOutput;
//!
//! let mut out = MarkedOutput::new("__agentbox_token__", 100, Vec::new());
//! out.feed(b"hello\n__agentbox_to");
//! assert!(!out.done());
//! out.feed(b"ken__ 3\nlater");
//! assert!(out.done());
//! assert_eq!(out.code(), Some(3));
//! assert_eq!(out.take_after(), b"later");
//! assert_eq!(out.finish(), (b"hello\n".to_vec(), false));
//! ```

use super::request::{ExecOutput, OutputStreams};

/// One output stream of one session command, up to its marker line.
#[derive(Debug)]
pub struct MarkedOutput {
    marker: Vec<u8>,
    limit: usize,
    /// Bytes that may still turn out to begin the marker.
    pending: Vec<u8>,
    kept: Vec<u8>,
    truncated: bool,
    /// The exit code on the marker line, once seen (`Some(None)` for a line without one).
    ended: Option<Option<i32>>,
    /// What came after the marker line (a background job's output), for the next command.
    after: Vec<u8>,
}

impl MarkedOutput {
    /// A stream ending at `marker`, keeping at most `limit` bytes of output, starting with the
    /// bytes `carried` over from the previous command (see [`take_after`](Self::take_after)).
    ///
    /// # Panics
    ///
    /// If `marker` is empty.
    pub fn new(marker: &str, limit: usize, carried: Vec<u8>) -> Self {
        assert!(!marker.is_empty(), "a session marker must not be empty");
        let mut output = Self {
            marker: marker.as_bytes().to_vec(),
            limit,
            pending: Vec::new(),
            kept: Vec::new(),
            truncated: false,
            ended: None,
            after: Vec::new(),
        };
        output.feed(&carried);
        output
    }

    /// Whether the marker line was seen.
    pub fn done(&self) -> bool {
        self.ended.is_some()
    }

    /// The exit code on the marker line: `None` before the line is seen, or when it holds no
    /// code that parses.
    pub fn code(&self) -> Option<i32> {
        self.ended.flatten()
    }

    /// Take more bytes of the stream. Once the marker line was seen, bytes are kept for
    /// [`take_after`](Self::take_after).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.done() {
            self.after.extend_from_slice(bytes);
            return;
        }
        self.pending.extend_from_slice(bytes);
        let Some(at) = find(&self.pending, &self.marker) else {
            // Everything but a tail that could begin the marker is output.
            let safe = self.pending.len().saturating_sub(self.marker.len() - 1);
            let output: Vec<u8> = self.pending.drain(..safe).collect();
            self.keep(&output);
            return;
        };
        let line_start = at + self.marker.len();
        let Some(newline) = self.pending[line_start..].iter().position(|b| *b == b'\n') else {
            return;
        };
        let output: Vec<u8> = self.pending[..at].to_vec();
        self.keep(&output);
        let code = String::from_utf8_lossy(&self.pending[line_start..line_start + newline])
            .trim()
            .parse()
            .ok();
        self.ended = Some(code);
        self.after = self.pending.split_off(line_start + newline + 1);
        self.pending.clear();
    }

    /// Take the bytes that came after the marker line (empty before it is seen).
    pub fn take_after(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.after)
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.truncated |= bytes.len() > room;
    }

    /// The output and whether it was cut at the limit. If the marker line was never seen, the
    /// bytes still pending (a possible start of the marker) count as output.
    pub fn finish(mut self) -> (Vec<u8>, bool) {
        if !self.done() {
            let pending = std::mem::take(&mut self.pending);
            self.keep(&pending);
        }
        (self.kept, self.truncated)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Read a session's stdout and stderr until each has shown its marker (`Ok(true)`), or until
/// one of them ends first (`Ok(false)`: the shell is gone).
pub async fn read_both<O, E>(
    stdout: &mut O,
    stderr: &mut E,
    out: &mut MarkedOutput,
    err: &mut MarkedOutput,
) -> std::io::Result<bool>
where
    O: tokio::io::AsyncRead + Unpin,
    E: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut out_buf = vec![0u8; 64 * 1024];
    let mut err_buf = vec![0u8; 64 * 1024];
    while !(out.done() && err.done()) {
        tokio::select! {
            n = stdout.read(&mut out_buf), if !out.done() => match n? {
                0 => return Ok(false),
                n => out.feed(&out_buf[..n]),
            },
            n = stderr.read(&mut err_buf), if !err.done() => match n? {
                0 => return Ok(false),
                n => err.feed(&err_buf[..n]),
            },
        }
    }
    Ok(true)
}

/// How reading one command's output ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandEnd {
    /// Both streams showed the marker line; the exit code the stdout line carried.
    Marked(Option<i32>),
    /// The timeout passed first: the shell is still running the command (kill it).
    TimedOut,
    /// A stream ended before its marker line: the shell is gone.
    ShellGone,
}

/// What a session carries from one command to the next: the bytes that came after a marker
/// line (output of a background job), which belong to the next command's output.
#[derive(Debug, Default)]
pub struct Carry {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Carry {
    /// Start with `stderr` bytes already read past a start-up header.
    pub fn with_stderr(err: Vec<u8>) -> Self {
        Self {
            out: Vec::new(),
            err,
        }
    }

    /// Read one command's output, framed by `marker`, from a session's `stdout` and `stderr`,
    /// keeping at most `limit` bytes of each, within `timeout`. The output has both streams
    /// separate, its exit status still unknown (the caller sets it from the [`CommandEnd`]) and
    /// no duration. An I/O error ends the read; what was read is then dropped.
    pub async fn read_command<O, E>(
        &mut self,
        stdout: &mut O,
        stderr: &mut E,
        marker: &str,
        limit: usize,
        timeout: Option<std::time::Duration>,
    ) -> std::io::Result<(ExecOutput, CommandEnd)>
    where
        O: tokio::io::AsyncRead + Unpin,
        E: tokio::io::AsyncRead + Unpin,
    {
        let mut out = MarkedOutput::new(marker, limit, std::mem::take(&mut self.out));
        let mut err = MarkedOutput::new(marker, limit, std::mem::take(&mut self.err));
        let read = read_both(stdout, stderr, &mut out, &mut err);
        let end = match timeout {
            Some(timeout) => match tokio::time::timeout(timeout, read).await {
                Ok(result) => result?,
                Err(_) => {
                    return Ok((finish(out, err), CommandEnd::TimedOut));
                }
            },
            None => read.await?,
        };
        let end = if end {
            self.out = out.take_after();
            self.err = err.take_after();
            CommandEnd::Marked(out.code())
        } else {
            CommandEnd::ShellGone
        };
        Ok((finish(out, err), end))
    }
}

fn finish(out: MarkedOutput, err: MarkedOutput) -> ExecOutput {
    let mut output = ExecOutput::empty(OutputStreams::Separate);
    (output.stdout, output.stdout_truncated) = out.finish();
    (output.stderr, output.stderr_truncated) = err.finish();
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKER: &str = "__agentbox_0123456789abcdef0123456789abcdef__";
    const OTHER_MARKER: &str = "__agentbox_00112233445566778899aabbccddeeff__";

    #[test]
    fn output_ends_at_the_marker_and_the_code_is_read() {
        let mut s = MarkedOutput::new(OTHER_MARKER, 100, Vec::new());
        s.feed(b"hello\n__agentbox_00112233");
        assert!(!s.done());
        s.feed(b"445566778899aabbccddeeff__ 7\nlater");
        assert!(s.done());
        assert_eq!(s.code(), Some(7));
        assert_eq!(s.take_after(), b"later");
        assert_eq!(s.finish(), (b"hello\n".to_vec(), false));
    }

    #[test]
    fn a_marker_with_another_token_is_output() {
        let fake = "__agentbox_ffffffffffffffffffffffffffffffff__ 0\n";
        let mut s = MarkedOutput::new(OTHER_MARKER, 1000, Vec::new());
        s.feed(fake.as_bytes());
        s.feed(format!("{OTHER_MARKER} 0\n").as_bytes());
        assert_eq!(s.finish(), (fake.as_bytes().to_vec(), false));
    }

    #[test]
    fn output_is_cut_at_the_limit_but_the_marker_is_still_found() {
        let mut s = MarkedOutput::new(OTHER_MARKER, 4, Vec::new());
        s.feed(b"0123456789");
        s.feed(format!("{OTHER_MARKER} 1\n").as_bytes());
        assert_eq!(s.code(), Some(1));
        assert_eq!(s.finish(), (b"0123".to_vec(), true));
    }

    #[test]
    fn a_marker_split_across_reads_ends_the_output_and_gives_the_code() {
        let mut f = MarkedOutput::new(MARKER, 100, Vec::new());
        f.feed(b"out\n__agentbox_0123");
        assert!(!f.done());
        f.feed(b"456789abcdef0123456789abcdef__ 4\nnext");
        assert!(f.done());
        assert_eq!(f.code(), Some(4));
        assert_eq!(f.take_after(), b"next");
        assert_eq!(f.finish(), (b"out\n".to_vec(), false));
    }

    #[test]
    fn another_token_is_plain_output() {
        let fake = format!("{} 0\n", MARKER.replace('0', "f"));
        let mut f = MarkedOutput::new(MARKER, 1000, Vec::new());
        f.feed(fake.as_bytes());
        f.feed(format!("{MARKER} 1\n").as_bytes());
        assert_eq!(f.code(), Some(1));
        assert_eq!(f.finish(), (fake.into_bytes(), false));
    }

    #[test]
    fn output_beyond_the_limit_is_cut_and_the_marker_still_found() {
        let mut f = MarkedOutput::new(MARKER, 3, b"ab".to_vec());
        f.feed(b"cdef");
        f.feed(format!("{MARKER}\n").as_bytes());
        assert!(f.done());
        assert_eq!(f.code(), None, "a marker line without a code");
        assert_eq!(f.finish(), (b"abc".to_vec(), true));
    }

    #[test]
    fn an_unfinished_stream_keeps_what_was_pending() {
        let mut f = MarkedOutput::new(MARKER, 100, Vec::new());
        f.feed(b"partial __agentbox_01");
        assert_eq!(f.finish(), (b"partial __agentbox_01".to_vec(), false));
    }

    #[tokio::test]
    async fn a_command_ends_at_both_markers_and_the_rest_is_carried_over() {
        let mut carry = Carry::with_stderr(b"early ".to_vec());
        let mut stdout: &[u8] = b"one\n__agentbox_token__ 4\nbackground\n";
        let mut stderr: &[u8] = b"warn\n__agentbox_token__\n";
        let (output, end) = carry
            .read_command(&mut stdout, &mut stderr, "__agentbox_token__", 100, None)
            .await
            .expect("read");
        assert_eq!(end, CommandEnd::Marked(Some(4)));
        assert_eq!(output.stdout, b"one\n");
        assert_eq!(output.stderr, b"early warn\n");
        assert_eq!(output.streams, OutputStreams::Separate);

        let mut stdout: &[u8] = b"two\n__agentbox_next__ 0\n";
        let mut stderr: &[u8] = b"__agentbox_next__\n";
        let (output, end) = carry
            .read_command(&mut stdout, &mut stderr, "__agentbox_next__", 100, None)
            .await
            .expect("read");
        assert_eq!(end, CommandEnd::Marked(Some(0)));
        assert_eq!(output.stdout, b"background\ntwo\n");
    }

    #[tokio::test]
    async fn a_stream_that_ends_first_means_the_shell_is_gone() {
        let mut carry = Carry::default();
        let mut stdout: &[u8] = b"partial";
        // stderr stays open: stdout's end alone tells that the shell is gone.
        let (_keep_err, mut stderr) = tokio::io::duplex(64);
        let (output, end) = carry
            .read_command(&mut stdout, &mut stderr, MARKER, 100, None)
            .await
            .expect("read");
        assert_eq!(end, CommandEnd::ShellGone);
        assert_eq!(output.stdout, b"partial");
    }

    #[tokio::test]
    async fn the_timeout_ends_a_command_that_never_prints_its_marker() {
        let mut carry = Carry::default();
        let (_keep_out, mut stdout) = tokio::io::duplex(64);
        let (_keep_err, mut stderr) = tokio::io::duplex(64);
        let (output, end) = carry
            .read_command(
                &mut stdout,
                &mut stderr,
                MARKER,
                100,
                Some(std::time::Duration::from_millis(20)),
            )
            .await
            .expect("read");
        assert_eq!(end, CommandEnd::TimedOut);
        assert!(output.stdout.is_empty());
    }
}
