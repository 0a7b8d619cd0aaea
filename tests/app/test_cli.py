"""End-to-end tests of the `keras-ssd` command line on a tiny generated dataset."""

import csv
import json
import os

import cv2
import keras
import numpy as np
import pytest

from keras_ssd.app.train import run_training
from keras_ssd.cli import main
from keras_ssd.config import TrainConfig
from keras_ssd.data.synthetic import SHAPE_CLASSES

TINY = ["--image-size", "64x64", "--shapes-train", "24", "--shapes-val", "8",
        "--batch-size", "8", "--warmup-steps", "2", "--seed", "3"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, cache_dir):
    run_dir = str(tmp_path_factory.mktemp("runs") / "tiny")
    assert main(["train", *TINY, "--epochs", "2", "--cache-dir", cache_dir,
                 "--output-dir", run_dir]) == 0
    return run_dir


def test_train_writes_every_promised_file(trained_run):
    for name in ("config.json", "state.json", "training_log.csv", "loss.png",
                 "final.weights.h5", "checkpoints/last.keras", "checkpoints/best.keras"):
        assert os.path.isfile(os.path.join(trained_run, name)), name
    record = json.load(open(os.path.join(trained_run, "config.json")))
    assert record["seed"] == 3 and record["keras_ssd_version"]
    assert record["config"]["image_size"] == [64, 64]
    assert record["config"]["classes"] == list(SHAPE_CLASSES)  # resolved names are recorded
    rows = list(csv.DictReader(open(os.path.join(trained_run, "training_log.csv"))))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert all(np.isfinite(float(r["loss"])) and np.isfinite(float(r["val_loss"])) for r in rows)
    picture = cv2.imread(os.path.join(trained_run, "loss.png"))
    assert picture is not None and picture.shape[0] > 100


