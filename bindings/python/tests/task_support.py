"""What the task tests share (test_task.py, test_secrets.py, test_sync.py): the tiny project
the Rust end-to-end task tests use (tests/it/task_support), a recorder for ``on_event`` and
readers for the evidence directory. This module holds no tests of its own."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Literal

from agentbox import Contract, Limits, Task, TaskEvent
from agentbox.testkit import ModelReply

#: Workdir ``/projects/demo``, tests ``sh check.sh``; the agent may run ``sh``, ``cat`` and
#: ``sleep``, write under the workdir and read the projects, but never force-push.
CONTRACT_YAML = """\
apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata: { name: demo }
spec:
  image: alpine:3.20
  workdir: /projects/demo
  commands:
    test: { run: sh check.sh, group: test }
  agent:
    instructions: Keep it small.
    permissions:
      allow: ["shell(sh:*)", "shell(cat:*)", "shell(sleep:*)", "write(/projects/demo/**)", "read(/projects/**)"]
      deny: ["shell(git push --force:*)"]
"""

#: The project's test: passes when ``sh answer.sh`` prints 42.
CHECK = """got=$(sh answer.sh)
if [ "$got" = 42 ]; then echo "ok: 42"; else echo "expected 42, got $got"; exit 1; fi
"""

DESCRIPTION = "Make answer.sh print 42"


def contract() -> Contract:
    """The test contract."""
    return Contract.from_yaml(CONTRACT_YAML)


def task(
    *,
    cleanup: Literal["delete", "stop", "keep"] = "delete",
    limits: Limits | None = None,
) -> Task:
    """The task: make ``answer.sh`` print 42; it starts out printing 41."""
    return Task(
        DESCRIPTION,
        contract(),
        files={"check.sh": CHECK, "answer.sh": b"echo 41\n"},
        cleanup=cleanup,
        limits=limits,
    )


def write_answer(call_id: str, n: int) -> ModelReply:
    """A reply calling ``write_file`` to make ``answer.sh`` print ``n``."""
    return ModelReply.tool_call(
        call_id, "write_file", {"path": "answer.sh", "content": f"echo {n}\n"}
    )


def call(call_id: str, tool: str, arguments: dict[str, Any] | None = None) -> ModelReply:
    """A reply calling ``tool`` with ``arguments``."""
    return ModelReply.tool_call(call_id, tool, arguments or {})


class Recorder:
    """An ``on_event`` callback keeping every event, and the threads it was called on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[TaskEvent] = []
        self.threads: set[int] = set()

    def __call__(self, event: TaskEvent) -> None:
        with self._lock:
            self.events.append(event)
            self.threads.add(threading.get_ident())

    def kinds(self) -> list[str]:
        """The kinds of the events received, in order."""
        with self._lock:
            return [e.kind for e in self.events]

    def of(self, kind: str) -> list[TaskEvent]:
        """The events of one kind, in order."""
        with self._lock:
            return [e for e in self.events if e.kind == kind]


def run_record(run_dir: Path) -> dict[str, Any]:
    """``run.json`` of an evidence run."""
    record: dict[str, Any] = json.loads((run_dir / "run.json").read_text())
    return record


def evidence_events(run_dir: Path) -> list[dict[str, Any]]:
    """The lines of ``events.jsonl`` of an evidence run, parsed."""
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def files_holding(root: Path, needle: str) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    data = needle.encode()
    return [p for p in sorted(root.rglob("*")) if p.is_file() and data in p.read_bytes()]


def git(*args: str) -> str:
    """Run host git with an argv; its stdout."""
    out = subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, f"git {args}: {out.stderr}"
    return out.stdout


def make_remote(scratch: Path) -> Path:
    """A bare repository at ``<scratch>/remotes/app.git`` whose ``main`` holds the project
    (answer 41); returns the ``remotes`` directory."""
    seed = scratch / "seed"
    seed.mkdir(parents=True)
    (seed / "check.sh").write_text(CHECK)
    (seed / "answer.sh").write_text("echo 41\n")
    git("init", "--quiet", "--initial-branch=main", str(seed))
    git("-C", str(seed), "add", "--all")
    git(
        "-C",
        str(seed),
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "--quiet",
        "-m",
        "answer 41",
    )
    remotes = scratch / "remotes"
    remotes.mkdir()
    git("clone", "--quiet", "--bare", "--", str(seed), str(remotes / "app.git"))
    return remotes
