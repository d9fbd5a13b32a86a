"""Tasks through the Python API, end to end on the local provider: the fake model server (or a
scripted model) drives the agent to make ``answer.sh`` print 42, as the Rust task tests do
(tests/it/task_orchestrator.rs, task_lifecycle.rs, task_git.rs)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentbox
from agentbox import (
    AgentCli,
    Contract,
    GhCliForge,
    Limits,
    LocalProvider,
    ModelError,
    NotFound,
    OpenAICompatible,
    Refused,
    ScriptedModel,
    Task,
    TaskEvent,
    TaskRepo,
    TaskRunner,
    run_task,
)
from agentbox.testkit import FakeModelServer, ModelReply
from task_support import (
    DESCRIPTION,
    Recorder,
    call,
    contract,
    evidence_events,
    git,
    make_remote,
    run_record,
    task,
    write_answer,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    """A fake model server, closed afterwards."""
    with FakeModelServer() as fake:
        yield fake


@pytest.fixture
def model(server: FakeModelServer) -> OpenAICompatible:
    """A client of the fake server."""
    return OpenAICompatible(server.base_url, model="fake-model")


@pytest.fixture
def provider(local_root: Path) -> LocalProvider:
    """A local provider that refuses to run without bubblewrap."""
    return LocalProvider(root=local_root, isolation="bubblewrap")


async def assert_gone(provider: LocalProvider, workspace: str | None) -> None:
    assert workspace is not None
    with pytest.raises(NotFound):
        await provider.get(workspace)


async def test_a_task_that_needs_two_fix_attempts_succeeds_and_deletes_its_workspace(
    server: FakeModelServer, model: OpenAICompatible, provider: LocalProvider, tmp_path: Path
) -> None:
    server.enqueue(write_answer("c1", 40))
    server.enqueue(call("c2", "run_tests"))
    server.enqueue(write_answer("c3", 42))
    server.enqueue(call("c4", "run_tests"))
    server.enqueue(call("c5", "finish", {"summary": "fixed"}))
    events = Recorder()

    result = await run_task(
        provider,
        model,
        task(),
        evidence_dir=tmp_path / "evidence",
        run_id="two-fixes",
        on_event=events,
    )

    assert result.outcome == "succeeded" and result.success, result
    assert result.details == "succeeded"
    assert (result.limit, result.reason) == (None, None)
    assert (result.turns, result.test_runs, result.failed_test_runs) == (5, 2, 1)
    assert result.tokens == 5 * 15
    assert (result.commit, result.pull_request) == (None, None)
    # The model saw the failing run's output, then the passing one.
    chats = server.chat_requests()
    assert len(chats) == 5
    failing = chats[2].body["messages"][-1]["content"]
    assert "tests FAILED" in failing and "expected 42, got 40" in failing, failing
    assert "tests PASSED" in chats[4].body["messages"][-1]["content"]
    assert server.schema_violations() == []
    await assert_gone(provider, result.workspace)

    # The evidence: record, events, JUnit and the report, in the run's directory.
    run_dir = tmp_path / "evidence" / "two-fixes"
    assert result.evidence_dir == run_dir
    assert result.report == run_dir / "index.html"
    assert result.run_id == "two-fixes"
    for name in ("run.json", "events.jsonl", "junit.xml", "index.html"):
        assert (run_dir / name).is_file(), name
    record = run_record(run_dir)
    assert record["outcome"] == {"status": "succeeded"}
    assert record["backend"] == "local"
    assert record["contract_hash"] == contract().hash
    assert record["workspaces"] == [result.workspace]
    junit = (run_dir / "junit.xml").read_text()
    assert junit.count('<testcase name="test (run') == 2, junit
    assert junit.count("<failure") == 1, junit
    recorded = evidence_events(run_dir)
    assert sum(e["type"] == "model_call" for e in recorded) == 5
    written = [e for e in recorded if e["type"] == "file_written"]
    assert sum(e["path"] == "/projects/demo/answer.sh" for e in written) == 3

    # Every step reached on_event, in order, before run_task returned.
    kinds = events.kinds()
    assert kinds[:2] == ["provisioning", "ready"], kinds
    assert kinds[-2:] == ["finished", "cleaned_up"], kinds
    assert kinds.count("model_turn") == 5
    assert [(e["turn"], e["max"]) for e in events.of("model_turn")] == [(n, 30) for n in range(1, 6)]
    assert [e.fields for e in events.of("tests")] == [
        {"passed": False, "run": 1},
        {"passed": True, "run": 2},
    ]
    tools = [(e["tool"], e["allowed"]) for e in events.of("tool_call")]
    assert tools == [
        ("write_file", True),
        ("run_tests", True),
        ("write_file", True),
        ("run_tests", True),
        ("finish", True),
    ]
    (finished,) = events.of("finished")
    assert finished["outcome"] == {"status": "succeeded"}
    (cleaned,) = events.of("cleaned_up")
    assert cleaned.fields == {"workspace": result.workspace, "policy": "delete"}
    assert all(e.run_id == "two-fixes" for e in events.events)
    assert threading.get_ident() not in events.threads
    assert repr(cleaned) == (
        f"TaskEvent(kind='cleaned_up', run_id='two-fixes', workspace={result.workspace!r}, "
        "policy='delete')"
    )
    assert cleaned.get("missing", 7) == 7
    with pytest.raises(KeyError, match="no field 'missing'"):
        cleaned["missing"]


async def test_the_task_stops_when_failing_test_runs_use_up_the_fix_attempts(
    server: FakeModelServer, model: OpenAICompatible, provider: LocalProvider, tmp_path: Path
) -> None:
    server.enqueue(write_answer("c1", 40))
    server.enqueue(call("c2", "run_tests"))

    result = await run_task(
        provider,
        model,
        task(limits=Limits(max_fix_attempts=1)),
        evidence_dir=tmp_path,
        run_id="no-attempts",
    )

    assert (result.outcome, result.limit, result.success) == ("limit_reached", "fix_attempts", False)
    assert result.details == "stopped: the fix-attempt limit was reached"
    assert len(server.chat_requests()) == 2
    await assert_gone(provider, result.workspace)
    assert "fix-attempt limit" in (tmp_path / "no-attempts" / "junit.xml").read_text()


async def test_a_scripted_model_drives_a_task_to_success(
    provider: LocalProvider, tmp_path: Path
) -> None:
    model = ScriptedModel.from_yaml(
        """\
