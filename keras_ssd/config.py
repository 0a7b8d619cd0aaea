"""Run configuration of the command line: one dataclass, from flags or a YAML/JSON file.

A run directory records the resolved configuration (`config.json`), the
package version and the seed, so `keras-ssd train --config run/config.json`
repeats it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from dataclasses import field

__all__ = ["MODELS", "TrainConfig", "load_config_file"]

MODELS = ("ssd7", "ssd300", "ssd512")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "step", "cosine")
STRATEGIES = ("default", "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass
class TrainConfig:
    """Everything `keras-ssd train` needs; every field is also a flag.

    `dataset=None` means the generated shapes dataset (cached under
    `cache_dir`). A VOC dataset is a directory with JPEGImages/, Annotations/
    and ImageSets/Main/<split>.txt; a COCO dataset is an annotations `.json`
    (images in `images_dir`); a CSV dataset is a `.csv` in the ssd_keras
    layout `image_name,xmin,xmax,ymin,ymax,class_id` (images in `images_dir`).
    """

    model: str = "ssd7"
    dataset: str | None = None
    val_dataset: str | None = None
    images_dir: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    classes: list[str] | None = None
    image_size: list[int] | None = None  # [height, width]; model default when None
    epochs: int = 12
    steps_per_epoch: int | None = None  # None: one pass over the training set
    batch_size: int = 16
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    warmup_steps: int = 100
    weight_decay: float = 0.0005  # the models' l2_regularization
    augment: bool = True
    workers: int | None = None  # data worker processes; None: one per CPU core (at most 8)
    weights: str | None = None
    output_dir: str = "runs/ssd"
    seed: int = 0
    eval_every: int = 0  # 0: no mAP during training
    resume: bool = False
    cache_dir: str | None = None
    shapes_train: int = 1500
    shapes_val: int = 300
    strategy: str = "default"
    precision: str = "float32"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and its value."""
        choices = {
            "model": MODELS,
            "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES,
            "strategy": STRATEGIES,
            "precision": PRECISIONS,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"`{name}` must be one of {allowed}. Received: {name}={value!r}")
        for name in ("epochs", "batch_size", "shapes_train", "shapes_val"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        for name in ("warmup_steps", "eval_every", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"`{name}` must be a non-negative integer. Received: {name}={value!r}"
                )
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0
        ):
            raise ValueError(
                f"`workers` must be a non-negative integer. Received: workers={self.workers!r}"
            )
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(
                "`steps_per_epoch` must be a positive integer. "
                f"Received: steps_per_epoch={self.steps_per_epoch!r}"
            )
        if not self.learning_rate > 0:
            raise ValueError(
                f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate!r}"
            )
        if self.image_size is not None:
            size = list(self.image_size)
            if len(size) != 2 or any(int(v) != v or v < 32 for v in size):
                raise ValueError(
                    "`image_size` must be [height, width], each an integer >= 32. "
                    f"Received: image_size={self.image_size!r}"
                )
            self.image_size = [int(v) for v in size]
        if self.classes is not None and (
            not self.classes or len(set(self.classes)) != len(self.classes)
        ):
            raise ValueError(
                f"`classes` must be distinct class names. Received: classes={self.classes!r}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown configuration keys {unknown}. Known keys: {sorted(known)}"
            )
        return cls(**values)


def load_config_file(path: str | os.PathLike) -> dict:
    """Read a YAML (`.yaml`/`.yml`) or JSON configuration file into a dict."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Configuration file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        import yaml

        values = yaml.safe_load(text) or {}
    else:
        values = json.loads(text)
    if not isinstance(values, dict):
        raise ValueError(f"A configuration file must hold a mapping of flags. Received: {path}")
    # The run directory's config.json nests the flags under "config".
    values = values.get("config", values)
    return {key.replace("-", "_"): value for key, value in values.items()}
