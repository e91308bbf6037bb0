"""The one-click MCPB bundle: `bundle/manifest.json` validates and lists what the registry serves,
`bundle/build.py` packs exactly its allow-list, and the unpacked bundle starts from its lock, offline.

A host runs the manifest's `mcp_config` command with `${__dirname}` set to the unpacked folder and each
`${user_config.x}` replaced by what the person entered. The start tests do exactly that, with the real
`uv run --frozen` of the manifest creating the environment from the shipped uv.lock in the unpacked folder,
and `UV_OFFLINE=1` on top. Offline, uv can only install wheels its cache already holds: the tests use the
uv cache this repository's own `.venv` was installed from (`make` runs `uv sync --locked` from the same
uv.lock, so that cache holds every locked wheel for this platform). A test-local cache would need the
network to fill (uv cannot turn installed packages back into wheels), and a start that tried to resolve,
download or build anything fails here instead of passing quietly. After each start the test checks the lock
is byte for byte what was shipped, every installed distribution is the version it pins, the project itself
was not built or installed, and nothing was written into the folder but `.venv/` and `__pycache__/`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from msgflash_mcp.server.core.settings import Settings

pytestmark = [pytest.mark.npm, pytest.mark.slow]

REPO = Path(__file__).parents[2]
BUNDLE = REPO / "bundle"
MANIFEST = json.loads((BUNDLE / "manifest.json").read_text(encoding="utf-8"))
MCPB = BUNDLE / "node_modules" / ".bin" / "mcpb"
UV = Path(sys.executable).with_name("uv")
PLACEHOLDER = re.compile(r"\$\{user_config\.([a-z_]+)\}")
MAX_BUNDLE_BYTES = 1_000_000  # the source is ~0.4 MB; more means a venv, node_modules or tests got packed
STRAYS = ("*.db", "*-wal", "*-shm", "*.sqlite3", "*.pyc", "*/__pycache__/*", ".venv/*", "tests/*", "*.svg")


def load(name: str) -> ModuleType:
    """A script of bundle/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"msgflash_bundle_{name}", BUNDLE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = load("build")


