"""Type stubs for the native module ``agentbox._agentbox`` (re-exported by ``agentbox``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, final

__version__: Final[str]

# ===== errors (section owned by the skeleton) =====

class Error(Exception):
    """Base class of every agentbox error."""

    chain: list[str]
    """The error's message and its causes', outermost first."""
    backend: str | None
    """The backend that failed (``"local"``, ``"che"``, ``"coder"``), when known."""
    workspace: str | None
    """The workspace concerned, when known."""

class ContractError(Error):
    """The contract did not validate."""

    problems: list[Problem]
    """Every problem found, in document order."""

class Unenforceable(ContractError):
    """Strict generation refused: the chosen targets cannot enforce these security fields."""

    fields: list[str]
    """One line per field: ``<target>: <field path>: <why>``."""

class ImportFailed(Error):
    """A devcontainer.json or devfile could not be imported."""

class FileError(Error):
    """A file on the host could not be read or written."""

    path: str
    """The host path concerned."""

class EvidenceError(Error):
    """Evidence could not be recorded."""

    path: str
    """The evidence run directory."""

class NotFound(Error):
    """The workspace does not exist (or no longer does)."""

class AlreadyExists(Error):
    """A workspace with this name already exists."""

class PermissionDenied(Error):
    """Credentials were rejected or lack a permission."""

class PathEscapes(PermissionDenied):
    """A path lies outside the workspace root."""

class Refused(PermissionDenied):
    """The backend refuses to run without a safety feature the caller did not waive."""

class SecretMissing(Error):
    """A secret the contract references could not be resolved."""

class Unsupported(Error):
    """The backend cannot do this at all."""

class Timeout(Error):
    """An operation did not finish within its deadline."""

class InvalidState(Error):
    """The workspace is in a state that does not allow the operation."""

class WorkspaceFailed(Error):
    """The workspace failed to start."""

class SessionClosed(Error):
    """A session can no longer run commands."""

class ModelError(Error):
    """The model backend failed."""

class BackendError(Error):
    """Any other backend failure, with its causes in ``chain``."""

@final
class Problem:
    """One problem found in a contract."""

    @property
    def path(self) -> str:
        """Dotted path to the offending value (empty for the whole document)."""
    @property
    def line(self) -> int:
        """1-based line; 0 when unknown."""
    @property
    def column(self) -> int:
        """1-based column; 0 when unknown."""
    @property
    def message(self) -> str:
        """What is wrong and what to write instead."""
    @property
    def severity(self) -> Literal["error", "warning"]:
        """``"error"`` or ``"warning"``."""

# ===== contract (section owned by the contract helper) =====

@final
class Contract:
    """An environment contract, validated.

    Build one with :meth:`load`, :meth:`from_yaml` or an import; an invalid contract is never
    returned: :class:`ContractError` lists every problem instead.

    Target names, wherever a method takes them: ``"all"``, ``"devcontainer"``
    (``.devcontainer/devcontainer.json``), ``"devfile"`` (``devfile.yaml``), ``"devworkspace"``
    (``.agentbox/devworkspace.yaml``), ``"networkpolicy"`` (``.agentbox/networkpolicy.yaml``),
    ``"agents"`` (``AGENTS.md``). An unknown name raises :class:`ValueError` listing them.
    """

    @staticmethod
    def load(path: str | os.PathLike[str], *, strict: bool = False) -> Contract:
        """Read, parse and validate the contract file at ``path``.

        With ``strict=True`` warnings (such as an image without a digest) are errors.
        Raises :class:`ContractError` (with ``.problems``) when the contract is invalid and
        :class:`FileError` when the file cannot be read.
        """
    @staticmethod
    def from_yaml(text: str, *, strict: bool = False) -> Contract:
        """Parse and validate a contract from YAML text.

        With ``strict=True`` warnings are errors. Raises :class:`ContractError` (with
        ``.problems``) when the contract is invalid.
        """
    @staticmethod
    def import_devcontainer(path: str | os.PathLike[str]) -> Imported:
        """Import a devcontainer.json (JSON with comments) as a contract.

        Returns the validated contract and every part of the file that could not be mapped as
        it was (``imported.contract``, ``imported.unmapped``). Raises :class:`ImportFailed`
        when the file is not an image-based devcontainer.json, :class:`ContractError` when what
        it maps to does not validate, :class:`FileError` when it cannot be read.
        """
    @staticmethod
    def import_devfile(path: str | os.PathLike[str]) -> Imported:
        """Import a devfile (Devfile 2.x YAML) as a contract.

        Returns an :class:`Imported` and raises as :meth:`import_devcontainer` does.
        """
    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The contract's JSON Schema (draft 2020-12), for editors and other validators."""
    @property
    def name(self) -> str:
        """The environment's name (``metadata.name``)."""
    @property
    def profile(self) -> str:
        """The agent profile (``"default"`` when the contract names none)."""
    @property
    def hash(self) -> str:
        """SHA-256 of the contract's canonical JSON form, in hex: equal for contracts that mean
        the same thing, whatever their layout."""
    @property
    def workdir(self) -> str:
        """The absolute directory the agent works in."""
    @property
    def mount_path(self) -> str:
        """Where the workspace's storage is mounted (``"/projects"`` unless the contract says otherwise)."""
    @property
    def warnings(self) -> list[Problem]:
        """Warnings found while loading (always empty under ``strict=True``)."""
    def to_yaml(self) -> str:
        """The contract as YAML, in canonical field order."""
    def generate(
        self,
        targets: str | Sequence[str] | None = None,
        *,
        strict: bool = False,
        cilium: bool = False,
    ) -> dict[str, str]:
        """Compile the contract into the files of ``targets``: relative path (``/``-separated) → content.

        ``targets`` is one target name or a list of them; ``None`` or an empty list means every
        target. ``cilium=True`` turns host egress rules into a ``CiliumNetworkPolicy``. With
        ``strict=True`` raises :class:`Unenforceable` when a security field would not be
        enforced by the chosen targets.
        """
    def write(
        self,
        dir: str | os.PathLike[str],
        targets: str | Sequence[str] | None = None,
        *,
        strict: bool = False,
        cilium: bool = False,
    ) -> list[str]:
        """Generate as :meth:`generate` does and write the files under ``dir`` (directories are
        created; each file is renamed into place whole). Returns the relative paths written.

        With ``strict=True`` and an unenforced security field, raises :class:`Unenforceable`
        and writes nothing. Raises :class:`FileError` when a file cannot be written.
        """
    def check(
        self,
        dir: str | os.PathLike[str],
        targets: str | Sequence[str] | None = None,
        *,
        cilium: bool = False,
    ) -> list[Drift]:
        """Compare the files under ``dir`` with what ``generate(targets, cilium=cilium)`` writes.

        Returns one :class:`Drift` per missing or differing file, in path order; an empty list
        means everything is up to date.
        """
    def enforceability(self, target: str, *, cilium: bool = False) -> Enforceability:
        """What one target's file carries of this contract: every field the contract sets, with
        how the file represents it or why it does not.

        ``target`` is one concrete target name (``"all"`` raises :class:`ValueError`);
        ``cilium`` is as for :meth:`generate`.
        """
    def __repr__(self) -> str:
        """``Contract(name=..., hash=...)`` with the first 12 hex digits of the hash; no content."""

