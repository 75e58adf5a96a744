"""Every ``lightning-gans ...`` command in README.md's bash blocks and in the configs' headers runs as written, so
that the documentation cannot drift from the code.

Each command is rewritten only as far as this machine needs, then run in-process through ``lightning_gans.cli.main``
in a temporary working directory:

- paths relative to the checkout (``configs/...``, ``../shared/data``) are made absolute, and the placeholders a
  reader substitutes (PLACEHOLDERS; ``...`` with the option it stands for is dropped) get real values;
- MNIST is read from the real copy in ../shared/data (skipped without it); every other dataset is written small, in
  its real on-disk format, where the command reads it (``data/`` by default, as the datamodules' ``root``);
- fit runs two optimizer steps on four-image batches with narrow networks (tests/test_cli.py's TINY), offline, and
  without FID/KID/IS unless the command monitors them (then on a randomly initialised Inception);
- a command that reads ``--ckpt_path`` (generate, translate, evaluate, a resumed fit) runs after a fit that writes it;
- W&B runs offline;
- commands that need hardware this machine lacks are only parsed (see ``parse_only_reason``).

Identical commands (README's and a config header's) run once.
"""

from __future__ import annotations

import inspect
import pydoc
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from lightning_gans.cli import QUICK_START, main, process_count
from tests.conftest import SHARED_DATA
from tests.fake_inception import write_random_inception_weights
from tests.test_cli import TINY
from tests.test_datamodules import (
    accept_fake_checksums,
    write_celeba_layout,
    write_cifar10_batches,
    write_lsun_lmdb,
    write_solid_image,
)
from tests.translation_data import pattern, write_config_data

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CONFIGS = REPO / "configs"
#: The folder of images substituted for a translate command's LABEL_MAPS.
LABEL_MAPS = "label_maps"
#: What a reader puts in place of each placeholder; the fake data is written where these point.
PLACEHOLDERS = {
    "/path/with/MNIST": str(SHARED_DATA),
    "/path/to/lsun": "data",
    "/path/to/celeba_hq": "data/celeba_hq",
    "CHECKPOINT": "lightning_logs/version_0/checkpoints/last.ckpt",
    "LABEL_MAPS": LABEL_MAPS,
}
SHORT_RUN = ["--trainer.max_steps=2", "--trainer.limit_train_batches=2", "--trainer.enable_progress_bar=false"]
SMALL_BATCHES = ["--data.init_args.batch_size=4", "--data.init_args.num_workers=0"]
#: Metrics a command monitors (e.g. ModelCheckpoint on val/fid) on few samples; the Inception weights are random.
FEW_SAMPLES = [
    "--generative_metrics.num_samples=4",
    "--generative_metrics.max_reference_samples=4",
    "--generative_metrics.batch_size=4",
    "--generative_metrics.kid_subset_size=2",
    "--generative_metrics.is_splits=1",
]
#: Larger images are trained at SMALL_IMAGE here: the commands' networks at 128x128 or 256x256 take too long.
LARGEST_IMAGE, SMALL_IMAGE = 64, 32
ENTRY_POINT = re.compile(r"^(lightning-gans|python -m lightning_gans) ")


# ------------------------------------------------------------------ finding the commands
def readme_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]


def header_lines(config: Path) -> list[str]:
    """The commands in a config's leading comment (lines like ``#   lightning-gans fit --config ...``)."""
    lines = []
    for line in config.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if ENTRY_POINT.match(text):  # the rest of the header is prose, which shlex may not split
            lines.append(text)
    return lines


def cli_arguments(line: str) -> list[list[str]]:
    """The arguments of each lightning-gans command in a shell line: after ``lightning-gans`` or ``-m lightning_gans``
    (so also under pip's ``&&``, torchrun or srun), without trailing comments."""
    tokens = shlex.split(line, comments=True)
    found, start = [], 0
    for end in [*(i for i, token in enumerate(tokens) if token == "&&"), len(tokens)]:
        segment = tokens[start:end]
        for i, token in enumerate(segment):
            if token == "lightning-gans" or (token == "-m" and segment[i + 1 : i + 2] == ["lightning_gans"]):
                found.append(segment[i + (1 if token == "lightning-gans" else 2) :])
                break
        start = end + 1
    return found


