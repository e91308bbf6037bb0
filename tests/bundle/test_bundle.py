"""The one-click MCPB bundle: `bundle/manifest.json` validates, `bundle/build.py` packs it, and the unpacked
bundle serves tools over stdio when started the way a host starts it.

A host runs the manifest's `mcp_config` command with `${__dirname}` set to the unpacked folder and each
`${user_config.x}` replaced by what the person entered. The test does exactly that, with one difference
so it needs no network: uv runs in a prepared environment (`UV_PROJECT_ENVIRONMENT`, no sync, offline)
whose dependencies come from this repository's venv, but which does not have msgflash_mcp installed, so
the code that answers is the bundle's own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from msgflash_mcp.server.settings import Settings

pytestmark = [pytest.mark.npm, pytest.mark.slow]

REPO = Path(__file__).parents[2]
BUNDLE = REPO / "bundle"
MANIFEST = json.loads((BUNDLE / "manifest.json").read_text(encoding="utf-8"))
MCPB = BUNDLE / "node_modules" / ".bin" / "mcpb"
UV = Path(sys.executable).with_name("uv")
PLACEHOLDER = re.compile(r"\$\{user_config\.([a-z_]+)\}")
MAX_BUNDLE_BYTES = 1_000_000  # the source is ~0.2 MB; more means a venv, node_modules or tests got packed


def require(path: Path, fix: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: {fix}")
    return path


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, **kwargs)


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bundle/build.py` output, unpacked by the pinned mcpb CLI."""
    cli = require(MCPB, "run `bash tests/prepare.sh` (npm ci in bundle/)")
    out = tmp_path_factory.mktemp("bundle")
    built = run([sys.executable, str(BUNDLE / "build.py"), str(out / "msgflash-mcp.mcpb")])
    assert built.returncode == 0, built.stderr
    archive = out / "msgflash-mcp.mcpb"
    assert 0 < archive.stat().st_size < MAX_BUNDLE_BYTES
    unpacked = run([str(cli), "unpack", str(archive), str(out / "unpacked")])
    assert unpacked.returncode == 0, unpacked.stderr
    return out / "unpacked"


@pytest.fixture(scope="module")
def offline_environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv that sees this repo's installed dependencies, but not its editable msgflash_mcp."""
    venv = tmp_path_factory.mktemp("uv-env") / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    # A plain path line: the directory's own .pth files (the editable finder among them) are not run.
    site = Path(sysconfig.get_path("purelib"))
    venv_site = venv / site.relative_to(sys.prefix)
    (venv_site / "repo-dependencies.pth").write_text(f"{site}\n", encoding="utf-8")
    return venv


