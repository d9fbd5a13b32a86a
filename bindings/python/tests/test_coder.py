"""The Coder provider through the Python API, against the test kit's fake coderd (its
workspaces are bubblewrap sandboxes; commands run over the agent's PTY)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agentbox import CoderProvider, PermissionDenied
from agentbox.testkit import FakeCoderd
from workspace_checks import (
    MOUNT,
    check_exec,
    check_files,
    check_session,
    check_stop_resume_delete,
    check_stream,
    contract,
    running,
)


@pytest.fixture
async def coderd() -> AsyncIterator[FakeCoderd]:
    """A fake coderd whose workspaces keep their files where the test contract mounts storage."""
    async with FakeCoderd(mount_path=MOUNT) as coderd:
        yield coderd


@pytest.fixture
def provider(coderd: FakeCoderd) -> CoderProvider:
    """A Coder provider for the fake's template."""
    return CoderProvider(coderd.url, coderd.token, template=coderd.template)


def test_the_server_and_provider_describe_themselves(
    coderd: FakeCoderd, provider: CoderProvider
) -> None:
    assert coderd.url.startswith("http://127.0.0.1:")
    assert coderd.mount_path == MOUNT
    assert coderd.template == "agentbox"
    assert coderd.organization == "coder"
    assert coderd.token not in repr(coderd)
    assert "token=<redacted>" in repr(coderd)
    assert provider.backend == "coder"
    assert (provider.url, provider.template, provider.organization) == (
        coderd.url,
        "agentbox",
        None,
    )
    assert coderd.token not in repr(provider)
    assert "token=<redacted>" in repr(provider)
    assert not provider.capabilities.separate_streams


async def test_a_workspace_lives_from_create_to_delete(provider: CoderProvider) -> None:
    ws = await running(provider, "py-coder-life")
    await check_exec(ws)
    out = await ws.exec(["sh", "-c", "echo out; echo err >&2"])
    assert out.streams == "combined"
    assert out.stderr == "" and sorted(out.stdout.split()) == ["err", "out"]
    await check_files(ws)
    if provider.capabilities.persistent_session:
        await check_session(ws)
    await check_stop_resume_delete(provider, ws)


async def test_exec_stream(provider: CoderProvider) -> None:
    ws = await running(provider, "py-coder-stream")
    try:
        await check_stream(ws)
    finally:
        await ws.delete()


async def test_the_organization_is_used(coderd: FakeCoderd) -> None:
    provider = CoderProvider(
        coderd.url, coderd.token, organization=coderd.organization, template=coderd.template
    )
    assert provider.organization == coderd.organization
    ws = await provider.create(contract(), name="py-coder-org")
    assert (await ws.status()).name == "py-coder-org"
    await ws.delete()


async def test_a_wrong_token_is_denied(coderd: FakeCoderd) -> None:
    planted = "zzzzzzzzzz-wrongwrongwrongwrongwr"
    provider = CoderProvider(coderd.url, planted, template=coderd.template)
    assert planted not in repr(provider)
    with pytest.raises(PermissionDenied) as denied:
        await provider.create(contract(), name="py-coder-denied")
    assert denied.value.backend == "coder"
    assert planted not in str(denied.value)
    assert all(planted not in line for line in denied.value.chain)
    with pytest.raises(PermissionDenied):
        await provider.list()


async def test_a_token_of_the_users_choice_is_accepted() -> None:
    token = "abcdefghij-0123456789abcdefghijkl"
    async with FakeCoderd(mount_path=MOUNT, token=token) as coderd:
        assert coderd.token == token
        provider = CoderProvider(coderd.url, token, template=coderd.template)
        assert await provider.list() == []
