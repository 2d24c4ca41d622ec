"""Issue 15 end to end: what a sandboxed run changes is judged before any of it reaches the workspace.

Every example of the issue through the in-process MCP client, in both protocol eras, with
declining and accepting clients: the plant never reaches the workspace, the set-uid file never
exists there, the disk-fill call is refused and the host folder does not grow, a truncation asks
first, a host change made while the command runs survives as a reported conflict.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from secure_mcp.config import Config
from secure_mcp.sandbox import Sandbox, SandboxSettings
from secure_mcp.testing import MemoryAuditSink
from tests.support import REQUIRE_DOCKER, SANDBOX_IMAGE, docker_problem, make_config, reply, runtime

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
ERAS = ["auto", "legacy"]
YES = {"approve": True}


@pytest.fixture(scope="module")
def docker_ready() -> None:
    problem = docker_problem()
    if problem is not None:
        if REQUIRE_DOCKER:
            pytest.fail(f"SECURE_MCP_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)


def _config(tmp_path: Path, effects: dict[str, Any] | None = None, python: str = "ro") -> Config:
    tmp_path.chmod(0o755)
    overrides: dict[str, Any] = {
        "sandbox": {"warm_pool": 1, "image": SANDBOX_IMAGE},
        "tools": {
            "run_command": {
                "allow": ["ls", "cat", "echo", "python3", "head", "sleep", "printf", "rm", "mkdir", "chmod", "ln"],
                "confirm": ["mv"],
                "effects": effects or {},
            },
            "execute_python": {"workspace": python},
        },
    }
    cfg = make_config(tmp_path, overrides)
    cfg.workspace_root.mkdir(parents=True, exist_ok=True)
    cfg.workspace_root.chmod(0o777)
    return cfg


@pytest.fixture
def config(tmp_path: Path, docker_ready: None) -> Config:
    return _config(tmp_path)


@pytest.fixture
async def sandbox(config: Config) -> AsyncIterator[Sandbox]:
    async with _sandbox(config) as box:
        yield box


class _sandbox:
    """A sandbox whose layers live in the test's folder; counts the runs (a retry must not run again)."""

    def __init__(self, config: Config) -> None:
        settings = SandboxSettings.from_config(
            config.sandbox,
            python_workspace=config.tools.execute_python.workspace,
            layer_root=config.base_dir / "state" / "layers",
            layer_bytes=64 * 1024**2 if config.tools.run_command.effects.max_bytes == "64m" else 8 * 1024**2,
        )
        self.box = Sandbox(settings, config.workspace_root, instance_id=f"fx-{uuid.uuid4().hex[:10]}")

    async def __aenter__(self) -> Sandbox:
        await self.box.start()
        runs: list[int] = []
        original = self.box.run

        async def counted(*args: Any, **kwargs: Any) -> Any:
            runs.append(1)
            return await original(*args, **kwargs)

        self.box.run = counted  # type: ignore[method-assign]
        self.box.runs = runs  # type: ignore[attr-defined]
        return self.box

    async def __aexit__(self, *exc: object) -> None:
        await self.box.close()