def load_entry_point() -> ModuleType:
    spec = importlib.util.spec_from_file_location("msgflash_bundle_main", BUNDLE / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def host_launch(unpacked: Path, user_config: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
    """What the host does: substitute `${__dirname}` and `${user_config.x}` (unset fields become "")."""

    def fill(text: str) -> str:
        text = text.replace("${__dirname}", str(unpacked))
        return PLACEHOLDER.sub(lambda match: user_config.get(match.group(1), ""), text)

    config = MANIFEST["server"]["mcp_config"]
    return fill(config["command"]), [fill(arg) for arg in config["args"]], {k: fill(v) for k, v in config["env"].items()}


def test_manifest_passes_the_pinned_mcpb_validator() -> None:
    cli = require(MCPB, "run `bash tests/prepare.sh` (npm ci in bundle/)")
    result = run([str(cli), "validate", str(BUNDLE / "manifest.json")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert MANIFEST["manifest_version"] == "0.4"


def test_every_user_config_field_reaches_a_setting_the_server_reads() -> None:
    env = MANIFEST["server"]["mcp_config"]["env"]
    mapped = {PLACEHOLDER.fullmatch(value).group(1): name for name, value in env.items()}  # type: ignore[union-attr]
    assert set(mapped) == set(MANIFEST["user_config"]) == {"api_key", "teams", "default_workspace", "read_only", "confirm"}
    for variable in mapped.values():
        assert variable.removeprefix("MSGFLASH_").lower() in Settings.model_fields, variable
    secrets = {name for name, spec in MANIFEST["user_config"].items() if spec.get("sensitive")}
    assert secrets == {"api_key", "teams"}  # teams carry team keys: the OS keychain, like the personal key


def test_manifest_version_is_the_package_version() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert MANIFEST["version"] == project["version"]


def test_bundle_ships_the_code_and_nothing_of_the_workshop(unpacked: Path) -> None:
    shipped = {path.relative_to(unpacked).as_posix() for path in unpacked.rglob("*") if path.is_file()}
    assert {"manifest.json", "main.py", "pyproject.toml", "README.md", "server/app.py", "tools/messages.py",
            "sandbox/app.py"} <= shipped
    assert not [name for name in shipped if name.startswith(("tests/", "bench/", ".venv/", "bundle/"))
                or "__pycache__" in name or "node_modules" in name]
    assert json.loads((unpacked / "manifest.json").read_text(encoding="utf-8")) == MANIFEST


def test_fields_left_empty_read_as_not_configured() -> None:
    environ = {"MSGFLASH_API_KEY": "", "MSGFLASH_TEAMS": "${user_config.teams}", "MSGFLASH_CONFIRM": "token",
               "MSGFLASH_DEFAULT_WORKSPACE": "  ", "PATH": ""}
    load_entry_point().drop_unset_user_config(environ)
    assert environ == {"MSGFLASH_CONFIRM": "token", "PATH": ""}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("user_config", "read_only", "active"),
    [
        ({}, False, "personal"),
        ({"read_only": "true", "default_workspace": "sandbox-team"}, True, "sandbox-team"),
        ({"confirm": "off"}, False, "personal"),
    ],
    ids=["defaults", "read-only-team-default", "confirm-off"],
)
async def test_unpacked_bundle_serves_tools_over_stdio(
    unpacked: Path, offline_environment: Path, tmp_path: Path, user_config: dict[str, str], read_only: bool, active: str
) -> None:
    uv = require(UV, "pip install -e '.[dev]' (uv is a dev dependency)")
    command, args, env = host_launch(unpacked, {"confirm": "auto", "read_only": "false", **user_config})
    assert command == "uv"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MSGFLASH_", "UV_", "VIRTUAL_ENV"))}
    env = base | env | {
        "MSGFLASH_SANDBOX_DB": ":memory:",  # not the person's sandbox file
        "UV_PROJECT_ENVIRONMENT": str(offline_environment),
        "UV_NO_SYNC": "1",
        "UV_OFFLINE": "1",
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
    }
    params = StdioServerParameters(command=str(uv), args=args, env=env, cwd=str(tmp_path))
    with (tmp_path / "stderr.txt").open("w", encoding="utf-8") as errlog, anyio.fail_after(90):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            instructions = client.instructions or ""
            names = {tool.name for tool in (await client.list_tools()).tools}
            workspaces = await client.call_tool("list_workspaces", {})
    stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
    assert {"list_workspaces", "get_usage", "list_contacts"} <= names, stderr
    assert ("send_message" in names) is not read_only
    assert "SANDBOX" in instructions  # no key entered: the built-in simulator, announced
    assert ("confirmation is OFF" in instructions) is (user_config.get("confirm") == "off")
    assert workspaces.structured_content is not None
    listed = {entry["name"]: entry["active"] for entry in workspaces.structured_content["data"]}
    assert listed == {"personal": active == "personal", "sandbox-team": active == "sandbox-team"}


def test_readme_install_section_leads_with_the_bundle_and_explains_every_field() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    install = readme.split("## Install in your MCP client", 1)[1].split("\n## ", 1)[0]
    assert install.lstrip().startswith("**Claude Desktop, in one click.** `make bundle` builds `msgflash-mcp.mcpb`")
    env = MANIFEST["server"]["mcp_config"]["env"]
    for field, spec in MANIFEST["user_config"].items():
        variable = next(name for name, value in env.items() if value == f"${{user_config.{field}}}")
        row = next((line for line in install.splitlines() if line.startswith(f"| {spec['title']} |")), None)
        assert row is not None and row.endswith(f"| `{variable}` |"), spec["title"]
