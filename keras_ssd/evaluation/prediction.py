"""Run a model over a whole dataset: the prediction loop shared by the VOC and COCO evaluators.

Detections come back in the original images' pixel coordinates, one
`(k, 6)` float array `[class_id, conf, xmin, ymin, xmax, ymax]` per image
(empty: `(0, 6)`), background rows removed.
"""

from __future__ import annotations

import math

import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "DATA_GENERATOR_MODES",
    "DEFAULT_PRED_FORMAT",
    "MODEL_MODES",
    "check_format",
    "predict_on_generator",
]

MODEL_MODES = ("training", "inference", "inference_fast")
DATA_GENERATOR_MODES = ("resize", "pad")
DEFAULT_PRED_FORMAT = {"class_id": 0, "conf": 1, "xmin": 2, "ymin": 3, "xmax": 4, "ymax": 5}
_PRED_COLUMNS = ("class_id", "conf", "xmin", "ymin", "xmax", "ymax")


def check_format(fmt, keys, name: str) -> list[int]:
    """Column indices of `keys` in a `{'class_id': 0, ...}` format dict."""
    if not isinstance(fmt, dict) or any(key not in fmt for key in keys):
        raise ValueError(
            f"`{name}` must be a dict with the keys {list(keys)}. Received: {name}={fmt!r}"
        )
    return [int(fmt[key]) for key in keys]


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _transformations(img_height: int, img_width: int, data_generator_mode: str) -> list:
    from keras_ssd.data.transforms import ConvertTo3Channels
    from keras_ssd.data.transforms import RandomPadFixedAR
    from keras_ssd.data.transforms import Resize

    transforms = [ConvertTo3Channels()]
    if data_generator_mode == "pad":
        # Pad to the model's aspect ratio first, so the resize does not distort.
        transforms.append(RandomPadFixedAR(patch_aspect_ratio=img_width / img_height))
    transforms.append(Resize(height=img_height, width=img_width))
    return transforms


def _standard_rows(y_pred, columns: list[int]) -> np.ndarray:
    """One image's predictions as `(k, 6)` float `[class_id, conf, xmin, ymin, xmax, ymax]`."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.size == 0:
        return np.zeros((0, 6))
    return y_pred.reshape(-1, y_pred.shape[-1])[:, columns]


def predict_on_generator(
    model,
    data_generator,
    img_height: int,
    img_width: int,
    batch_size: int,
    data_generator_mode: str = "resize",
    model_mode: str = "inference",
    confidence_thresh: float = 0.01,
    iou_threshold: float = 0.45,
    top_k: int = 200,
    pred_coords: str = "centroids",
    normalize_coords: bool = True,
    border_pixels: str = "half",
    pred_format: dict | None = None,
    verbose: bool = True,
    desc: str = "Producing predictions",
):
    """Predict on every image of `data_generator` once, in dataset order.

    Args:
        model: a Keras model. In 'training' mode its output is the raw
            `(B, n_boxes, n_classes + 13)` tensor, decoded here with
            `decode_detections`; in 'inference'/'inference_fast' mode it is the
            decoded, zero-padded `(B, top_k, 6)` tensor (rows of class 0 dropped).
        data_generator: a `DataGenerator`.
        img_height, img_width: the model's input size.
        batch_size: images per forward pass.
        data_generator_mode: 'resize' (resize to the input size) or 'pad' (pad
            to the input's aspect ratio, then resize).
        model_mode: 'training', 'inference' or 'inference_fast'.
        confidence_thresh, iou_threshold, top_k, pred_coords, normalize_coords,
        border_pixels: decoding settings, used in 'training' mode only.
        pred_format: column of each field in the model's (decoded) rows;
            defaults to `{'class_id': 0, 'conf': 1, 'xmin': 2, 'ymin': 3,
            'xmax': 4, 'ymax': 5}`.
        verbose: show a progress bar.
        desc: the progress bar's label.

    Yields:
        `(image_id, detections)` per image, `detections` a `(k, 6)` array
        `[class_id, conf, xmin, ymin, xmax, ymax]` in the original image's
        pixels. When the generator has no image IDs, the IDs are the dataset
        positions `0..N-1`.
    """
    img_height = _check_positive_int(img_height, "img_height")
    img_width = _check_positive_int(img_width, "img_width")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if data_generator_mode not in DATA_GENERATOR_MODES:
        raise ValueError(
            f"`data_generator_mode` must be one of {DATA_GENERATOR_MODES}. "
            f"Received: data_generator_mode={data_generator_mode!r}"
        )
    if model_mode not in MODEL_MODES:
        raise ValueError(
            f"`model_mode` must be one of {MODEL_MODES}. Received: model_mode={model_mode!r}"
        )
    columns = check_format(
        DEFAULT_PRED_FORMAT if pred_format is None else pred_format, _PRED_COLUMNS, "pred_format"
    )
    from keras_ssd.data.transforms import apply_inverse_transforms

    has_ids = getattr(data_generator, "image_ids", None) is not None
    returns = ["processed_images", "inverse_transform"]
    if has_ids:
        returns.insert(1, "image_ids")
    batches = data_generator.generate(
        batch_size=batch_size,
        shuffle=False,
        transformations=_transformations(img_height, img_width, data_generator_mode),
        label_encoder=None,
        returns=tuple(returns),
        keep_images_without_gt=True,
    )
    dataset_size = int(data_generator.dataset_size)
    n_batches = math.ceil(dataset_size / batch_size)
    position = 0
    for _ in tqdm(range(n_batches), desc=desc, disable=not verbose):
        batch = next(batches)
        images, inverse_transforms = batch[0], batch[-1]
        image_ids = batch[1] if has_ids else range(position, position + len(images))
        position += len(images)
        y_pred = np.asarray(model.predict_on_batch(images))
        if model_mode == "training":
            from keras_ssd.encoding.output_decoder import decode_detections

            decoded = decode_detections(
                y_pred,
                confidence_thresh=confidence_thresh,
                iou_threshold=iou_threshold,
                top_k=top_k,
                input_coords=pred_coords,
                normalize_coords=normalize_coords,
                img_height=img_height,
                img_width=img_width,
                border_pixels=border_pixels,
            )
            rows = [_standard_rows(y, columns) for y in decoded]
        else:
            rows = [_standard_rows(y, columns) for y in y_pred]
            rows = [r[r[:, 0] != 0] for r in rows]  # zero padding and background
        rows = apply_inverse_transforms(rows, inverse_transforms)
        for image_id, detections in zip(image_ids, rows):
            detections = np.asarray(detections, dtype=np.float64).reshape(-1, 6)
            yield image_id, detections
