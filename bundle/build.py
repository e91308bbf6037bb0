"""Build `msgflash-mcp.mcpb`: the one-file bundle Claude Desktop installs with a double-click (`make bundle`).

    python bundle/build.py [OUTPUT]      # default: msgflash-mcp.mcpb at the repository root

Stages exactly what the bundle needs (the manifest, its entry point, pyproject.toml and README.md that uv
builds the environment from, and the three source packages) and packs it with the pinned
`@anthropic-ai/mcpb` CLI from bundle/node_modules (`npm ci` in bundle/). Standard library only, so any
Python 3.11 can run it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MCPB = HERE / "node_modules" / ".bin" / "mcpb"
DEFAULT_OUTPUT = REPO / "msgflash-mcp.mcpb"
# What `uv run` needs to build the environment (pyproject names README.md as the readme) plus the code.
TOP_LEVEL_FILES = ["pyproject.toml", "README.md"]
PACKAGES = ["server", "tools", "sandbox"]
BUNDLE_FILES = ["manifest.json", "main.py"]
NOT_SHIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3", "node_modules")


def mcpb_cli() -> Path:
    if not MCPB.exists():
        raise SystemExit(f"{MCPB} is missing: run `npm ci` in {HERE}")
    return MCPB


def check_versions_agree() -> None:
    """The manifest repeats the package version (the host shows it); a mismatch is a release mistake."""
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if manifest["version"] != project["version"]:
        raise SystemExit(
            f"bundle/manifest.json version {manifest['version']} != pyproject.toml version {project['version']}"
        )


def stage(into: Path) -> None:
    for name in BUNDLE_FILES:
        shutil.copy2(HERE / name, into / name)
    for name in TOP_LEVEL_FILES:
        shutil.copy2(REPO / name, into / name)
    for name in PACKAGES:
        shutil.copytree(REPO / name, into / name, ignore=NOT_SHIPPED)


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
