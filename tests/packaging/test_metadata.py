"""Issue 18, packaging without tricks: declared dependencies, SPDX license, no symlink, server.json.

Fast checks on the source tree; the wheel itself is built and installed in test_wheel.py.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import jsonschema

import secure_mcp
from tests.source_tree import import_statements

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SCHEMA = Path(__file__).with_name("server.schema.json")


def _name(requirement: str) -> str:
    """The normalised distribution name of a PEP 508 requirement (PEP 503 normalisation)."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _runtime_imports() -> dict[str, set[Path]]:
    """Top-level modules imported anywhere in the installed code (secure_mcp/ and tools/)."""
    found: dict[str, set[Path]] = {}
    for folder in ("secure_mcp", "tools"):
        for path in (REPO / folder).rglob("*.py"):
            for node in import_statements(path):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(path.relative_to(REPO))
    return found


def test_every_module_imported_at_run_time_is_a_declared_dependency() -> None:
    """`pip install secure-mcp` alone must bring everything; [dev] is for tests and linters only."""
    declared = {_name(req) for req in PYPROJECT["project"]["dependencies"]}
    owners = packages_distributions()
    missing = {}
    for module, where in _runtime_imports().items():
        if module in sys.stdlib_module_names or module == "secure_mcp" or module == "__future__":
            continue
        distributions = {_name(dist) for dist in owners.get(module, [])}
        assert distributions, f"{module} (imported in {sorted(where)}) belongs to no installed distribution"
        if not distributions & declared:
            missing[module] = sorted(distributions)
    assert missing == {}, f"imported at run time but not in [project] dependencies: {missing}"


def test_the_license_is_an_spdx_expression_and_tools_is_not_a_symlink() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert not (REPO / "secure_mcp" / "tools").is_symlink()
    assert not (REPO / "secure_mcp" / "tools").exists()
    assert "packages" not in PYPROJECT["tool"]["setuptools"], "packages are found by setup.py, not listed"


def test_secure_mcp_tools_is_imported_from_the_top_level_tools_folder() -> None:
    import secure_mcp.tools

    assert Path(secure_mcp.tools.__file__).resolve() == REPO / "tools" / "__init__.py"


def test_server_json_follows_the_registry_schema_and_the_package_version() -> None:
    server = json.loads((REPO / "server.json").read_text())
    jsonschema.validate(server, json.loads(SCHEMA.read_text()))
    version = PYPROJECT["project"]["version"]
    assert server["version"] == version == secure_mcp.__version__
    (package,) = server["packages"]
    assert (package["registryType"], package["identifier"], package["version"]) == ("pypi", "secure-mcp", version)
    assert package["transport"] == {"type": "stdio"}
    assert package["packageArguments"][0] == {"type": "positional", "value": "serve"}


def test_the_schema_check_is_not_vacuous() -> None:
    """The copy still rejects what the registry rejects: a version range, a name without a namespace."""
    schema = json.loads(SCHEMA.read_text())
    server = json.loads((REPO / "server.json").read_text())
    for broken in (
        {**server, "name": "secure-mcp"},
        {**server, "packages": [{**server["packages"][0], "version": "latest"}]},
        {**server, "packages": [{**server["packages"][0], "transport": {"type": "carrier-pigeon"}}]},
    ):
        try:
            jsonschema.validate(broken, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted {broken}")


def test_the_lock_pins_every_dependency_in_the_constraints_file() -> None:
    """constraints.txt is exported from uv.lock (`make lock`): each pyproject dependency is pinned there."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("==")
            pins[_name(name)] = rest.split(";")[0].strip()
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    locked = {_name(p["name"]): p["version"] for p in lock["package"] if "version" in p}
    wanted = [*PYPROJECT["project"]["dependencies"], *PYPROJECT["project"]["optional-dependencies"]["dev"]]
    for requirement in wanted:
        name = _name(requirement)
        assert name in pins, f"{name} is not pinned in constraints.txt (run `make lock`)"
        assert pins[name] == locked[name], f"{name}: constraints.txt {pins[name]} != uv.lock {locked[name]}"
