"""Contracts from Python: load and validate, generate against the Rust golden files, write and
check for drift, the enforceability report, imports and the JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import agentbox

CORE_TESTS = Path(__file__).resolve().parents[3] / "crates" / "agentbox-core" / "tests"
CONTRACTS = CORE_TESTS / "contracts"
GOLDEN = CORE_TESTS / "golden"

# The fixtures with golden files, and whether each is generated for Cilium (as the Rust
# golden test, crates/agentbox-core/tests/generate_support/mod.rs, generates them).
FIXTURES: list[tuple[str, bool]] = [
    ("ruby-agent", False),
    ("go-monorepo", False),
    ("python-data-job", False),
    ("minimal", False),
    ("maximal", True),
    ("cilium-fqdn", True),
    ("ephemeral", False),
    ("no-isolation", False),
]

TARGETS = ["devcontainer", "devfile", "devworkspace", "networkpolicy", "agents"]

PINNED = "quay.io/org/app:1@sha256:" + "a" * 64

# A small valid contract; the invalid ones below are one mutation of it.
BASE = f"""apiVersion: agentbox.dev/v1alpha1
kind: Environment
metadata:
  name: demo
spec:
  image: {PINNED}
  resources:
    memory: {{ request: 512Mi, limit: 2Gi }}
  commands:
    test: {{ run: make test, group: test }}
