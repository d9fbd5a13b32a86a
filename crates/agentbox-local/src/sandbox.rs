//! The bubblewrap sandbox: which host paths a command sees, built as an argv (never a shell
//! string), and the probe that tells whether bubblewrap works on this host.
//!
//! The sandbox's `/` is a tmpfs holding every top-level entry of the host's `/`, bound
//! read-only (symlinks such as `/bin → usr/bin` are recreated), except:
//! - `/proc` (a new procfs), `/dev` (a minimal devtmpfs) and `/tmp` (a fresh tmpfs);
//! - `/home`, `/root` and `/run` are empty tmpfs, so the host user's files, credentials and
//!   service sockets (docker, dbus) are not reachable; `/home/user` is HOME;
//! - the provider's state directory is hidden, so one workspace cannot read another's files.
//!
//! The workspace's `files/` is bound read-write at the mount path and each writable path at its
//! target; then `/` is remounted read-only. Every namespace is unshared (the network too unless
//! the contract allows egress), the command runs as a non-root user in a new session, and it
//! dies with its parent. The environment is not passed as `--setenv` arguments, which every
//! host user can read in `/proc/<pid>/cmdline`; it is bubblewrap's own environment, which
//! bubblewrap hands on.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A search path that works on the usual distributions.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// HOME inside the sandbox (on a tmpfs, empty at every command).
pub(crate) const SANDBOX_HOME: &str = "/home/user";
/// The user a sandboxed command runs as when the host user is root.
const NON_ROOT_ID: u32 = 1000;

/// Top-level host directories replaced by an empty tmpfs.
const HIDDEN: &[&str] = &["home", "root", "run", "tmp"];

/// One entry of the host's `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootEntry {
    /// A directory or file, bound read-only.
    Bind(String),
    /// A symlink, recreated with the same target.
    Symlink {
        /// Its name under `/`.
        name: String,
        /// What it points to.
        target: PathBuf,
    },
}

/// The host's top-level entries, sorted by name. Sockets, devices and entries that vanish
/// while being read are left out.
pub(crate) fn host_root_entries() -> std::io::Result<Vec<RootEntry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir("/")? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                entries.push(RootEntry::Symlink { name, target });
            }
        } else if kind.is_dir() || kind.is_file() {
            entries.push(RootEntry::Bind(name));
        }
    }
    entries.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(entries)
}

impl RootEntry {
    fn name(&self) -> &str {
        match self {
            RootEntry::Bind(name) | RootEntry::Symlink { name, .. } => name,
        }
    }
}

/// What one sandbox looks like.
#[derive(Debug, Clone)]
pub(crate) struct SandboxSpec {
    /// The host's top-level entries.
    pub root_entries: Vec<RootEntry>,
    /// Host directories to hide under an empty tmpfs (the provider's state directory).
    pub hide: Vec<PathBuf>,
    /// The workspace's `files/` directory.
    pub files: PathBuf,
    /// Where it appears (`/projects`).
    pub mount_path: String,
    /// Writable paths: host directory, sandbox target.
    pub writable: Vec<(PathBuf, String)>,
    /// Host directories the provider binds read-write into every workspace: host directory,
    /// sandbox target (`LocalProviderBuilder::bind`).
    pub binds: Vec<(PathBuf, String)>,
    /// Keep the host's network.
    pub share_net: bool,
    /// The host's `/etc/resolv.conf` when it points into `/run` (bound so DNS works when the
    /// network is shared).
    pub resolv_conf: Option<PathBuf>,
    /// Hostname inside the sandbox.
    pub hostname: String,
}

impl SandboxSpec {
    /// bubblewrap's arguments to run `argv` in directory `cwd` (an absolute sandbox path).
    pub fn bwrap_args(&self, cwd: &str, argv: &[String]) -> Vec<OsString> {
        let mut args = Args::default();
        let (uid, gid) = sandbox_ids();
        args.push(["--unshare-all", "--unshare-user"]);
        args.push([
            "--uid".to_owned(),
            uid.to_string(),
            "--gid".to_owned(),
            gid.to_string(),
        ]);
        if self.share_net {
            args.push(["--share-net"]);
        }
        args.push(["--hostname", &self.hostname]);
        args.push(["--die-with-parent", "--new-session"]);

        for entry in &self.root_entries {
            match entry {
                RootEntry::Symlink { name, target } => {
                    args.push([
                        "--symlink".into(),
                        target.as_os_str().to_owned(),
                        format!("/{name}").into(),
                    ]);
                }
                RootEntry::Bind(name) if is_special(name) => {}
                RootEntry::Bind(name) => {
                    let path = format!("/{name}");
                    args.push(["--ro-bind", &path, &path]);
                }
            }
        }
        args.push([
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--ro-bind-try",
            "/sys",
            "/sys",
        ]);
        for name in HIDDEN {
            args.push(["--tmpfs".to_owned(), format!("/{name}")]);
        }
        args.push(["--dir", SANDBOX_HOME]);
        for hidden in &self.hide {
            if is_visible(hidden) {
                args.push(["--tmpfs".into(), hidden.as_os_str().to_owned()]);
            }
        }
        if self.share_net
            && let Some(resolv) = &self.resolv_conf
        {
            args.push([
                "--ro-bind-try".into(),
                resolv.as_os_str().to_owned(),
                resolv.as_os_str().to_owned(),
            ]);
        }
        args.push([
            "--bind".into(),
            self.files.as_os_str().to_owned(),
            OsString::from(&self.mount_path),
        ]);
        for (host, target) in self.writable.iter().chain(&self.binds) {
            args.push([
                "--bind".into(),
                host.as_os_str().to_owned(),
                OsString::from(target),
            ]);
        }
        args.push(["--remount-ro", "/", "--chdir", cwd, "--"]);
        args.push(argv.iter().map(String::as_str));
        args.0
    }
}

