"""Workspace checks shared by the local, Che and Coder tests, written against the public API
only (this module holds no tests of its own; test_local.py, test_che.py and test_coder.py call
it with their provider)."""

from __future__ import annotations

import hashlib

import pytest

from agentbox import (
    Contract,
    InvalidState,
    NotFound,
    PathEscapes,
    PermissionDenied,
    Provider,
    SessionClosed,
    Workspace,
)

#: How long a workspace may take to become ready.
READY_TIMEOUT = 60.0
#: Where every test workspace's storage is mounted (the fake coderd is started with it too).
MOUNT = "/projects"
#: The test contract's workdir.
WORKDIR = f"{MOUNT}/app"

CONTRACT_YAML = f"""\
apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata:
  name: python-bindings
spec:
  image: docker.io/library/debian:12
  workdir: {WORKDIR}
  storage: {{ type: per-workspace, size: 1Gi, mountPath: {MOUNT} }}
  env:
    GREETING: hello from the contract
  network:
    egress: {{ default: deny }}
"""


def contract() -> Contract:
    """The test contract."""
    return Contract.from_yaml(CONTRACT_YAML)


async def running(provider: Provider, name: str) -> Workspace:
    """Create workspace ``name``, start it and wait until it is ready."""
    ws = await provider.create(contract(), name=name, labels={"suite": "python"})
    assert ws.name == name
    assert ws.backend == provider.backend
    await ws.start()
    ready = await ws.wait_ready(timeout=READY_TIMEOUT)
    assert ready.phase == "running"
    assert ready.id == ws.id
    assert ready.labels["suite"] == "python"
    return ws


async def check_exec(ws: Workspace) -> None:
    """argv is passed literally; env, cwd and stdin apply; exit codes come back."""
    tricky = ["a b", "it's", '"dq"', "$HOME", "a;b", "*", "$(id)", "line\nbreak"]
    out = await ws.exec(["printf", "%s\\0", *tricky])
    assert out.exit_code == 0 and out.ok
    assert out.stdout_bytes.split(b"\0")[:-1] == [t.encode() for t in tricky]

    out = await ws.exec(["pwd"])
    assert out.stdout.strip() == WORKDIR
    assert (await ws.exec(["mkdir", "-p", "sub/dir"])).ok
    out = await ws.exec(["pwd"], cwd="sub/dir")
    assert out.stdout.strip() == f"{WORKDIR}/sub/dir"

    out = await ws.exec(
        ["sh", "-c", 'printf "%s|%s" "$GREETING" "$EXTRA"'], env={"EXTRA": "x y"}
    )
    assert out.stdout == "hello from the contract|x y"

    binary = bytes(range(256)) * 64
    out = await ws.exec(["cat"], stdin=binary)
    assert out.stdout_bytes == binary
    out = await ws.exec(["cat"], stdin="héllo")
    assert out.stdout_bytes == "héllo".encode()

    out = await ws.exec(["sh", "-c", "echo oops >&2; exit 3"])
    assert out.exit_code == 3
    assert not out.ok and not out.timed_out and out.signal is None
    assert "oops" in out.stdout + out.stderr
    assert out.duration >= 0.0


async def check_stream(ws: Workspace) -> None:
    """exec_stream yields output as it comes and reports the exit code at the end."""
    stream = ws.exec_stream(["sh", "-c", "printf one; printf two >&2; exit 4"])
    assert not stream.finished and stream.exit_code is None
    received: dict[str, bytes] = {}
    async for chunk in stream:
        assert chunk.stream in ("stdout", "stderr", "combined")
        received[chunk.stream] = received.get(chunk.stream, b"") + chunk.data
    assert stream.finished
    assert stream.exit_code == 4
    assert not stream.timed_out
    if ws.backend == "coder":
        assert set(received) == {"combined"}
        assert received["combined"] in (b"onetwo", b"twoone")
    else:
        assert received == {"stdout": b"one", "stderr": b"two"}


async def check_files(ws: Workspace) -> None:
    """Files round-trip as bytes, are shared with commands and cannot leave the workspace."""
    data = bytes(range(256)) * 1024
    written = await ws.write_file("data/blob.bin", data)
    assert written.path == f"{WORKDIR}/data/blob.bin"
    assert written.size == len(data)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert await ws.read_file("data/blob.bin") == data
    assert await ws.read_file(f"{WORKDIR}/data/blob.bin") == data
    assert (await ws.exec(["cat", "data/blob.bin"])).stdout_bytes == data

    await ws.write_file("note.txt", "héllo\n")
    assert await ws.read_file("note.txt") == "héllo\n".encode()

    for escaping in ("../../../etc/passwd", "/etc/passwd", "a/../../../../etc/hosts"):
        with pytest.raises(PathEscapes) as refused:
            await ws.write_file(escaping, b"x")
        assert isinstance(refused.value, PermissionDenied)
        assert refused.value.workspace == ws.id
        with pytest.raises(PathEscapes):
            await ws.read_file(escaping)


async def check_session(ws: Workspace) -> None:
    """A session keeps its directory and variables between commands, and closes on exit."""
    async with ws.session() as session:
        made = await session.run(f"mkdir -p {MOUNT}/kept && cd {MOUNT}/kept")
        assert made.exit_code == 0
        assert (await session.run(["pwd"])).stdout.strip() == f"{MOUNT}/kept"
        assert (await session.run("export SESSION_VALUE='a b'")).ok
        shown = await session.run(["sh", "-c", 'printf "%s" "$SESSION_VALUE"'])
        assert shown.stdout == "a b"
        # An argv is quoted: the session's shell does not expand it.
        assert (await session.run(["echo", "$SESSION_VALUE"])).stdout.strip() == "$SESSION_VALUE"
        failed = await session.run("false")
        assert failed.exit_code == 1
    with pytest.raises(SessionClosed):
        await session.run(["true"])


async def check_stop_resume_delete(provider: Provider, ws: Workspace) -> None:
    """stop keeps files (where the backend can), resume brings the workspace back, a stopped
    workspace refuses commands, and after delete the workspace is gone."""
    await ws.write_file("kept.txt", b"still here")
    await ws.stop()
    assert (await ws.status()).phase == "stopped"
    with pytest.raises((InvalidState, NotFound)):
        await ws.exec(["true"])
    await ws.resume()
    assert (await ws.wait_ready(timeout=READY_TIMEOUT)).phase == "running"
    if provider.capabilities.suspend_keeps_storage:
        assert await ws.read_file("kept.txt") == b"still here"
    assert (await ws.exec(["true"])).ok

    listed = await provider.list(labels={"suite": "python"})
    assert ws.id in [info.id for info in listed]
    again = await provider.get(ws.id)
    assert (again.id, again.name) == (ws.id, ws.name)

    await ws.delete()
    with pytest.raises(NotFound) as gone:
        await ws.status()
    assert gone.value.backend == provider.backend
    with pytest.raises(NotFound):
        await provider.get(ws.id)
    assert ws.id not in [info.id for info in await provider.list(labels={"suite": "python"})]
    # Deleting what is already gone succeeds.
    await ws.delete()
