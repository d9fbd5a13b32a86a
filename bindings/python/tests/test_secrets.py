"""Planted tokens never show: not in any ``repr``/``str`` (nor any attribute) of any object,
not in exception messages, chains or formatted tracebacks, and not in any evidence file —
even when the model echoes them back and a command in the workspace prints them."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentbox import (
    CoderProvider,
    Copilot,
    Error,
    GhCliForge,
    LocalProvider,
    Model,
    ModelError,
    OpenAICompatible,
    PermissionDenied,
    Task,
    TaskRepo,
    TaskRunner,
    run_task,
)
from agentbox.testkit import FakeCoderd, FakeModelServer, ModelReply
from task_support import (
    DESCRIPTION,
    Recorder,
    call,
    contract,
    evidence_events,
    files_holding,
    task,
    write_answer,
)

API_KEY = "sk-PLANTED-api-key-0123456789abcdef"
GITHUB_TOKEN = "ghp_PLANTEDgithubtoken0123456789abcdef"
CODER_TOKEN = "PLANTED-coder-session-0123456789abcdef"
REPO_TOKEN = "ghp_PLANTEDrepotoken0123456789abcdef"
FORGE_TOKEN = "ghp_PLANTEDforgetoken0123456789abcdef"
HEADER_SECRET = "PLANTED-azure-api-key-0123456789abcdef"
PLANTED = (API_KEY, GITHUB_TOKEN, CODER_TOKEN, REPO_TOKEN, FORGE_TOKEN, HEADER_SECRET)


def shown(obj: object) -> str:
    """Everything an object shows: its repr, its str, and the repr of every public attribute
    that is not a method."""
    parts = [repr(obj), str(obj)]
    for name in dir(obj):
        if name.startswith("_"):
            continue
        value = getattr(obj, name)
        if not callable(value):
            parts.append(f"{name}={value!r}")
    return "\n".join(parts)


def assert_hidden(text: str) -> None:
    for token in PLANTED:
        assert token not in text, f"{token} is shown in:\n{text}"


def formatted(error: BaseException) -> str:
    """The exception as a traceback prints it, with its causes, plus its `chain`."""
    text = "".join(traceback.format_exception(error))
    chain = getattr(error, "chain", [])
    return text + "\n" + "\n".join(chain) + "\n" + repr(error.args)


async def raised_by(call: Callable[[], Awaitable[Any]]) -> BaseException:
    with pytest.raises(Error) as raised:
        await call()
    return raised.value


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer(api_key=API_KEY) as fake:
        yield fake


def test_no_repr_str_or_attribute_shows_a_token(tmp_path: Path) -> None:
    model = OpenAICompatible(
        "http://127.0.0.1:1/v1",
        API_KEY,
        model="gpt-4o-mini",
        secret_headers={"api-key": HEADER_SECRET},
    )
    copilot = Copilot(GITHUB_TOKEN)
    coder = CoderProvider("http://127.0.0.1:1", CODER_TOKEN, template="docker")
    repo = TaskRepo(
        "https://example.invalid/acme/app.git",
        branch="fix",
        author_name="A",
        author_email="a@example.invalid",
        token=REPO_TOKEN,
    )
    forge = GhCliForge(FORGE_TOKEN)
    local = LocalProvider(root=tmp_path)
    objects: list[object] = [
        model,
        copilot,
        coder,
        repo,
        forge,
        Task(DESCRIPTION, contract(), repo=repo),
        TaskRunner(local, model, forge=forge),
        TaskRunner(coder, copilot),
    ]
    for obj in objects:
        assert_hidden(shown(obj))
    assert repr(model) == (
        "OpenAICompatible(base_url='http://127.0.0.1:1/v1', model='gpt-4o-mini', "
        "api_key=<redacted>)"
    )
    assert "github_token=<redacted>" in repr(copilot)
    assert "token=<redacted>" in repr(repo) and repo.has_token
    assert "token=<redacted>" in repr(forge)


async def test_model_errors_never_show_the_key_or_token() -> None:
    # A server that wants other credentials: 401 for the API key, a refused token exchange
    # for the GitHub token.
    with FakeModelServer(api_key="sk-the-right-key", copilot_oauth_token="gho_the_right_one") as s:
        openai = OpenAICompatible(s.base_url, API_KEY, model="m", max_retries=0)
        error = await raised_by(lambda: openai.chat([{"role": "user", "content": "hi"}]))
        assert isinstance(error, ModelError) and "401" in str(error)
        assert_hidden(formatted(error))

        copilot = Copilot(GITHUB_TOKEN, token_url=s.token_url, max_retries=0)
        error = await raised_by(lambda: copilot.chat([{"role": "user", "content": "hi"}]))
        assert isinstance(error, ModelError) and "token exchange" in str(error)
        assert_hidden(formatted(error))

    # Credentials in the base URL are refused without being repeated.
    with pytest.raises(ModelError) as refused:
        OpenAICompatible(f"https://user:{API_KEY}@example.invalid/v1", model="m")
    assert_hidden(formatted(refused.value))


async def test_a_rejected_coder_token_is_not_in_the_error(tmp_path: Path) -> None:
    async with FakeCoderd(token="the-right-coder-token") as coderd:
        provider = CoderProvider(coderd.url, CODER_TOKEN, template=coderd.template)
        error = await raised_by(lambda: provider.create(contract(), name="secret-test"))
        assert isinstance(error, PermissionDenied), formatted(error)
        assert_hidden(formatted(error))


async def test_a_failing_clone_does_not_show_the_repository_token(
    local_root: Path, server: FakeModelServer, tmp_path: Path
) -> None:
    model = OpenAICompatible(server.base_url, API_KEY, model="fake-model")
    repo = TaskRepo(
        "https://127.0.0.1:1/acme/app.git",
        branch="fix",
        author_name="A",
        author_email="a@example.invalid",
        token=REPO_TOKEN,
    )
    events = Recorder()

    result = await run_task(
        LocalProvider(root=local_root),
        model,
        Task(DESCRIPTION, contract(), repo=repo),
        evidence_dir=tmp_path,
        on_event=events,
    )

    assert result.outcome == "failed" and result.reason is not None, result
    assert "cloning https://127.0.0.1:1/acme/app.git" in result.reason, result.reason
    assert_hidden(shown(result))
    for event in events.events:
        assert_hidden(shown(event))
    assert files_holding(tmp_path, REPO_TOKEN) == []


@pytest.mark.parametrize("kind", ["openai", "copilot"])
async def test_the_evidence_never_holds_a_token_the_model_echoes_or_a_command_prints(
    kind: str, local_root: Path, tmp_path: Path
) -> None:
    fake = (
        FakeModelServer(api_key=API_KEY)
        if kind == "openai"
        else FakeModelServer(copilot_oauth_token=GITHUB_TOKEN)
    )
    with fake as server:
        model: Model = (
            OpenAICompatible(server.base_url, API_KEY, model="fake-model")
            if kind == "openai"
            else Copilot(GITHUB_TOKEN, "fake-model", token_url=server.token_url)
        )
        token = API_KEY if kind == "openai" else GITHUB_TOKEN
        # The model echoes the token in its text, writes it into a file and runs a command
        # that prints it (and the forge's) on stdout and stderr; then it fixes the answer.
        server.enqueue(
            ModelReply.tool_call(
                "c1", "write_file", {"path": "notes.txt", "content": f"key={token}\n"}
            ).with_text(f"I was given {token}.")
        )
        script = f"echo {token}; echo {FORGE_TOKEN} >&2; cat notes.txt"
        server.enqueue(call("c2", "run_command", {"argv": ["sh", "-c", script]}))
        server.enqueue(write_answer("c3", 42))
        server.enqueue(call("c4", "run_tests"))
        server.enqueue(call("c5", "finish", {"summary": f"done with {token}"}))
        events = Recorder()

        result = await run_task(
            LocalProvider(root=local_root),
            model,
            task(),
            evidence_dir=tmp_path / "evidence",
            run_id="planted",
            forge=GhCliForge(FORGE_TOKEN),
            on_event=events,
        )

        assert result.success, result
        # The command ran and printed: what it printed was recorded, redacted.
        (printed,) = [
            e
            for e in evidence_events(result.evidence_dir)
            if e["type"] == "exec_finished" and e["argv"][-1].endswith("cat notes.txt")
        ]
        assert printed["argv"] == [
            "sh",
            "-c",
            "echo [REDACTED]; echo [REDACTED] >&2; cat notes.txt",
        ]
        assert printed["stdout"] == "[REDACTED]\nkey=[REDACTED]\n", printed
        assert printed["stderr"] == "[REDACTED]\n", printed
        for secret in PLANTED:
            assert files_holding(tmp_path / "evidence", secret) == [], secret
        # What the model was sent back was redacted too.
        tool_results = [
            m for r in server.chat_requests() for m in r.body["messages"] if m["role"] == "tool"
        ]
        assert len(tool_results) >= 4
        assert not any(token in str(m.get("content")) for m in tool_results)
        assert_hidden(shown(result))
        for event in events.events:
            assert_hidden(shown(event))