@final
class Drift:
    """One generated file that is not what :meth:`Contract.generate` would write.

    ``str(drift)`` is the unified diff.
    """

    @property
    def path(self) -> str:
        """Path relative to the output directory, ``/``-separated."""
    @property
    def kind(self) -> Literal["missing", "changed"]:
        """``"missing"``: the file does not exist; ``"changed"``: it has other content."""
    @property
    def diff(self) -> str:
        """A unified diff from the file on disk (``/dev/null`` when missing) to the expected file."""

@final
class FieldCoverage:
    """How one target's file carries one contract field."""

    @property
    def field(self) -> str:
        """The field's path in the contract, e.g. ``spec.network.egress.allow[1]``."""
    @property
    def security(self) -> bool:
        """True for fields that protect something (isolation, egress, secrets, limits, permissions)."""
    @property
    def coverage(self) -> Literal["represented", "partial", "not_represented", "delegated"]:
        """``"represented"``: the file expresses the field fully; ``"partial"``: part of it, or
        in a way some consumers ignore; ``"not_represented"``: the file cannot express it;
        ``"delegated"``: another target's file carries it."""
    @property
    def represented(self) -> bool:
        """True when the file expresses the field fully."""
    @property
    def how(self) -> str | None:
        """Where and how the file expresses the field (represented or partial), else ``None``."""
    @property
    def missing(self) -> str | None:
        """What a partial representation loses, and where to make up for it; else ``None``."""
    @property
    def why(self) -> str | None:
        """Why the file does not carry the field (not represented or delegated), else ``None``."""
    @property
    def delegated_to(
        self,
    ) -> Literal["devcontainer", "devfile", "devworkspace", "networkpolicy", "agents"] | None:
        """The target whose file carries the field instead (delegated), else ``None``."""

@final
class Enforceability:
    """The enforceability report of one target: every field the contract sets, with how the
    target's file carries it. ``str(report)`` is the report as ``agentbox generate`` prints it.
    """

    @property
    def target(self) -> Literal["devcontainer", "devfile", "devworkspace", "networkpolicy", "agents"]:
        """The target's name."""
    @property
    def path(self) -> str:
        """The target's file, relative to the output directory."""
    @property
    def entries(self) -> list[FieldCoverage]:
        """One entry per field the contract sets, in contract order."""
    @property
    def notes(self) -> list[str]:
        """Remarks about the file as a whole."""
    def entry(self, field: str) -> FieldCoverage | None:
        """The entry for ``field`` (a contract path such as ``spec.isolation``), or ``None``
        when the contract does not set it."""

@final
class Unmapped:
    """One part of an imported file that has no place in the contract, or was changed to fit."""

    @property
    def path(self) -> str:
        """Where it is in the imported file, e.g. ``portsAttributes.40000-55000``."""
    @property
    def why(self) -> str:
        """What happened to it, and why."""

@final
class Imported:
    """The result of :meth:`Contract.import_devcontainer` or :meth:`Contract.import_devfile`."""

    @property
    def contract(self) -> Contract:
        """The contract the file maps to, validated."""
    @property
    def unmapped(self) -> list[Unmapped]:
        """Every part of the file that has no place in the contract, or was changed to fit, in
        the order the importer met them; empty when everything mapped."""

# ===== providers and workspaces (section owned by the workspace helper) =====

import builtins
import datetime

