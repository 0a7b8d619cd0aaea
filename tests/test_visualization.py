"""Tests for keras_ssd.visualization: drawn pixels and plotted logs."""

import csv

import cv2
import numpy as np
import pytest

from keras_ssd.visualization import class_colors
from keras_ssd.visualization import draw_detections
from keras_ssd.visualization import plot_training_log


def test_box_is_drawn_where_it_is():
    image = np.zeros((60, 80, 3), np.uint8)
    out = draw_detections(image, [[1, 0.9, 10, 20, 50, 40]], ["background", "thing"],
                          thickness=1)
    assert image.max() == 0  # the input is not modified
    color = np.array(class_colors(1)[1])
    assert np.all(out[30, 10] == color) and np.all(out[30, 50] == color)  # left/right edges
    assert np.all(out[40, 30] == color)  # bottom edge
    assert np.all(out[30, 30] == 0)  # inside stays untouched
    assert out[:20, 10:].any()  # the label sits above the box


def test_ground_truth_drawn_in_white():
    out = draw_detections(np.zeros((40, 40, 3), np.uint8), np.zeros((0, 6)),
                          ground_truth=[[1, 5, 5, 30, 30]])
    assert np.all(out[5, 15] == 255) and np.all(out[15, 15] == 0)


def test_wild_and_non_finite_boxes_do_not_crash():
    rows = [[1, 0.9, 0, 0, 1e12, 5], [2, 0.5, np.nan, 0, 3, 3], [1, np.inf, 1, 1, 2, 2],
            [1, 0.4, -50, -50, 5, 5]]
    out = draw_detections(np.zeros((10, 10, 3), np.uint8), rows, ["bg", "a", "b"])
    assert out.shape == (10, 10, 3) and out.any()


def test_float_and_unnamed_inputs():
    out = draw_detections(np.full((20, 20, 3), 300.0), [[3, 0.5, 2, 2, 10, 10]])
    assert out.dtype == np.uint8 and out.max() == 255


def test_class_colors_are_distinct():
    colors = class_colors(20)
    assert len(colors) == 21 and len(set(colors)) == 21


def test_plot_training_log(tmp_path):
    log = tmp_path / "log.csv"
    with open(log, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss", "val_loss", "val_mAP"])
        writer.writerows([[0, 5.0, 6.0, "NA"], [1, 4.0, 5.5, 0.4], [2, 3.0, 5.0, 0.6]])
    png = tmp_path / "loss.png"
    assert plot_training_log(log, png) == ["loss", "val_loss", "val_mAP"]
    picture = cv2.imread(str(png))
    assert picture is not None and picture.shape[1] > 300


def test_plot_of_an_empty_log_is_an_error(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss\n")
    with pytest.raises(ValueError, match="no epochs"):
        plot_training_log(log, tmp_path / "x.png")
