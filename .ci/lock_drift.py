"""Print the packages whose installed version differs from uv.lock (run by `make latest`).

`make latest` runs it with the interpreter of the venv being compared (argument: the lock's path), so
importlib.metadata reads that venv's versions.
"""

import re
import sys
import tomllib
from importlib import metadata


def locked_versions(lock_path: str) -> dict[str, str]:
    with open(lock_path, "rb") as f:
        lock = tomllib.load(f)
    return {p["name"]: p["version"] for p in lock.get("package", []) if "version" in p}


def main() -> int:
    locked = locked_versions(sys.argv[1])
    drift = []
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()  # PEP 503, as uv.lock writes names
        if name in locked and locked[name] != dist.version:
            drift.append(f"  {name}: locked {locked[name]} -> newest {dist.version}")
    print("\n".join(sorted(drift)) or "  none: uv.lock already holds the newest allowed versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
