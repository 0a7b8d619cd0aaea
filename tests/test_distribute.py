"""Distributed training: `keras_ssd.distribute` and the global positive count of `SSDLoss`.

TensorFlow must be given two logical CPU devices before any op runs, so each check runs a
script in a fresh Python process (the pytest process stays single-device). The script
trains SSD7 for one SGD step on the first batch of the real tf.data pipeline over a
generated shapes dataset, once on one device and once under a strategy, from the same
initial weights, and prints the differences as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tensorflow as tf

from keras_ssd.distribute import STRATEGIES
from keras_ssd.distribute import get_strategy
from keras_ssd.distribute import set_precision
from keras_ssd.distribute import synchronize_batch_norm

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    '''
    import json
    import os
    import sys

    import tensorflow as tf

    if sys.argv[2] == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        two = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, two)
    import keras
    import numpy as np

    from keras_ssd.data import transforms as T
    from keras_ssd.data.generator import DataGenerator
    from keras_ssd.data.pipeline import build_dataset
    from keras_ssd.data.synthetic import generate_shapes_dataset
    from keras_ssd.distribute import get_strategy
    from keras_ssd.distribute import synchronize_batch_norm
    from keras_ssd.losses.ssd_loss import SSDLoss
    from keras_ssd.presets import build_detector

    root, kind, cases = sys.argv[1], sys.argv[2], sys.argv[3:]
    SIZE, BATCH = (64, 64), 4  # two images per replica
    # Images with 1 to 4 objects: the replicas get different numbers of positives.
    shapes = generate_shapes_dataset(root, n_train=8, n_val=1, image_size=SIZE, seed=5,
                                     empty_fraction=0.0)
    data = DataGenerator(verbose=False)
    data.parse_xml(images_dirs=[str(shapes.images_dir)],
                   image_set_filenames=[str(shapes.image_set_files["train"])],
                   annotations_dirs=[str(shapes.annotations_dir)], classes=list(shapes.classes),
                   verbose=False)
    n_classes = len(shapes.classes) - 1
    keras.utils.set_random_seed(0)
    reference, encoder = build_detector("ssd7", n_classes, SIZE)
    initial = [np.asarray(w) for w in reference.get_weights()]
    names = [w.path for w in reference.weights]

    def one_step(strategy, mining, batch_norm):
        with strategy.scope():
            model, _ = build_detector("ssd7", n_classes, SIZE)
            model.set_weights(initial)
            if batch_norm == "synchronized":
                model = synchronize_batch_norm(model)
            else:  # inference-mode BatchNormalization: a fixed affine map per channel
                for layer in model.layers:
                    if isinstance(layer, keras.layers.BatchNormalization):
                        layer.trainable = False
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05),
                          loss=SSDLoss(mining=mining))
        dataset = build_dataset(data, BATCH, [T.ConvertTo3Channels(), T.Resize(*SIZE)], encoder,
                                shuffle=False, seed=0)
        history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)
        weights = [np.asarray(w) for w in model.get_weights()]
        return weights, float(history.history["loss"][0]), strategy.num_replicas_in_sync

    if kind == "mirrored":
        strategy = get_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
    else:
        strategy = get_strategy("multiworker")
    results = {}
    for case in cases:
        mining, batch_norm = case.split(":")
        w1, loss1, _ = one_step(get_strategy("default"), mining, batch_norm)
        w2, loss2, replicas = one_step(strategy, mining, batch_norm)
        diffs = [float(np.max(np.abs(a - b))) for a, b in zip(w1, w2)]
        results[case] = {
            "replicas": replicas,
            "losses": [loss1, loss2],
            "max_weight_diff": max(diffs),
            "max_step": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, initial)),
            "worst_weight": names[int(np.argmax(diffs))],
        }
    print("RESULTS " + json.dumps(results))
    '''
)


def _run(tmp_path_factory, kind, cases) -> dict:
    workdir = tmp_path_factory.mktemp(f"distribute_{kind}")
    script = workdir / "step.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]), "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)  # multiworker: the single-worker setup
    done = subprocess.run(
        [sys.executable, str(script), str(workdir / "shapes"), kind, *cases],
        capture_output=True, text=True, env=env, cwd=str(workdir), timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULTS "))
    return json.loads(line[len("RESULTS "):])


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    return _run(tmp_path_factory, "mirrored",
                ["per_image:frozen", "batch:frozen", "per_image:synchronized"])


@pytest.fixture(scope="module")
def multiworker(tmp_path_factory):
    return _run(tmp_path_factory, "multiworker", ["per_image:frozen"])


def test_mirrored_step_equals_single_device_step_with_per_image_mining(mirrored):
    result = mirrored["per_image:frozen"]
    assert result["replicas"] == 2
    assert result["max_step"] > 1e-2  # the step moved the weights
    # Global positive count + global batch factor: the same update, to float rounding.
    assert result["max_weight_diff"] < 1e-5, result
    assert result["losses"][1] == pytest.approx(result["losses"][0], rel=1e-5)


def test_mirrored_step_with_batch_mining_mines_per_replica(mirrored):
    # Documented difference: each replica mines negatives over its local batch only.
    result = mirrored["batch:frozen"]
    assert result["replicas"] == 2
    assert result["max_weight_diff"] > 1e-3, result
    assert result["losses"][0] != pytest.approx(result["losses"][1], rel=1e-3)


def test_mirrored_step_with_synchronized_batch_norm(mirrored):
    # Cross-replica statistics: the same step up to the all-reduced variance's rounding.
    result = mirrored["per_image:synchronized"]
    assert result["replicas"] == 2
    assert result["max_weight_diff"] < 2e-3 * result["max_step"], result
    assert result["losses"][1] == pytest.approx(result["losses"][0], rel=1e-5)


def test_multiworker_single_worker_step_equals_single_device(multiworker):
    result = multiworker["per_image:frozen"]
    assert result["replicas"] == 1
    assert result["max_weight_diff"] < 1e-5, result


def test_get_strategy_names():
    assert STRATEGIES == ("default", "mirrored", "multiworker")
    assert get_strategy("default") is tf.distribute.get_strategy()
    mirrored = get_strategy("mirrored", devices=["/cpu:0"])
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync == 1


def test_get_strategy_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"Received: strategy='tpu'"):
        get_strategy("tpu")
    with pytest.raises(ValueError, match=r"devices=\['/cpu:0'\]"):
        get_strategy("default", devices=["/cpu:0"])


def test_set_precision_rejects_unknown_policies():
    with pytest.raises(ValueError, match=r"Received: precision='float8'"):
        set_precision("float8")


def test_synchronize_batch_norm_keeps_weights_and_sets_the_flag():
    import keras
    import numpy as np

    from keras_ssd.presets import build_detector

    model, _ = build_detector("ssd7", 2, (64, 64))
    synced = synchronize_batch_norm(model)
    norms = [x for x in synced.layers if isinstance(x, keras.layers.BatchNormalization)]
    assert norms and all(x.synchronized for x in norms)
    for a, b in zip(model.get_weights(), synced.get_weights()):
        np.testing.assert_array_equal(a, b)
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(synced(images), model(images), atol=1e-6)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert synchronize_batch_norm(plain) is plain