class Provider:
    """A workspace backend; see ``LocalProvider``, ``CheProvider`` and ``CoderProvider``."""

    @property
    def backend(self) -> Literal["local", "che", "coder"]:
        """The backend's name."""
    @property
    def capabilities(self) -> Capabilities:
        """What this backend can do."""
    def create(
        self,
        contract: Contract,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        project: Project | None = None,
    ) -> Awaitable[Workspace]:
        """Create a workspace from a validated contract; it is not started.

        ``name`` defaults to the contract's name plus a random suffix; ``labels`` are merged over
        the contract's; ``project`` is a repository cloned into the workdir.
        """
    def get(self, id: str) -> Awaitable[Workspace]:
        """The existing workspace ``id``; raises ``NotFound`` when there is none."""
    def list(self, labels: dict[str, str] | None = None) -> Awaitable[builtins.list[WorkspaceInfo]]:
        """Every workspace of this provider whose labels include all of ``labels``."""

@final
class LocalProvider(Provider):
    """Workspaces as directories on this host, commands in a bubblewrap sandbox."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        isolation: Literal["auto", "bubblewrap", "none"] = "auto",
        bwrap: str | os.PathLike[str] | None = None,
        binds: dict[str, str] | None = None,
    ) -> None:
        """Keep workspaces under ``root`` (default: ``$XDG_STATE_HOME/agentbox/workspaces``,
        else ``~/.local/state/agentbox/workspaces``), created if needed.

        ``isolation`` is ``"auto"`` (bubblewrap; refused when it does not work),
        ``"bubblewrap"`` or ``"none"`` (commands run as the host user with the host's files and
        network: an explicit opt-in). ``bwrap`` is the bubblewrap binary (default: ``bwrap``
        from ``PATH``). ``binds`` maps existing host directories to absolute paths in every
        workspace's sandbox, read-write.
        """
    @property
    def root(self) -> str:
        """The directory the workspaces are kept in (absolute)."""
    def limitations(self, contract: Contract) -> list[str]:
        """What ``contract`` asks that this host cannot enforce, one line each."""

@final
class CheProvider(Provider):
    """Workspaces as Eclipse Che DevWorkspaces in one Kubernetes namespace."""

    def __init__(
        self,
        namespace: str,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
    ) -> None:
        """Manage DevWorkspaces in ``namespace``.

        The cluster is reached through ``kubeconfig`` (default ``$KUBECONFIG``, else
        ``~/.kube/config``) and its ``context`` (default: the current one). With neither given,
        the kubeconfig or, inside a pod, its service account is used.
        """
    @property
    def namespace(self) -> str:
        """The namespace the workspaces live in."""
    def limitations(self, contract: Contract) -> list[str]:
        """What ``contract`` asks that a DevWorkspace cannot enforce or this provider does not apply."""

@final
class CoderProvider(Provider):
    """Workspaces as Coder workspaces made from one template, through coderd's REST API."""

    def __init__(
        self,
        url: str,
        token: str,
        organization: str | None = None,
        *,
        template: str,
    ) -> None:
        """Make workspaces from ``template`` on the deployment at ``url``, as the user whose
        session ``token`` is given (it becomes a secret at once and is never shown).
        ``organization`` is a name or an id (default: the user's default organization)."""
    @property
    def url(self) -> str:
        """The deployment's URL."""
    @property
    def template(self) -> str:
        """The template workspaces are made from."""
    @property
    def organization(self) -> str | None:
        """The organization asked for, if any."""

@final
class Capabilities:
    """What a backend can do."""

    @property
    def separate_streams(self) -> bool:
        """stdout and stderr arrive separately (false over a PTY)."""
    @property
    def persistent_session(self) -> bool:
        """One long-lived shell can run many commands."""
    @property
    def suspend_keeps_storage(self) -> bool:
        """``stop`` keeps the workspace's files for ``resume``."""
    @property
    def watch(self) -> bool:
        """Readiness is pushed by the backend rather than polled."""
    @property
    def isolated(self) -> bool:
        """Commands run isolated from the host."""
    @property
    def egress_rules(self) -> bool:
        """Egress can be limited per rule."""

@final
class Project:
    """A git repository to clone into a new workspace's workdir."""

    def __init__(self, url: str, revision: str | None = None) -> None:
        """Clone ``url`` (never with credentials in it) at ``revision`` (default branch when None)."""
    @property
    def url(self) -> str:
        """The clone URL."""
    @property
    def revision(self) -> str | None:
        """The branch, tag or commit to check out."""

Phase = Literal["pending", "starting", "running", "stopping", "stopped", "failed", "terminating"]

@final
class WorkspaceInfo:
    """What a provider knows about one workspace, as of the call that returned it."""

    @property
    def id(self) -> str:
        """The backend-assigned id."""
    @property
    def name(self) -> str:
        """The human-readable name."""
    @property
    def backend(self) -> str:
        """The backend: ``"local"``, ``"che"`` or ``"coder"``."""
    @property
    def phase(self) -> Phase:
        """Where the workspace is in its life."""
    @property
    def message(self) -> str | None:
        """The backend's message about the phase (why it failed, what it waits for)."""
    @property
    def labels(self) -> dict[str, str]:
        """Labels, including agentbox's own."""
    @property
    def contract_hash(self) -> str:
        """The hash of the contract the workspace was made from."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was created (aware, UTC)."""

@final
class FileWritten:
    """A file written into a workspace."""

    @property
    def path(self) -> str:
        """The absolute path inside the workspace."""
    @property
    def size(self) -> int:
        """How many bytes were written."""
    @property
    def sha256(self) -> str:
        """The SHA-256 of the content, hex."""