def rewritten(args: list[str]) -> list[str]:
    """The command as a reader runs it from a checkout, with the placeholders filled in."""
    result: list[str] = []
    for arg in args:
        if arg == "...":  # "fit ...", "--config ...": your own settings
            if result and result[-1].startswith("--"):
                result.pop()
            continue
        if arg.startswith(("configs/", "../")):
            arg = str((REPO / arg).resolve())
        result.append(PLACEHOLDERS.get(arg, arg))
    if data_class(result).endswith(".MNISTDataModule") and option(result, "--data.init_args.root") is None:
        result += ["--data.init_args.root", str(SHARED_DATA)]  # the real copy instead of a download
    return result


@dataclass(frozen=True)
class Command:
    written: str  # as in the first source that has it
    args: tuple[str, ...]  # as run here, before the overrides that shorten the run
    sources: tuple[str, ...]


def documented_commands() -> list[Command]:
    sources = [("README.md", readme_lines())]
    sources += [(f"configs/{config.name}", header_lines(config)) for config in sorted(CONFIGS.glob("*.yaml"))]
    commands: dict[tuple[str, ...], Command] = {}
    for source, lines in sources:
        for line in lines:
            for args in cli_arguments(line):
                key = tuple(rewritten(args))
                known = commands.get(key)
                written = " ".join(args) if known is None else known.written
                commands[key] = Command(written, key, (*(known.sources if known else ()), source))
    return list(commands.values())


# ------------------------------------------------------------------ reading a command
def option(args: Sequence[str], name: str) -> str | None:
    """The last value given to ``--name`` (as ``--name value`` or ``--name=value``), or None."""
    value = None
    for arg, following in zip(args, [*args[1:], None], strict=True):
        if arg == name:
            value = following
        elif arg.startswith(f"{name}="):
            value = arg.split("=", 1)[1]
    return value


def without_option(args: Sequence[str], name: str) -> list[str]:
    """``args`` less every ``--name value`` and ``--name=value``."""
    kept, skip = [], False
    for arg in args:
        if skip or arg.startswith(f"{name}="):
            skip = False
        elif arg == name:
            skip = True
        else:
            kept.append(arg)
    return kept


def config_files(args: Sequence[str]) -> list[Path]:
    return [Path(value) for arg, value in zip(args, args[1:], strict=False) if arg == "--config"]


def config_section(args: Sequence[str], key: str) -> tuple[Path | None, dict]:
    """The last config file that sets ``key`` (model, data, trainer) and its section, or (None, {}). A missing file
    is left to the command to report."""
    for path in reversed([path for path in config_files(args) if path.is_file()]):
        section = yaml.safe_load(path.read_text()).get(key)
        if section:
            return path, section
    return None, {}


def data_class(args: Sequence[str]) -> str:
    return config_section(args, "data")[1].get("class_path", QUICK_START["data"])


def model_class(args: Sequence[str]) -> str:
    return config_section(args, "model")[1].get("class_path", QUICK_START["model"])


def data_parameters(args: Sequence[str]) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(pydoc.locate(data_class(args))).parameters)


def data_setting(args: Sequence[str], name: str) -> object:
    """The datamodule's setting ``name`` as the command has it: on the command line, in its config, or by default."""
    given = option(args, f"--data.init_args.{name}")
    configured = config_section(args, "data")[1].get("init_args", {})
    return given if given is not None else configured.get(name, data_parameters(args)[name].default)


def parse_only_reason(args: Sequence[str]) -> str | None:
    """Why a command cannot train here; it is then only parsed. The configs these commands name are trained by the
    other commands."""
    devices, nodes = option(args, "--trainer.devices") or 1, int(option(args, "--trainer.num_nodes") or 1)
    if process_count(option(args, "--trainer.accelerator") or "auto", devices, nodes) > 1:
        return "several GPUs or nodes"
    if option(args, "--model.init_args.torch_compile") == "true":
        return "torch.compile takes minutes on a CPU"
    if "--print_config" in args:
        return "it only prints the configuration"
    return None


# ------------------------------------------------------------------ running a command
def run(args: list[str]) -> None:
    try:
        main(args)
    except SystemExit as exit:
        assert exit.code in (0, None), f"lightning-gans {' '.join(args)} exited with status {exit.code}"


