"""Blocking versions of agentbox's async API, for scripts.

Every call here runs the matching coroutine of :mod:`agentbox` on one private asyncio event loop
in a background thread and waits for its result, so a script needs no ``async``/``await``. The
objects that are not I/O (contracts, models, tasks, results) are :mod:`agentbox`'s own.

Example::

    import agentbox
    from agentbox import sync

    contract = agentbox.Contract.load("agentbox.yaml")
    provider = sync.LocalProvider(root="/tmp/agentbox-workspaces")
    ws = provider.create(contract, name="demo")
    ws.start()
    ws.wait_ready(timeout=60)
    print(ws.exec(["echo", "hello"]).stdout)
    with ws.session() as shell:
        shell.run("cd /tmp")
        print(shell.run("pwd").stdout)
    ws.delete()

Exceptions are the same :class:`agentbox.Error` subclasses the async API raises. Interrupting a
blocking call (Ctrl-C) cancels the operation underneath it; a task's workspace is then still
cleaned up (``TaskRunner.wait_for_cleanups`` waits for that).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import Literal, TypeVar

import agentbox

__all__ = [
    "CheProvider",
    "CoderProvider",
    "ExecStream",
    "LocalProvider",
    "Provider",
    "Session",
    "TaskRunner",
    "Workspace",
    "run_task",
]

_T = TypeVar("_T")


class _Loop:
    """One event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="agentbox-sync", daemon=True
        )
        self.thread.start()

    def run(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Await ``call()`` on the loop and return its result; ``call`` runs on the loop's
        thread, where the native awaitables find their event loop."""
        if threading.current_thread() is self.thread:
            raise RuntimeError(
                "agentbox.sync was called from its own event loop's thread, where it would wait "
                "for itself; use the async API (agentbox) there instead"
            )

        async def awaited() -> _T:
            return await call()

        future = asyncio.run_coroutine_threadsafe(awaited(), self.loop)
        try:
            return future.result()
        except BaseException:
            # Interrupted (e.g. KeyboardInterrupt) while waiting: cancel the operation. A no-op
            # when the future is already done, e.g. because the operation itself raised.
            future.cancel()
            raise


_loop: _Loop | None = None
_loop_lock = threading.Lock()


def _run(call: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``call()`` on the shared private loop (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = _Loop()
        loop = _loop
    return loop.run(call)


class Session:
    """A persistent shell in a workspace: each ``run`` sees the directory and exported
    variables the previous ones left. ``with ws.session() as shell:`` opens it and closes it at
    the end."""

    def __init__(self, session: agentbox.Session) -> None:
        """Wrap an async ``agentbox.Session`` (use ``Workspace.session()`` instead)."""
        self._session = session

    def __enter__(self) -> Session:
        """Open the shell."""
        _run(self._session.__aenter__)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the shell."""
        _run(lambda: self._session.__aexit__(exc_type, exc, traceback))

    def run(
        self,
        command: Sequence[str] | str,
        timeout: float | None = None,
        *,
        output_limit: int | None = None,
    ) -> agentbox.ExecResult:
        """Run an argv list (quoted, nothing interpreted) or shell text; after ``timeout``
        seconds the shell is killed and later runs raise ``SessionClosed``."""
        return _run(lambda: self._session.run(command, timeout, output_limit=output_limit))

    def close(self) -> None:
        """End the shell; closing a closed session does nothing."""
        _run(self._session.close)


class ExecStream:
    """The output of ``Workspace.exec_stream``: an iterator of ``agentbox.ExecChunk``s.

    The command starts on the first ``next``; closing the stream (or leaving its ``with``
    block) before the end kills it. Afterwards ``exit_code``, ``signal`` and ``timed_out`` say
    how it ended.
    """

    def __init__(self, stream: agentbox.ExecStream) -> None:
        """Wrap an async ``agentbox.ExecStream`` (use ``Workspace.exec_stream()`` instead)."""
        self._stream = stream

    def __iter__(self) -> Iterator[agentbox.ExecChunk]:
        """The stream itself."""
        return self

    def __next__(self) -> agentbox.ExecChunk:
        """The next chunk; ``StopIteration`` at the end."""
        try:
            return _run(self._stream.__anext__)
        except StopAsyncIteration:
            raise StopIteration from None

    def __enter__(self) -> ExecStream:
        """The stream itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """``close()``."""
        self.close()

    def close(self) -> None:
        """Stop reading; a command still running is killed."""
        _run(self._stream.aclose)

    @property
    def exit_code(self) -> int | None:
        """The exit code, once the command exited normally."""
        return self._stream.exit_code

    @property
    def signal(self) -> int | None:
        """The signal that ended the command, if one did."""
        return self._stream.signal

    @property
    def timed_out(self) -> bool:
        """Whether the timeout passed and the command was killed."""
        return self._stream.timed_out

    @property
    def finished(self) -> bool:
        """Whether the end of the command was seen."""
        return self._stream.finished


class Workspace:
    """One workspace, with blocking lifecycle, commands and files. Made by
    ``Provider.create`` or ``Provider.get``."""

    def __init__(self, workspace: agentbox.Workspace) -> None:
        """Wrap an async ``agentbox.Workspace``."""
        self._workspace = workspace

    @property
    def async_workspace(self) -> agentbox.Workspace:
        """The async workspace underneath."""
        return self._workspace

    @property
    def id(self) -> str:
        """The backend-assigned id."""
        return self._workspace.id

    @property
    def name(self) -> str:
        """The human-readable name."""
        return self._workspace.name

    @property
    def backend(self) -> str:
        """The backend: ``"local"``, ``"che"`` or ``"coder"``."""
        return self._workspace.backend

    def start(self) -> None:
        """Start it (starting a running one does nothing); wait with ``wait_ready``."""
        _run(self._workspace.start)

    def stop(self) -> None:
        """Stop (suspend) it; its files are kept when the backend can."""
        _run(self._workspace.stop)

    def resume(self) -> None:
        """Resume a stopped workspace; wait with ``wait_ready``."""
        _run(self._workspace.resume)

    def delete(self) -> None:
        """Delete it and its storage; deleting one already gone succeeds."""
        _run(self._workspace.delete)

    def status(self) -> agentbox.WorkspaceInfo:
        """Its current state."""
        return _run(self._workspace.status)

    def wait_ready(self, timeout: float) -> agentbox.WorkspaceInfo:
        """Wait until ready for commands; ``Timeout`` after ``timeout`` seconds, or
        ``WorkspaceFailed`` with the backend's message."""
        return _run(lambda: self._workspace.wait_ready(timeout))

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
    ) -> agentbox.ExecResult:
        """Run ``argv`` (never a shell string) to completion; see ``agentbox.Workspace.exec``."""
        return _run(
            lambda: self._workspace.exec(
                argv,
                env,
                cwd,
                stdin,
                timeout,
                secret_env=secret_env,
                output_limit=output_limit,
            )
        )

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
        """Run ``argv`` and iterate over its output as ``agentbox.ExecChunk``s."""
        return ExecStream(
            self._workspace.exec_stream(argv, env, cwd, stdin, timeout, secret_env=secret_env)
        )

    def write_file(self, path: str, data: bytes | str) -> agentbox.FileWritten:
        """Write ``data`` to ``path`` (relative to the workdir), creating parent directories;
        ``PathEscapes`` for a path outside the workspace."""
        return _run(lambda: self._workspace.write_file(path, data))

    def read_file(self, path: str) -> bytes:
        """The content of the file at ``path``; ``PathEscapes`` for a path outside the
        workspace."""
        return _run(lambda: self._workspace.read_file(path))

    def session(self) -> Session:
        """A persistent shell, as a context manager."""
        return Session(self._workspace.session())

    def __repr__(self) -> str:
        return f"sync.{self._workspace!r}"