class _Interrupt(keras.callbacks.Callback):
    """Stops a run like Ctrl-C after `n` epochs (once the epoch's files are written)."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.n:
            raise KeyboardInterrupt


def test_resume_continues_the_same_schedule(tmp_path, cache_dir):
    run_dir = str(tmp_path / "run")
    config = TrainConfig(image_size=[64, 64], shapes_train=24, shapes_val=8, batch_size=8,
                         epochs=3, warmup_steps=2, cache_dir=cache_dir, output_dir=run_dir)
    with pytest.raises(KeyboardInterrupt):
        run_training(config, verbose=0, callbacks=[_Interrupt(1)])
    assert json.load(open(os.path.join(run_dir, "state.json")))["epochs_completed"] == 1

    assert main(["train", "--resume", "--output-dir", run_dir]) == 0
    rows = list(csv.DictReader(open(os.path.join(run_dir, "training_log.csv"))))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]  # no epoch repeated or skipped
    model = keras.models.load_model(os.path.join(run_dir, "checkpoints", "last.keras"))
    # 24 images, a few without objects are skipped in training: every epoch has the same
    # number of steps, so the optimizer ran exactly 3 epochs' worth.
    from keras_ssd.app.datasets import load_run_data
    from keras_ssd.data.pipeline import steps_per_epoch

    data = load_run_data(config, (64, 64))
    assert int(model.optimizer.iterations) == 3 * steps_per_epoch(data.train, 8)
    # the schedule is the one the run started with, read from the saved optimizer
    schedule = model.optimizer._learning_rate
    assert schedule.get_config()["total_steps"] == 3 * steps_per_epoch(data.train, 8)


def test_resume_of_a_finished_run_trains_nothing(trained_run, capsys):
    before = open(os.path.join(trained_run, "training_log.csv")).read()
    assert main(["train", "--resume", "--output-dir", trained_run]) == 0
    assert open(os.path.join(trained_run, "training_log.csv")).read() == before


def test_evaluate_writes_metrics(trained_run, capsys):
    assert main(["evaluate", "--run", trained_run]) == 0
    out = capsys.readouterr().out
    assert "AP (11-point)" in out and "mAP" in out
    metrics = json.load(open(os.path.join(trained_run, "metrics.json")))
    assert set(metrics["per_class"]) == set(SHAPE_CLASSES)
    assert 0.0 <= metrics["mAP_11point"] <= 1.0 and 0.0 <= metrics["mAP_all_point"] <= 1.0
    assert metrics["n_images"] == 8
    assert metrics["coco"] is None or set(metrics["coco"]) >= {"AP", "AP50", "AP75"}


def test_predict_writes_json_and_pictures(trained_run, tmp_path, cache_dir):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(images / "a.jpg"), rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
    cv2.imwrite(str(images / "b.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["predict", "--run", trained_run, str(images), "--output-dir", str(out),
                 "--confidence", "0.0"]) == 0
    results = json.load(open(out / "detections.json"))
    assert [os.path.basename(r["image"]) for r in results] == ["a.jpg", "b.png"]
    assert (results[0]["width"], results[0]["height"]) == (120, 90)
    for detection in results[0]["detections"]:
        assert detection["class_name"] in SHAPE_CLASSES
        xmin, ymin, xmax, ymax = detection["box"]
        assert 0 <= xmin <= xmax <= 120 and 0 <= ymin <= ymax <= 90  # original pixels, clipped
    assert cv2.imread(str(out / "a.png")).shape == (90, 120, 3)


def test_config_file_is_read_and_flags_win(tmp_path, cache_dir):
    config_file = tmp_path / "run.yaml"
    config_file.write_text(
        "model: ssd7\nimage-size: [64, 64]\nepochs: 1\nbatch_size: 8\nshapes_train: 24\n"
        f"shapes_val: 8\nseed: 5\ncache_dir: {cache_dir}\n")
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(config_file), "--seed", "3",
                 "--output-dir", str(run_dir)]) == 0
    recorded = json.load(open(run_dir / "config.json"))["config"]
    assert recorded["seed"] == 3 and recorded["epochs"] == 1 and recorded["batch_size"] == 8
    # the recorded configuration repeats the run
    assert main(["train", "--config", str(run_dir / "config.json"),
                 "--output-dir", str(tmp_path / "again")]) == 0


def _one_line_error(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert expected in err, err


def test_bad_arguments_give_one_line(tmp_path, capsys, trained_run, cache_dir):
    _one_line_error(capsys, ["train", "--dataset", str(tmp_path / "nope"), "--output-dir",
                             str(tmp_path / "r1")], "Dataset not found")
    _one_line_error(capsys, ["train", "--batch-size", "0", "--output-dir", str(tmp_path / "r2")],
                    "Received: batch_size=0")
    _one_line_error(capsys, ["train", "--workers", "-1", "--output-dir", str(tmp_path / "r4")],
                    "Received: workers=-1")
    _one_line_error(capsys, ["train", *TINY, "--classes", "dog,cat", "--cache-dir", cache_dir,
                             "--output-dir", str(tmp_path / "r3")],
                    "shapes dataset has the classes")
    _one_line_error(capsys, ["train", "--output-dir", trained_run], "--resume")
    _one_line_error(capsys, ["evaluate", "--run", str(tmp_path)], "no config.json")
    image = tmp_path / "one.png"
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    _one_line_error(capsys, ["predict", "--run", trained_run, "--classes", "a,b",
                             str(image)], "does not fit this model")
    _one_line_error(capsys, ["predict", "--run", trained_run, str(tmp_path / "x.jpg")],
                    "not found")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", "yolo"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'yolo'" in capsys.readouterr().err


def test_csv_dataset_needs_class_names(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("image_name,xmin,xmax,ymin,ymax,class_id\n")
    _one_line_error(capsys, ["train", "--dataset", str(labels), "--images-dir", str(tmp_path),
                             "--output-dir", str(tmp_path / "r")], "needs the class names")


def test_help_on_every_subcommand(capsys):
    for command in ("train", "evaluate", "predict", "export", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: keras-ssd" in capsys.readouterr().out


def test_export_saved_model_from_a_run(trained_run, tmp_path, capsys):
    import tensorflow as tf

    out = tmp_path / "exported"
    assert main(["export", "--run", trained_run, "--output-dir", str(out),
                 "--formats", "saved_model", "--top-k", "7"]) == 0
    assert "saved_model" in capsys.readouterr().out
    assert (out / "labels.txt").read_text().split() == ["background", *SHAPE_CLASSES]
    served = tf.saved_model.load(str(out / "saved_model"))
    result = served.signatures["serving_uint8"](images=tf.zeros((2, 50, 70, 3), tf.uint8))
    assert result["boxes"].shape == (2, 7, 4) and result["num_detections"].shape == (2,)


def test_train_under_a_strategy_and_mixed_precision(tmp_path, cache_dir):
    from keras_ssd.distribute import set_precision

    run_dir = tmp_path / "mirrored"
    try:
        assert main(["train", *TINY, "--epochs", "1", "--strategy", "mirrored", "--precision",
                     "mixed_bfloat16", "--cache-dir", cache_dir,
                     "--output-dir", str(run_dir)]) == 0
    finally:
        set_precision("float32")
    rows = list(csv.DictReader(open(run_dir / "training_log.csv")))
    assert np.isfinite(float(rows[0]["loss"]))
    model = keras.models.load_model(run_dir / "checkpoints" / "last.keras")
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("predictions").compute_dtype == "float32"


def _write_voc_tree(root, n_images=6):
    """A tiny Pascal VOC tree whose objects use VOC class names (dog, cat)."""
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(1)
    ids = []
    for i in range(n_images):
        image = np.full((64, 64, 3), 90, np.uint8)
        objects = []
        for name, (x0, y0) in (("dog", (5, 5)), ("cat", (34, 30))):
            image[y0:y0 + 22, x0:x0 + 22] = rng.integers(150, 255, 3)
            objects.append(f"<object><name>{name}</name><difficult>0</difficult><bndbox>"
                           f"<xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x0 + 22}</xmax>"
                           f"<ymax>{y0 + 22}</ymax></bndbox></object>")
        image_id = f"{i:06d}"
        ids.append(image_id)
        cv2.imwrite(str(root / "JPEGImages" / f"{image_id}.jpg"), image)
        (root / "Annotations" / f"{image_id}.xml").write_text(
            f"<annotation><filename>{image_id}.jpg</filename>{''.join(objects)}</annotation>")
    (root / "ImageSets/Main/train.txt").write_text("\n".join(ids[:4]) + "\n")
    (root / "ImageSets/Main/val.txt").write_text("\n".join(ids[4:]) + "\n")


def test_voc_run_records_the_default_class_names(tmp_path, capsys):
    from keras_ssd.app.datasets import VOC_CLASSES

    _write_voc_tree(tmp_path / "voc")
    run_dir = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "voc"), "--image-size", "64x64",
                 "--epochs", "1", "--batch-size", "2", "--no-augment",
                 "--output-dir", str(run_dir)]) == 0
    recorded = json.load(open(run_dir / "config.json"))["config"]
    assert recorded["classes"] == list(VOC_CLASSES[1:])
    assert main(["evaluate", "--run", str(run_dir)]) == 0  # no --classes needed
    metrics = json.load(open(run_dir / "metrics.json"))
    assert metrics["per_class"]["dog"]["num_gt"] == 2 and metrics["per_class"]["cat"]["num_gt"] == 2
    assert metrics["per_class"]["person"]["AP_11point"] is None  # no ground truth: no AP


def test_train_and_evaluate_on_coco_json_and_csv(tmp_path, capsys):
    from keras_ssd.data.synthetic import generate_shapes_dataset

    shapes = generate_shapes_dataset(tmp_path / "shapes", n_train=8, n_val=4, image_size=(64, 64),
                                     formats=("coco", "csv"))
    common = ["--image-size", "64x64", "--epochs", "1", "--batch-size", "4", "--no-augment",
              "--images-dir", str(shapes.images_dir)]
    coco_run = tmp_path / "coco_run"
    assert main(["train", "--dataset", str(shapes.coco_json["train"]), "--val-dataset",
                 str(shapes.coco_json["val"]), *common, "--output-dir", str(coco_run)]) == 0
    # COCO category names, mapped from the non-consecutive ids 1, 3, 5, ...
    assert json.load(open(coco_run / "config.json"))["config"]["classes"] == list(SHAPE_CLASSES)
    assert main(["evaluate", "--run", str(coco_run), "--dataset", str(shapes.coco_json["val"]),
                 "--images-dir", str(shapes.images_dir)]) == 0
    assert json.load(open(coco_run / "metrics.json"))["n_images"] == 4

    csv_run = tmp_path / "csv_run"
    assert main(["train", "--dataset", str(shapes.csv["train"]), "--classes",
                 ",".join(SHAPE_CLASSES), *common, "--output-dir", str(csv_run)]) == 0
    rows = list(csv.DictReader(open(csv_run / "training_log.csv")))
    assert len(rows) == 1 and np.isfinite(float(rows[0]["loss"]))


def test_eval_every_logs_map_and_picks_the_best_checkpoint(tmp_path, cache_dir):
    run_dir = tmp_path / "with_map"
    assert main(["train", *TINY, "--epochs", "2", "--eval-every", "1", "--cache-dir", cache_dir,
                 "--output-dir", str(run_dir)]) == 0
    rows = list(csv.DictReader(open(run_dir / "training_log.csv")))
    assert [0.0 <= float(r["val_mAP"]) <= 1.0 for r in rows] == [True, True]
    assert (run_dir / "checkpoints" / "best.keras").exists()


def test_predict_with_the_shipped_weights_as_documented(tmp_path):
    import pathlib

    from keras_ssd.data.synthetic import render_shapes_image

    weights = pathlib.Path(__file__).parents[2] / "weights" / "ssd7_shapes.weights.h5"
    sample = render_shapes_image(np.random.default_rng(7), (160, 160), 3, 0.0)
    cv2.imwrite(str(tmp_path / "shapes.png"), sample.image[..., ::-1])
    out = tmp_path / "out"
    assert main(["predict", "--model", "ssd7", "--classes", ",".join(SHAPE_CLASSES),
                 "--image-size", "160x160", "--weights", str(weights), str(tmp_path / "shapes.png"),
                 "--output-dir", str(out)]) == 0
    found = {d["class_name"] for d in json.load(open(out / "detections.json"))[0]["detections"]}
    expected = {SHAPE_CLASSES[int(c) - 1] for c in sample.labels[:, 0]}
    assert expected <= found
