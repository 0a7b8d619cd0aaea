"""`keras-ssd predict`: detections for image files, as JSON and as annotated pictures."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "collect_images", "detection_grid", "predict_images"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def collect_images(paths: Sequence[str]) -> list[str]:
    """Image files named directly or found (non-recursively) in the named folders."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            found += sorted(
                os.path.join(path, name) for name in os.listdir(path)
                if name.lower().endswith(IMAGE_EXTENSIONS)
            )
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise FileNotFoundError(f"Image or folder not found: {path}")
    if not found:
        raise ValueError(f"No images found in {list(paths)}")
    return found


def _prepare(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = image[..., :3]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def _to_original(rows: np.ndarray, image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Keep real, confident rows; scale boxes to the original image and clip them to it."""
    rows = rows.copy()
    rows[:, [2, 4]] = np.clip(rows[:, [2, 4]] * image.shape[1] / width, 0, image.shape[1])
    rows[:, [3, 5]] = np.clip(rows[:, [3, 5]] * image.shape[0] / height, 0, image.shape[0])
    return rows


def predict_images(model, image_paths: Sequence[str], class_names: Sequence[str],
                   output_dir: str | None = None, confidence_threshold: float = 0.5,
                   batch_size: int = 8) -> list[dict]:
    """Run an inference-mode model on image files.

    Each image is resized to the model input; boxes are mapped back to the
    original image size and clipped to it. With `output_dir`, writes `detections.json` and one
    annotated `<name>.png` per image.

    Returns:
        One dict per image: `{"image": path, "width", "height", "detections":
        [{"class_id", "class_name", "score", "box": [xmin, ymin, xmax, ymax]}]}`.
    """
    from keras_ssd.data.image_io import load_image
    from keras_ssd.visualization import draw_detections

    height, width = model.input_shape[1:3]
    results = []
    for start in range(0, len(image_paths), batch_size):
        paths = image_paths[start:start + batch_size]
        originals = [load_image(path) for path in paths]
        batch = np.stack([_prepare(image, height, width) for image in originals])
        decoded = np.asarray(model.predict_on_batch(batch))  # (B, top_k, 6)
        for path, image, rows in zip(paths, originals, decoded):
            keep = (rows[:, 0] > 0) & (rows[:, 1] >= confidence_threshold)
            rows = _to_original(rows[keep], image, height, width)
            results.append({
                "image": path,
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "detections": [
                    {"class_id": int(r[0]), "class_name": class_names[int(r[0])],
                     "score": round(float(r[1]), 4),
                     "box": [round(float(v), 2) for v in r[2:6]]}
                    for r in rows
                ],
            })
            if output_dir is not None:
                os.makedirs(output_dir, exist_ok=True)
                rgb = image if image.ndim == 3 else np.stack([image] * 3, axis=-1)
                picture = draw_detections(rgb[..., :3], rows, class_names)
                name = os.path.splitext(os.path.basename(path))[0] + ".png"
                cv2.imwrite(os.path.join(output_dir, name), picture[..., ::-1])
    if output_dir is not None:
        with open(os.path.join(output_dir, "detections.json"), "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return results


def detection_grid(model, data_generator, class_names, path: str, n_images: int = 8,
                   confidence_threshold: float = 0.5, columns: int = 4) -> str:
    """A grid of dataset images with ground truth (white) and detections, as a PNG."""
    from keras_ssd.visualization import draw_detections

    height, width = model.input_shape[1:3]
    n_images = min(n_images, data_generator.get_dataset_size())
    tiles = []
    for i in range(n_images):
        image = data_generator.load_image(i)
        batch = _prepare(image, height, width)[None]
        rows = np.asarray(model.predict_on_batch(batch))[0]
        keep = (rows[:, 0] > 0) & (rows[:, 1] >= confidence_threshold)
        rows = _to_original(rows[keep], image, height, width)
        tile = draw_detections(image[..., :3], rows, class_names,
                               ground_truth=data_generator.labels[i])
        tiles.append(cv2.resize(tile, (width, height)))
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    rows_of_tiles = [np.concatenate(tiles[i:i + columns], axis=1)
                     for i in range(0, len(tiles), columns)]
    grid = np.concatenate(rows_of_tiles, axis=0)
    cv2.imwrite(path, grid[..., ::-1])
    return path
