"""Fake servers from the agentbox test kit, for testing orchestrators without real backends.

They are protocol-faithful servers on loopback, started on agentbox's shared runtime:

- :class:`FakeCluster`: a Kubernetes API server with the DevWorkspace CRDs, one node whose
  containers are local bubblewrap sandboxes, and a simulated DevWorkspace Operator; point a
  :class:`agentbox.CheProvider` at it with ``kubeconfig=cluster.kubeconfig``.
- :class:`FakeCoderd`: Coder's REST API with one user, organization and template, whose
  workspaces are local bubblewrap sandboxes; point a :class:`agentbox.CoderProvider` at it with
  ``url=coderd.url, token=coderd.token, template=coderd.template``.
- :class:`FakeModelServer`: an OpenAI-compatible chat-completions server (and Copilot's token
  exchange) that answers with the :class:`ModelReply` items it is given and records every
  :class:`ModelRequest`; point :class:`agentbox.OpenAICompatible` or :class:`agentbox.Copilot`
  at it.

Example::

    from agentbox import CheProvider
    from agentbox.testkit import FakeCluster

    async with FakeCluster(namespace="che-user") as cluster:
        provider = CheProvider("che-user", kubeconfig=cluster.kubeconfig)
        ...

Only available when the native module was built with the ``testkit`` feature.
"""

try:
    from agentbox._agentbox import FakeCluster as FakeCluster
    from agentbox._agentbox import FakeCoderd as FakeCoderd
    from agentbox._agentbox import FakeModelServer as FakeModelServer
    from agentbox._agentbox import ModelReply as ModelReply
    from agentbox._agentbox import ModelRequest as ModelRequest
except ImportError as missing:
    raise ImportError(
        "agentbox.testkit needs the native module built with the `testkit` feature: "
        "maturin develop --features testkit --manifest-path bindings/python/Cargo.toml"
    ) from missing

__all__ = [
    "FakeCluster",
    "FakeCoderd",
    "FakeModelServer",
    "ModelReply",
    "ModelRequest",
]
