//! The constant shell scripts the executor runs in a container. Nothing is ever interpolated into
//! them: paths, argv and markers arrive as positional arguments, environment values through
//! stdin (so secrets never appear in a URL, an audit log or a process list).

/// Shell functions that kill what [`wrapper`] started under `$tag`: `kill_tree <pid>` kills the
/// process group of `<pid>` (atomic when the command got its own session) if that process is
/// still ours, then every process carrying the tag, until a sweep finds none.
const KILL_TREE: &str = r#"ours() { tr '\0' '\n' < "/proc/$1/environ" 2>/dev/null | grep -qxF "AGENTBOX_EXEC_ID=$tag"; }
kill_tree() {
  case $1 in
    ''|*[!0-9]*) ;;
    *) if ours "$1"; then kill -KILL -- "-$1" 2>/dev/null; kill -KILL "$1" 2>/dev/null; fi ;;
  esac
  round=0
  while [ "$round" -lt 10 ]; do
    round=$((round + 1))
    found=
    for dir in /proc/[0-9]*; do
      if ours "${dir#/proc/}"; then kill -KILL "${dir#/proc/}" 2>/dev/null && found=1; fi
    done
    [ -n "$found" ] || break
  done
}
"#;

/// Runs a command so it can be killed later, whatever the kubelet does (a kubelet leaves a
/// process running when its exec connection closes).
///
/// `$1` is a random tag, `$2` the working directory, `$3` the number of stdin bytes for the
/// command (or `-` for a session's shell, which reads lines of text), the rest the command's
/// argv. stdin starts with environment lines `NAME VALUE` (the value as
/// `\0ooo` octal escapes) ended by a line `.`. The command runs in a new session when `setsid`
/// exists, carries `AGENTBOX_EXEC_ID=<tag>` in its environment (as its descendants do) and first
/// writes `<tag> <pid>` on stderr.
///
/// With a byte count, the exec's stdin stays a control channel: after the command's bytes, a
/// line `<tag> kill <pid>` — or the end of stdin, when the client leaves or the stream is cut —
/// kills the command's tree from inside the container (so it works whatever the PID
/// namespaces). Other lines (stdin the command left unread) are ignored.
/// The watcher reading that channel starts only once the command's bytes are passed on, and
/// runs apart from the command's job, so the wrapper ends when the command does. With `-`, a
/// relay passes the exec's stdin to the shell line by line until the line `<tag> kill` or the
/// end of stdin, then kills the shell's tree: a session can be killed while its shell is busy.
pub(crate) fn wrapper() -> String {
    format!(
        "tag=$1 cwd=$2 n=$3\nshift 3\n{KILL_TREE}{}",
        r#"while IFS= read -r line; do
  [ "$line" = . ] && break
  value=$(printf '%bx' "${line#* }")
  export "${line%% *}=${value%x}"
done
run='printf "%s %s\n" "$1" "$$" >&2; cd -- "$2" || exit 1; shift 2; exec "$@"'
s=
if command -v setsid >/dev/null 2>&1; then s=setsid; fi
exec 3<&0
if [ "$n" = - ]; then
  {
    while IFS= read -r line; do
      [ "$line" = "$tag kill" ] && break
      printf '%s\n' "$line"
    done <&3
    exec >/dev/null 2>&1
    kill_tree ""
  } | AGENTBOX_EXEC_ID=$tag $s sh -c "$run" sh "$tag" "$cwd" "$@" 3<&- &
else
  {
    if [ "$n" -gt 0 ]; then head -c "$n" <&3; fi
    {
      while IFS= read -r control; do
        case $control in "$tag kill"*) kill_tree "${control#"$tag kill "}"; exit ;; esac
      done
      kill_tree ""
    } <&3 >/dev/null 2>&1 &
  } | AGENTBOX_EXEC_ID=$tag $s sh -c "$run" sh "$tag" "$cwd" "$@" 3<&- &
fi
pid=$!
exec 3<&-
# The shell's own "Killed" notice about the job is not the command's output.
{ wait "$pid"; } 2>/dev/null
"#
    )
}

/// Kills what [`wrapper`] started, from a second exec: `$1` is the tag, `$2` the announced pid
/// (may be empty). Works where the container's processes share one PID namespace, as a real
/// container's do.
pub(crate) fn kill_script() -> String {
    format!("tag=$1\n{KILL_TREE}kill_tree \"$2\"\n")
}

