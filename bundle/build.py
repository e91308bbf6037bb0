"""Build `msgflash-mcp.mcpb`: the one-file bundle Claude Desktop installs with a double-click (`make bundle`).

    python bundle/build.py [OUTPUT]      # default: msgflash-mcp.mcpb at the repository root

Stages exactly the files of the allow-list (`allow_list()`: the manifest, its entry point and icon, the
project files uv runs it from, and per package what its wheel would ship) and packs them with the pinned
`@anthropic-ai/mcpb` CLI from bundle/node_modules (`npm ci` in bundle/). A file the allow-list does not name
(a sandbox `*.db` and its `-wal`/`-shm`, caches, editor files) cannot reach the archive.

The host starts the bundle with `uv run --frozen` (manifest.json): the dependencies are the ones uv.lock
pins, installed from the lock without resolving anything. The project itself is not installed (main.py
imports it from the bundle folder), so the bundle's pyproject.toml says `[tool.uv] package = false` and its
uv.lock is the repository's, re-locked for that one change: `stage_project` checks every pin stayed.
Standard library only (plus the uv of .venv), so any Python 3.11 can run it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MCPB = HERE / "node_modules" / ".bin" / "mcpb"
DEFAULT_OUTPUT = REPO / "msgflash-mcp.mcpb"
# From bundle/. icon.png (512x512) was rendered once from icon.svg by headless Chromium; the SVG stays home.
BUNDLE_FILES = ["manifest.json", "main.py", "icon.png"]
PROJECT_FILES = ["pyproject.toml", "uv.lock"]  # from the repository, as `stage_project` adapts them
# Appended to the bundle's pyproject.toml: uv installs the locked dependencies, never builds the project
# (a build would resolve setuptools, which no lock pins, and write an egg-info into the extension folder).
VIRTUAL_PROJECT = '\n[tool.uv]\n# The MCPB bundle (bundle/build.py): main.py imports the code from this folder.\npackage = false\n'


def project() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def package_folder(package: str, package_dir: dict[str, str]) -> str:
    """`msgflash_mcp.server.api` -> `server/api`, through pyproject's package-dir mapping."""
    root = max((name for name in package_dir if package == name or package.startswith(name + ".")), key=len)
    rest = package.removeprefix(root).lstrip(".")
    return "/".join(part for part in [package_dir[root], *rest.split(".")] if part)


def allow_list() -> list[str]:
    """Every file the bundle may hold, as patterns (`*` stays within one folder): pyproject says what each
    package ships (its modules and its package-data), so the bundle and the wheel cannot disagree."""
    setuptools = project()["tool"]["setuptools"]
    patterns = [*BUNDLE_FILES, *PROJECT_FILES]
    for package in setuptools["packages"]:
        folder = package_folder(package, setuptools["package-dir"])
        patterns += [f"{folder}/*.py", *(f"{folder}/{glob}" for glob in setuptools.get("package-data", {}).get(package, []))]
    return patterns


def allowed(name: str, patterns: list[str]) -> bool:
    """`name` (a path with /) matches one pattern folder by folder: `server/*.py` is not `server/api/x.py`."""
    parts = name.split("/")
    return any(
        len(parts) == len(pattern.split("/"))
        and all(fnmatch.fnmatchcase(part, glob) for part, glob in zip(parts, pattern.split("/"), strict=True))
        for pattern in patterns
    )


def source_files(root: Path) -> list[str]:
    """The package files under `root` the allow-list names (the bundle's and project files are staged apart)."""
    package_patterns = [pattern for pattern in allow_list() if "/" in pattern]
    found = {path.relative_to(root).as_posix() for pattern in package_patterns for path in root.glob(pattern)}
    return sorted(name for name in found if (root / name).is_file() and allowed(name, package_patterns))


def mcpb_cli() -> Path:
    if not MCPB.exists():
        raise SystemExit(f"{MCPB} is missing: run `npm ci` in {HERE}")
    return MCPB


def uv_cli() -> str:
    for candidate in (REPO / ".venv" / "bin" / "uv", REPO / ".venv" / "Scripts" / "uv.exe"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("uv")
    if found is None:
        raise SystemExit("uv is missing: run `make .venv/.installed` (uv is a dev dependency)")
    return found


def check_versions_agree() -> None:
    """The manifest repeats the package version (the host shows it); `make manifest` writes it from pyproject."""
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    version = project()["project"]["version"]
    if manifest["version"] != version:
        raise SystemExit(f"bundle/manifest.json version {manifest['version']} != pyproject.toml {version}: run `make manifest`")


def locked_packages(lock: Path, skip: str) -> list[dict[str, Any]]:
    return [package for package in tomllib.loads(lock.read_text(encoding="utf-8"))["package"] if package["name"] != skip]


def stage_project(into: Path) -> None:
    """pyproject.toml with `VIRTUAL_PROJECT`, and uv.lock re-locked for it: every pin kept.

    Not offline: a machine that only ever ran `uv sync --locked` (CI, a fresh clone) has the locked
    wheels in its uv cache but not the index pages a resolution reads, so `uv lock --offline` fails there.
    Re-locking prefers the pins it is given; the comparison below refuses any that moved.
    """
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    if "[tool.uv]" in text:
        raise SystemExit("pyproject.toml has a [tool.uv] table: bundle/build.py must add package = false inside it")
    (into / "pyproject.toml").write_text(text + VIRTUAL_PROJECT, encoding="utf-8")
    shutil.copy2(REPO / "uv.lock", into / "uv.lock")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))} | {"UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(
        [uv_cli(), "lock", "--quiet", "--directory", str(into), "--python", sys.executable],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    name = project()["project"]["name"]
    if locked_packages(into / "uv.lock", name) != locked_packages(REPO / "uv.lock", name):
        raise SystemExit("re-locking the bundle's virtual project changed a pinned dependency: run `uv lock` and retry")


def stage(into: Path) -> None:
    for name in BUNDLE_FILES:
        shutil.copy2(HERE / name, into / name)
    stage_project(into)
    for name in source_files(REPO):
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, into / name)


def build(output: Path) -> Path:
    check_versions_agree()
    cli = mcpb_cli()
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="msgflash-mcpb-") as staging:
        root = Path(staging)
        stage(root)
        subprocess.run([str(cli), "validate", str(root / "manifest.json")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([str(cli), "pack", str(root), str(output)], check=True, stdout=subprocess.DEVNULL)
    return output


def main(argv: list[str]) -> int:
    output = build(Path(argv[0]) if argv else DEFAULT_OUTPUT)
    sys.stdout.write(f"{output}: {output.stat().st_size / 1024:.0f} KiB\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
