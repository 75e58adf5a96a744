"""README's code must run as written (with the data pointed at the local copy and the run shortened)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_own_script_snippet_trains_dcgan_on_mnist(shared_data, tmp_path, monkeypatch):
    (snippet,) = [block for block in python_blocks() if "MNISTDataModule" in block]
    monkeypatch.chdir(tmp_path)
    shortened = snippet.replace('root="data"', f'root="{shared_data}", download=False, num_workers=0').replace(
        "Trainer(max_epochs=25,", "Trainer(max_epochs=1, limit_train_batches=2, enable_progress_bar=False,"
    )
    assert shortened.count("max_epochs=1") == 1 and str(shared_data) in shortened, "README snippet changed shape"
    namespace: dict = {}
    exec(compile(shortened, "README.md", "exec"), namespace)
    assert namespace["model"].g_steps == 2
    assert tuple(namespace["images"].shape) == (16, 1, 32, 32)
    assert list((tmp_path / "lightning_logs").glob("version_0/samples/step_*.png"))