@final
class ExecResult:
    """What a finished command did.

    ``stdout``/``stderr`` are decoded as UTF-8 (invalid bytes replaced); ``stdout_bytes``/
    ``stderr_bytes`` are exact.
    """

    @property
    def exit_code(self) -> int | None:
        """The exit code; None after a signal, a timeout, or when the end was not seen."""
    @property
    def signal(self) -> int | None:
        """The signal that ended the command, if one did."""
    @property
    def timed_out(self) -> bool:
        """Whether the timeout passed and the command was killed."""
    @property
    def ok(self) -> bool:
        """Whether it exited with code 0."""
    @property
    def stdout(self) -> str:
        """stdout as text."""
    @property
    def stderr(self) -> str:
        """stderr as text; empty when the streams are combined."""
    @property
    def stdout_bytes(self) -> bytes:
        """stdout's exact bytes."""
    @property
    def stderr_bytes(self) -> bytes:
        """stderr's exact bytes."""
    @property
    def duration(self) -> float:
        """Wall-clock time it took, in seconds."""
    @property
    def truncated(self) -> bool:
        """Whether stdout or stderr was longer than the output limit and was cut."""
    @property
    def streams(self) -> Literal["separate", "combined"]:
        """``"combined"`` when the backend cannot keep stderr apart and both are in stdout."""

@final
class ExecChunk:
    """One piece of a streaming command's output."""

    @property
    def stream(self) -> Literal["stdout", "stderr", "combined"]:
        """Which stream it came from (``"combined"`` over a PTY)."""
    @property
    def data(self) -> bytes:
        """The bytes."""

@final
class ExecStream:
    """The output of ``Workspace.exec_stream``: an async iterator of ``ExecChunk``s.

    The command starts on the first iteration; closing or dropping the stream before the end
    kills it. Afterwards ``exit_code``, ``signal`` and ``timed_out`` say how it ended.
    """

    def __aiter__(self) -> ExecStream:
        """The stream itself."""
    def __anext__(self) -> Awaitable[ExecChunk]:
        """The next chunk; raises ``StopAsyncIteration`` at the end."""
    def aclose(self) -> Awaitable[None]:
        """Stop reading; a command still running is killed."""
    @property
    def exit_code(self) -> int | None:
        """The exit code, once the command exited normally."""
    @property
    def signal(self) -> int | None:
        """The signal that ended the command, if one did."""
    @property
    def timed_out(self) -> bool:
        """Whether the timeout passed and the command was killed."""
    @property
    def finished(self) -> bool:
        """Whether the end of the command was seen."""

@final
class Session:
    """A persistent shell: each ``run`` sees the directory and exported variables the previous
    ones left. ``async with ws.session() as s:`` opens it and closes it at the end."""

    def __aenter__(self) -> Awaitable[Session]:
        """Open the shell."""
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Awaitable[None]:
        """Close the shell."""
    def run(
        self,
        command: Sequence[str] | str,
        timeout: float | None = None,
        *,
        output_limit: int | None = None,
    ) -> Awaitable[ExecResult]:
        """Run an argv list (quoted, nothing interpreted) or shell text; after ``timeout``
        seconds the shell is killed and later runs raise ``SessionClosed``."""
    def close(self) -> Awaitable[None]:
        """End the shell; closing a closed session does nothing."""

@final
class Workspace:
    """One workspace: lifecycle, commands, files. Made by ``Provider.create`` or ``Provider.get``."""

    @property
    def id(self) -> str:
        """The backend-assigned id."""
    @property
    def name(self) -> str:
        """The human-readable name."""
    @property
    def backend(self) -> str:
        """The backend: ``"local"``, ``"che"`` or ``"coder"``."""
    def start(self) -> Awaitable[None]:
        """Start it (starting a running one does nothing); wait with ``wait_ready``."""
    def stop(self) -> Awaitable[None]:
        """Stop (suspend) it; its files are kept when the backend can."""
    def resume(self) -> Awaitable[None]:
        """Resume a stopped workspace; wait with ``wait_ready``."""
    def delete(self) -> Awaitable[None]:
        """Delete it and its storage; deleting one already gone succeeds."""
    def status(self) -> Awaitable[WorkspaceInfo]:
        """Its current state."""
    def wait_ready(self, timeout: float) -> Awaitable[WorkspaceInfo]:
        """Wait until ready for commands; ``Timeout`` after ``timeout`` seconds, or
        ``WorkspaceFailed`` with the backend's message."""
    def exec(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
        timeout: float | None = None,
        *,
        secret_env: dict[str, str] | None = None,
        output_limit: int | None = None,
    ) -> Awaitable[ExecResult]:
        """Run ``argv`` (a list, never a shell string: a ``str`` raises ``TypeError``) to completion.

        ``secret_env`` values are secrets (kept out of logs and evidence); ``cwd`` is absolute
        or relative to the workdir; ``stdin`` is fed then closed; after ``timeout`` seconds the
        process tree is killed and the result has ``timed_out=True``; at most ``output_limit``
        bytes (default 4 MiB) of each stream are kept.
        """
    def exec_stream(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | str | None = None,
        timeout: float | None = None,
        *,
        secret_env: dict[str, str] | None = None,
    ) -> ExecStream:
        """Run ``argv`` and stream its output as ``ExecChunk``s (``async for``)."""
    def write_file(self, path: str, data: bytes | str) -> Awaitable[FileWritten]:
        """Write ``data`` to ``path`` (relative to the workdir), creating parent directories;
        ``PathEscapes`` for a path outside the workspace."""
    def read_file(self, path: str) -> Awaitable[bytes]:
        """The content of the file at ``path``; ``PathEscapes`` for a path outside the workspace."""
    def session(self) -> Session:
        """A persistent shell, as an async context manager."""

# ===== models and tasks (section owned by the task helper) =====

import pathlib

