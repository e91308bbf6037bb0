"""Where start-up goes, stage by stage, in CPU time (process_time: steadier than wall time on a shared machine).

Each run is a fresh interpreter that imports the SDK (what the 2-tool baseline of bench/latency.py pays
too), then our modules (those `msgflash-mcp` imports on its way to stdio included), reads the settings, builds the server and answers `tools/list` in process. Medians
of BENCH_RUNS runs. `BENCH_BEFORE=<dir>` (laid out as in bench/latency.py) interleaves another copy.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

RUNS = int(os.environ.get("BENCH_RUNS", "9"))
BEFORE = os.environ.get("BENCH_BEFORE")

STAGES = '''
import json, time
clock = time.process_time
marks = [("interpreter", clock())]
from mcp.server import MCPServer
from mcp.server.mcpserver.utilities.logging import configure_logging
configure_logging("WARNING")
import mcp.server.stdio
marks.append(("SDK import (baseline pays it too)", clock()))
from msgflash_mcp.tools import ALL_TOOLSETS
from msgflash_mcp.server.app import build_server, selected_specs
from msgflash_mcp.server.core.settings import load_settings
import msgflash_mcp.server.__main__, msgflash_mcp.server.transport.serve, msgflash_mcp.server.logs  # what `msgflash-mcp` adds
marks.append(("our imports", clock()))
settings = load_settings(sandbox=True, toolsets=None, read_only=None, dry_run=None)
marks.append(("settings", clock()))
from msgflash_mcp.server.call import build_tools
build_tools(selected_specs(settings))
marks.append(("tools: argument models, schemas", clock()))
server = build_server(settings)
marks.append(("rest of build_server", clock()))
import anyio
anyio.run(server.list_tools)
marks.append(("tools/list", clock()))
print(json.dumps([[name, (t - marks[i][1]) * 1000] for i, (name, t) in enumerate(marks[1:])]))
'''


def one_run(pythonpath: str | None) -> list[tuple[str, float]]:
    environment = {"PATH": os.environ.get("PATH", ""), "MSGFLASH_SANDBOX_DB": ":memory:"}
    if pythonpath:
        environment["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, "-c", STAGES], env=environment, capture_output=True, text=True, check=True)
    return [(name, ms) for name, ms in json.loads(out.stdout.strip().splitlines()[-1])]


def main() -> None:
    copies = {"now": None} | ({"before": BEFORE} if BEFORE else {})
    for path in copies.values():  # bytecode and page cache
        one_run(path)
    runs: dict[str, list[list[tuple[str, float]]]] = {name: [] for name in copies}
    for _ in range(RUNS):
        for name, path in copies.items():
            runs[name].append(one_run(path))
    print(f"start-up CPU time by stage (ms, median of {RUNS}, interleaved; --sandbox, in process):")
    stages = [name for name, _ in runs["now"][0]]
    print(f"  {'stage':<36}" + "".join(f"{name:>10}" for name in copies))
    for i, stage in enumerate(stages):
        print(f"  {stage:<36}" + "".join(f"{statistics.median(r[i][1] for r in runs[name]):10.0f}" for name in copies))
    ours = [stage for stage in stages if not stage.startswith("SDK")]
    totals = {name: statistics.median(sum(ms for stage, ms in r if stage in ours) for r in runs[name]) for name in copies}
    print(f"  {'ours (all but the SDK import)':<36}" + "".join(f"{totals[name]:10.0f}" for name in copies))


if __name__ == "__main__":
    main()