class Provider:
    """A workspace backend with blocking calls; see ``LocalProvider``, ``CheProvider`` and
    ``CoderProvider``, or wrap any ``agentbox.Provider``."""

    def __init__(self, provider: agentbox.Provider) -> None:
        """Wrap an async ``agentbox.Provider``."""
        self._provider = provider

    @property
    def async_provider(self) -> agentbox.Provider:
        """The async provider underneath (for ``agentbox.run_task`` and friends)."""
        return self._provider

    @property
    def backend(self) -> Literal["local", "che", "coder"]:
        """The backend's name."""
        return self._provider.backend

    @property
    def capabilities(self) -> agentbox.Capabilities:
        """What this backend can do."""
        return self._provider.capabilities

    def create(
        self,
        contract: agentbox.Contract,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        project: agentbox.Project | None = None,
    ) -> Workspace:
        """Create a workspace from a validated contract; it is not started."""
        return Workspace(_run(lambda: self._provider.create(contract, name, labels, project)))

    def get(self, id: str) -> Workspace:
        """The existing workspace ``id``; raises ``NotFound`` when there is none."""
        return Workspace(_run(lambda: self._provider.get(id)))

    def list(self, labels: dict[str, str] | None = None) -> list[agentbox.WorkspaceInfo]:
        """Every workspace of this provider whose labels include all of ``labels``."""
        return _run(lambda: self._provider.list(labels))

    def __repr__(self) -> str:
        return f"sync.{self._provider!r}"