def write_small_data(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the data the fit command reads, small and in its dataset's real format, where it reads it (data
    outside the working directory, such as the real MNIST, is left alone)."""
    name = data_class(args).rsplit(".", 1)[-1]
    if name == "DigitsDataModule":  # scikit-learn's, bundled
        return
    root = (cwd / str(data_setting(args, "root"))).resolve()
    if not root.is_relative_to(cwd.resolve()):
        return
    root.mkdir(parents=True, exist_ok=True)
    accept_fake_checksums(monkeypatch)
    if name in ("UnpairedImageDataModule", "PairedImageDataModule"):
        write_config_data(config_section(args, "data")[0], root)
    elif name == "CIFAR10DataModule":
        write_cifar10_batches(root, n=16)
    elif name == "CelebADataModule":
        write_celeba_layout(root, n=16)
    elif name == "LSUNDataModule":
        write_lsun_lmdb(root, str(data_setting(args, "category")), n=16)
    elif name == "ImageFolderDataModule":
        for index in range(16):
            write_solid_image(root / f"{index:05d}.png", (64, 64))
    else:
        pytest.fail(f"no small data for {name}: teach write_small_data to write it")


def fit(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fit command, shortened and offline; asserts that it wrote a checkpoint."""
    write_small_data(args, cwd, monkeypatch)
    overrides = [*SHORT_RUN, *SMALL_BATCHES, *TINY[model_class(args)]]
    if "download" in data_parameters(args):
        overrides.append("--data.init_args.download=false")
    if int(data_setting(args, "image_size")) > LARGEST_IMAGE:
        overrides.append(f"--data.init_args.image_size={SMALL_IMAGE}")
    if option(args, "--trainer.accelerator") == "gpu":
        overrides.append("--trainer.accelerator=cpu")
    if any("val/" in arg for arg in args):  # monitors the metrics, so they must run
        weights = write_random_inception_weights(cwd / "inception.pth")
        overrides += [*FEW_SAMPLES, f"--generative_metrics.inception_weights={weights}"]
        overrides.append(f"--generative_metrics.cache_dir={cwd / 'statistics'}")
    else:
        overrides.append("--generative_metrics.metrics=[]")
    run([*args, *overrides])
    assert list(cwd.glob("**/checkpoints/*.ckpt")), f"lightning-gans {' '.join(args)} wrote no checkpoint"


def checkpoint_fit(command: Command) -> list[str]:
    """The fit whose checkpoint a generate or translate command reads: that of the config in whose header it
    appears, else the quick start's (README's generate follows it)."""
    headers = [source for source in command.sources if source.startswith("configs/")]
    return ["fit", "--config", str(REPO / headers[0])] if headers else ["fit"]


COMMANDS = documented_commands()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks run fastest on one thread, and far faster than on threads that share a busy machine's cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("command", COMMANDS, ids=[command.written for command in COMMANDS])
def test_documented_command_runs(command, tmp_path, monkeypatch, capsys, request):
    monkeypatch.chdir(tmp_path)
    args = list(command.args)
    if str(SHARED_DATA) in args:
        request.getfixturevalue("shared_data")  # skips without the real MNIST
    if config_section(args, "trainer")[1].get("logger"):  # configs/wandb*.yaml
        request.getfixturevalue("offline_wandb")
        monkeypatch.setenv("WANDB_MODE", "offline")
        monkeypatch.setenv("WANDB_DIR", str(tmp_path))

    if parse_only_reason(command.args):
        run(args if "--print_config" in args else [*args, "--print_config"])
        assert "class_path:" in capsys.readouterr().out
    elif args[0] == "fit":
        if option(args, "--ckpt_path") is not None:  # a resume: first the run it resumes
            fit(without_option(args, "--ckpt_path"), tmp_path, monkeypatch)
        fit(args, tmp_path, monkeypatch)
    else:
        ckpt_path = option(args, "--ckpt_path")
        if ckpt_path is not None:
            fit(checkpoint_fit(command), tmp_path, monkeypatch)
            assert Path(ckpt_path).is_file(), f"the fit wrote no {ckpt_path}"
        if LABEL_MAPS in args:
            (tmp_path / LABEL_MAPS).mkdir()
            for index in range(3):
                pattern(index, 40, "RGB").save(tmp_path / LABEL_MAPS / f"{index}.png")
        run(args)
        if args[0] == "generate":
            assert (tmp_path / (option(args, "--output_dir") or "samples") / "grid.png").is_file()
        if args[0] == "translate":
            assert list((tmp_path / (option(args, "--output_dir") or "translations")).glob("**/*.png"))


def test_the_configs_of_commands_that_only_parse_are_trained_by_other_commands():
    parsed, trained = set(), set()
    for command in COMMANDS:
        (parsed if parse_only_reason(command.args) else trained).update(config_files(command.args))
    assert parsed <= trained, f"no documented command trains {sorted(map(str, parsed - trained))}"
