//! The shell programs agentbox runs through a Coder agent's PTY, and the text it sends them.
//!
//! The agent runs a PTY's `command` with the user's shell (`$SHELL -c <command>`), so the
//! command is shell text. It is always `exec /bin/sh -c '<constant program>' <name> <args>`,
//! every argument quoted with core's [`quote`]: no untrusted text is ever
//! interpreted. Everything else (the command's argv, environment, secrets, stdin, file
//! contents) is sent as input to the program once it has turned the terminal's echo and
//! output rewriting off, in base64 lines far shorter than a terminal's line limit, so nothing
//! is echoed, mangled or taken for a control character. The user's shell must read POSIX
//! quoting (sh, bash, dash, zsh, ash; not fish).
//!
//! The programs report with markers (`frame.rs`): `ready` once the terminal is quiet, `pid`
//! with the process group a timeout kills, `exit` with the exit status, `error` with a reason.

use std::collections::BTreeMap;

use agentbox_core::exec::quote;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Prints marker `$2` with value `$3` and token `$1`.
const MARK: &str = "m() { printf '__agentbox_%s_%s_%s__' \"$1\" \"$2\" \"$3\"; }\n";

/// Stops a terminal (when stdin is one) from echoing input or rewriting output; the fake and
/// real agents give commands a terminal, a pipe needs nothing. Input stays line by line
/// (canonical), so every reader — a shell's buffered `read`, `head` — gets at most one line
/// per read and never takes input meant for the next reader.
const QUIET: &str = "if [ -t 0 ]; then stty -echo -echonl -opost 2>/dev/null || { m \"$n\" error stty; exit 125; }; fi\n";

/// One command, run once. Argument: the nonce. Says `ready` with its pid (so a run started
/// again by a reconnect is told from a replay). Input: the token line (empty: end), the
/// request script in base64 lines ended by `.`, a line with the length of the base64 stdin
/// that follows (or `-` for none), the stdin, then optionally `k`, which kills the command.
///
/// The command runs in its own session (`setsid`, when present) so a kill reaches everything
/// it started; its stdin is the decoded file (or `/dev/null`).
const EXEC: &str = r#"IFS= read -r t || exit 125
[ -n "$t" ] || exit 0
q=
while IFS= read -r l && [ "$l" != . ]; do q=$q$l; done
q=$(printf '%s' "$q" | base64 -d) || { m "$t" error request; exit 125; }
IFS= read -r c || exit 125
i=/dev/null
if [ "$c" != - ]; then
  d=$(mktemp -d) || { m "$t" error tmpdir; exit 125; }
  trap 'rm -rf "$d"' EXIT
  i=$d/in
  head -c "$c" | base64 -d > "$i" || { m "$t" error stdin; exit 125; }
fi
s=
command -v setsid >/dev/null 2>&1 && s=setsid
exec 3<&0
AGENTBOX_T=$t AGENTBOX_REQUEST=$q $s /bin/sh -c 'eval "$AGENTBOX_REQUEST"' agentbox < "$i" 3<&- &
p=$!
{ IFS= read -r k && { kill -9 "-$p" 2>/dev/null || kill -9 "$p"; }; } <&3 &
w=$!
exec 3<&- 2>/dev/null
wait "$p"
e=$?
kill "$w"
m "$t" exit "$e"
"#;

/// A persistent shell. Arguments: the nonce, the shell's loop (`LOOP`). Input lines go to the
/// shell through a FIFO, except `k` (kill the shell's process group and end) and `q` (end
/// the shell, then this).
const SESSION: &str = r#"d=$(mktemp -d) || { m "$n" error tmpdir; exit 125; }
trap 'rm -rf "$d"' EXIT
mkfifo "$d/q" || { m "$n" error fifo; exit 125; }
s=
command -v setsid >/dev/null 2>&1 && s=setsid
AGENTBOX_N=$n $s /bin/sh -c "$2" agentbox < "$d/q" &
p=$!
exec 4>"$d/q"
m "$n" ready "$p"
while IFS= read -r l; do
  case $l in
    k) kill -9 "-$p" 2>/dev/null || kill -9 "$p"; exit 0 ;;
    q) exec 4>&-; wait "$p"; exit 0 ;;
    *) printf '%s\n' "$l" >&4 ;;
  esac
done
"#;

