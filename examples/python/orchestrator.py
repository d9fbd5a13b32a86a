"""An external orchestrator on agentbox: a coding ticket taken from a disposable workspace to a
tested commit on a pushed branch, with evidence of every step.

    python examples/python/orchestrator.py

It is the seed design's orchestrator loop — provision a workspace, clone, let the model
implement and run the tests until they pass, commit and push, suspend the workspace while the
change is reviewed, then resume it for review feedback or delete it once approved — with agentbox doing each
step: the local provider (a bubblewrap sandbox; no cluster), the permission gate between the
model and the workspace, and an evidence directory written however the run ends.

The project is the quickstart's (``examples/quickstart/``): a tiny Python library whose tests
fail. A local bare git repository stands in for the remote. The model is a real one when
configured — ``AGENTBOX_MODEL_URL`` (any OpenAI-compatible server, with ``AGENTBOX_MODEL_KEY``
and ``AGENTBOX_MODEL``) or ``AGENTBOX_GITHUB_TOKEN`` (GitHub Copilot) — and otherwise the
quickstart's canned replies (``examples/quickstart/script.yaml``), which the output says
plainly. With a real model, ``AGENTBOX_REVIEW_FEEDBACK`` plays a reviewer asking for changes.
The evidence goes under ``AGENTBOX_EVIDENCE_DIR`` (default ``./agentbox-evidence``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import agentbox

HERE = Path(__file__).resolve().parent
QUICKSTART = HERE.parent / "quickstart"
#: Where the bare "remote" appears inside the sandbox.
REMOTES = "/remotes"
BRANCH = "agentbox/fix-slugify"
TICKET = (
    "The punctuation tests in test_slug.py fail. Fix slug.py so that every test passes; "
    "do not change the tests."
)


def choose_model() -> agentbox.Model:
    """A real model from the environment, or the quickstart's script."""
    url = os.environ.get("AGENTBOX_MODEL_URL")
    if url:
        return agentbox.OpenAICompatible(
            url,
            os.environ.get("AGENTBOX_MODEL_KEY"),
            model=os.environ.get("AGENTBOX_MODEL", "gpt-4o-mini"),
        )
    token = os.environ.get("AGENTBOX_GITHUB_TOKEN")
    if token:
        return agentbox.Copilot(token, os.environ.get("AGENTBOX_MODEL", "gpt-4o"))
    script = QUICKSTART / "script.yaml"
    print(
        "note:   no model configured (AGENTBOX_MODEL_URL or AGENTBOX_GITHUB_TOKEN), so the "
        f"model is SCRIPTED: canned replies from {script}"
    )
    return agentbox.ScriptedModel.load(script)


def git(*args: str) -> str:
    """Run host git with an argv; its stdout."""
    out = subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def make_remote(scratch: Path) -> Path:
    """A bare repository ``<scratch>/remotes/quickstart.git`` made from the quickstart's
    project on branch ``main``; returns the ``remotes`` directory."""
    seed = scratch / "seed"
    shutil.copytree(QUICKSTART / "repo", seed)
    git("init", "--quiet", "--initial-branch=main", str(seed))
    git("-C", str(seed), "add", "--all")
    git(
        "-C",
        str(seed),
        "-c",
        "user.name=agentbox orchestrator",
        "-c",
        "user.email=orchestrator@agentbox.invalid",
        "commit",
        "--quiet",
        "-m",
        "slug: a first version",
    )
    remotes = scratch / "remotes"
    remotes.mkdir()
    git("clone", "--quiet", "--bare", "--", str(seed), str(remotes / "quickstart.git"))
    return remotes


