"""`keras-ssd` / `python -m keras_ssd`: train, evaluate, predict, export, demo.

Errors a user can fix (a missing file, an unknown model, a class list that
does not fit, weights for another class count) end with one line on stderr
and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["main"]

DEMO_IMAGE = "detections.png"


def _image_size(text: str) -> list[int]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH, got {text!r}")
    return values


def _class_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _add_train_flags(parser: argparse.ArgumentParser) -> None:
    from keras_ssd.config import MODELS
    from keras_ssd.config import OPTIMIZERS
    from keras_ssd.config import PRECISIONS
    from keras_ssd.config import SCHEDULES
    from keras_ssd.config import STRATEGIES

    s = argparse.SUPPRESS  # only flags given on the command line override the config file
    add = parser.add_argument
    add("--config", default=s, help="a YAML or JSON file with any of these flags")
    add("--model", choices=MODELS, default=s, help="architecture (default ssd7)")
    add("--dataset", default=s,
        help="VOC directory, COCO .json or .csv (default: the generated shapes dataset)")
    add("--val-dataset", default=s, help="validation dataset (COCO/CSV); VOC uses --val-split")
    add("--images-dir", default=s, help="image folder for COCO/CSV datasets")
    add("--train-split", default=s, help="VOC image set for training (default train)")
    add("--val-split", default=s, help="VOC image set for validation (default val)")
    add("--classes", type=_class_list, default=s,
        help="comma-separated class names in class-id order (background excluded)")
    add("--image-size", type=_image_size, default=s, help="HEIGHTxWIDTH (model default)")
    add("--epochs", type=int, default=s, help="number of epochs (default 12)")
    add("--steps-per-epoch", type=int, default=s, help="default: one pass over the data")
    add("--batch-size", type=int, default=s, help="default 16")
    add("--optimizer", choices=OPTIMIZERS, default=s, help="default adam")
    add("--learning-rate", type=float, default=s, help="peak learning rate (default 1e-3)")
    add("--schedule", choices=SCHEDULES, default=s, help="default cosine (with warm-up)")
    add("--warmup-steps", type=int, default=s, help="default 100")
    add("--weight-decay", type=float, default=s, help="L2 factor of the conv kernels")
    add("--no-augment", dest="augment", action="store_false", default=s,
        help="train without data augmentation")
    add("--workers", type=int, default=s,
        help="data worker processes (0: threads only; default one per CPU core, at most 8)")
    add("--weights", default=s, help="initial weights: .h5 (by layer name) or .keras")
    add("--output-dir", default=s, help="run directory (default runs/ssd)")
    add("--seed", type=int, default=s, help="random seed (default 0)")
    add("--eval-every", type=int, default=s, help="run the VOC evaluator every N epochs")
    add("--resume", action="store_true", default=s,
        help="continue the run in --output-dir from its last checkpoint")
    add("--cache-dir", default=s, help="where the shapes dataset is generated")
    add("--shapes-train", type=int, default=s, help="shapes training images (default 1500)")
    add("--shapes-val", type=int, default=s, help="shapes validation images (default 300)")
    add("--strategy", choices=STRATEGIES, default=s, help="tf.distribute strategy")
    add("--precision", choices=PRECISIONS, default=s, help="Keras dtype policy")


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--run", help="a run directory written by `keras-ssd train` (model, classes, weights)")
    add("--weights", help="weights (.h5 or .keras); default: the run's final weights")
    add("--model", help="architecture, when not given by --run")
    add("--classes", type=_class_list, help="class names, when not given by --run")
    add("--image-size", type=_image_size, help="HEIGHTxWIDTH, when not given by --run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-ssd", description="SSD object detection for Keras 3 / TensorFlow 2.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a detector",
                                description="Train SSD7/SSD300/SSD512; writes a run directory.")
    _add_train_flags(train)

    evaluate = commands.add_parser("evaluate", help="Pascal VOC mAP (and COCO metrics)",
                                   description="Score a trained model on a dataset.")
    _add_model_flags(evaluate)
    evaluate.add_argument("--dataset", help="dataset to score (default: the run's validation set)")
    evaluate.add_argument("--split", default="val", help="VOC image set (default val)")
    evaluate.add_argument("--images-dir", help="image folder for COCO/CSV datasets")
    evaluate.add_argument("--output", help="metrics JSON (default <run>/metrics.json)")
    evaluate.add_argument("--batch-size", type=int, default=16)

    predict = commands.add_parser("predict", help="detect objects in images",
                                  description="Detections as JSON and annotated images.")
    _add_model_flags(predict)
    predict.add_argument("images", nargs="+", help="image files or folders")
    predict.add_argument("--output-dir", default="predictions")
    predict.add_argument("--confidence", type=float, default=0.5,
                         help="minimum score of a reported detection (default 0.5)")

    export = commands.add_parser(
        "export", help="SavedModel / TFLite with decoding inside",
        description="Export an inference model (preprocessing, network, decoding with NMS).")
    _add_model_flags(export)
    export.add_argument("--output-dir", default="exported")
    export.add_argument("--formats", nargs="+", default=["saved_model", "tflite"],
                        choices=["saved_model", "tflite", "tflite_float16",
                                 "tflite_dynamic_range"])
    export.add_argument("--mode", choices=["inference", "inference_fast"], default="inference")
    export.add_argument("--confidence-thresh", type=float, default=None,
                        help="decoding: minimum score kept (default 0.01)")
    export.add_argument("--iou-threshold", type=float, default=None,
                        help="decoding: NMS IoU threshold (default 0.45)")
    export.add_argument("--top-k", type=int, default=None,
                        help="decoding: detections per image (default 200)")

    demo = commands.add_parser(
        "demo", help="the main job: train SSD7 on shapes, evaluate, draw detections",
        description="Generate the shapes dataset, train an SSD7 on it, evaluate it and "
                    f"write its weights and a picture of detections ({DEMO_IMAGE}).")
    _add_train_flags(demo)
    return parser


def _train_config(args: argparse.Namespace, default_output: str):
    from keras_ssd.config import TrainConfig
    from keras_ssd.config import load_config_file

    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    values = load_config_file(args.config) if getattr(args, "config", None) else {}
    values = {**values, **flags}
    values.setdefault("output_dir", default_output)
    return TrainConfig.from_dict(values)


def _cmd_train(args) -> int:
    from keras_ssd.app.train import run_training

    result = run_training(_train_config(args, "runs/ssd"))
    print(f"Run directory: {result.run_dir}")
    print(f"Final weights: {result.final_weights} ({result.epochs_completed} epochs)")
    return 0


def _cmd_evaluate(args) -> int:
    from keras_ssd.app.evaluate import evaluate_command

    metrics, path = evaluate_command(args)
    print(f"Metrics written to {path}")
    return 0


def _cmd_predict(args) -> int:
    from keras_ssd.app.models import model_from_args
    from keras_ssd.app.predict import collect_images
    from keras_ssd.app.predict import predict_images

    images = collect_images(args.images)
    model, class_names = model_from_args(args)
    results = predict_images(model, images, class_names, output_dir=args.output_dir,
                             confidence_threshold=args.confidence)
    n = sum(len(r["detections"]) for r in results)
    print(f"{n} detections in {len(results)} images written to {args.output_dir}")
    return 0


def _cmd_export(args) -> int:
    from keras_ssd.app.export import export_command

    for name, path in export_command(args).items():
        print(f"{name}: {path}")
    return 0


def _cmd_demo(args) -> int:
    from keras_ssd.app.demo import run_demo

    summary = run_demo(_train_config(args, "runs/demo"))
    print(json.dumps(summary, indent=2))
    return 0


COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "predict": _cmd_predict,
            "export": _cmd_export, "demo": _cmd_demo}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    from keras_ssd.data.image_io import DatasetError
    from keras_ssd.training import NaNLossError

    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError, DatasetError, NaNLossError) as error:
        message = " ".join(str(error).split())  # always one line
        print(f"keras-ssd {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("keras-ssd: interrupted; continue a training run with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
