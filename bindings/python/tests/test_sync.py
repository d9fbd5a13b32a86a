"""The blocking layer (``agentbox.sync``) on the local provider: lifecycle, commands, streams,
files, sessions and tasks, from plain (non-async) code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentbox
from agentbox import NotFound, OpenAICompatible, PathEscapes, TaskEvent, sync
from agentbox.testkit import FakeModelServer
from task_support import Recorder, call, contract, run_record, task, write_answer


@pytest.fixture
def provider(local_root: Path) -> sync.LocalProvider:
    return sync.LocalProvider(root=local_root, isolation="bubblewrap")


@pytest.fixture
def ws(provider: sync.LocalProvider) -> Iterator[sync.Workspace]:
    """A running workspace, deleted afterwards."""
    workspace = provider.create(contract(), name="py-sync")
    workspace.start()
    workspace.wait_ready(timeout=60)
    yield workspace
    workspace.delete()


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer() as fake:
        yield fake


def test_the_provider_wraps_the_async_one(provider: sync.LocalProvider, local_root: Path) -> None:
    assert provider.backend == "local"
    assert isinstance(provider.async_provider, agentbox.LocalProvider)
    assert Path(provider.root) == local_root.resolve()
    assert provider.capabilities.isolated
    assert isinstance(provider.limitations(contract()), list)
    assert repr(provider).startswith("sync.LocalProvider(root=")
    wrapped = sync.Provider(agentbox.LocalProvider(root=local_root))
    assert wrapped.list() == []


def test_a_workspace_runs_commands_and_moves_files(
    provider: sync.LocalProvider, ws: sync.Workspace
) -> None:
    assert (ws.name, ws.backend) == ("py-sync", "local")
    assert ws.status().phase == "running"
    assert [info.id for info in provider.list()] == [ws.id]

    result = ws.exec(["sh", "-c", 'echo "$GREETING"; echo oops >&2; exit 3'], env={"GREETING": "hi"})
    assert (result.exit_code, result.stdout, result.stderr) == (3, "hi\n", "oops\n")
    assert ws.exec(["cat"], stdin="from stdin").stdout == "from stdin"

    written = ws.write_file("notes/a.txt", b"hello\x00world")
    assert written.size == 11
    assert ws.read_file("notes/a.txt") == b"hello\x00world"
    with pytest.raises(PathEscapes):
        ws.read_file("../../../etc/passwd")

    with ws.exec_stream(["sh", "-c", "echo one; echo two >&2"]) as stream:
        chunks = list(stream)
    assert b"".join(c.data for c in chunks if c.stream == "stdout") == b"one\n"
    assert b"".join(c.data for c in chunks if c.stream == "stderr") == b"two\n"
    assert (stream.finished, stream.exit_code, stream.timed_out) == (True, 0, False)

    with ws.session() as shell:
        shell.run("cd notes && export MARK=kept")
        assert shell.run(["sh", "-c", 'echo "$PWD $MARK"']).stdout.strip().endswith("notes kept")


def test_stop_resume_and_delete(provider: sync.LocalProvider) -> None:
    ws = provider.create(contract())
    ws.start()
    ws.wait_ready(timeout=60)
    ws.write_file("kept.txt", "still here")
    ws.stop()
    assert ws.status().phase == "stopped"
    ws.resume()
    ws.wait_ready(timeout=60)
    assert ws.read_file("kept.txt") == b"still here"
    same = provider.get(ws.id)
    assert same.id == ws.id and same.async_workspace.id == ws.id
    ws.delete()
    with pytest.raises(NotFound):
        provider.get(ws.id)


def test_run_task_blocks_until_the_task_is_done(
    provider: sync.LocalProvider, server: FakeModelServer, tmp_path: Path
) -> None:
    server.enqueue(write_answer("c1", 42))
    server.enqueue(call("c2", "run_tests"))
    server.enqueue(call("c3", "finish"))
    events = Recorder()

    result = sync.run_task(
        provider,
        OpenAICompatible(server.base_url, model="fake-model"),
        task(),
        evidence_dir=tmp_path,
        run_id="sync",
        on_event=events,
    )

    assert result.success, result
    assert (result.turns, result.test_runs) == (3, 1)
    assert run_record(tmp_path / "sync")["outcome"] == {"status": "succeeded"}
    assert events.kinds()[0] == "provisioning" and events.kinds()[-1] == "cleaned_up"
    assert threading.get_ident() not in events.threads
    assert provider.list() == []


def test_a_task_runner_suspends_resumes_and_deletes(
    provider: sync.LocalProvider, server: FakeModelServer, tmp_path: Path
) -> None:
    server.enqueue(write_answer("c1", 42))
    server.enqueue(call("c2", "finish"))
    seen: list[str] = []

    def on_event(event: TaskEvent) -> None:
        seen.append(event.kind)

    runner = sync.TaskRunner(
        provider, OpenAICompatible(server.base_url, model="fake-model"), on_event=on_event
    )
    result = runner.run(task(cleanup="stop"), evidence_dir=tmp_path)
    assert result.success and result.workspace is not None, result
    assert provider.get(result.workspace).status().phase == "stopped"
    assert runner.resume(result.workspace, timeout=60) == "running"
    runner.suspend(result.workspace)
    assert provider.get(result.workspace).status().phase == "stopped"
    runner.delete(result.workspace)
    runner.wait_for_cleanups()
    with pytest.raises(NotFound):
        provider.get(result.workspace)
    assert seen[-1] == "cleaned_up"
    assert isinstance(runner.async_runner, agentbox.TaskRunner)


def test_calls_from_several_threads_share_the_loop(provider: sync.LocalProvider) -> None:
    errors: list[BaseException] = []
    names = [f"py-sync-{n}" for n in range(3)]

    def make(name: str) -> None:
        try:
            provider.create(contract(), name=name).delete()
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=make, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert provider.list() == []
