"""benchmarks/report.py builds BENCHMARKS.md from the JSON results that benchmarks.results.save_result writes."""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

import pytest

from benchmarks import report
from benchmarks.results import save_result

ENVIRONMENT = {
    "machine": "x86_64",
    "cpu": "Test CPU 3000",
    "cpu_cores": 2,
    "torch_threads": 1,
    "gpus": [],
    "python": "3.11.7",
    "torch": "2.5.0",
    "torchvision": "0.20.0",
    "lightning": "2.4.0",
    "torchmetrics": "1.5.0",
}


def write_record(directory, name, markdown, **environment):
    record = {
        "name": name,
        "command": f"python -m benchmarks.{name} --fast",
        "date": "2025-01-02T03:04:05+00:00",
        "environment": {**ENVIRONMENT, **environment},
        "markdown": markdown,
        "figures": {"value": 1.0},
    }
    (directory / f"{name}.json").write_text(json.dumps(record))


def test_save_result_round_trips(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["benchmarks/quality.py", "--g_steps", "10"])
    path = save_result("quality", "| a | b |", {"fid": 1.5, "rows": [{"variant": "GAN"}]}, directory=tmp_path / "new")
    record = json.loads(path.read_text())
    assert path == tmp_path / "new" / "quality.json"
    assert record["name"] == "quality"
    assert record["markdown"] == "| a | b |"
    assert record["figures"] == {"fid": 1.5, "rows": [{"variant": "GAN"}]}
    assert record["command"] == "python -m benchmarks.quality --g_steps 10"
    assert record["environment"]["torch"] == version("torch")
    assert record["environment"]["cpu_cores"] >= 1
    # What save_result writes, report reads.
    assert report.load_results(tmp_path / "new") == [record]


def test_report_orders_sections_and_prints_the_environment_beside_the_figures(tmp_path):
    write_record(tmp_path, "zeta", "Zeta figures.")
    write_record(
        tmp_path, "quality", "### Sample quality\n\n| FID |\n| --- |\n| 3.2 |\n", gpus=["NVIDIA H100", "NVIDIA H100"]
    )
    write_record(tmp_path, "alpha", "Alpha figures.")
    write_record(tmp_path, "overhead", "Overhead figures.")
    output = tmp_path / "BENCHMARKS.md"

    assert report.write_report(tmp_path, output) == output
    text = output.read_text()

    assert text.startswith("# Benchmarks\n")
    assert "python -m benchmarks.report" in text.split("## ")[0]
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    # A markdown that opens with a heading keeps it as the title (at level 2); the others get their name.
    assert headings == ["## overhead", "## Sample quality", "## alpha", "## zeta"]
    expected_quality = (
        "## Sample quality\n\n"
        "- Command: `python -m benchmarks.quality --fast`\n"
        "- Date: 2025-01-02T03:04:05+00:00\n"
        "- Machine: x86_64, Test CPU 3000, 2 cores; torch threads: 1; GPUs: NVIDIA H100, NVIDIA H100\n"
        "- Versions: python 3.11.7, torch 2.5.0, torchvision 0.20.0, lightning 2.4.0, torchmetrics 1.5.0\n\n"
        "| FID |\n| --- |\n| 3.2 |\n\n"
    )
    assert expected_quality in text
    assert "- Machine: x86_64, Test CPU 3000, 2 cores; torch threads: 1; GPUs: none\n" in text
    assert text.endswith("Zeta figures.\n")


def test_report_refuses_malformed_or_missing_results(tmp_path):
    with pytest.raises(FileNotFoundError, match="No benchmark results"):
        report.render(tmp_path)
    (tmp_path / "broken.json").write_text(json.dumps({"name": "broken", "markdown": "x"}))
    with pytest.raises(ValueError, match="broken.json is not a benchmark result: it lacks command, date, environment"):
        report.render(tmp_path)


def test_run_refuses_unknown_benchmarks():
    with pytest.raises(ValueError, match="no benchmark named nonexistent; the benchmarks are .*quality"):
        report.run_benchmarks(["nonexistent"])
