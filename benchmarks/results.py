"""Where benchmark scripts leave their figures, for ``python -m benchmarks.report`` to gather into BENCHMARKS.md.

Each script ends with ``save_result(name, markdown, figures)``: ``benchmarks/results/<name>.json`` then holds its
section of BENCHMARKS.md (markdown), the raw figures, the command that produced them and the machine and library
versions they were measured on, so every figure in BENCHMARKS.md stands beside where it came from.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

RESULTS_DIR = Path(__file__).parent / "results"


def environment() -> dict[str, Any]:
    """The machine and library versions a figure was measured on."""
    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    return {
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpus": gpus,
        "python": platform.python_version(),
        **{package: version(package) for package in ("torch", "torchvision", "lightning", "torchmetrics")},
    }


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def save_result(name: str, markdown: str, figures: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write ``<directory>/<name>.json``: the markdown section, raw figures, command, date and environment."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    record = {
        "name": name,
        "command": " ".join(["python", "-m", f"benchmarks.{name}", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
        "markdown": markdown,
        "figures": figures,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