/// Shared by the file scripts: the workspace root resolved physically, and `within`.
const ROOT_CHECK: &str = r#"real_root=$(cd -P -- "$root" 2>/dev/null && pwd -P) || { printf 'the workspace root %s does not exist\n' "$root" >&2; exit 3; }
within() { case $1/ in "$real_root"/*) return 0 ;; esac; return 1; }
"#;

/// Writes the data of stdin's tar entries named `chunk`, in order, to `$1` (under the root
/// `$2`): into a temporary sibling first, renamed into place only when the stream ended with
/// its `agentbox-end` entry (tar fails when a named member is missing, so a stream cut at an
/// entry boundary is refused); prints the bytes written. Refuses (exit 86) when an existing
/// directory on the way resolves outside the root.
pub(crate) fn write_script() -> String {
    format!(
        "target=$1 root=$2\n{ROOT_CHECK}{}",
        r#"dir=${target%/*}; dir=${dir:-/}; name=${target##*/}
existing=$dir
while [ ! -d "$existing" ]; do
  if [ -e "$existing" ] || [ -L "$existing" ]; then printf '%s is not a directory\n' "$existing" >&2; exit 3; fi
  existing=${existing%/*}; existing=${existing:-/}
done
real=$(cd -P -- "$existing" && pwd -P) || exit 3
within "$real" || exit 86
mkdir -p -- "$dir" || exit 3
real=$(cd -P -- "$dir" && pwd -P) || exit 3
within "$real" || exit 86
if [ -d "$real/$name" ] && [ ! -L "$real/$name" ]; then printf '%s is a directory\n' "$target" >&2; exit 3; fi
tmp="$real/.agentbox-upload.$$"
if ! tar -xOf - chunk agentbox-end > "$tmp"; then rm -f -- "$tmp"; exit 4; fi
wc -c < "$tmp"
if [ -L "$real/$name" ]; then rm -f -- "$real/$name"; fi
mv -f -- "$tmp" "$real/$name" || { rm -f -- "$tmp"; exit 4; }
"#
    )
}

/// Writes a tar stream holding the regular file `$1` (under the root `$2`) to stdout. Exits 2
/// when it does not exist, 3 when it is not a regular file, 86 when it (or a symlink on the
/// way) resolves outside the root.
pub(crate) fn read_script() -> String {
    format!(
        "path=$1 root=$2\n{ROOT_CHECK}{}",
        r#"dir=${path%/*}; dir=${dir:-/}
real=$(cd -P -- "$dir" 2>/dev/null && pwd -P) || { printf '%s does not exist\n' "$path" >&2; exit 2; }
within "$real" || exit 86
file=$real/${path##*/}
hops=0
while [ -L "$file" ]; do
  hops=$((hops + 1))
  [ "$hops" -le 40 ] || { printf '%s: too many levels of symbolic links\n' "$path" >&2; exit 3; }
  link=$(readlink -- "$file") || exit 3
  case $link in /*) ;; *) link=${file%/*}/$link ;; esac
  parent=${link%/*}
  real=$(cd -P -- "${parent:-/}" 2>/dev/null && pwd -P) || { printf '%s does not exist\n' "$path" >&2; exit 2; }
  within "$real" || exit 86
  file=$real/${link##*/}
done
[ -e "$file" ] || { printf '%s does not exist\n' "$path" >&2; exit 2; }
[ -f "$file" ] || { printf '%s is not a regular file\n' "$path" >&2; exit 3; }
cd -- "${file%/*}" && exec tar -cf - -- "./${file##*/}"
"#
    )
}

/// The shell of a session: bash when the image has it, else `sh`.
pub(crate) const SESSION_SHELL: &str =
    "if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc; fi; exec sh";

/// Exit code of the file scripts: the path resolves outside the workspace root.
pub(crate) const EXIT_ESCAPES: i32 = 86;
/// Exit code of the read script: the file does not exist.
pub(crate) const EXIT_MISSING: i32 = 2;

/// The stdin header [`WRAPPER`] reads: one `NAME VALUE` line per variable (the value as octal
/// escapes), then `.`. `None` when a name is not a portable shell variable name.
pub(crate) fn env_header<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Option<Vec<u8>> {
    let mut header = Vec::new();
    for (name, value) in vars {
        if !is_env_name(name) {
            return None;
        }
        header.extend_from_slice(name.as_bytes());
        header.push(b' ');
        for byte in value {
            header.extend_from_slice(format!("\\0{byte:03o}").as_bytes());
        }
        header.push(b'\n');
    }
    header.extend_from_slice(b".\n");
    Some(header)
}

/// `[A-Za-z_][A-Za-z0-9_]*`, and not the tag the wrapper sets itself.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "AGENTBOX_EXEC_ID"
}

#[cfg(test)]
#[path = "scripts_tests.rs"]
mod tests;
