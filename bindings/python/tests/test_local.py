"""The local provider through the Python API: lifecycle, exec, streams, files, sessions."""

from __future__ import annotations

import datetime
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import agentbox
from agentbox import (
    Error,
    LocalProvider,
    NotFound,
    Project,
    SessionClosed,
    Workspace,
)
from workspace_checks import (
    check_exec,
    check_files,
    check_session,
    check_stop_resume_delete,
    check_stream,
    contract,
    running,
)


@pytest.fixture
def provider(local_root: Path) -> LocalProvider:
    """A local provider keeping its workspaces under a fresh directory."""
    return LocalProvider(root=local_root)


@pytest.fixture
async def ws(provider: LocalProvider) -> AsyncIterator[Workspace]:
    """A running local workspace, deleted afterwards."""
    workspace = await running(provider, "py-local")
    yield workspace
    await workspace.delete()


def test_the_provider_describes_itself(provider: LocalProvider, local_root: Path) -> None:
    assert provider.backend == "local"
    assert provider.root == str(local_root.resolve())
    caps = provider.capabilities
    assert caps.separate_streams and caps.persistent_session and caps.isolated
    assert caps.suspend_keeps_storage
    assert repr(provider) == f"LocalProvider(root={str(local_root.resolve())!r}, isolation='auto')"
    assert isinstance(provider, agentbox.Provider)
    assert isinstance(provider.limitations(contract()), list)


def test_bad_options_are_refused(local_root: Path) -> None:
    with pytest.raises(ValueError, match="isolation"):
        LocalProvider(root=local_root, isolation="chroot")  # type: ignore[arg-type]
    with pytest.raises(agentbox.Refused):
        LocalProvider(root=local_root, isolation="none", binds={str(local_root): "/cache"})


async def test_create_start_and_wait(provider: LocalProvider) -> None:
    before = datetime.datetime.now(datetime.timezone.utc)
    ws = await provider.create(contract(), name="py-created", labels={"team": "a"})
    info = await ws.status()
    assert (info.id, info.name, info.backend) == (ws.id, "py-created", "local")
    assert info.phase == "pending"
    assert info.labels["team"] == "a"
    assert info.labels["app.kubernetes.io/managed-by"] == "agentbox"
    assert len(info.contract_hash) >= 32
    assert info.created_at.tzinfo is not None
    assert abs((info.created_at - before).total_seconds()) < 3600
    assert repr(ws) == f"Workspace(id={ws.id!r}, name='py-created', backend='local')"

    with pytest.raises(agentbox.AlreadyExists):
        await provider.create(contract(), name="py-created")

    await ws.start()
    ready = await ws.wait_ready(timeout=30)
    assert ready.phase == "running"
    assert [i.id for i in await provider.list(labels={"team": "a"})] == [ws.id]
    assert await provider.list(labels={"team": "b"}) == []
    await ws.delete()


async def test_exec(ws: Workspace) -> None:
    await check_exec(ws)


async def test_argv_must_be_a_list(ws: Workspace) -> None:
    # A str is a sequence of str to a type checker, but never an argv.
    with pytest.raises(TypeError):
        await ws.exec("echo hello")
    with pytest.raises(TypeError):
        ws.exec_stream("echo hello")


async def test_stderr_is_separate(ws: Workspace) -> None:
    out = await ws.exec(["sh", "-c", "echo out; echo err >&2; exit 2"])
    assert (out.stdout, out.stderr, out.exit_code) == ("out\n", "err\n", 2)
    assert out.streams == "separate"
    assert not out.truncated


async def test_timeout_kills_the_command(ws: Workspace) -> None:
    out = await ws.exec(["sh", "-c", "echo started; sleep 30"], timeout=0.5)
    assert out.timed_out
    assert out.exit_code is None and not out.ok
    assert out.stdout == "started\n"
    assert "timed_out=True" in repr(out)
    with pytest.raises(ValueError, match="timeout"):
        await ws.exec(["true"], timeout=-1)


async def test_output_beyond_the_limit_is_cut(ws: Workspace) -> None:
    out = await ws.exec(["head", "-c", "1000", "/dev/zero"], output_limit=100)
    assert out.stdout_bytes == b"\0" * 100
    assert out.truncated
    assert out.exit_code == 0


async def test_secret_env_reaches_the_command(ws: Workspace) -> None:
    out = await ws.exec(["sh", "-c", 'printf "%s" "$TOKEN"'], secret_env={"TOKEN": "s3cret"})
    assert out.stdout == "s3cret"


async def test_exec_stream(ws: Workspace) -> None:
    await check_stream(ws)


async def test_closing_a_stream_ends_it(ws: Workspace) -> None:
    stream = ws.exec_stream(["sh", "-c", "echo started; sleep 30"])
    assert repr(stream).endswith("not started)")
    first = await stream.__anext__()
    assert repr(stream).endswith("running)")
    assert first.stream == "stdout" and first.data == b"started\n"
    await stream.aclose()
    assert [chunk async for chunk in stream] == []
    assert not stream.finished and stream.exit_code is None
    assert repr(stream).endswith("closed)")


async def test_a_stream_of_a_missing_workspace_fails_on_first_read(
    provider: LocalProvider,
) -> None:
    ws = await provider.create(contract(), name="py-gone")
    await ws.delete()
    stream = ws.exec_stream(["true"])
    with pytest.raises(NotFound):
        await stream.__anext__()
    assert [chunk async for chunk in stream] == []


async def test_files(ws: Workspace) -> None:
    await check_files(ws)


async def test_session(ws: Workspace) -> None:
    await check_session(ws)


async def test_a_session_timeout_kills_the_shell(ws: Workspace) -> None:
    session = ws.session()
    assert "unopened" in repr(session)
    first = await session.run("export KEEP=1")
    assert first.ok
    slow = await session.run(["sleep", "30"], timeout=0.5)
    assert slow.timed_out
    with pytest.raises(SessionClosed) as closed:
        await session.run(["true"])
    assert closed.value.workspace == ws.id
    await session.close()
    await session.close()
    assert "closed" in repr(session)


async def test_stop_resume_delete(provider: LocalProvider) -> None:
    ws = await running(provider, "py-lifecycle")
    await check_stop_resume_delete(provider, ws)


async def test_errors_name_the_backend_and_workspace(provider: LocalProvider) -> None:
    with pytest.raises(NotFound) as missing:
        await provider.get("no-such-workspace")
    err = missing.value
    assert isinstance(err, Error)
    assert err.backend == "local"
    assert err.workspace == "no-such-workspace"
    assert err.chain and "no-such-workspace" in err.chain[0]


def git(*args: str, cwd: Path) -> None:
    """Run git on the host (the local provider clones there too)."""
    subprocess.run(
        ["git", "-c", "user.name=agentbox", "-c", "user.email=agentbox@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
async def test_a_project_is_cloned_at_its_revision(provider: LocalProvider, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=remote)
    (remote / "README").write_text("main\n")
    git("add", "README", cwd=remote)
    git("commit", "--quiet", "-m", "main", cwd=remote)
    git("checkout", "--quiet", "-b", "feature", cwd=remote)
    (remote / "README").write_text("feature\n")
    git("commit", "--quiet", "-am", "feature", cwd=remote)

    project = Project(str(remote), revision="feature")
    assert repr(project) == f"Project(url={str(remote)!r}, revision='feature')"
    ws = await provider.create(contract(), name="py-project", project=project)
    try:
        await ws.start()
        await ws.wait_ready(timeout=30)
        assert await ws.read_file("README") == b"feature\n"
    finally:
        await ws.delete()