def _shared(path: Path, text: str, mode: int = 0o666) -> Path:
    """A host file the sandbox user may change (as write_file's group-writable files are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _open_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o777)  # noqa: S103 - a throw-away test workspace the sandbox user must write
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666)  # noqa: S103 - as above


def _text(result: Any) -> str:
    return str(result.content[0].text)


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    return dict(result.structured_content or {})


def _tree(root: Path) -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root) + "/"] = None
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = Path(path).read_bytes() if not os.path.islink(path) else None
    return found


async def _call(
    config: Config, box: Sandbox, mode: str, answer: str, tool: str, args: dict[str, Any], **kw: Any
) -> Any:
    seen: list[str] = kw.pop("seen", [])
    sink: MemoryAuditSink | None = kw.pop("sink", None)
    content = YES if answer == "accept" else None
    async with runtime(config, sandbox=box, sink=sink) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply(answer, content, seen)) as c:
            return await c.call_tool(tool, args)


# --- the plants never reach the workspace -------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("answer", ["accept", "decline"])
@pytest.mark.parametrize("repo", [".git", "proj/.git"])
async def test_a_planted_fsmonitor_never_reaches_a_repository_config(
    config: Config, sandbox: Sandbox, mode: str, answer: str, repo: str
) -> None:
    """`echo >> .git/config` (top-level or nested, even writable) is refused whatever the client says."""
    git = config.workspace_root / repo
    (git / "hooks").mkdir(parents=True)
    (git / "config").write_text("[core]\n\tbare = false\n")
    _open_tree(config.workspace_root)
    before = _tree(config.workspace_root)
    command = (
        f"printf '\\tfsmonitor = touch /tmp/pwned\\n' >> {repo}/config; "
        f"echo x > {repo}/hooks/post-checkout; echo WITHHELD"
    )
    result = await _call(config, sandbox, mode, answer, "run_command", {"command": command})
    assert result.is_error and _text(result).startswith("blocked by effects: ")
    assert "protected path (.git)" in _text(result)
    assert "WITHHELD" not in _text(result)  # the output is withheld with the changes
    assert _tree(config.workspace_root) == before


@pytest.mark.parametrize("mode", ERAS)
async def test_a_bare_repository_planted_by_a_command_is_refused(config: Config, sandbox: Sandbox, mode: str) -> None:
    """A folder that git would accept as a repository, whatever its name, is a protected path."""
    command = (
        "mkdir -p lib/objects lib/refs && echo 'ref: refs/heads/main' > lib/HEAD && "
        "printf '[core]\\n\\tworktree = .\\n\\tfsmonitor = id\\n' > lib/config"
    )
    result = await _call(config, sandbox, mode, "accept", "run_command", {"command": command})
    assert result.is_error and "git repository" in _text(result)
    assert not (config.workspace_root / "lib").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_the_bare_repository_plant_through_write_file_is_refused(config: Config, mode: str) -> None:
    """The four write_file creates of the issue: the one completing the shape is refused, git finds no repo."""
    async with runtime(config) as rt:
        async with Client(rt.server, mode=mode, elicitation_callback=reply("accept", YES)) as c:
            results = [
                await c.call_tool("write_file", {"path": path, "content": content})
                for path, content in (
                    ("plant/objects/.keep", ""),
                    ("plant/refs/.keep", ""),
                    ("plant/HEAD", "ref: refs/heads/main\n"),
                    ("plant2/config", "[core]\n\tworktree = .\n\tfsmonitor = id\n"),
                )
            ]
    assert [r.is_error for r in results] == [False, False, True, True]
    assert "git repository" in _text(results[2]) and "git repository" in _text(results[3])
    assert not (config.workspace_root / "plant" / "HEAD").exists()
    assert not (config.workspace_root / "plant2" / "config").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_a_set_uid_file_never_exists_in_the_workspace(config: Config, sandbox: Sandbox, mode: str) -> None:
    """A set-uid copy of a shell is refused: not even a stripped copy reaches the workspace."""
    result = await _call(
        config, sandbox, mode, "accept", "run_command", {"command": "cat /bin/sh > shx; chmod 6755 shx; echo done"}
    )
    assert result.is_error and "set-uid" in _text(result)
    assert not (config.workspace_root / "shx").exists()


@pytest.mark.parametrize("mode", ERAS)
async def test_a_link_out_of_the_workspace_is_refused(config: Config, sandbox: Sandbox, mode: str) -> None:
    result = await _call(config, sandbox, mode, "accept", "run_command", {"command": "ln -s ../../etc/passwd p"})
    assert result.is_error and "outside the workspace" in _text(result)
    assert not os.path.lexists(config.workspace_root / "p")


async def test_filling_the_disk_is_refused_and_the_host_folder_does_not_grow(
    tmp_path: Path, docker_ready: None
) -> None:
    """200 MB asked for: the layer stops the command at max_bytes, the change set is refused."""
    config = _config(tmp_path, {"max_bytes": "8m"})
    async with _sandbox(config) as box:
        result = await _call(
            config, box, "legacy", "accept", "run_command", {"command": "head -c 200000000 /dev/zero > big; echo rc=$?"}
        )
    assert result.is_error and "max_bytes" in _text(result)
    assert _tree(config.workspace_root) == {}
    assert list((config.base_dir / "state" / "layers").rglob("layer-*")) == []  # the layer went with its mounts


# --- truncations and rewrites ask first ----------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("command", [": > notes.txt", "echo x > notes.txt", "rm notes.txt"])
async def test_truncating_rewriting_or_deleting_a_file_asks_and_a_no_keeps_it(
    config: Config, sandbox: Sandbox, mode: str, command: str
) -> None:
    notes = _shared(config.workspace_root / "notes.txt", "line one\nline two\n")
    seen: list[str] = []
    result = await _call(config, sandbox, mode, "decline", "run_command", {"command": command}, seen=seen)
    assert result.is_error and _text(result).startswith("blocked by confirm: ")
    assert notes.read_text() == "line one\nline two\n"
    question = seen[-1]
    assert "change set sha256:" in question and "notes.txt" in question
    if command.startswith("echo"):
        assert "-line one" in question and "+x" in question  # the unified diff


@pytest.mark.parametrize("mode", ERAS)
async def test_a_rewrite_is_applied_after_a_yes_and_the_command_runs_once(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    notes = _shared(config.workspace_root / "notes.txt", "old\n")
    sink = MemoryAuditSink()
    result = await _call(
        config,
        sandbox,
        mode,
        "accept",
        "run_command",
        {"command": "echo new > notes.txt; echo side > new.txt"},
        sink=sink,
    )
    data = _data(result)
    assert notes.read_text() == "new\n" and (config.workspace_root / "new.txt").read_text() == "side\n"
    assert sorted((c["path"], c["kind"], c["bytes"]) for c in data["changes"]) == [
        ("new.txt", "created", 5),
        ("notes.txt", "modified", 4),
    ]
    assert sandbox.runs == [1]  # type: ignore[attr-defined]
    executed = sink.events("executed")[-1]
    assert {c["path"]: len(c["sha256"]) for c in executed["changes"]} == {"new.txt": 64, "notes.txt": 64}


@pytest.mark.parametrize("mode", ERAS)
async def test_new_files_and_appends_need_no_yes(config: Config, sandbox: Sandbox, mode: str) -> None:
    log = _shared(config.workspace_root / "log.txt", "a\n")
    seen: list[str] = []
    data = _data(
        await _call(
            config,
            sandbox,
            mode,
            "decline",
            "run_command",
            {"command": "echo b >> log.txt; mkdir -p out/deep; echo hi > out/deep/f.txt"},
            seen=seen,
        )
    )
    assert seen == []
    assert log.read_text() == "a\nb\n" and (config.workspace_root / "out/deep/f.txt").read_text() == "hi\n"
    assert {(c["path"], c["kind"]) for c in data["changes"]} >= {("log.txt", "modified"), ("out/deep/f.txt", "created")}


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_a_python_script_rewriting_dot_env_is_refused(
    config: Config, sandbox: Sandbox, mode: str, answer: str
) -> None:
    """write_file creates a script, an allowed python3 runs it: the .env rewrite never lands."""
    env_file = _shared(config.workspace_root / ".env", "TOKEN=mine\n")
    script = "open('.env', 'w').write('TOKEN=theirs\\n')\n"
    async with runtime(config, sandbox=sandbox) as rt:
        content = YES if answer == "accept" else None
        async with Client(rt.server, mode=mode, elicitation_callback=reply(answer, content)) as c:
            written = await c.call_tool("write_file", {"path": "fix.py", "content": script})
            result = await c.call_tool("run_command", {"command": "python3 fix.py"})
    assert not written.is_error
    assert result.is_error and "protected path (.env)" in _text(result)
    assert env_file.read_text() == "TOKEN=mine\n"


# --- conflicts, dry runs, execute_python ------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_a_host_change_during_the_run_survives_and_is_reported(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    shared = _shared(config.workspace_root / "shared.txt", "v1\n")

    async def host_edit() -> None:
        await anyio.sleep(1.0)
        shared.write_text("host v2\n")

    async with anyio.create_task_group() as group:
        group.start_soon(host_edit)
        result = await _call(
            config,
            sandbox,
            mode,
            "accept",
            "run_command",
            {"command": "sleep 2; echo agent >> shared.txt; echo b > b.txt"},
        )
    data = _data(result)
    assert shared.read_text() == "host v2\n"
    assert any(c.startswith("shared.txt:") for c in data["conflicts"])
    assert [c["path"] for c in data["changes"]] == ["b.txt"]  # the rest of the change set still applies


@pytest.mark.parametrize("mode", ERAS)
async def test_dry_run_returns_the_change_set_and_the_verdict_and_applies_nothing(
    config: Config, sandbox: Sandbox, mode: str
) -> None:
    _shared(config.workspace_root / "keep.txt", "keep\n")
    before = _tree(config.workspace_root)
    seen: list[str] = []
    data = _data(
        await _call(
            config,
            sandbox,
            mode,
            "accept",
            "run_command",
            {"command": "rm keep.txt; echo n > new.txt; echo out", "dry_run": True},
            seen=seen,
        )
    )
    assert seen == []  # nothing to decide: nothing will be applied
    assert _tree(config.workspace_root) == before
    assert data["stdout"] == "out\n"
    assert {(c["path"], c["kind"]) for c in data["changes"]} == {("keep.txt", "deleted"), ("new.txt", "created")}
    assert data["effects"]["verdict"] == "confirm" and data["effects"]["applied"] is False


async def test_execute_python_rw_is_judged_like_run_command(tmp_path: Path, docker_ready: None) -> None:
    config = _config(tmp_path, python="rw")
    _shared(config.workspace_root / ".env", "A=1\n")
    code = "open('made.txt','w').write('m')\nopen('.env','a').write('B=2\\n')\n"
    async with _sandbox(config) as box, runtime(config, sandbox=box) as rt:
        async with Client(rt.server, mode="legacy", elicitation_callback=reply("accept", YES)) as c:
            refused = await c.call_tool("execute_python", {"code": code})
            made = await c.call_tool("execute_python", {"code": "open('made.txt','w').write('m')"})
    assert refused.is_error and ".env" in _text(refused)
    assert (config.workspace_root / ".env").read_text() == "A=1\n"
    assert _data(made)["changes"] == [{"path": "made.txt", "kind": "created", "bytes": 1}]


async def test_read_only_python_sees_no_secrets_even_from_a_pooled_container(
    tmp_path: Path, docker_ready: None
) -> None:
    """.git/.ssh/.env/.envrc are masked in ro runs, also when created after the pooled container."""
    config = _config(tmp_path)
    async with _sandbox(config) as box:
        await anyio.sleep(1.5)  # the pool has a read-only container from before the secrets existed
        (config.workspace_root / ".ssh").mkdir()
        _shared(config.workspace_root / ".ssh" / "id_ed25519", "PRIVATE\n")
        _shared(config.workspace_root / ".env", "TOKEN=1\n")
        _shared(config.workspace_root / "visible.txt", "seen\n")
        code = (
            "import os\n"
            "for p in ('.ssh/id_ed25519', '.env', 'visible.txt'):\n"
            "    try: print(p, repr(open(p).read()))\n"
            "    except OSError as e: print(p, 'ERR')\n"
        )
        data = _data(await _call(config, box, "legacy", "accept", "execute_python", {"code": code}))
    assert "PRIVATE" not in data["stdout"] and "TOKEN" not in data["stdout"]
    assert "visible.txt 'seen\\n'" in data["stdout"]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_confirm_program_with_destructive_effects_asks_twice_and_runs_once(
    tmp_path: Path, docker_ready: None, mode: str
) -> None:
    """`rm` in confirm: the program question before the run, the effects question after it; one run."""
    config = _config(tmp_path)
    config = config.model_copy(
        update={
            "tools": config.tools.model_copy(
                update={
                    "run_command": config.tools.run_command.model_copy(update={"allow": ("echo",), "confirm": ("rm",)})
                }
            )
        }
    )
    notes = _shared(config.workspace_root / "notes.txt", "keep me?\n")
    seen: list[str] = []
    async with _sandbox(config) as box:
        result = await _call(config, box, mode, "accept", "run_command", {"command": "rm notes.txt"}, seen=seen)
        runs = list(box.runs)  # type: ignore[attr-defined]
    data = _data(result)
    assert not notes.exists() and data["changes"] == [{"path": "notes.txt", "kind": "deleted", "bytes": 0}]
    assert runs == [1]
    assert len(seen) == 2 and "rm: confirm" in seen[0] and "delete notes.txt" in seen[1]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_host_edit_before_the_call_is_seen_not_a_conflict(
    tmp_path: Path, docker_ready: None, mode: str
) -> None:
    """A pooled container's layer was mounted before the user's edit: the edit is read, and applied over."""
    config = _config(tmp_path)
    async with _sandbox(config) as box:
        for _ in range(200):  # until the read-write pool container (and its layer) exists
            if box._pool.size() >= box._pool.target():
                break
            await anyio.sleep(0.05)
        log = _shared(config.workspace_root / "log.txt", "edited after the pool filled\n")
        data = _data(
            await _call(config, box, mode, "accept", "run_command", {"command": "cat log.txt; echo b >> log.txt"})
        )
    assert data["stdout"] == "edited after the pool filled\n" and data["conflicts"] == []
    assert log.read_text() == "edited after the pool filled\nb\n"
