"""Pictures: detections drawn on images, and loss curves from a training log."""

from __future__ import annotations

import colorsys
import csv
import os
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["class_colors", "draw_detections", "plot_training_log"]


def class_colors(n_classes: int) -> list[tuple[int, int, int]]:
    """`n_classes + 1` distinct RGB colours (index 0, background, is grey)."""
    colors = [(128, 128, 128)]
    for i in range(n_classes):
        r, g, b = colorsys.hsv_to_rgb(i / max(n_classes, 1), 0.85, 1.0)
        colors.append((int(255 * r), int(255 * g), int(255 * b)))
    return colors


def _drawable(detections: np.ndarray, shape) -> np.ndarray:
    """Rows with finite values, boxes clipped to the image (untrained models emit wild boxes)."""
    detections = detections[np.all(np.isfinite(detections), axis=1)].copy()
    detections[:, [2, 4]] = np.clip(detections[:, [2, 4]], 0, shape[1] - 1)
    detections[:, [3, 5]] = np.clip(detections[:, [3, 5]], 0, shape[0] - 1)
    return detections


def draw_detections(
    image: np.ndarray,
    detections: np.ndarray,
    class_names: Sequence[str] | None = None,
    ground_truth: np.ndarray | None = None,
    thickness: int = 2,
) -> np.ndarray:
    """Draw boxes, class names and scores on a copy of an RGB image.

    Args:
        image: `(H, W, 3)` RGB image (uint8, or float in 0-255).
        detections: `(k, 6)` rows `[class_id, confidence, xmin, ymin, xmax, ymax]`
            in pixels of `image`. Rows with non-finite values are skipped and
            boxes are clipped to the image.
        class_names: names indexed by class id (index 0 = background).
        ground_truth: optional `(m, 5)` rows `[class_id, xmin, ymin, xmax, ymax]`,
            drawn thin in white under the detections.
        thickness: box line width in pixels.

    Returns:
        The annotated `(H, W, 3)` uint8 RGB image.
    """
    canvas = np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8))
    detections = _drawable(np.asarray(detections, dtype=np.float64).reshape(-1, 6), canvas.shape)
    n_classes = max(len(class_names) - 1 if class_names else 0,
                    int(detections[:, 0].max()) if len(detections) else 0)
    colors = class_colors(n_classes)
    scale = max(0.35, min(canvas.shape[:2]) / 600)
    if ground_truth is not None:
        for row in np.asarray(ground_truth, dtype=np.float64).reshape(-1, 5):
            x1, y1, x2, y2 = (int(round(v)) for v in row[1:5])
            cv2.rectangle(canvas, (x1, y1), (x2, y2), (255, 255, 255), 1)
    for class_id, score, *box in detections:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        color = colors[int(class_id) % len(colors)]
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        name = class_names[int(class_id)] if class_names else str(int(class_id))
        text = f"{name} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y1 - th - base - 2, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + tw + 2, top + th + base + 2), color, -1)
        cv2.putText(canvas, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def _points(epochs, rows, key) -> list[tuple[int, float]]:
    """`(epoch, value)` pairs of a log column, skipping CSVLogger's 'NA' cells."""
    points = []
    for epoch, row in zip(epochs, rows):
        try:
            points.append((epoch, float(row[key])))
        except (TypeError, ValueError):
            continue
    return points


def plot_training_log(csv_path: str | os.PathLike, png_path: str | os.PathLike,
                      title: str = "SSD training") -> list[str]:
    """Plot every loss column (and mAP, if logged) of a CSVLogger file to a PNG.

    Returns the names of the plotted columns.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"The training log has no epochs yet: {csv_path}")
    epochs = [int(r["epoch"]) + 1 for r in rows]
    loss_keys = [k for k in rows[0] if k.endswith("loss")]
    map_keys = [k for k in rows[0] if k.lower().endswith("map")]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for key in loss_keys:
        points = _points(epochs, rows, key)
        if points:
            ax.plot(*zip(*points), marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if map_keys:
        twin = ax.twinx()
        for key in map_keys:
            points = _points(epochs, rows, key)
            if points:
                twin.plot(*zip(*points), color="black", linestyle="--", marker="s", label=key)
        twin.set_ylabel("mAP")
        twin.set_ylim(0, 1)
        twin.legend(loc="center right")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return loss_keys + map_keys