/// Whether a writable path can be made inside the sandbox: bubblewrap can create a mount
/// point on a tmpfs (new top-level entries, `/tmp`, `/home`, …) or use a directory that exists
/// on the host, but cannot create one inside a read-only host directory.
pub(crate) fn writable_path_problem(
    target: &str,
    root_entries: &[RootEntry],
    mount_path: &str,
) -> Option<String> {
    sandbox_path_problem(target, root_entries).or_else(|| mount_path_problem(target, mount_path))
}

/// Why `target` cannot be a mount point in the sandbox, whatever the workspace.
pub(crate) fn sandbox_path_problem(target: &str, root_entries: &[RootEntry]) -> Option<String> {
    if !target.starts_with('/') || target.split('/').any(|c| c == ".." || c == ".") {
        return Some(format!(
            "sandbox path `{target}` is not an absolute, normalised path"
        ));
    }
    let top = target
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    if top.is_empty() {
        return Some("the root directory cannot be made writable".to_owned());
    }
    if matches!(top, "proc" | "dev" | "sys") {
        return Some(format!(
            "sandbox path `{target}` lies in the kernel's /{top}"
        ));
    }
    let host_bound = root_entries.iter().any(|e| e.name() == top) && !HIDDEN.contains(&top);
    if host_bound && !Path::new(target).is_dir() {
        return Some(format!(
            "sandbox path `{target}` does not exist on the host and cannot be created inside the read-only /{top}"
        ));
    }
    None
}

/// Why `target` cannot be mounted in a workspace whose storage is at `mount_path`.
pub(crate) fn mount_path_problem(target: &str, mount_path: &str) -> Option<String> {
    agentbox_core::exec::path::relative_to(mount_path, target).map(|_| {
        format!(
            "sandbox path `{target}` lies in the storage mount {mount_path}, which is writable already"
        )
    })
}

/// The host's resolver configuration when it lives under `/run` (systemd-resolved and
/// similar), which the sandbox hides.
pub(crate) fn resolv_conf_under_run() -> Option<PathBuf> {
    let resolved = std::fs::canonicalize("/etc/resolv.conf").ok()?;
    resolved.starts_with("/run").then_some(resolved)
}

/// The uid and gid a sandboxed command runs as: the host user's, or 1000 when that is root.
fn sandbox_ids() -> (u32, u32) {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    if uid == 0 {
        (NON_ROOT_ID, NON_ROOT_ID)
    } else {
        (uid, gid)
    }
}

/// Top-level entries the sandbox replaces rather than binds.
fn is_special(name: &str) -> bool {
    matches!(name, "proc" | "dev" | "sys") || HIDDEN.contains(&name)
}

/// Whether a host path would be visible in the sandbox (not already under a hidden tmpfs).
fn is_visible(path: &Path) -> bool {
    let top = path
        .components()
        .nth(1)
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or_default();
    path.is_absolute() && !top.is_empty() && !is_special(top)
}

/// Whether bubblewrap at `bwrap` can build a sandbox here; `Err` says why not.
pub(crate) async fn probe(bwrap: &Path) -> Result<(), String> {
    let output = tokio::process::Command::new(bwrap)
        .args([
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
        ])
        .args(["--proc", "/proc", "--dev", "/dev", "--", "true"])
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await;
    match output {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "bubblewrap at {} does not work here ({}): {}",
            bwrap.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!(
            "bubblewrap could not be run from {}: {e}",
            bwrap.display()
        )),
    }
}

