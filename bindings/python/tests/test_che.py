"""The Che provider through the Python API, against the test kit's fake cluster (API server,
simulated DevWorkspace Operator, a node of bubblewrap sandboxes) reached through a kubeconfig."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from agentbox import BackendError, CheProvider, Contract, WorkspaceFailed
from agentbox.testkit import FakeCluster
from workspace_checks import (
    CONTRACT_YAML,
    READY_TIMEOUT,
    check_exec,
    check_files,
    check_session,
    check_stop_resume_delete,
    check_stream,
    running,
)

NAMESPACE = "che-user"
BAD_IMAGE = "registry.example/missing/tools:1"


@pytest.fixture
async def cluster() -> AsyncIterator[FakeCluster]:
    """A fake cluster with the test namespace, where pulling ``BAD_IMAGE`` fails."""
    async with FakeCluster(namespace=NAMESPACE, fail_image=BAD_IMAGE) as cluster:
        yield cluster


@pytest.fixture
def provider(cluster: FakeCluster) -> CheProvider:
    """A Che provider reaching the fake cluster through its kubeconfig file."""
    return CheProvider(NAMESPACE, kubeconfig=cluster.kubeconfig)


def test_the_cluster_and_provider_describe_themselves(
    cluster: FakeCluster, provider: CheProvider
) -> None:
    assert os.path.isfile(cluster.kubeconfig)
    assert cluster.namespace == NAMESPACE
    assert cluster.url.startswith("http://127.0.0.1:")
    assert cluster.context
    assert repr(cluster) == (
        f"FakeCluster(url={cluster.url!r}, namespace='{NAMESPACE}', running)"
    )
    assert provider.backend == "che"
    assert provider.namespace == NAMESPACE
    assert repr(provider) == (
        f"CheProvider(namespace='{NAMESPACE}', kubeconfig={cluster.kubeconfig!r}, context=None)"
    )
    caps = provider.capabilities
    assert caps.separate_streams and caps.watch and caps.suspend_keeps_storage


async def test_a_workspace_lives_from_create_to_delete(provider: CheProvider) -> None:
    ws = await running(provider, "py-che-life")
    await check_exec(ws)
    await check_files(ws)
    if provider.capabilities.persistent_session:
        await check_session(ws)
    await check_stop_resume_delete(provider, ws)


async def test_exec_stream(provider: CheProvider) -> None:
    ws = await running(provider, "py-che-stream")
    try:
        await check_stream(ws)
    finally:
        await ws.delete()


async def test_a_failed_start_raises_with_the_operators_message(provider: CheProvider) -> None:
    bad = Contract.from_yaml(CONTRACT_YAML.replace("docker.io/library/debian:12", BAD_IMAGE))
    ws = await provider.create(bad, name="py-che-bad")
    await ws.start()
    with pytest.raises(WorkspaceFailed) as failed:
        await ws.wait_ready(timeout=READY_TIMEOUT)
    assert failed.value.backend == "che"
    assert failed.value.workspace == ws.id
    assert (await ws.status()).phase == "failed"
    await ws.delete()


async def test_a_named_context_is_used(cluster: FakeCluster) -> None:
    provider = CheProvider(NAMESPACE, kubeconfig=cluster.kubeconfig, context=cluster.context)
    assert await provider.list() == []
    assert f"context={cluster.context!r}" in repr(provider)


def test_an_unknown_context_is_refused(cluster: FakeCluster) -> None:
    with pytest.raises(BackendError) as refused:
        CheProvider(NAMESPACE, kubeconfig=cluster.kubeconfig, context="nowhere")
    assert refused.value.backend == "che"
    assert "nowhere" in str(refused.value)


def test_a_missing_kubeconfig_is_refused(tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "no-kubeconfig")
    with pytest.raises(BackendError) as refused:
        CheProvider(NAMESPACE, kubeconfig=missing)
    assert missing in str(refused.value)


async def test_closing_removes_the_kubeconfig() -> None:
    cluster = FakeCluster()
    assert cluster.namespace == "default"
    await cluster.close()
    assert not os.path.exists(cluster.kubeconfig)
    assert repr(cluster).endswith("closed)")
    await cluster.close()