def require(path: Path, fix: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: {fix}")
    return path


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, **kwargs)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bundle/build.py` output."""
    require(MCPB, "run `bash tests/prepare.sh` (npm ci in bundle/)")
    built = tmp_path_factory.mktemp("bundle") / "msgflash-mcp.mcpb"
    done = run([sys.executable, str(BUNDLE / "build.py"), str(built)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert 0 < built.stat().st_size < MAX_BUNDLE_BYTES
    return built


@pytest.fixture(scope="module")
def unpacked(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive unpacked by the pinned mcpb CLI, as the host does; tests start copies of it."""
    folder = tmp_path_factory.mktemp("unpacked") / "msgflash-mcp"
    done = run([str(MCPB), "unpack", str(archive), str(folder)])
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def host_launch(unpacked: Path, user_config: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
    """What the host does: substitute `${__dirname}` and `${user_config.x}` (unset fields become "")."""

    def fill(text: str) -> str:
        text = text.replace("${__dirname}", str(unpacked))
        return PLACEHOLDER.sub(lambda match: user_config.get(match.group(1), ""), text)

    config = MANIFEST["server"]["mcp_config"]
    return fill(config["command"]), [fill(arg) for arg in config["args"]], {k: fill(v) for k, v in config["env"].items()}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def fingerprint(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in folder.rglob("*") if path.is_file()}


def locked_versions(lock: Path) -> dict[str, str]:
    return {package["name"]: package["version"] for package in tomllib.loads(lock.read_text(encoding="utf-8"))["package"]}


def installed_versions(venv: Path) -> dict[str, str]:
    """name -> version of every distribution in a venv, names normalised as uv.lock writes them."""
    found: dict[str, str] = {}
    for info in venv.glob("[lL]ib/**/site-packages/*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


# --- the manifest ---------------------------------------------------------------------------------


def test_manifest_passes_the_pinned_mcpb_validator() -> None:
    cli = require(MCPB, "run `bash tests/prepare.sh` (npm ci in bundle/)")
    result = run([str(cli), "validate", str(BUNDLE / "manifest.json")])  # the icon too, beside the manifest
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr
    assert MANIFEST["manifest_version"] == "0.4"


def test_manifest_tools_prompts_and_version_are_what_the_registry_generates() -> None:
    entries = load("manifest_entries")
    fresh = entries.generated(MANIFEST)
    assert fresh == MANIFEST, f"bundle/manifest.json is stale: run `{entries.FIX}` and commit it"
    check = run([sys.executable, str(BUNDLE / "manifest_entries.py"), "--check"])
    assert check.returncode == 0, check.stderr


@pytest.mark.anyio
async def test_manifest_lists_exactly_what_a_default_server_serves(client: Client) -> None:
    served = {tool.name: tool.description for tool in (await client.list_tools()).tools}
    assert [tool["name"] for tool in MANIFEST["tools"]] == list(served)
    prompts = {prompt.name: [arg.name for arg in prompt.arguments or []] for prompt in (await client.list_prompts()).prompts}
    assert {prompt["name"]: prompt.get("arguments", []) for prompt in MANIFEST["prompts"]} == prompts
    for prompt in MANIFEST["prompts"]:
        for argument in prompt.get("arguments", []):
            assert f"${{arguments.{argument}}}" in prompt["text"]


def test_manifest_states_compatibility_and_an_icon() -> None:
    compatibility = MANIFEST["compatibility"]
    assert compatibility["claude_desktop"].startswith(">=")
    assert set(compatibility["platforms"]) == {"darwin", "win32", "linux"}
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert compatibility["runtimes"] == {"python": project["requires-python"]}
    assert png_size((BUNDLE / MANIFEST["icon"]).read_bytes()) == (512, 512)


def test_the_start_command_uses_the_lock_as_it_is() -> None:
    config = MANIFEST["server"]
    assert config["type"] == "uv" and config["entry_point"] == "main.py"
    args = config["mcp_config"]["args"]
    assert args[0] == "run" and "--frozen" in args and args[-1] == config["entry_point"]
    assert "--upgrade" not in args and "--locked" not in args  # --locked would resolve to compare


def test_every_user_config_field_reaches_a_setting_the_server_reads() -> None:
    env = MANIFEST["server"]["mcp_config"]["env"]
    mapped = {PLACEHOLDER.fullmatch(value).group(1): name for name, value in env.items()}  # type: ignore[union-attr]
    assert set(mapped) == set(MANIFEST["user_config"]) == {"api_key", "teams", "default_workspace", "read_only", "confirm"}
    for variable in mapped.values():
        assert variable.removeprefix("MSGFLASH_").lower() in Settings.model_fields, variable
    secrets = {name for name, spec in MANIFEST["user_config"].items() if spec.get("sensitive")}
    assert secrets == {"api_key", "teams"}  # teams carry team keys: the OS keychain, like the personal key
    assert MANIFEST["user_config"]["read_only"]["type"] == "boolean"  # a checkbox wherever MCPB has one


# --- the archive ----------------------------------------------------------------------------------


def test_the_archive_holds_exactly_the_allow_list(archive: Path) -> None:
    listing = zipfile.ZipFile(archive).namelist()
    patterns = BUILD.allow_list()
    assert [name for name in listing if not BUILD.allowed(name, patterns)] == []
    assert sorted(listing) == sorted([*BUILD.BUNDLE_FILES, *BUILD.PROJECT_FILES, *BUILD.source_files(REPO)])
    assert {"manifest.json", "main.py", "icon.png", "uv.lock", "server/app.py", "server/apps/static/review.html",
            "tools/messages.py", "sandbox/app.py"} <= set(listing)
    strays = [name for name in listing if any(fnmatch.fnmatch(name, glob) for glob in STRAYS)]
    assert strays == []


def test_the_allow_list_leaves_stray_files_out(tmp_path: Path) -> None:
    shipped = ["server/app.py", "server/api/client.py", "server/apps/static/review.html", "sandbox/db.py"]
    strays = ["sandbox/msgflash.sqlite3", "sandbox/sandbox.db", "sandbox/sandbox.db-wal", "sandbox/sandbox.db-shm",
              "server/__pycache__/app.cpython-311.pyc", "server/apps/static/notes.txt", "server/apps/static/.DS_Store",
              "tools/scratch.py~", "tests/test_x.py", "server/api/deep/x.py", "bundle/main.py", ".venv/lib/x.py"]
    for name in shipped + strays:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert BUILD.source_files(tmp_path) == sorted(shipped)


def test_the_shipped_lock_pins_what_the_repository_lock_pins(unpacked: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    assert BUILD.locked_packages(unpacked / "uv.lock", project) == BUILD.locked_packages(REPO / "uv.lock", project)
    (own,) = [p for p in tomllib.loads((unpacked / "uv.lock").read_text(encoding="utf-8"))["package"] if p["name"] == project]
    assert own["source"] == {"virtual": "."}  # never built at start: main.py imports it from the folder
    shipped_pyproject = (unpacked / "pyproject.toml").read_text(encoding="utf-8")
    assert shipped_pyproject == (REPO / "pyproject.toml").read_text(encoding="utf-8") + BUILD.VIRTUAL_PROJECT
    assert json.loads((unpacked / "manifest.json").read_text(encoding="utf-8")) == MANIFEST


def test_fields_left_empty_read_as_not_configured() -> None:
    environ = {"MSGFLASH_API_KEY": "", "MSGFLASH_TEAMS": "${user_config.teams}", "MSGFLASH_CONFIRM": "token",
               "MSGFLASH_DEFAULT_WORKSPACE": "  ", "PATH": ""}
    load("main").drop_unset_user_config(environ)
    assert environ == {"MSGFLASH_CONFIRM": "token", "PATH": ""}


# --- starting it, offline -------------------------------------------------------------------------


def uv_cache_dir() -> str:
    """The cache this repository's .venv was installed from (`uv sync --locked` filled it from uv.lock)."""
    done = run([str(UV), "cache", "dir"])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def offline_host_env(unpacked: Path, user_config: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    command, args, env = host_launch(unpacked, {"confirm": "auto", "read_only": "false", **user_config})
    assert command == "uv"  # the host's own uv; here the one uv.lock pins for development
    # A desktop writes bytecode: PYTHONDONTWRITEBYTECODE (set on some CI machines) would hide those writes.
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MSGFLASH_", "UV_", "VIRTUAL_ENV")) and k != "PYTHONDONTWRITEBYTECODE"}
    return args, base | env | {
        "MSGFLASH_SANDBOX_DB": ":memory:",  # not the person's sandbox file
        "UV_CACHE_DIR": uv_cache_dir(),
        "UV_OFFLINE": "1",  # what is not in the cache fails: nothing is downloaded
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON": sys.executable,
    }


@pytest.mark.anyio
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("user_config", "read_only", "active", "confirm_on", "notice"),
    [
        ({}, False, "personal", True, False),
        ({"read_only": "true", "default_workspace": "sandbox-team"}, True, "sandbox-team", True, False),
        ({"confirm": "off"}, False, "personal", False, False),
        ({"confirm": "Offf"}, False, "personal", True, True),  # a typo: confirmation stays on, the person is told
    ],
    ids=["defaults", "read-only-team-default", "confirm-off", "confirm-typo"],
)
async def test_unpacked_bundle_starts_offline_from_its_lock(
    unpacked: Path, tmp_path: Path, user_config: dict[str, str], read_only: bool, active: str, confirm_on: bool,
    notice: bool,
) -> None:
    require(UV, "make .venv/.installed (uv is a dev dependency)")
    folder = tmp_path / "extension"
    shutil.copytree(unpacked, folder)
    before = fingerprint(folder)
    args, env = offline_host_env(folder, user_config)
    params = StdioServerParameters(command=str(UV), args=args, env=env, cwd=str(tmp_path))
    with (tmp_path / "stderr.txt").open("w", encoding="utf-8") as errlog, anyio.fail_after(200):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            instructions = client.instructions or ""
            names = {tool.name for tool in (await client.list_tools()).tools}
            workspaces = await client.call_tool("list_workspaces", {})
    stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
    assert {"list_workspaces", "get_usage", "list_contacts"} <= names, stderr
    assert ("send_message" in names) is not read_only
    assert "SANDBOX" in instructions  # no key entered: the built-in simulator, announced
    if not read_only:
        assert ("confirmation is OFF" in instructions) is not confirm_on
    assert ("SETTINGS NOTICE (tell the user): MSGFLASH_CONFIRM" in instructions) is notice
    assert ("warning: MSGFLASH_CONFIRM" in stderr) is notice
    assert workspaces.structured_content is not None
    listed = {entry["name"]: entry["active"] for entry in workspaces.structured_content["data"]}
    assert listed == {"personal": active == "personal", "sandbox-team": active == "sandbox-team"}

    after = fingerprint(folder)
    assert {name: after.get(name) for name in before} == before  # uv.lock and every shipped file untouched
    written = sorted(name for name in set(after) - set(before)
                     if not name.startswith(".venv/") and "/__pycache__/" not in f"/{name}")
    assert written == [], "the start wrote into the extension folder"
    installed = installed_versions(folder / ".venv")
    locked = locked_versions(folder / "uv.lock")
    assert installed and {name: locked.get(name) for name in installed} == installed  # every one as pinned
    assert "msgflash-mcp" not in installed and "pytest" not in installed and "uv" not in installed


@pytest.mark.anyio
@pytest.mark.timeout(240)
async def test_a_second_start_reuses_the_environment_the_first_made(unpacked: Path, tmp_path: Path) -> None:
    folder = tmp_path / "extension"
    shutil.copytree(unpacked, folder)
    args, env = offline_host_env(folder, {})
    params = StdioServerParameters(command=str(UV), args=args, env=env, cwd=str(tmp_path))
    environments: list[dict[str, str]] = []
    for _ in range(2):
        with anyio.fail_after(200):
            async with Client(stdio_client(params)) as client:
                assert "list_workspaces" in {tool.name for tool in (await client.list_tools()).tools}
        environments.append({name: digest for name, digest in fingerprint(folder / ".venv").items()
                             if "/__pycache__/" not in f"/{name}"})
    assert environments[0] == environments[1]  # nothing reinstalled or re-resolved the second time


def test_readme_install_section_leads_with_the_bundle_and_explains_every_field() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    install = readme.split("## Install in your MCP client", 1)[1].split("\n## ", 1)[0]
    assert install.lstrip().startswith("**Claude Desktop, in one click.** `make bundle` builds `msgflash-mcp.mcpb`")
    env = MANIFEST["server"]["mcp_config"]["env"]
    for field, spec in MANIFEST["user_config"].items():
        variable = next(name for name, value in env.items() if value == f"${{user_config.{field}}}")
        row = next((line for line in install.splitlines() if line.startswith(f"| {spec['title']} |")), None)
        assert row is not None and row.endswith(f"| `{variable}` |"), spec["title"]