/// The session's shell. Per command it reads the start token, the script in base64 lines
/// ended by `.`, runs the script with `eval` in its own state (so `cd` and `export` last),
/// stdin from `/dev/null`, between a `start` and an `exit` marker; the exit token is read only
/// after the script ran, so the script cannot know it. Says `gone` when it exits.
const LOOP: &str = r#"agentbox_n=$AGENTBOX_N
unset AGENTBOX_N
trap 'printf "__agentbox_%s_gone_%s__" "$agentbox_n" "$?"' EXIT
while IFS= read -r agentbox_s; do
  agentbox_c=
  while IFS= read -r agentbox_l && [ "$agentbox_l" != . ]; do agentbox_c=$agentbox_c$agentbox_l; done
  printf '__agentbox_%s_start_0__' "$agentbox_s"
  agentbox_x=$(printf '%s' "$agentbox_c" | base64 -d; printf x)
  unset agentbox_c agentbox_l
  command eval "${agentbox_x%x}" </dev/null
  agentbox_e=$?
  IFS= read -r agentbox_t
  printf '__agentbox_%s_exit_%s__' "$agentbox_t" "$agentbox_e"
done
"#;

/// Kill a process group (or the process). Arguments: the nonce, the pid.
const KILL: &str = r#"kill -9 "-$2" 2>/dev/null || kill -9 "$2" 2>/dev/null
m "$n" exit "$?"
"#;