class Progress:
    """A live progress display for ``on_event`` (called from agentbox's runtime thread)."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, event: agentbox.TaskEvent) -> None:
        match event.kind:
            case "provisioning":
                line = "provisioning a workspace"
            case "ready":
                line = f"workspace {event['workspace']} is ready"
            case "cloned":
                line = f"cloned; working on branch {event['branch']}"
            case "model_turn":
                line = f"model turn {event['turn']}/{event['max']}"
            case "tool_call":
                line = f"  tool {event['tool']}" + ("" if event["allowed"] else "  ✗ denied")
            case "tests":
                verdict = "passed ✓" if event["passed"] else "failed ✗"
                line = f"  tests (run {event['run']}): {verdict}"
            case "committed":
                line = f"committed {event['sha']}"
            case "pull_request_opened":
                line = f"pull request {event['url']}"
            case "finished":
                line = f"finished: {event['outcome']['status']}"
            case "cleaned_up":
                line = f"workspace {event['workspace']}: {event['policy']}"
            case _:
                line = repr(event)
        print(f"[{time.monotonic() - self.started:6.2f}s] {line}", flush=True)


async def review(
    runner: agentbox.TaskRunner,
    provider: agentbox.LocalProvider,
    task: agentbox.Task,
    workspace: str,
    evidence_dir: Path,
    feedback: str | None,
) -> bool:
    """The review phase: the workspace is suspended while a human reviews the branch; changes
    requested (``feedback``) continue the work in it, approval deletes it."""
    ws = await provider.get(workspace)
    print(f"suspended: {(await ws.status()).phase} (the branch is under review)")
    if feedback:
        print(f"review:    changes requested: {feedback}")
        again = await runner.continue_task(workspace, task, feedback, evidence_dir=evidence_dir)
        print(f"outcome:   {again.outcome} ({again.details}); evidence {again.evidence_dir}")
        if not again.success:
            return False
    print("review:    approved and merged")
    await runner.delete(workspace)
    try:
        await provider.get(workspace)
    except agentbox.NotFound:
        print("deleted:   the workspace and its storage are gone")
        return True
    print("deleted:   the workspace is still there")
    return False


async def orchestrate() -> bool:
    contract = agentbox.Contract.load(QUICKSTART / "agentbox.yaml")
    evidence_dir = Path(os.environ.get("AGENTBOX_EVIDENCE_DIR", "agentbox-evidence")).resolve()
    with tempfile.TemporaryDirectory(prefix="agentbox-orchestrator-") as scratch:
        remotes = make_remote(Path(scratch))
        bare = remotes / "quickstart.git"
        print(f"remote: {bare} (a local bare repository)")
        model = choose_model()
        print(f"model:  {model.model}")

        provider = agentbox.LocalProvider(
            root=Path(scratch) / "workspaces", binds={str(remotes): REMOTES}
        )
        runner = agentbox.TaskRunner(provider, model, on_event=Progress())
        task = agentbox.Task(
            TICKET,
            contract,
            repo=agentbox.TaskRepo(
                f"{REMOTES}/quickstart.git",
                branch=BRANCH,
                base="main",
                author_name="agentbox orchestrator",
                author_email="orchestrator@agentbox.invalid",
                push=True,
            ),
            limits=agentbox.Limits(max_turns=12, max_fix_attempts=3, deadline=300),
            # Suspend rather than delete at the end: a human reviews the branch next.
            cleanup="stop",
        )

        result = await runner.run(task, evidence_dir=evidence_dir)
        print()
        print(
            f"outcome: {result.outcome} after {result.turns} model turn(s), "
            f"{result.test_runs} test run(s)"
        )
        if result.commit is not None:
            print(f"commit {result.commit} pushed to {BRANCH}:")
            print(git("--git-dir", str(bare), "log", "--oneline", "-n", "3", BRANCH), end="")
        approved = result.success
        if result.workspace is not None and result.success:
            # The script has no replies for review feedback; only a real model gets some.
            feedback = (
                None
                if isinstance(model, agentbox.ScriptedModel)
                else os.environ.get("AGENTBOX_REVIEW_FEEDBACK")
            )
            approved = await review(
                runner, provider, task, result.workspace, evidence_dir, feedback
            )
        elif result.workspace is not None:
            await runner.delete(result.workspace)

        print()
        print(f"evidence: {result.evidence_dir}")
        print(f"report:   {result.report}")
        return approved


def main() -> int:
    try:
        return 0 if asyncio.run(orchestrate()) else 1
    except agentbox.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