class LocalProvider(Provider):
    """Workspaces as directories on this host, commands in a bubblewrap sandbox; see
    ``agentbox.LocalProvider``."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        isolation: Literal["auto", "bubblewrap", "none"] = "auto",
        bwrap: str | os.PathLike[str] | None = None,
        binds: dict[str, str] | None = None,
    ) -> None:
        """Keep workspaces under ``root``; see ``agentbox.LocalProvider``."""
        self._local = agentbox.LocalProvider(root, isolation=isolation, bwrap=bwrap, binds=binds)
        super().__init__(self._local)

    @property
    def root(self) -> str:
        """The directory the workspaces are kept in (absolute)."""
        return self._local.root

    def limitations(self, contract: agentbox.Contract) -> list[str]:
        """What ``contract`` asks that this host cannot enforce, one line each."""
        return self._local.limitations(contract)


class CheProvider(Provider):
    """Workspaces as Eclipse Che DevWorkspaces in one Kubernetes namespace; see
    ``agentbox.CheProvider``."""

    def __init__(
        self,
        namespace: str,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
    ) -> None:
        """Manage DevWorkspaces in ``namespace``; see ``agentbox.CheProvider``."""
        self._che = agentbox.CheProvider(namespace, kubeconfig, context)
        super().__init__(self._che)

    @property
    def namespace(self) -> str:
        """The namespace the workspaces live in."""
        return self._che.namespace

    def limitations(self, contract: agentbox.Contract) -> list[str]:
        """What ``contract`` asks that a DevWorkspace cannot enforce."""
        return self._che.limitations(contract)


class CoderProvider(Provider):
    """Workspaces as Coder workspaces made from one template; see ``agentbox.CoderProvider``."""

    def __init__(
        self,
        url: str,
        token: str,
        organization: str | None = None,
        *,
        template: str,
    ) -> None:
        """Make workspaces from ``template`` at ``url`` with the session ``token`` (a secret at
        once, never shown); see ``agentbox.CoderProvider``."""
        self._coder = agentbox.CoderProvider(url, token, organization, template=template)
        super().__init__(self._coder)

    @property
    def url(self) -> str:
        """The deployment's URL."""
        return self._coder.url

    @property
    def template(self) -> str:
        """The template workspaces are made from."""
        return self._coder.template

    @property
    def organization(self) -> str | None:
        """The organization asked for, if any."""
        return self._coder.organization


def _unwrap(provider: Provider | agentbox.Provider) -> agentbox.Provider:
    return provider.async_provider if isinstance(provider, Provider) else provider


class TaskRunner:
    """Runs tasks on one provider with one model, blocking; see ``agentbox.TaskRunner``.

    ``on_event`` is called from a runtime thread (not the caller's) with each
    ``agentbox.TaskEvent``; an exception it raises is logged and ignored.
    """

    def __init__(
        self,
        provider: Provider | agentbox.Provider,
        model: agentbox.Model,
        *,
        forge: agentbox.GhCliForge | None = None,
        on_event: Callable[[agentbox.TaskEvent], object] | None = None,
    ) -> None:
        """A runner making workspaces with ``provider`` and talking to ``model``."""
        self._runner = agentbox.TaskRunner(
            _unwrap(provider), model, forge=forge, on_event=on_event
        )

    @property
    def async_runner(self) -> agentbox.TaskRunner:
        """The async runner underneath."""
        return self._runner

    def run(
        self,
        task: agentbox.Task,
        *,
        evidence_dir: str | os.PathLike[str],
        run_id: str | None = None,
    ) -> agentbox.TaskResult:
        """Run ``task`` in a new workspace, recording evidence under ``evidence_dir``; see
        ``agentbox.TaskRunner.run``."""
        return _run(lambda: self._runner.run(task, evidence_dir=evidence_dir, run_id=run_id))

    def continue_task(
        self,
        workspace: str,
        task: agentbox.Task,
        feedback: str,
        *,
        evidence_dir: str | os.PathLike[str],
        run_id: str | None = None,
    ) -> agentbox.TaskResult:
        """Resume the stopped ``workspace`` of an earlier run of ``task`` and continue with
        ``feedback``; see ``agentbox.TaskRunner.continue_task``."""
        return _run(
            lambda: self._runner.continue_task(
                workspace, task, feedback, evidence_dir=evidence_dir, run_id=run_id
            )
        )

    def suspend(self, workspace: str) -> None:
        """Stop ``workspace``, keeping its storage."""
        _run(lambda: self._runner.suspend(workspace))

    def resume(self, workspace: str, timeout: float = 300.0) -> str:
        """Resume a suspended workspace and wait until it is ready; returns its phase."""
        return _run(lambda: self._runner.resume(workspace, timeout))

    def delete(self, workspace: str) -> None:
        """Delete ``workspace``; deleting one already gone succeeds."""
        _run(lambda: self._runner.delete(workspace))

    def cleanup_from_record(
        self,
        run_dir: str | os.PathLike[str],
        policy: Literal["delete", "stop", "keep"] = "delete",
    ) -> list[str]:
        """Apply ``policy`` to every workspace the evidence run in ``run_dir`` lists."""
        return _run(lambda: self._runner.cleanup_from_record(run_dir, policy))

    def wait_for_cleanups(self) -> None:
        """Wait until every cleanup started for an interrupted run is done."""
        _run(self._runner.wait_for_cleanups)


def run_task(
    provider: Provider | agentbox.Provider,
    model: agentbox.Model,
    task: agentbox.Task,
    *,
    evidence_dir: str | os.PathLike[str],
    run_id: str | None = None,
    forge: agentbox.GhCliForge | None = None,
    on_event: Callable[[agentbox.TaskEvent], object] | None = None,
) -> agentbox.TaskResult:
    """Run ``task`` and wait for its ``agentbox.TaskResult``; see ``agentbox.run_task``."""
    return _run(
        lambda: agentbox.run_task(
            _unwrap(provider),
            model,
            task,
            evidence_dir=evidence_dir,
            run_id=run_id,
            forge=forge,
            on_event=on_event,
        )
    )