model: answer-fixer
replies:
  - text: The test wants 42.
    tool_calls:
      - name: write_file
        arguments: { path: answer.sh, content: "echo 42\\n" }
      - name: run_tests
  - tool_calls:
      - name: finish
        arguments: { summary: answer.sh prints 42 }
""",
        "inline script",
    )
    assert (model.model, model.remaining) == ("scripted:answer-fixer", 2)
    assert repr(model) == "ScriptedModel(model='scripted:answer-fixer', remaining=2)"

    result = await run_task(provider, model, task(), evidence_dir=tmp_path)

    assert result.success, result
    assert (result.turns, result.test_runs, result.failed_test_runs) == (2, 1, 0)
    assert model.remaining == 0
    assert result.evidence_dir.parent == tmp_path and result.evidence_dir.is_dir()
    calls = [e for e in evidence_events(result.evidence_dir) if e["type"] == "model_call"]
    assert [c["model"] for c in calls] == ["scripted:answer-fixer"] * 2


async def test_an_on_event_callback_that_raises_does_not_stop_the_task(
    server: FakeModelServer, model: OpenAICompatible, provider: LocalProvider, tmp_path: Path
) -> None:
    server.enqueue(write_answer("c1", 42))
    server.enqueue(call("c2", "finish"))
    seen: list[str] = []

    def broken(event: TaskEvent) -> None:
        seen.append(event.kind)
        raise RuntimeError(f"observer bug at {event.kind}")

    result = await run_task(provider, model, task(), evidence_dir=tmp_path, on_event=broken)

    assert result.success, result
    assert seen[0] == "provisioning" and seen[-1] == "cleaned_up", seen
    await assert_gone(provider, result.workspace)


async def test_an_unusable_task_is_refused_before_anything_is_provisioned(
    model: OpenAICompatible, provider: LocalProvider, tmp_path: Path
) -> None:
    untested = Contract.from_yaml(
        "apiVersion: agentbox.dev/v1alpha1\nkind: Environment\n"
        "metadata: { name: untested }\nspec:\n  image: alpine:3.20\n"
    )
    with pytest.raises(Refused, match="no test command") as raised:
        await run_task(
            provider, model, Task(DESCRIPTION, untested), evidence_dir=tmp_path, run_id="refused"
        )
    assert "spec.commands" in str(raised.value)
    assert await provider.list() == []
    assert run_record(tmp_path / "refused")["outcome"]["status"] == "failed"
    with pytest.raises(Refused, match="max_turns is 0"):
        task(limits=Limits(max_turns=0)).validate()


async def test_a_suspended_task_continues_with_review_feedback_in_the_same_workspace(
    server: FakeModelServer, model: OpenAICompatible, provider: LocalProvider, tmp_path: Path
) -> None:
    events = Recorder()
    runner = TaskRunner(provider, model, on_event=events)
    # First pass: the agent fixes answer.sh and finishes; the workspace is suspended.
    server.enqueue(write_answer("c1", 42))
    server.enqueue(call("c2", "finish"))
    first = await runner.run(task(cleanup="stop"), evidence_dir=tmp_path, run_id="first")
    assert first.success, first
    assert first.workspace is not None
    assert (await (await provider.get(first.workspace)).status()).phase == "stopped"

    # Review: the agent reads its earlier work (kept while stopped) and finishes again.
    server.enqueue(call("c3", "read_file", {"path": "answer.sh"}))
    server.enqueue(call("c4", "finish"))
    second = await runner.continue_task(
        first.workspace,
        task(cleanup="delete"),
        "Please keep answer.sh as it is.",
        evidence_dir=tmp_path,
        run_id="second",
    )

    assert second.success, second
    assert second.workspace == first.workspace
    chats = server.chat_requests()
    assert "Please keep answer.sh as it is." in chats[2].body["messages"][-1]["content"]
    assert chats[3].body["messages"][-1]["content"] == "echo 42\n"
    await assert_gone(provider, first.workspace)
    assert {e.run_id for e in events.events} == {"first", "second"}
    assert repr(runner) == "TaskRunner(backend='local', model='fake-model', on_event=<callback>)"


async def test_suspend_resume_delete_and_cleanup_from_a_run_record(
    server: FakeModelServer, model: OpenAICompatible, provider: LocalProvider, tmp_path: Path
) -> None:
    runner = TaskRunner(provider, model)
    server.enqueue(write_answer("c1", 42))
    server.enqueue(call("c2", "finish"))
    result = await runner.run(task(cleanup="keep"), evidence_dir=tmp_path, run_id="kept")
    assert result.workspace is not None
    ws = await provider.get(result.workspace)
    assert (await ws.status()).phase == "running"

    await runner.suspend(result.workspace)
    assert (await ws.status()).phase == "stopped"
    assert await runner.resume(result.workspace, timeout=60) == "running"

    handled = await runner.cleanup_from_record(tmp_path / "kept", "delete")
    assert handled == [result.workspace]
    await assert_gone(provider, result.workspace)
    assert await runner.cleanup_from_record(tmp_path / "kept") == [result.workspace]
    await runner.delete(result.workspace)  # deleting one already gone succeeds


async def test_cancelling_a_run_deletes_its_workspace_and_records_a_cancelled_run(
    server: FakeModelServer, model: OpenAICompatible, provider: LocalProvider, tmp_path: Path
) -> None:
    server.enqueue(call("c1", "run_command", {"argv": ["sleep", "600"]}))
    loop = asyncio.get_running_loop()
    sleeping = asyncio.Event()

    def on_event(event: TaskEvent) -> None:
        if event.kind == "tool_call" and event["tool"] == "run_command":
            loop.call_soon_threadsafe(sleeping.set)

    runner = TaskRunner(provider, model, on_event=on_event)
    run = asyncio.ensure_future(runner.run(task(), evidence_dir=tmp_path, run_id="cancelled"))
    await sleeping.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await runner.wait_for_cleanups()

    record = run_record(tmp_path / "cancelled")
    assert record["outcome"] == {"status": "cancelled"}
    (workspace,) = record["workspaces"]
    await assert_gone(provider, workspace)
    assert "the run was cancelled" in (tmp_path / "cancelled" / "junit.xml").read_text()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git on the host")
async def test_a_task_with_a_repository_clones_commits_pushes_and_opens_a_pull_request(
    server: FakeModelServer, model: OpenAICompatible, tmp_path: Path
) -> None:
    remotes = make_remote(tmp_path)
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    gh = fakebin / "gh"
    gh.write_text(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > /fakebin/argv\ncat > /fakebin/stdin\n"
        'printf \'%s\' "$GH_TOKEN" > /fakebin/token\necho https://github.example/acme/app/pull/7\n'
    )
    gh.chmod(0o755)
    provider = LocalProvider(
        root=tmp_path / "state",
        isolation="bubblewrap",
        binds={str(remotes): "/remotes", str(fakebin): "/fakebin"},
    )
    server.enqueue(write_answer("c1", 42))
    server.enqueue(call("c2", "run_tests"))
    server.enqueue(call("c3", "finish", {"summary": "answer is 42"}))
    branch = "agentbox/answer-42"
    repo = TaskRepo(
        "/remotes/app.git",
        branch=branch,
        base="main",
        author_name="Agent Box",
        author_email="agent@example.invalid",
        push=True,
        pull_request="acme/app",
    )
    forge = GhCliForge("ghp_forge_token_for_the_test", program="/fakebin/gh")
    events = Recorder()

    result = await run_task(
        provider,
        model,
        Task(DESCRIPTION, contract(), repo=repo),
        evidence_dir=tmp_path / "evidence",
        forge=forge,
        on_event=events,
    )

    assert result.success, result
    assert result.commit is not None
    bare = str(remotes / "app.git")
    assert git("--git-dir", bare, "rev-parse", branch).strip() == result.commit
    assert git("--git-dir", bare, "show", f"{branch}:answer.sh") == "echo 42\n"
    assert (
        git("--git-dir", bare, "log", "-1", "--format=%an <%ae>", branch).strip()
        == "Agent Box <agent@example.invalid>"
    )
    assert result.pull_request == "https://github.example/acme/app/pull/7"
    assert (fakebin / "token").read_text() == "ghp_forge_token_for_the_test"
    argv = (fakebin / "argv").read_text().splitlines()
    assert {"--repo=acme/app", f"--head={branch}", "--base=main"} <= set(argv)
    assert [e["branch"] for e in events.of("cloned")] == [branch]
    assert [e["sha"] for e in events.of("committed")] == [result.commit]
    assert [e["url"] for e in events.of("pull_request_opened")] == [result.pull_request]


def test_task_values_read_back_and_bad_values_are_refused() -> None:
    limits = Limits(max_turns=12, deadline=300, token_budget=5000)
    assert (limits.max_turns, limits.max_fix_attempts, limits.deadline) == (12, 3, 300.0)
    assert (limits.token_budget, limits.command_timeout) == (5000, 600.0)
    assert limits == Limits(max_turns=12, deadline=300.0, token_budget=5000)
    assert limits != Limits()
    repo = TaskRepo(
        "https://example.invalid/acme/app.git",
        branch="fix",
        author_name="A",
        author_email="a@example.invalid",
    )
    assert (repo.url, repo.branch, repo.base, repo.author) == (
        "https://example.invalid/acme/app.git",
        "fix",
        None,
        ("A", "a@example.invalid"),
    )
    assert (repo.push, repo.pull_request, repo.has_token) == (False, None, False)
    cli = AgentCli(["codex", "exec", "{prompt}"], env={"CODEX_HOME": "/tmp/codex"})
    cli.validate()
    assert cli.permission_flags == "none" and cli.env == {"CODEX_HOME": "/tmp/codex"}
    assert AgentCli.copilot().argv == ["copilot", "-p", "{prompt}", "{permissions}"]
    with pytest.raises(Refused, match="exactly one element"):
        AgentCli(["codex"]).validate()

    t = Task(
        DESCRIPTION,
        contract(),
        repo=repo,
        limits=limits,
        mode=cli,
        cleanup="stop",
        files={"a.txt": "text", "b.bin": b"\x00\x01"},
        workspace_name="fixer",
        ready_timeout=30,
    )
    assert (t.description, t.contract.name, t.mode, t.cleanup) == (
        DESCRIPTION,
        "demo",
        "in_pod",
        "stop",
    )
    assert t.agent_cli is not None and t.agent_cli.argv == cli.argv
    assert t.repo is not None and t.repo.branch == "fix"
    assert (t.limits, t.workspace_name, t.ready_timeout) == (limits, "fixer", 30.0)
    assert t.files == {"a.txt": b"text", "b.bin": b"\x00\x01"}
    assert t.test_command() == ("test", "sh check.sh")
    assert Task(DESCRIPTION, contract(), mode="whole_file").mode == "whole_file"
    assert Task(DESCRIPTION, contract()).mode == "orchestrator"
    assert repr(Task(DESCRIPTION, contract())) == (
        "Task(description='Make answer.sh print 42', contract='demo', repo=None, "
        "mode='orchestrator', cleanup='delete', files=[])"
    )

    with pytest.raises(ValueError, match="mode='chat' is not known"):
        Task(DESCRIPTION, contract(), mode="chat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cleanup='archive' is not known"):
        Task(DESCRIPTION, contract(), cleanup="archive")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"files\['x'\] must be bytes or str"):
        Task(DESCRIPTION, contract(), files={"x": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="deadline=-1"):
        Limits(deadline=-1)
    with pytest.raises(ValueError, match="permission_flags"):
        AgentCli(["x", "{prompt}"], permission_flags="all")  # type: ignore[arg-type]


async def test_model_chat_goes_through_the_client(server: FakeModelServer) -> None:
    model = OpenAICompatible(server.base_url, model="fake-model", max_retries=0)
    server.enqueue(
        ModelReply.tool_call("call_1", "read_file", {"path": "README.md"}).with_text("looking")
    )
    response = await model.chat(
        [{"role": "user", "content": "What is in the README?"}],
        tools=[{"name": "read_file", "description": "Read a file", "parameters": {"type": "object"}}],
        tool_choice="auto",
    )
    assert response["finish_reason"] == "tool_calls"
    assert response["message"]["content"] == "looking"
    (tool_call,) = response["message"]["tool_calls"]
    assert (tool_call["name"], tool_call["arguments"]) == ("read_file", '{"path":"README.md"}')
    assert response["usage"] == {"prompt_tokens": 10, "completion_tokens": 5}
    (request,) = server.chat_requests()
    assert request.body["tools"][0]["function"]["name"] == "read_file"
    assert repr(request) == "ModelRequest(method='POST', path='/chat/completions')"

    server.enqueue(ModelReply.status(503))
    with pytest.raises(ModelError, match="503") as raised:
        await model.chat([{"role": "user", "content": "again"}])
    assert isinstance(raised.value, agentbox.Error)
    with pytest.raises(ValueError, match="messages"):
        await model.chat([{"role": "nobody"}])


def test_scripted_models_are_loaded_from_files_and_bad_scripts_are_refused(tmp_path: Path) -> None:
    script = REPO_ROOT / "examples" / "quickstart" / "script.yaml"
    model = ScriptedModel.load(script)
    assert model.model == "scripted:quickstart" and model.remaining == 5
    assert isinstance(model, agentbox.Model)
    with pytest.raises(ModelError, match="typo.yaml"):
        ScriptedModel.from_yaml("model: x\nreplies:\n  - txt: typo\n", "typo.yaml")
    with pytest.raises(agentbox.FileError) as raised:
        ScriptedModel.load(tmp_path / "missing.yaml")
    assert raised.value.path == str(tmp_path / "missing.yaml")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git on the host")
def test_the_example_orchestrator_runs_to_success_with_the_scripted_model(
    tmp_path: Path,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AGENTBOX_MODEL_URL", "AGENTBOX_MODEL_KEY", "AGENTBOX_GITHUB_TOKEN")
    }
    env["AGENTBOX_EVIDENCE_DIR"] = str(tmp_path / "evidence")
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "python" / "orchestrator.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    assert "SCRIPTED" in out.stdout, out.stdout
    assert "outcome: succeeded" in out.stdout, out.stdout
    (run_dir,) = (tmp_path / "evidence").iterdir()
    assert f"evidence: {run_dir}" in out.stdout, out.stdout
    assert run_record(run_dir)["outcome"] == {"status": "succeeded"}
