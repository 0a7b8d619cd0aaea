"""A plain re-implementation of the Pascal VOC devkit (VOCevaldet.m, VOCap.m) for the tests.

Written independently of keras_ssd, one detection at a time, exactly as the Matlab code:
no vectorisation, no shared helpers. Boxes are corners in pixels, with the devkit's +1.
"""

from __future__ import annotations

import math


def devkit_overlap(bb, bbgt):
    """VOCevaldet's overlap of a detection and a ground-truth box, or None when disjoint."""
    iw = min(bb[2], bbgt[2]) - max(bb[0], bbgt[0]) + 1
    ih = min(bb[3], bbgt[3]) - max(bb[1], bbgt[1]) + 1
    if iw > 0 and ih > 0:
        ua = (
            (bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1)
            + (bbgt[2] - bbgt[0] + 1) * (bbgt[3] - bbgt[1] + 1)
            - iw * ih
        )
        return iw * ih / ua
    return None


def devkit_match(detections, gts, minoverlap=0.5):
    """VOCevaldet for one class.

    Args:
        detections: list of `(image_id, confidence, [xmin, ymin, xmax, ymax])`.
        gts: dict image_id -> list of `([xmin, ymin, xmax, ymax], difficult)`.

    Returns:
        `(tp, fp, npos)`: per-detection 0/1 lists in ranked order, and the
        number of non-difficult boxes.
    """
    npos = sum(1 for boxes in gts.values() for _, difficult in boxes if not difficult)
    # Matlab's sort is stable; Python's sorted is too.
    ranked = sorted(detections, key=lambda d: -d[1])
    detected = {image_id: [False] * len(boxes) for image_id, boxes in gts.items()}
    tp, fp = [], []
    for image_id, _, bb in ranked:
        ovmax, jmax = -math.inf, -1
        for j, (bbgt, _) in enumerate(gts.get(image_id, [])):
            ov = devkit_overlap(bb, bbgt)
            if ov is not None and ov > ovmax:
                ovmax, jmax = ov, j
        t, f = 0, 0
        if ovmax >= minoverlap:
            if not gts[image_id][jmax][1]:
                if not detected[image_id][jmax]:
                    t = 1
                    detected[image_id][jmax] = True
                else:
                    f = 1
        else:
            f = 1
        tp.append(t)
        fp.append(f)
    return tp, fp, npos


def devkit_precision_recall(tp, fp, npos):
    """Cumulative precision/recall; NaN precision where tp + fp == 0 (as Matlab's 0/0)."""
    ctp = cfp = 0
    prec, rec = [], []
    for t, f in zip(tp, fp):
        ctp += t
        cfp += f
        prec.append(ctp / (ctp + cfp) if ctp + cfp else math.nan)
        rec.append(ctp / npos if npos else math.nan)
    return prec, rec


def _matlab_max(values):
    """Matlab's max: ignores NaN; [] -> None."""
    values = [v for v in values if not math.isnan(v)]
    return max(values) if values else None


def devkit_ap_11point(prec, rec, num_points=11):
    """VOC2007: ap = sum over t of max(prec(rec >= t)) / num_points, 0 where empty."""
    ap = 0.0
    for i in range(num_points):
        t = i / (num_points - 1) if num_points > 1 else 0.0
        # A NaN-only selection (every detection so far ignored) is NaN in Matlab;
        # keras_ssd counts those precisions as 0, so the reference does too.
        p = _matlab_max([r_p[1] for r_p in zip(rec, prec) if r_p[0] >= t]) or 0.0
        ap += p / num_points
    return ap


def devkit_ap_integrate(prec, rec):
    """VOCap.m: area under the monotone precision envelope."""
    mrec = [0.0, *rec, 1.0]
    mpre = [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = _matlab_max([mpre[i], mpre[i + 1]])
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
    return ap
