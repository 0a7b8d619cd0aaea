"""The tutorial notebooks run top to bottom, headless, on a tiny configuration.

Each notebook has one cell tagged "parameters" (a flat list of simple assignments). The test
inserts a cell right after it that overrides those parameters with tiny values (few images, one
or two training steps, output and cache directories under `tmp_path`), executes the notebook
with nbclient in a fresh `python3` kernel whose working directory is `tmp_path`, and fails if any
cell raises. The static checks make sure the committed notebooks carry no outputs and keep their
parameters cell simple, so the injection keeps working.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO / "notebooks"
CELL_TIMEOUT = 300  # seconds per cell

# Per notebook: the tiny overrides. "{tmp}" is replaced by the test's tmp_path.
TINY = {
    "ssd_encoding_decoding.ipynb": {"N_IMAGES": 4, "CACHE_DIR": "{tmp}/cache"},
    "ssd7_training.ipynb": {
        "N_TRAIN": 16, "N_VAL": 8, "BATCH_SIZE": 4, "EPOCHS": 1, "STEPS_PER_EPOCH": 2,
        "N_EXAMPLES": 2, "CACHE_DIR": "{tmp}/cache", "OUTPUT_DIR": "{tmp}/out",
    },
    "ssd300_training.ipynb": {
        "N_TRAIN": 8, "N_VAL": 4, "BATCH_SIZE": 2, "EPOCHS": 1, "STEPS_PER_EPOCH": 1,
        "VALIDATION_STEPS": 1, "CACHE_DIR": "{tmp}/cache", "OUTPUT_DIR": "{tmp}/out",
    },
    "ssd300_inference.ipynb": {"N_VAL": 2, "CACHE_DIR": "{tmp}/cache", "OUTPUT_DIR": "{tmp}/out"},
    "ssd512_inference.ipynb": {"N_VAL": 2, "CACHE_DIR": "{tmp}/cache", "OUTPUT_DIR": "{tmp}/out"},
    "ssd300_evaluation.ipynb": {
        "N_TRAIN": 16, "N_VAL": 8, "TRAIN_STEPS": 2, "BATCH_SIZE": 4, "CACHE_DIR": "{tmp}/cache",
    },
    "ssd300_evaluation_COCO.ipynb": {
        "N_TRAIN": 16, "N_VAL": 8, "TRAIN_STEPS": 2, "BATCH_SIZE": 4, "CACHE_DIR": "{tmp}/cache",
        "RESULTS_FILE": "{tmp}/detections.json",
    },
    "weight_sampling_tutorial.ipynb": {"CACHE_DIR": "{tmp}/cache", "OUTPUT_DIR": "{tmp}/out"},
}


def _parameters_cell(nb) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected exactly one 'parameters' cell, found {len(tagged)}"
    return tagged[0]


def _parameter_names(source: str) -> list[str]:
    names = []
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            "the parameters cell must be a flat list of simple assignments; "
            f"found: {ast.unparse(node)!r}"
        )
        target = node.targets[0]
        assert isinstance(target, ast.Name), f"not a simple name: {ast.unparse(target)!r}"
        ast.literal_eval(node.value)  # a literal: str, number, None, list, tuple, bool
        names.append(target.id)
    return names


def _overrides(name: str, tmp_path: Path) -> dict:
    return {
        key: value.format(tmp=tmp_path) if isinstance(value, str) else value
        for key, value in TINY[name].items()
    }


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(TINY)


def test_readme_lists_every_notebook():
    readme = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    missing = [name for name in TINY if name not in readme]
    assert not missing, f"notebooks/README.md does not mention {missing}"


@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_is_committed_clean(name):
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{name}: a code cell has outputs; strip them"
            assert cell.execution_count is None, f"{name}: a code cell has an execution count"
    names = _parameter_names(nb.cells[_parameters_cell(nb)].source)
    unknown = sorted(set(TINY[name]) - set(names))
    assert not unknown, f"{name}: the tiny overrides name unknown parameters {unknown}"


SLOW = {"ssd300_training.ipynb"}  # over a minute on 2 CPU cores (SSD300 training steps)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(TINY)]
)
def test_notebook_runs(name, tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    position = _parameters_cell(nb)
    lines = ["# Injected by tests/test_notebooks.py"]
    lines += [f"{key} = {value!r}" for key, value in _overrides(name, tmp_path).items()]
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(position + 1, injected)

    # The kernel inherits this environment: make the checkout importable, keep logs quiet.
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(REPO) + (os.pathsep + path if path else ""))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("KERAS_SSD_CACHE", str(tmp_path / "cache"))

    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
