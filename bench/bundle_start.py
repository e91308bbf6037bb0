"""Start-up of the unpacked MCPB bundle the way Claude Desktop starts it (the manifest's `uv run --frozen`).

    python bench/bundle_start.py            # warm uv cache (the one `make` filled from uv.lock), offline
    python bench/bundle_start.py --cold     # an empty uv cache: the wheels the lock pins are downloaded

Times spawn -> tools/list answered, for the first start (uv creates `.venv` in the extension folder from the
lock; Python compiles the bundle's modules) and the second (the environment is reused), each in a fresh
copy of the unpacked bundle, alternating. Prints figures only: no target, the machine is shared and noisy.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundle"
UV = Path(sys.executable).with_name("uv")
ROUNDS = 3


async def start_once(folder: Path, env: dict[str, str]) -> float:
    config = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["server"]["mcp_config"]
    args = [arg.replace("${__dirname}", str(folder)) for arg in config["args"]]
    params = StdioServerParameters(command=str(UV), args=args, env=env, cwd=str(folder.parent))
    started = time.perf_counter()
    with anyio.fail_after(600):
        async with Client(stdio_client(params, errlog=subprocess.DEVNULL)) as client:  # type: ignore[arg-type]
            await client.list_tools()
    return time.perf_counter() - started


def environment(cache: str | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MSGFLASH_", "UV_", "VIRTUAL_ENV")) and k != "PYTHONDONTWRITEBYTECODE"}
    env = base | {"MSGFLASH_SANDBOX_DB": ":memory:", "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": sys.executable}
    if cache is None:
        env["UV_OFFLINE"] = "1"
        if "UV_CACHE_DIR" in os.environ:
            env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    else:
        env["UV_CACHE_DIR"] = cache
    return env


def unpack_fresh_build(root: Path) -> Path:
    """bundle/build.py's archive, unpacked by the pinned mcpb CLI as the host does."""
    archive = root / "msgflash-mcp.mcpb"
    subprocess.run([sys.executable, str(BUNDLE / "build.py"), str(archive)], check=True, stdout=subprocess.DEVNULL)
    unpacked = root / "unpacked"
    mcpb = BUNDLE / "node_modules" / ".bin" / "mcpb"
    subprocess.run([str(mcpb), "unpack", str(archive), str(unpacked)], check=True, stdout=subprocess.DEVNULL)
    return unpacked


async def measure(root: Path, unpacked: Path, cold: bool) -> None:
    firsts: list[float] = []
    seconds: list[float] = []
    for round_ in range(ROUNDS):
        folder = root / f"extension-{round_}"
        shutil.copytree(unpacked, folder)
        cache = str(root / f"uv-cache-{round_}") if cold else None
        env = environment(cache)
        firsts.append(await start_once(folder, env))
        seconds.append(await start_once(folder, env))
    where = "empty uv cache (downloads the locked wheels)" if cold else "warm uv cache, offline"
    print(f"bundle start, {where}, spawn -> tools/list, {ROUNDS} rounds")
    print(f"  first start  (uv creates .venv from uv.lock): median {statistics.median(firsts):.2f} s  "
          f"[{', '.join(f'{t:.2f}' for t in firsts)}]")
    print(f"  second start (environment reused):            median {statistics.median(seconds):.2f} s  "
          f"[{', '.join(f'{t:.2f}' for t in seconds)}]")
    print(f"  machine load (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main(cold: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="msgflash-bundle-bench-") as tmp:
        root = Path(tmp)
        anyio.run(measure, root, unpack_fresh_build(root), cold)


if __name__ == "__main__":
    main("--cold" in sys.argv[1:])