class Model:
    """A chat-completion model; see ``OpenAICompatible``, ``Copilot`` and ``ScriptedModel``."""

    @property
    def model(self) -> str:
        """The model's name (a scripted model's starts with ``scripted:``)."""
    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Awaitable[dict[str, Any]]:
        """One chat completion.

        ``messages`` are OpenAI-style dicts (``role``, ``content``, ``tool_calls``,
        ``tool_call_id``); ``tools`` are dicts with ``name``, ``description`` and ``parameters``
        (a JSON Schema); ``tool_choice`` is ``"auto"``, ``"none"``, ``"required"`` or a tool's
        name. Returns the response as a dict (``message``, ``finish_reason``, ``usage``,
        ``model``); raises ``ModelError`` when the model fails.
        """

@final
class OpenAICompatible(Model):
    """Any server that speaks OpenAI's chat completions (OpenAI, vLLM, Ollama, LiteLLM, ...)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        model: str,
        headers: Mapping[str, str] | None = None,
        secret_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        request_timeout: float | None = None,
        stream_usage: bool | None = None,
    ) -> None:
        """A client of ``model`` at ``base_url`` (where ``/chat/completions`` lives; OpenAI's is
        ``https://api.openai.com/v1``).

        ``api_key`` is sent as ``Authorization: Bearer ...``; it and the ``secret_headers``
        values become secrets at once, are redacted from all evidence and shown by no ``repr``.
        ``max_retries`` bounds retries of 429/5xx answers and connection failures (default 4);
        timeouts are seconds. Raises ``ModelError`` for an unusable configuration.
        """
    @property
    def base_url(self) -> str:
        """Where chat requests go."""

@final
class Copilot(Model):
    """GitHub Copilot's chat completions."""

    def __init__(
        self,
        github_token: str,
        model: str = "gpt-4o",
        *,
        token_url: str | None = None,
        integration_id: str | None = None,
        editor_version: str | None = None,
        editor_plugin_version: str | None = None,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        request_timeout: float | None = None,
        stream_usage: bool | None = None,
    ) -> None:
        """A client of ``model`` with the GitHub OAuth token of an account that has Copilot.

        The token becomes a secret at once; it is exchanged at ``token_url`` (default
        GitHub.com's) for short-lived Copilot tokens, redacted from all evidence and shown by
        no ``repr``. Raises ``ModelError`` for an unusable configuration.
        """
    @property
    def token_url(self) -> str:
        """Where the GitHub token is exchanged for Copilot tokens."""

@final
class ScriptedModel(Model):
    """A model that replays canned replies from a script, in order; running out of replies is
    a ``ModelError``, never an invented answer. Its name starts with ``scripted:``.

    A script is YAML (or JSON)::

        model: demo-fixer
        replies:
          - tool_calls:
              - name: run_tests
                arguments: {}
          - text: The tests pass now.
    """

    @staticmethod
    def load(path: str | os.PathLike[str]) -> ScriptedModel:
        """Read and parse a script file (``FileError`` when unreadable, ``ModelError`` when invalid)."""
    @staticmethod
    def from_yaml(text: str, origin: str = "<string>") -> ScriptedModel:
        """Parse a script; ``origin`` names it in error messages."""
    @property
    def remaining(self) -> int:
        """Replies not yet given."""

@final
class Limits:
    """Limits on one task; reaching any of them ends it."""

    def __init__(
        self,
        *,
        max_turns: int | None = None,
        max_fix_attempts: int | None = None,
        deadline: float | None = None,
        token_budget: int | None = None,
        command_timeout: float | None = None,
    ) -> None:
        """Omitted values take the defaults: 30 turns, 3 fix attempts, a 1800 s deadline, no
        token budget, 600 s per command. Durations are seconds."""
    @property
    def max_turns(self) -> int:
        """Model calls (turns) at most."""
    @property
    def max_fix_attempts(self) -> int:
        """Failing test runs tolerated; the task ends when a failing run uses the last one."""
    @property
    def deadline(self) -> float:
        """Seconds for the whole task, provisioning included (cleanup is not)."""
    @property
    def token_budget(self) -> int | None:
        """Prompt plus completion tokens at most; None for no budget."""
    @property
    def command_timeout(self) -> float:
        """Seconds after which any one command is killed."""

@final
class TaskRepo:
    """The repository a task clones into the workdir and works on, on a new branch."""

    def __init__(
        self,
        url: str,
        *,
        branch: str,
        author_name: str,
        author_email: str,
        base: str | None = None,
        token: str | None = None,
        push: bool = False,
        pull_request: str | None = None,
    ) -> None:
        """Clone ``url`` (never with credentials in it), start ``branch`` from ``base`` (default:
        the remote's default branch) and commit as ``author_name <author_email>``.

        With ``push`` the branch is pushed to ``url``; with ``pull_request`` (``owner/name``;
        needs ``base`` and ``push``) the runner's forge opens a pull request. ``token``
        authenticates clone and push; it becomes a secret at once, is handed to git by
        reference and redacted from the evidence.
        """
    @property
    def url(self) -> str:
        """Where the repository is cloned from."""
    @property
    def branch(self) -> str:
        """The branch the work goes on."""
    @property
    def base(self) -> str | None:
        """The branch to start from and merge into; None for the remote's default."""
    @property
    def author(self) -> tuple[str, str]:
        """Who commits: ``(name, email)``."""
    @property
    def push(self) -> bool:
        """Whether the branch is pushed after committing."""
    @property
    def pull_request(self) -> str | None:
        """The repository (``owner/name``) a pull request is opened in, if any."""
    @property
    def has_token(self) -> bool:
        """Whether a token was given (its value is never readable)."""

@final
class AgentCli:
    """An agent CLI run inside the workspace: the in-pod mode of a ``Task``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        permission_flags: Literal["none", "copilot_cli"] = "none",
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``argv`` is a template: exactly one element is ``"{prompt}"`` (the task's prompt, as
        one argument) and an element ``"{permissions}"`` becomes the contract's permission
        rules as the CLI's flags (with ``"copilot_cli"``; with ``"none"`` the sandbox is the
        only fence). ``env`` is extra environment for the CLI."""
    @staticmethod
    def copilot() -> AgentCli:
        """The GitHub Copilot CLI: ``copilot -p {prompt} {permissions}``."""
    @property
    def argv(self) -> list[str]:
        """The argv template."""
    @property
    def permission_flags(self) -> Literal["none", "copilot_cli"]:
        """How permission rules become flags."""
    @property
    def env(self) -> dict[str, str]:
        """Extra environment variables for the CLI."""
    def validate(self) -> None:
        """Raise ``Refused`` when the template is unusable."""

@final
class GhCliForge:
    """Opens pull requests on GitHub with the ``gh`` CLI inside the workspace."""

    def __init__(self, token: str, *, program: str = "gh", host: str | None = None) -> None:
        """``token`` needs permission to write pull requests; it becomes a secret at once,
        reaches ``gh`` as a secret environment variable and is redacted from the evidence.
        ``host`` is a GitHub Enterprise host."""

_TaskMode = Literal["orchestrator", "whole_file"]
_CleanupPolicy = Literal["delete", "stop", "keep"]

@final
class Task:
    """One task: a description, the contract its workspace is made from, and what to work on."""

    def __init__(
        self,
        description: str,
        contract: Contract,
        *,
        repo: TaskRepo | None = None,
        limits: Limits | None = None,
        mode: _TaskMode | AgentCli | None = None,
        cleanup: _CleanupPolicy = "delete",
        files: Mapping[str, bytes | str] | None = None,
        workspace_name: str | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        """``description`` is what to do, in the words of the ticket; the contract's
        ``agent.permissions`` are the permission gate's rules and its ``test``-group command is
        what "tests pass" means.

        ``mode`` is ``"orchestrator"`` (default: the runner talks to the model with tools, each
        call through the permission gate), ``"whole_file"`` (for models without tool calling) or
        an ``AgentCli`` (an agent CLI in the workspace does the work). ``cleanup`` is what
        happens to the workspace when the task ends, however it ends. ``files`` (path relative
        to the workdir → content) are written before the work starts. ``ready_timeout`` is
        seconds (default 300).
        """
    @property
    def description(self) -> str:
        """What to do."""
    @property
    def contract(self) -> Contract:
        """The environment contract."""
    @property
    def repo(self) -> TaskRepo | None:
        """The repository worked on, if any."""
    @property
    def limits(self) -> Limits:
        """The limits."""
    @property
    def mode(self) -> Literal["orchestrator", "whole_file", "in_pod"]:
        """How the work is done (``"in_pod"``: see ``agent_cli``)."""
    @property
    def agent_cli(self) -> AgentCli | None:
        """The agent CLI of the in-pod mode."""
    @property
    def cleanup(self) -> _CleanupPolicy:
        """What happens to the workspace at the end."""
    @property
    def files(self) -> dict[str, bytes]:
        """Files written into the workspace before the work starts."""
    @property
    def workspace_name(self) -> str | None:
        """The workspace's name; the backend picks one when None."""
    @property
    def ready_timeout(self) -> float:
        """Seconds to wait for the workspace to become ready."""
    def test_command(self) -> tuple[str, str]:
        """The contract command that is the task's tests: ``(name, command line)``; raises
        ``Refused`` when there is none."""
    def validate(self) -> None:
        """Raise ``Refused`` when the task cannot run at all (no test command, zero limits, a
        bad agent CLI, a pull request without base branch or push)."""

_TaskOutcome = Literal["succeeded", "limit_reached", "timed_out", "failed"]

@final
class TaskResult:
    """What a finished task left behind, and where its evidence is."""

    @property
    def outcome(self) -> _TaskOutcome:
        """How the task ended."""
    @property
    def details(self) -> str:
        """How it ended, in words."""
    @property
    def limit(self) -> Literal["turns", "fix_attempts", "tokens"] | None:
        """For ``"limit_reached"``: which limit."""
    @property
    def reason(self) -> str | None:
        """For ``"failed"``: what failed."""
    @property
    def success(self) -> bool:
        """True when the tests pass and the work is done."""
    @property
    def run_id(self) -> str:
        """The evidence run's id (the name of ``evidence_dir``)."""
    @property
    def evidence_dir(self) -> pathlib.Path:
        """The run's evidence directory (``run.json``, ``events.jsonl``, ``junit.xml``,
        ``index.html``, ``artifacts/``)."""
    @property
    def report(self) -> pathlib.Path:
        """The run's HTML report, which opens offline."""
    @property
    def workspace(self) -> str | None:
        """The workspace the task worked in, when one was created."""
    @property
    def commit(self) -> str | None:
        """The commit made on the task's branch, when there was a repository and a change."""
    @property
    def pull_request(self) -> str | None:
        """The pull request's URL, when one was opened."""
    @property
    def turns(self) -> int:
        """Model calls made."""
    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens used."""
    @property
    def test_runs(self) -> int:
        """Test runs made."""
    @property
    def failed_test_runs(self) -> int:
        """Test runs that failed."""

@final
class TaskEvent:
    """One progress event of a task, as delivered to ``on_event``.

    ``kind`` is the task step (``"provisioning"``, ``"ready"``, ``"cloned"``, ``"model_turn"``,
    ``"tool_call"``, ``"agent_started"``, ``"tests"``, ``"committed"``,
    ``"pull_request_opened"``, ``"finished"``, ``"cleaned_up"``) or, for other progress events,
    their kind (``"workspace"``, ``"exec_started"``, ``"exec_finished"``, ``"transfer"``,
    ``"warning"``). ``fields`` holds the rest, e.g. ``{"turn": 1, "max": 30}`` for
    ``"model_turn"``. Known secrets are redacted from every value.
    """

    @property
    def kind(self) -> str:
        """What happened."""
    @property
    def run_id(self) -> str | None:
        """The evidence run of the task (None for events that are not task steps)."""
    @property
    def fields(self) -> dict[str, Any]:
        """The event's other fields."""
    def __getitem__(self, key: str, /) -> Any:
        """``fields[key]``; ``KeyError`` when there is no such field."""
    def get(self, key: str, default: Any = None) -> Any:
        """``fields.get(key, default)``."""

_EventCallback = Callable[[TaskEvent], object]

@final
class TaskRunner:
    """Runs tasks on one provider with one model.

    ``run`` provisions a workspace, does the work, commits (and pushes, and opens a pull
    request with ``forge``) when the task has a repository, then leaves the workspace as the
    task's ``cleanup`` says and finishes the evidence run, however the task ends (also when
    the awaiting coroutine is cancelled; ``wait_for_cleanups`` waits for that cleanup).

    ``on_event`` is called with each ``TaskEvent``, in order, from a runtime thread with the
    GIL held; every event of a run has been delivered when ``run`` returns. An exception it
    raises is logged through ``tracing`` and ignored: it never stops or fails the task.
    Credentials of the model, the forge and the repository are redacted from the evidence and
    the events.
    """

    def __init__(
        self,
        provider: Provider,
        model: Model,
        *,
        forge: GhCliForge | None = None,
        on_event: _EventCallback | None = None,
    ) -> None:
        """A runner making workspaces with ``provider`` and talking to ``model``."""
    def run(
        self,
        task: Task,
        *,
        evidence_dir: str | os.PathLike[str],
        run_id: str | None = None,
    ) -> Awaitable[TaskResult]:
        """Run ``task`` in a new workspace, recording evidence in a new run directory under
        ``evidence_dir`` (named ``run_id``, or a time-sortable id).

        Raises only when the task is unusable as given (``Refused``; nothing is provisioned)
        or the evidence cannot be written (``EvidenceError``); everything that goes wrong once
        the work starts is the result's ``outcome``.
        """
    def continue_task(
        self,
        workspace: str,
        task: Task,
        feedback: str,
        *,
        evidence_dir: str | os.PathLike[str],
        run_id: str | None = None,
    ) -> Awaitable[TaskResult]:
        """Resume the stopped ``workspace`` of an earlier run of ``task`` and continue there with
        ``feedback`` (e.g. a reviewer's comments) as a new message; then deliver and clean up
        as the task says. Records into a new evidence run."""
    def suspend(self, workspace: str) -> Awaitable[None]:
        """Stop ``workspace``, keeping its storage (e.g. while its pull request is reviewed)."""
    def resume(self, workspace: str, timeout: float = 300.0) -> Awaitable[str]:
        """Resume a suspended workspace and wait until it is ready; returns its phase."""
    def delete(self, workspace: str) -> Awaitable[None]:
        """Delete ``workspace``; deleting one already gone succeeds."""
    def cleanup_from_record(
        self,
        run_dir: str | os.PathLike[str],
        policy: _CleanupPolicy = "delete",
    ) -> Awaitable[list[str]]:
        """Apply ``policy`` to every workspace the evidence run in ``run_dir`` lists (after an
        orchestrator crashed mid-task). Idempotent; returns the workspaces handled."""
    def wait_for_cleanups(self) -> Awaitable[None]:
        """Wait until every cleanup started for a cancelled run is done."""

def run_task(
    provider: Provider,
    model: Model,
    task: Task,
    *,
    evidence_dir: str | os.PathLike[str],
    run_id: str | None = None,
    forge: GhCliForge | None = None,
    on_event: _EventCallback | None = None,
) -> Awaitable[TaskResult]:
    """Run ``task`` with a one-off ``TaskRunner(provider, model, forge=..., on_event=...)``,
    recording evidence in a new run directory under ``evidence_dir``; see ``TaskRunner.run``.

    ``on_event`` is called with each ``TaskEvent``, in order, from a runtime thread with the GIL
    held; all of them have been delivered when the result is returned. An exception it raises
    is logged through ``tracing`` and ignored: it never stops or fails the task.
    """

# ===== testkit (section owned by the workspace helper, models part by the task helper) =====

@final
class FakeCluster:
    """A fake Kubernetes cluster on loopback (API server with the DevWorkspace CRDs, one node of
    bubblewrap sandboxes, a simulated DevWorkspace Operator), for ``CheProvider``.

    Only in wheels built with the ``testkit`` feature; import it from ``agentbox.testkit``.
    """

    def __init__(self, namespace: str = "default", *, fail_image: str | None = None) -> None:
        """Start a cluster with ``namespace``; pulling ``fail_image`` fails on the node."""
    @property
    def kubeconfig(self) -> str:
        """The path of a kubeconfig for the cluster (removed by ``close()``)."""
    @property
    def context(self) -> str:
        """The kubeconfig's (current) context."""
    @property
    def namespace(self) -> str:
        """The namespace created at start."""
    @property
    def url(self) -> str:
        """The API server's URL."""
    def close(self) -> Awaitable[None]:
        """Stop the cluster and wait until every container's processes are gone."""
    def __aenter__(self) -> Awaitable[FakeCluster]:
        """The cluster itself."""
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Awaitable[None]:
        """``close()``."""

@final
class FakeCoderd:
    """A fake coderd on loopback (one user, organization and template; workspaces are bubblewrap
    sandboxes), for ``CoderProvider``.

    Only in wheels built with the ``testkit`` feature; import it from ``agentbox.testkit``.
    """

    def __init__(
        self,
        mount_path: str = "/home/coder",
        *,
        organization: str = "coder",
        token: str | None = None,
    ) -> None:
        """Start a fake coderd whose workspaces keep their files at ``mount_path``, accepting
        ``token`` (default: a random one) as the only session token."""
    @property
    def url(self) -> str:
        """The base URL."""
    @property
    def token(self) -> str:
        """The one valid session token."""
    @property
    def organization(self) -> str:
        """The organization's name."""
    @property
    def template(self) -> str:
        """The name of the template workspaces are made from."""
    @property
    def mount_path(self) -> str:
        """Where each workspace's persistent directory appears in its sandbox."""
    def close(self) -> Awaitable[None]:
        """Stop serving and kill every workspace command."""
    def __aenter__(self) -> Awaitable[FakeCoderd]:
        """The server itself."""
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Awaitable[None]:
        """``close()``."""

@final
class ModelReply:
    """What the fake model server answers to one chat request: a completion (text, tool calls
    or both; usage 10 + 5 tokens unless set) or an error status. The ``with_...`` methods
    return a changed copy.

    Only in wheels built with the ``testkit`` feature; import it from ``agentbox.testkit``.
    """

    @staticmethod
    def text(text: str) -> ModelReply:
        """An assistant message with this text (finish reason ``stop``)."""
    @staticmethod
    def tool_call(id: str, name: str, arguments: str | Mapping[str, Any]) -> ModelReply:
        """An assistant message calling one tool; ``arguments`` is JSON text or a dict."""
    @staticmethod
    def tool_calls(calls: Sequence[tuple[str, str, str | Mapping[str, Any]]]) -> ModelReply:
        """An assistant message calling these tools, ``(id, name, arguments)`` each."""
    @staticmethod
    def status(status: int) -> ModelReply:
        """An error answer with this HTTP status and an OpenAI-style error body."""
    def with_retry_after(self, value: str) -> ModelReply:
        """This error answer with a ``Retry-After`` header (seconds or an HTTP date)."""
    def with_text(self, text: str) -> ModelReply:
        """This completion with text (also beside tool calls)."""
    def with_usage(self, prompt_tokens: int, completion_tokens: int) -> ModelReply:
        """This completion reporting this token usage."""
    def chunked(self, chars: int) -> ModelReply:
        """When streamed, deltas of at most ``chars`` characters."""
    def drop_after_events(self, events: int) -> ModelReply:
        """When streamed, drop the connection after ``events`` SSE events."""

@final
class ModelRequest:
    """One request the fake model server received (its ``repr`` shows only method and path:
    the headers hold credentials)."""

    @property
    def method(self) -> str:
        """The HTTP method."""
    @property
    def path(self) -> str:
        """The request path, e.g. ``/chat/completions``."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers in arrival order, names in lower case."""
    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case)."""
    @property
    def body(self) -> Any:
        """The body as JSON (None when empty; a string when it is not JSON)."""
    @property
    def is_chat(self) -> bool:
        """True for a chat-completions request."""

@final
class FakeModelServer:
    """A loopback OpenAI-compatible model server (with a GitHub Copilot token endpoint) that
    answers chat requests from a queue of ``ModelReply``s and records what it receives.

    Only in wheels built with the ``testkit`` feature; import it from ``agentbox.testkit``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        copilot_oauth_token: str | None = None,
        token_lifetime: float | None = None,
    ) -> None:
        """Start a server. With ``api_key``, chat requests must carry it as a bearer token;
        with ``copilot_oauth_token`` it behaves as GitHub Copilot (the token endpoint wants
        that token and issues Copilot tokens living ``token_lifetime`` seconds)."""
    @property
    def base_url(self) -> str:
        """The base URL for ``OpenAICompatible``."""
    @property
    def token_url(self) -> str:
        """The Copilot token-exchange URL for ``Copilot(..., token_url=...)``."""
    def enqueue(self, reply: ModelReply) -> None:
        """Queue a reply for the next chat request."""
    def set_fallback(self, reply: ModelReply | None) -> None:
        """The reply when the queue is empty (None: answer 400)."""
    def requests(self) -> list[ModelRequest]:
        """Every request received, in order."""
    def chat_requests(self) -> list[ModelRequest]:
        """The chat-completions requests received, in order."""
    @property
    def token_exchanges(self) -> int:
        """How many Copilot tokens were issued."""
    def revoke_tokens(self) -> None:
        """Reject every Copilot token issued so far with 401."""
    def fail_token_exchange(self, status: int | None) -> None:
        """Make the token endpoint answer with ``status`` (None: issue tokens again)."""
    def schema_violations(self) -> list[str]:
        """Requests and completions that did not validate against OpenAI's schemas."""
    def close(self) -> None:
        """Stop serving; closing a closed server does nothing."""
    def __enter__(self) -> FakeModelServer:
        """The server itself."""
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """``close()``."""
