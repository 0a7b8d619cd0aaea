"""Test helpers: draw boxes as coloured rectangles and find them again."""

from __future__ import annotations

import numpy as np

COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))


def draw(height, width, labels, channels=3, background=0):
    """A uint8 image with box i of `labels` (`[class, xmin, ymin, xmax, ymax]`, integer
    pixel edges) filled with `COLOURS[i]` on a `background` canvas."""
    image = np.full((height, width, channels), background, dtype=np.uint8)
    for i, (_, x0, y0, x1, y1) in enumerate(np.asarray(labels, dtype=int)):
        image[y0:y1, x0:x1] = COLOURS[i][:channels]
    return image


def find(image, index=0):
    """Bounding rectangle `[xmin, ymin, xmax, ymax]` (pixel edges) of box `index`'s colour,
    or None if no pixel has it."""
    colour = np.array(COLOURS[index][: image.shape[2]])
    mask = np.all(np.abs(image.astype(int) - colour) < 60, axis=-1)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)


def predictions(labels):
    """Labels `[class, xmin, ymin, xmax, ymax]` as prediction rows with confidence 0.9."""
    labels = np.asarray(labels, dtype=float)
    return np.concatenate([labels[:, :1], np.full((len(labels), 1), 0.9), labels[:, 1:]], 1)
