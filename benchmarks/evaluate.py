"""Speed of the vectorised VOC matching + AP against a plain per-prediction loop.

A Pascal-VOC-sized workload: 5,000 images, 20 classes, 1-8 ground-truth boxes per image
(10 % difficult), about 100 detections per image (most near a ground-truth box, so
there are TPs, duplicates and misses). Times `evaluate_detections` (table building,
matching, precision/recall, 11-point AP) and a plain reference kept here: per class, rank
the detections, then one Python iteration per detection (IoU against the image's boxes,
the devkit rules), as ssd_keras's `Evaluator.match_predictions` did. Checks both give the
same APs and prints the times and the speed-up.

    python benchmarks/evaluate.py [--images 5000] [--classes 20] [--detections 100]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from keras_ssd.evaluation.voc import evaluate_detections


def make_dataset(rng, n_images, n_classes, n_detections):
    """Ground truth dict, eval_neutral dict and an `(n, 7)` detection array."""
    ground_truth, eval_neutral, rows = {}, {}, []
    for image in range(n_images):
        k = int(rng.integers(1, 9))
        xy = rng.uniform(0, 400, (k, 2))
        wh = rng.uniform(10, 200, (k, 2))
        labels = np.column_stack([rng.integers(1, n_classes + 1, k), xy, xy + wh])
        ground_truth[image] = labels
        eval_neutral[image] = rng.random(k) < 0.1
        n = int(rng.poisson(n_detections))
        near = rng.random(n) < 0.6
        picks = labels[rng.integers(0, k, n)]
        jitter = rng.normal(0, 8, (n, 4))
        rand_xy = rng.uniform(0, 400, (n, 2))
        rand_boxes = np.column_stack([rand_xy, rand_xy + rng.uniform(10, 200, (n, 2))])
        boxes = np.where(near[:, None], picks[:, 1:] + jitter, rand_boxes)
        classes = np.where(near, picks[:, 0], rng.integers(1, n_classes + 1, n))
        rows.append(
            np.column_stack([np.full(n, image), classes, rng.random(n), boxes])
        )
    return ground_truth, eval_neutral, np.concatenate(rows)


def reference_average_precisions(detections, ground_truth, eval_neutral, n_classes):
    """Plain loop: one Python iteration per detection, VOC devkit rules, 11-point AP."""
    aps = []
    for class_id in range(1, n_classes + 1):
        gts = {}
        npos = 0
        for image, labels in ground_truth.items():
            mask = labels[:, 0] == class_id
            gts[image] = (labels[mask, 1:], eval_neutral[image][mask], np.zeros(mask.sum(), bool))
            npos += int((~eval_neutral[image][mask]).sum())
        preds = detections[detections[:, 1] == class_id]
        preds = preds[np.argsort(-preds[:, 2], kind="mergesort")]
        tp = np.zeros(len(preds))
        fp = np.zeros(len(preds))
        for i, pred in enumerate(preds):
            boxes, difficult, detected = gts[int(pred[0])]
            if len(boxes) == 0:
                fp[i] = 1
                continue
            bb = pred[3:]
            iw = np.maximum(
                np.minimum(bb[2], boxes[:, 2]) - np.maximum(bb[0], boxes[:, 0]) + 1, 0
            )
            ih = np.maximum(
                np.minimum(bb[3], boxes[:, 3]) - np.maximum(bb[1], boxes[:, 1]) + 1, 0
            )
            inter = iw * ih
            union = (
                (bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1)
                + (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
                - inter
            )
            overlaps = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
            j = int(np.argmax(overlaps))
            if overlaps[j] < 0.5:
                fp[i] = 1
            elif difficult[j]:
                continue
            elif not detected[j]:
                tp[i] = 1
                detected[j] = True
            else:
                fp[i] = 1
        ctp, cfp = np.cumsum(tp), np.cumsum(fp)
        prec = np.divide(ctp, ctp + cfp, out=np.zeros_like(ctp), where=(ctp + cfp) > 0)
        rec = ctp / npos if npos else np.full_like(ctp, np.nan)
        if npos == 0:
            aps.append(np.nan)
            continue
        ap = 0.0
        for t in np.arange(11) / 10:
            above = prec[rec >= t]
            ap += (above.max() if above.size else 0.0) / 11
        aps.append(ap)
    return np.array(aps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--detections", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    ground_truth, eval_neutral, detections = make_dataset(
        rng, args.images, args.classes, args.detections
    )
    n_gt = sum(len(v) for v in ground_truth.values())
    print(
        f"{args.images} images, {args.classes} classes, {len(detections)} detections, "
        f"{n_gt} ground-truth boxes"
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = evaluate_detections(
            detections, ground_truth, args.classes, eval_neutral=eval_neutral,
            sorting_algorithm="mergesort",
        )
        fast = time.perf_counter() - start

    start = time.perf_counter()
    reference = reference_average_precisions(detections, ground_truth, eval_neutral, args.classes)
    plain = time.perf_counter() - start

    np.testing.assert_allclose(result.average_precisions[1:], reference)
    print(f"mAP {result.mean_average_precision:.4f} (both implementations agree)")
    print(f"evaluate_detections (vectorised): {fast:8.3f} s")
    print(f"plain per-prediction loop:        {plain:8.3f} s")
    print(f"speed-up:                         {plain / fast:8.1f}x")


if __name__ == "__main__":
    main()