"""


def fixture(name: str) -> agentbox.Contract:
    return agentbox.Contract.load(CONTRACTS / f"{name}.yaml")


def body(text: str) -> str:
    """``text`` without its first line (the generated header, which quotes the contract hash)."""
    return text.split("\n", 1)[1]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- loading and validation ---


def test_load_from_a_file_and_from_yaml_text_give_the_same_contract() -> None:
    path = CONTRACTS / "minimal.yaml"
    loaded = agentbox.Contract.load(path)
    parsed = agentbox.Contract.from_yaml(path.read_text(), strict=True)
    assert loaded.name == parsed.name == "minimal"
    assert loaded.hash == parsed.hash
    assert len(loaded.hash) == 64
    assert loaded.profile == "default"
    assert loaded.workdir == "/projects/minimal"
    assert loaded.mount_path == "/projects"
    assert loaded.warnings == []
    # A str path works as well as a Path.
    assert agentbox.Contract.load(str(path)).hash == loaded.hash


def test_to_yaml_round_trips_to_the_same_hash_whatever_the_layout() -> None:
    contract = agentbox.Contract.from_yaml(BASE)
    again = agentbox.Contract.from_yaml(contract.to_yaml())
    assert again.hash == contract.hash
    reordered = BASE.replace("kind: Environment\n", "").replace(
        "apiVersion:", "kind: Environment\napiVersion:"
    )
    assert agentbox.Contract.from_yaml(reordered).hash == contract.hash


def test_repr_shows_the_name_and_hash_but_no_content() -> None:
    contract = agentbox.Contract.from_yaml(BASE)
    text = repr(contract)
    assert "demo" in text
    assert contract.hash[:12] in text
    assert "quay.io" not in text
    assert "make test" not in text


def test_an_unpinned_image_is_a_warning_and_an_error_under_strict() -> None:
    unpinned = BASE.replace(PINNED, "alpine:3.20")
    contract = agentbox.Contract.from_yaml(unpinned)
    assert [w.path for w in contract.warnings] == ["spec.image"]
    assert contract.warnings[0].severity == "warning"
    assert contract.warnings[0].line == 6
    with pytest.raises(agentbox.ContractError) as caught:
        agentbox.Contract.from_yaml(unpinned, strict=True)
    assert [p.path for p in caught.value.problems] == ["spec.image"]
    assert caught.value.problems[0].severity == "error"


@pytest.mark.parametrize(
    ("yaml", "path", "line", "message"),
    [
        pytest.param(
            BASE.replace("kind: Environment\n", "kind: Environment\nextra: 1\n"),
            "extra",
            3,
            "unknown field `extra`",
            id="unknown-field",
        ),
        pytest.param(
            BASE.replace("limit: 2Gi", "limit: 2Gb"),
            "spec.resources.memory.limit",
            8,
            "did you mean `Gi` or `G`?",
            id="bad-quantity",
        ),
        pytest.param(
            BASE.replace("metadata:\n  name: demo", "metadata: { name: demo"),
            "",
            4,
            "malformed YAML",
            id="malformed-yaml",
        ),
    ],
)
def test_an_invalid_contract_raises_contract_error_with_located_problems(
    tmp_path: Path, yaml: str, path: str, line: int, message: str
) -> None:
    source = tmp_path / "agentbox.yaml"
    source.write_text(yaml)
    loaders: list[Callable[[], agentbox.Contract]] = [
        lambda: agentbox.Contract.from_yaml(yaml),
        lambda: agentbox.Contract.load(source),
    ]
    for load in loaders:
        with pytest.raises(agentbox.ContractError) as caught:
            load()
        problems = caught.value.problems
        assert len(problems) == 1, problems
        assert problems[0].path == path
        assert problems[0].line == line
        assert problems[0].column >= 1
        assert message in problems[0].message
        assert problems[0].severity == "error"
        # The exception's message carries the problem and its location too.
        assert f"{line}:{problems[0].column}" in str(caught.value)


def test_every_problem_in_a_document_is_reported_at_once() -> None:
    with pytest.raises(agentbox.ContractError) as caught:
        fixture("five-problems")
    found = [(p.path, p.line) for p in caught.value.problems]
    assert found == [
        ("metadata.name", 4),
        ("spec.resources.memory.request", 8),
        ("spec.ports[1].name", 11),
        ("spec.lifecycle.postStart[0]", 13),
        ("spec.idleTimeout", 14),
    ]
    assert "five-problems.yaml" in str(caught.value)


def test_errors_are_agentbox_errors_with_their_chain(tmp_path: Path) -> None:
    with pytest.raises(agentbox.ContractError) as invalid:
        agentbox.Contract.from_yaml("apiVersion: agentbox.dev/v1alpha1\n")
    assert isinstance(invalid.value, agentbox.Error)
    assert invalid.value.chain[0].startswith("contract <string> is invalid")

    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(agentbox.FileError) as unreadable:
        agentbox.Contract.load(missing)
    assert isinstance(unreadable.value, agentbox.Error)
    # `path` names the file (compared as a path: str or pathlib.Path).
    assert Path(unreadable.value.path) == missing
    # The operating system's error is the cause, kept in the chain.
    assert len(unreadable.value.chain) == 2
    assert "No such file or directory" in unreadable.value.chain[1]
    assert "read the contract file" in str(unreadable.value)


# --- generation ---


@pytest.mark.parametrize(("name", "cilium"), FIXTURES)
def test_every_target_matches_the_rust_golden_files(name: str, cilium: bool) -> None:
    contract = fixture(name)
    files = contract.generate(cilium=cilium)
    golden = GOLDEN / name
    expected = {
        p.relative_to(golden).as_posix(): p.read_text()
        for p in files_under(golden)
        if p.name != "report.txt"
    }
    assert sorted(files) == sorted(expected)
    for relative, text in files.items():
        assert text == expected[relative], relative
    # The per-target reports, one after the other, are the golden report.
    report = "".join(str(contract.enforceability(t, cilium=cilium)) for t in TARGETS)
    assert report == (golden / "report.txt").read_text()


def test_targets_select_files_and_unknown_names_are_rejected() -> None:
    contract = fixture("minimal")
    every = contract.generate()
    assert contract.generate("all") == every
    assert contract.generate([]) == every
    assert list(contract.generate("devfile")) == ["devfile.yaml"]
    assert contract.generate(["agents", "devcontainer"]) == {
        "AGENTS.md": every["AGENTS.md"],
        ".devcontainer/devcontainer.json": every[".devcontainer/devcontainer.json"],
    }
    with pytest.raises(ValueError, match="unknown target `helm`: use one of all, devcontainer"):
        contract.generate(["devfile", "helm"])
    with pytest.raises(ValueError, match="not for `all`: name one of devcontainer, devfile"):
        contract.enforceability("all")
    with pytest.raises(TypeError, match="targets must be a target name or a list of them"):
        contract.generate(5)  # type: ignore[arg-type]


def test_strict_generation_refuses_unenforced_security_fields_and_writes_nothing(
    tmp_path: Path,
) -> None:
    contract = fixture("cilium-fqdn")
    targets = ["networkpolicy", "agents"]
    with pytest.raises(agentbox.Unenforceable) as caught:
        contract.write(tmp_path, targets, strict=True)
    assert isinstance(caught.value, agentbox.ContractError)
    fields = caught.value.fields
    assert len(fields) == 3, fields
    assert fields[0].startswith("networkpolicy: spec.network.egress.allow[0]: ")
    assert "registry.npmjs.org" in str(caught.value)
    assert files_under(tmp_path) == []
    # With Cilium, host rules are enforceable and strict generation succeeds.
    written = contract.write(tmp_path, targets, strict=True, cilium=True)
    assert written == [".agentbox/networkpolicy.yaml", "AGENTS.md"]
    assert [p.relative_to(tmp_path).as_posix() for p in files_under(tmp_path)] == written


# --- drift ---


def test_check_is_clean_after_write_and_reports_a_changed_byte(tmp_path: Path) -> None:
    contract = fixture("ruby-agent")
    written = contract.write(tmp_path)
    assert written == sorted(contract.generate())
    assert contract.check(tmp_path) == []

    devfile = tmp_path / "devfile.yaml"
    original = devfile.read_bytes()
    at = len(original) // 2
    changed = bytearray(original)
    changed[at] = ord("y") if changed[at] == ord("x") else ord("x")
    devfile.write_bytes(bytes(changed))
    drift = contract.check(tmp_path)
    assert [(d.path, d.kind) for d in drift] == [("devfile.yaml", "changed")]
    assert "--- a/devfile.yaml" in drift[0].diff
    assert "+++ b/devfile.yaml" in drift[0].diff
    assert str(drift[0]) == drift[0].diff
    # Only the targets asked about are checked.
    assert contract.check(tmp_path, ["agents", "devcontainer"]) == []

    devfile.write_bytes(original)
    assert contract.check(tmp_path) == []


def test_check_reports_a_missing_file_with_a_diff_from_nothing(tmp_path: Path) -> None:
    contract = fixture("minimal")
    contract.write(tmp_path)
    (tmp_path / "AGENTS.md").unlink()
    drift = contract.check(tmp_path)
    assert len(drift) == 1
    assert drift[0].path == "AGENTS.md"
    assert drift[0].kind == "missing"
    assert "--- /dev/null" in drift[0].diff


def test_check_follows_the_cilium_option(tmp_path: Path) -> None:
    contract = fixture("cilium-fqdn")
    contract.write(tmp_path, "networkpolicy", cilium=True)
    assert contract.check(tmp_path, "networkpolicy", cilium=True) == []
    drift = contract.check(tmp_path, "networkpolicy")
    assert [(d.path, d.kind) for d in drift] == [(".agentbox/networkpolicy.yaml", "changed")]


# --- enforceability ---


def test_enforceability_says_how_each_field_is_carried() -> None:
    contract = fixture("cilium-fqdn")

    policy = contract.enforceability("networkpolicy", cilium=True)
    assert policy.target == "networkpolicy"
    assert policy.path == ".agentbox/networkpolicy.yaml"
    host = policy.entry("spec.network.egress.allow[0]")
    assert host is not None
    assert host.security
    assert host.represented
    assert host.coverage == "represented"
    assert host.how is not None and "toFQDNs registry.npmjs.org" in host.how
    assert host.why is None and host.missing is None and host.delegated_to is None
    assert len(policy.notes) == 1
    assert policy.entry("spec.storage") is None

    # Without Cilium a host rule cannot be enforced, and the report says so.
    plain = contract.enforceability("networkpolicy").entry("spec.network.egress.allow[0]")
    assert plain is not None
    assert not plain.represented
    assert plain.coverage in ("partial", "not_represented")

    devfile = contract.enforceability("devfile")
    # Every field the contract sets has an entry, in contract order.
    assert [e.field for e in devfile.entries] == [e.field for e in policy.entries]
    post_create = devfile.entry("spec.lifecycle.postCreate")
    assert post_create is not None
    assert post_create.coverage == "partial"
    assert post_create.how == "event `postStart`"
    assert post_create.missing is not None and "idempotent" in post_create.missing
    egress = devfile.entry("spec.network.egress.default")
    assert egress is not None
    assert egress.coverage == "delegated"
    assert egress.delegated_to == "networkpolicy"
    assert egress.why is not None and "cannot express egress rules" in egress.why
    unenforced = [e.field for e in devfile.entries if e.security and not e.represented]
    assert "spec.agent.permissions" in unenforced
    assert str(devfile).startswith("devfile (devfile.yaml):\n")


# --- import ---


@pytest.mark.parametrize(("name", "cilium"), FIXTURES)
def test_an_imported_devcontainer_json_generates_the_same_file(
    tmp_path: Path, name: str, cilium: bool
) -> None:
    original = fixture(name)
    original.write(tmp_path, "devcontainer", cilium=cilium)
    path = tmp_path / ".devcontainer" / "devcontainer.json"
    imported = agentbox.Contract.import_devcontainer(path)
    assert isinstance(imported.contract, agentbox.Contract)
    assert imported.contract.name == original.name
    # devcontainer.json has no storage type: the one thing an import must assume, and say.
    for item in imported.unmapped:
        assert "storage of an unknown type" in item.why, item
    again = imported.contract.generate("devcontainer")[".devcontainer/devcontainer.json"]
    assert body(again) == body(path.read_text())


@pytest.mark.parametrize(("name", "cilium"), FIXTURES)
def test_an_imported_devfile_generates_the_same_file(
    tmp_path: Path, name: str, cilium: bool
) -> None:
    original = fixture(name)
    original.write(tmp_path, "devfile", cilium=cilium)
    imported = agentbox.Contract.import_devfile(tmp_path / "devfile.yaml")
    assert imported.unmapped == []
    again = imported.contract.generate("devfile")["devfile.yaml"]
    assert body(again) == body((tmp_path / "devfile.yaml").read_text())


def test_an_import_lists_what_it_could_not_map(tmp_path: Path) -> None:
    path = tmp_path / "devcontainer.json"
    path.write_text(
        json.dumps(
            {
                "name": "web",
                "image": "node:22",
                "forwardPorts": [3000],
                "onCreateCommand": "npm ci",
            }
        )
    )
    imported = agentbox.Contract.import_devcontainer(path)
    assert imported.contract.name == "web"
    assert [u.path for u in imported.unmapped] == ["onCreateCommand"]
    assert imported.unmapped[0].why
    assert "onCreateCommand" in str(imported.unmapped[0])
    assert imported.contract.generate("devcontainer")[".devcontainer/devcontainer.json"]
    # The image has no digest: the imported contract loads, with the same warning as YAML.
    assert [w.path for w in imported.contract.warnings] == ["spec.image"]
    assert "web" in repr(imported)


def test_an_import_that_fails_raises_import_failed_or_file_error(tmp_path: Path) -> None:
    built = tmp_path / "devcontainer.json"
    built.write_text('{ "name": "web", "build": { "dockerfile": "Dockerfile" } }')
    with pytest.raises(agentbox.ImportFailed) as caught:
        agentbox.Contract.import_devcontainer(built)
    assert isinstance(caught.value, agentbox.Error)
    assert "only image-based dev containers can be imported" in str(caught.value)
    assert caught.value.chain[0].startswith(f"cannot import {built}")

    old = tmp_path / "devfile.yaml"
    old.write_text("schemaVersion: 1.0.0\nmetadata: { name: old }\n")
    with pytest.raises(agentbox.ImportFailed, match="only Devfile 2.x can be imported"):
        agentbox.Contract.import_devfile(old)

    with pytest.raises(agentbox.FileError) as unreadable:
        agentbox.Contract.import_devfile(tmp_path / "absent.yaml")
    assert Path(unreadable.value.path) == tmp_path / "absent.yaml"


# --- schema ---


def test_json_schema_describes_the_document() -> None:
    schema = agentbox.Contract.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"$id", "title", "description", "$defs"} <= set(schema)
    assert schema["type"] == "object"
    assert set(schema["required"]) >= {"apiVersion", "kind", "metadata", "spec"}
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
    # A fresh dict each time: changing one does not change the next.
    schema["type"] = "changed"
    assert agentbox.Contract.json_schema()["type"] == "object"