/// An argv under construction.
#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push<I, S>(&mut self, items: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.0.extend(items.into_iter().map(Into::into));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            root_entries: vec![
                RootEntry::Symlink {
                    name: "bin".into(),
                    target: "usr/bin".into(),
                },
                RootEntry::Bind("dev".into()),
                RootEntry::Bind("etc".into()),
                RootEntry::Bind("home".into()),
                RootEntry::Bind("proc".into()),
                RootEntry::Bind("root".into()),
                RootEntry::Bind("srv".into()),
                RootEntry::Bind("tmp".into()),
                RootEntry::Bind("usr".into()),
            ],
            hide: vec!["/srv/agentbox".into(), "/tmp/agentbox".into()],
            files: "/srv/agentbox/ws/files".into(),
            mount_path: "/projects".into(),
            writable: vec![(
                "/srv/agentbox/ws/writable/cache".into(),
                "/var/cache/x".into(),
            )],
            binds: vec![(
                "/srv/remotes/origin.git".into(),
                "/remotes/origin.git".into(),
            )],
            share_net: false,
            resolv_conf: Some("/run/resolv.conf".into()),
            hostname: "ws".into(),
        }
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    /// The position of `window` in `args`.
    fn find(args: &[String], window: &[&str]) -> Option<usize> {
        args.windows(window.len()).position(|w| w == window)
    }

    #[test]
    fn host_root_is_bound_read_only_and_private_dirs_are_hidden() {
        let args = strings(spec().bwrap_args("/projects/app", &["ls".into()]));
        for needle in [
            &["--ro-bind", "/usr", "/usr"][..],
            &["--ro-bind", "/etc", "/etc"],
            &["--symlink", "usr/bin", "/bin"],
            &["--proc", "/proc"],
            &["--dev", "/dev"],
            &["--tmpfs", "/tmp"],
            &["--tmpfs", "/home"],
            &["--tmpfs", "/root"],
            &["--tmpfs", "/run"],
            &["--tmpfs", "/srv/agentbox"],
        ] {
            assert!(
                find(&args, needle).is_some(),
                "{needle:?} missing from {args:?}"
            );
        }
        for absent in [
            &["--ro-bind", "/home", "/home"][..],
            &["--ro-bind", "/proc", "/proc"],
            &["--tmpfs", "/tmp/agentbox"],
        ] {
            assert!(
                find(&args, absent).is_none(),
                "{absent:?} present in {args:?}"
            );
        }
    }

    #[test]
    fn workspace_is_bound_after_the_root_and_before_the_root_turns_read_only() {
        let args = strings(spec().bwrap_args("/projects/app", &["ls".into()]));
        let files = find(&args, &["--bind", "/srv/agentbox/ws/files", "/projects"]).unwrap();
        let writable = find(
            &args,
            &["--bind", "/srv/agentbox/ws/writable/cache", "/var/cache/x"],
        )
        .unwrap();
        let hidden = find(&args, &["--tmpfs", "/srv/agentbox"]).unwrap();
        let read_only = find(&args, &["--remount-ro", "/"]).unwrap();
        assert!(hidden < files && files < writable && writable < read_only);
        assert_eq!(
            args[args.len() - 4..],
            ["--chdir", "/projects/app", "--", "ls"]
        );
    }

    #[test]
    fn provider_binds_are_read_write_and_come_after_the_hidden_state_directory() {
        let args = strings(spec().bwrap_args("/projects/app", &["ls".into()]));
        let bind = find(
            &args,
            &["--bind", "/srv/remotes/origin.git", "/remotes/origin.git"],
        )
        .unwrap();
        let hidden = find(&args, &["--tmpfs", "/srv/agentbox"]).unwrap();
        let read_only = find(&args, &["--remount-ro", "/"]).unwrap();
        assert!(hidden < bind && bind < read_only);
        assert!(
            find(
                &args,
                &[
                    "--ro-bind",
                    "/srv/remotes/origin.git",
                    "/remotes/origin.git"
                ]
            )
            .is_none()
        );
    }

    #[test]
    fn every_namespace_is_unshared_unless_egress_is_allowed() {
        let closed = strings(spec().bwrap_args("/projects", &["true".into()]));
        for flag in [
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--new-session",
        ] {
            assert!(closed.contains(&flag.to_owned()), "{flag} missing");
        }
        assert!(!closed.contains(&"--share-net".to_owned()));
        assert!(
            find(
                &closed,
                &["--ro-bind-try", "/run/resolv.conf", "/run/resolv.conf"]
            )
            .is_none()
        );

        let open = strings(
            SandboxSpec {
                share_net: true,
                ..spec()
            }
            .bwrap_args("/projects", &["true".into()]),
        );
        assert!(open.contains(&"--share-net".to_owned()));
        assert!(
            find(
                &open,
                &["--ro-bind-try", "/run/resolv.conf", "/run/resolv.conf"]
            )
            .is_some()
        );
    }

    #[test]
    fn argv_is_passed_verbatim_after_the_separator() {
        let argv = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            "echo $HOME; --bind / /".to_owned(),
        ];
        let args = strings(spec().bwrap_args("/projects", &argv));
        let sep = args.iter().rposition(|a| a == "--").unwrap();
        assert_eq!(args[sep + 1..], argv[..]);
    }

    #[test]
    fn writable_paths_that_cannot_be_mounted_are_named() {
        let entries = spec().root_entries;
        assert_eq!(writable_path_problem("/cache", &entries, "/projects"), None);
        assert_eq!(writable_path_problem("/tmp/x", &entries, "/projects"), None);
        assert_eq!(
            writable_path_problem("/home/user/.cache", &entries, "/projects"),
            None
        );
        for bad in [
            "/usr/no-such-dir-agentbox",
            "/proc/x",
            "/projects/app/x",
            "relative",
            "/",
        ] {
            assert!(
                writable_path_problem(bad, &entries, "/projects").is_some(),
                "{bad}"
            );
        }
    }
}