/// Resolves `$r` (the root) and checks that a path resolves inside it.
const INSIDE: &str = r#"r=$(readlink -f -- "$2") || { m "$n" error root; exit 125; }
r=${r%/}
inside() { x=$(readlink -f -- "$1") || return 1; case "$x/" in "$r"/*) return 0 ;; *) return 1 ;; esac; }
"#;

/// Write a file. Arguments: the nonce, the root, the absolute path. Input: `d <length>`, then
/// that many bytes of base64 lines (answered with `ack`), as often as needed, and finally
/// `e <size> <sha256>`: the file is renamed into place only if its size and hash match.
const WRITE: &str = r#"f=$3
p=${f%/*}
p=${p:-/}
a=$p
while [ -n "$a" ] && [ ! -e "$a" ] && [ ! -L "$a" ]; do a=${a%/*}; done
inside "${a:-/}" || { m "$n" error escapes; exit 125; }
mkdir -p -- "$p" 2>/dev/null || { m "$n" error mkdir; exit 125; }
inside "$p" || { m "$n" error escapes; exit 125; }
if [ -e "$f" ] || [ -L "$f" ]; then
  inside "$f" || { m "$n" error escapes; exit 125; }
  [ -d "$f" ] && { m "$n" error isdir; exit 125; }
fi
t=$(mktemp "$p/.agentbox-XXXXXX") || { m "$n" error tmpfile; exit 125; }
trap 'rm -f "$t"' EXIT
chmod "$(printf '%o' $((0666 & ~$(umask))))" "$t" 2>/dev/null
m "$n" ready "$$"
while IFS=' ' read -r k a b; do
  case $k in
    d) head -c "$a" | base64 -d >> "$t" || { m "$n" error decode; exit 125; }; m "$n" ack "$a" ;;
    e) break ;;
    *) m "$n" error protocol; exit 125 ;;
  esac
done
z=$(($(wc -c < "$t")))
h=$(sha256sum < "$t") || { m "$n" error sha; exit 125; }
h=${h%% *}
m "$n" size "$z"
m "$n" sha "$h"
[ "$z" = "$a" ] && [ "$h" = "$b" ] || { m "$n" error mismatch; exit 125; }
mv -f -- "$t" "$f" || { m "$n" error rename; exit 125; }
trap - EXIT
m "$n" exit 0
"#;

/// Bytes per block and blocks per chunk when reading a file: a chunk (960 KiB) is a multiple
/// of 3, so its base64 has no padding unless it ends the file.
pub(crate) const READ_BLOCK: u64 = 196_608;
pub(crate) const READ_BLOCKS: u64 = 5;

/// Read a file. Arguments: the nonce, the root, the absolute path. Output: `size`; then, for
/// each input line `r <block>`, that chunk in base64 and `chunk`; after the line `e`, `exit`.
/// The client asks for one chunk at a time, so output never runs ahead of it.
const READ: &str = r#"f=$3
[ -e "$f" ] || { m "$n" error missing; exit 125; }
inside "$f" || { m "$n" error escapes; exit 125; }
[ -f "$f" ] || { m "$n" error notfile; exit 125; }
[ -r "$f" ] || { m "$n" error unreadable; exit 125; }
m "$n" size "$(($(wc -c < "$f")))"
while IFS=' ' read -r k b; do
  case $k in
    r) dd if="$f" bs=196608 skip="$b" count=5 2>/dev/null | base64 || { m "$n" error encode; exit 125; }; m "$n" chunk "$b" ;;
    *) break ;;
  esac
done
m "$n" exit 0
"#;

/// Which program a PTY runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Program {
    /// One command.
    Exec,
    /// A persistent shell.
    Session,
    /// Kill a process group.
    Kill,
    /// Write a file.
    Write,
    /// Read a file.
    Read,
}

impl Program {
    fn text(self) -> String {
        let body = match self {
            Program::Exec => [QUIET, "m \"$n\" ready \"$$\"\n", EXEC].concat(),
            Program::Session => [QUIET, SESSION].concat(),
            Program::Kill => KILL.to_owned(),
            Program::Write => [QUIET, INSIDE, WRITE].concat(),
            Program::Read => [QUIET, INSIDE, READ].concat(),
        };
        format!("n=$1\n{MARK}{body}")
    }

    fn name(self) -> &'static str {
        match self {
            Program::Exec => "agentbox-exec",
            Program::Session => "agentbox-session",
            Program::Kill => "agentbox-kill",
            Program::Write => "agentbox-write",
            Program::Read => "agentbox-read",
        }
    }
}

/// The PTY `command` that runs `program` with `args` (the nonce first).
pub(crate) fn command(program: Program, args: &[&str]) -> String {
    let mut text = format!(
        "exec /bin/sh -c {} {}",
        quote(&program.text()),
        program.name()
    );
    for arg in args {
        text.push(' ');
        text.push_str(&quote(arg));
    }
    if program == Program::Session {
        text.push(' ');
        text.push_str(&quote(LOOP));
    }
    text
}

/// A fresh random token (128 bits, hex).
pub(crate) fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether `name` can be an environment variable name in a POSIX shell.
pub(crate) fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// What one command needs, as the shell text `eval`ed just before it runs: change to `cwd`
/// (creating it first when it is the workdir), report the process group, set the
/// environment, `exec` the argv. Every value is quoted; nothing is interpreted.
pub(crate) fn request_script(
    cwd: &str,
    create_cwd: bool,
    env: &BTreeMap<String, String>,
    argv: &[String],
) -> String {
    let mut s = String::from("unset AGENTBOX_REQUEST\n");
    if create_cwd {
        s.push_str(&format!(
            "[ -d {0} ] || mkdir -p -- {0} 2>/dev/null\n",
            quote(cwd)
        ));
    }
    s.push_str(&format!(
        "cd -- {} 2>/dev/null || {{ printf '__agentbox_%s_error_cwd__' \"$AGENTBOX_T\"; exit 125; }}\n",
        quote(cwd)
    ));
    s.push_str("printf '__agentbox_%s_pid_%s__' \"$AGENTBOX_T\" \"$$\"\nunset AGENTBOX_T\n");
    for (name, value) in env {
        s.push_str(&format!("export {}\n", quote(&format!("{name}={value}"))));
    }
    s.push_str("exec");
    for arg in argv {
        s.push(' ');
        s.push_str(&quote(arg));
    }
    s.push('\n');
    s
}

/// What a session runs first: change to the workdir (creating it) and set the environment.
pub(crate) fn session_setup(workdir: &str, env: &BTreeMap<String, String>) -> String {
    let mut s = format!(
        "[ -d {0} ] || mkdir -p -- {0} 2>/dev/null\ncd -- {0}\n",
        quote(workdir)
    );
    for (name, value) in env {
        s.push_str(&format!("export {}\n", quote(&format!("{name}={value}"))));
    }
    s
}

/// Base64 characters per input line: far below a terminal's 4095-byte line limit.
pub(crate) const LINE: usize = 3072;

/// `bytes` in base64, in lines of at most [`LINE`] characters, each ended by `\n`.
pub(crate) fn b64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for line in encoded.as_bytes().chunks(LINE) {
        // Base64 is ASCII.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_constant_programs_with_quoted_arguments() {
        let c = command(Program::Read, &["abc", "/projects", "/projects/it's $HOME"]);
        assert!(c.starts_with("exec /bin/sh -c '"), "{c}");
        assert!(
            c.ends_with(" agentbox-read 'abc' '/projects' '/projects/it'\\''s $HOME'"),
            "{c}"
        );
    }

    #[test]
    fn the_request_quotes_every_value() {
        let env = BTreeMap::from([("A".to_owned(), "x'; rm -rf / #".to_owned())]);
        let s = request_script(
            "/p/$(id)",
            true,
            &env,
            &["printf".into(), "%s".into(), "$HOME".into()],
        );
        assert!(s.contains("export 'A=x'\\''; rm -rf / #'\n"), "{s}");
        assert!(s.contains("cd -- '/p/$(id)' "), "{s}");
        assert!(s.ends_with("exec 'printf' '%s' '$HOME'\n"), "{s}");
    }

    #[test]
    fn base64_lines_stay_short_and_decode() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let text = b64_lines(&data);
        assert!(text.lines().all(|l| l.len() <= LINE));
        assert!(text.ends_with('\n'));
        let joined: String = text.lines().collect();
        assert_eq!(STANDARD.decode(joined).unwrap(), data);
        assert_eq!(b64_lines(b""), "");
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("_A1"));
        assert!(!valid_env_name("1A"));
        assert!(!valid_env_name("A-B"));
        assert!(!valid_env_name(""));
    }
}
