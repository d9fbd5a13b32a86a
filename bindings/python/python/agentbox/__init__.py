"""agentbox: run autonomous AI coding agents in disposable, policy-bound developer workspaces.

Everything here is async-first (``await provider.create(...)``); :mod:`agentbox.sync` offers the
same operations as blocking calls for scripts. The implementation is the Rust library of the same
name, reached through the native module ``agentbox._agentbox`` on one shared tokio runtime.

Example::

    import asyncio
    import agentbox

    async def main() -> None:
        contract = agentbox.Contract.load("agentbox.yaml")
        provider = agentbox.LocalProvider(root="/tmp/agentbox-workspaces")
        ws = await provider.create(contract, name="demo")
        await ws.start()
        await ws.wait_ready(timeout=60)
        print((await ws.exec(["echo", "hello"])).stdout)
        await ws.delete()

    asyncio.run(main())
"""

from agentbox._agentbox import __version__ as __version__

# --- errors (section owned by the skeleton) ---
from agentbox._agentbox import (
    AlreadyExists as AlreadyExists,
    BackendError as BackendError,
    ContractError as ContractError,
    Error as Error,
    EvidenceError as EvidenceError,
    FileError as FileError,
    ImportFailed as ImportFailed,
    InvalidState as InvalidState,
    ModelError as ModelError,
    NotFound as NotFound,
    PathEscapes as PathEscapes,
    PermissionDenied as PermissionDenied,
    Problem as Problem,
    Refused as Refused,
    SecretMissing as SecretMissing,
    SessionClosed as SessionClosed,
    Timeout as Timeout,
    Unenforceable as Unenforceable,
    Unsupported as Unsupported,
    WorkspaceFailed as WorkspaceFailed,
)

# --- contract (section owned by the contract helper) ---
from agentbox._agentbox import (
    Contract as Contract,
    Drift as Drift,
    Enforceability as Enforceability,
    FieldCoverage as FieldCoverage,
    Imported as Imported,
    Unmapped as Unmapped,
)

# --- providers and workspaces (section owned by the workspace helper) ---
from agentbox._agentbox import (
    Capabilities as Capabilities,
    CheProvider as CheProvider,
    CoderProvider as CoderProvider,
    ExecChunk as ExecChunk,
    ExecResult as ExecResult,
    ExecStream as ExecStream,
    FileWritten as FileWritten,
    LocalProvider as LocalProvider,
    Project as Project,
    Provider as Provider,
    Session as Session,
    Workspace as Workspace,
    WorkspaceInfo as WorkspaceInfo,
)

# --- models and tasks (section owned by the task helper) ---
from agentbox._agentbox import (
    AgentCli as AgentCli,
    Copilot as Copilot,
    GhCliForge as GhCliForge,
    Limits as Limits,
    Model as Model,
    OpenAICompatible as OpenAICompatible,
    ScriptedModel as ScriptedModel,
    Task as Task,
    TaskEvent as TaskEvent,
    TaskRepo as TaskRepo,
    TaskResult as TaskResult,
    TaskRunner as TaskRunner,
    run_task as run_task,
)

__all__ = [
    "__version__",
    # errors
    "AlreadyExists",
    "BackendError",
    "ContractError",
    "Error",
    "EvidenceError",
    "FileError",
    "ImportFailed",
    "InvalidState",
    "ModelError",
    "NotFound",
    "PathEscapes",
    "PermissionDenied",
    "Problem",
    "Refused",
    "SecretMissing",
    "SessionClosed",
    "Timeout",
    "Unenforceable",
    "Unsupported",
    "WorkspaceFailed",
    # contract
    "Contract",
    "Drift",
    "Enforceability",
    "FieldCoverage",
    "Imported",
    "Unmapped",
    # providers and workspaces
    "Capabilities",
    "CheProvider",
    "CoderProvider",
    "ExecChunk",
    "ExecResult",
    "ExecStream",
    "FileWritten",
    "LocalProvider",
    "Project",
    "Provider",
    "Session",
    "Workspace",
    "WorkspaceInfo",
    # models and tasks
    "AgentCli",
    "Copilot",
    "GhCliForge",
    "Limits",
    "Model",
    "OpenAICompatible",
    "ScriptedModel",
    "Task",
    "TaskEvent",
    "TaskRepo",
    "TaskResult",
    "TaskRunner",
    "run_task",
]
