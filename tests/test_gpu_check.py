"""benchmarks/gpu_check.py (and its wrapper gpu_check.sh) in --device cpu --quick mode: every section runs and is
recorded, and a short time budget records checks as skipped instead of starting them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gpu_check import GPU, GPU_IMAGE_SIZES, PRECISIONS, SECTIONS, batch_for, model_for
from benchmarks.throughput import SETTINGS
from tests.registry import VARIANTS

REPO_ROOT = Path(__file__).resolve().parents[1]


def figures(out: Path) -> dict:
    return json.loads((out / "gpu_check.json").read_text())["figures"]


def test_quick_mode_records_every_variant_and_section(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--device", "cpu", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = figures(tmp_path)
    sections = result["sections"]
    assert set(sections) == set(SECTIONS)
    assert set(sections["step_times"]) == set(VARIANTS)
    for name, by_precision in sections["step_times"].items():
        assert set(by_precision) == set(PRECISIONS), name
        for precision, check in by_precision.items():
            assert math.isfinite(check["ms_per_g_step"]) and check["ms_per_g_step"] > 0, (name, precision)
            assert "passed" in check and isinstance(check["problems"], list)
            if precision != "16-mixed":  # CPU fp16 autocast is not CUDA's: its skipped steps are figures, not bugs
                assert check["passed"], (name, precision, check["problems"])
            else:
                assert isinstance(check["skipped_steps_after_warmup"], int)
    assert set(sections["dcgan64"]) == set(SETTINGS)
    assert all(check["passed"] and check["images_per_s"] > 0 for check in sections["dcgan64"].values())
    assert result["dcgan64_target"]["speedup"] > 0
    penalty = sections["wgan_gp_penalty"]["16-mixed"]
    assert penalty["passed"], penalty["problems"]
    assert math.isclose(*penalty["penalty_on_trained_critic"].values(), rel_tol=0.05, abs_tol=0.01)
    assert sections["progan"]["16-mixed"]["final_resolution"] == 16
    assert sections["sync_batchnorm"]["auto"]["passed"]
    assert sections["sync_batchnorm"]["ddp"]["skipped"].startswith("needs CUDA")
    assert result["skipped"] == ["sync_batchnorm/ddp"]
    assert "## GPU check" in json.loads((tmp_path / "gpu_check.json").read_text())["markdown"]


def test_the_wrapper_runs_it_and_a_short_budget_skips_checks_instead_of_starting_them(tmp_path):
    budget = 3.0
    run = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--device", "cpu", "--quick", "--out", str(tmp_path)]
        + ["--budget-s", str(budget), "--sections", "dcgan64", "wgan_gp_penalty", "step_times"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = figures(tmp_path)
    sections = result["sections"]
    assert set(sections["step_times"]) == set(VARIANTS)  # every check is listed, run or skipped
    checks = [sections["wgan_gp_penalty"]["16-mixed"], *sections["dcgan64"].values()]
    checks += [check for by_precision in sections["step_times"].values() for check in by_precision.values()]
    run_checks = [check for check in checks if "skipped" not in check]
    skipped = [check for check in checks if "skipped" in check]
    assert run_checks and skipped and len(result["skipped"]) == len(skipped)
    assert all(check["skipped"].startswith("time budget") for check in skipped)
    assert all(check["started_s"] < budget for check in run_checks)
    # The compile check reserves more time than the budget has: it is skipped, not started.
    assert "skipped" in sections["dcgan64"]["bf16-mixed + channels_last + compile"]
    assert sections["progan"] == {} and sections["sync_batchnorm"] == {}  # sections not asked for


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_gpu_runs_build_every_variant_at_its_gpu_geometry(name):
    model = model_for(name, GPU)
    size = GPU_IMAGE_SIZES.get(name, 64)
    assert (model.hparams.image_size, model.hparams.channels) == (size, 3)
    if "generator_features" in model.hparams:  # the registry's width 4 or 8 gives way to the class's default
        assert model.hparams.generator_features == 64
    batch = batch_for(name, model, GPU)
    parts = list(batch) if isinstance(batch, (list, tuple)) else [batch]  # images, or images and labels, or A and B
    assert all(part.size(0) == GPU.batch_size for part in parts)
    images = [part for part in parts if part.dim() == 4]
    assert images and all(part.shape == (GPU.batch_size, 3, size, size) for part in images)
