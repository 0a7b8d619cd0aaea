"""The README's commands and Python example are real: they are checked here."""

import pathlib
import re

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
CI = (pathlib.Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_the_two_commands_come_first_and_ci_runs_the_test_command():
    first, second = _blocks("bash")[:2]
    assert "python -m keras_ssd demo" in first
    assert "pytest" in second
    assert second.strip() in CI  # .ci/run calls exactly the README's test command


def test_python_example_runs(tmp_path, monkeypatch):
    code = _blocks("python")[0]
    # The same program, at a size a test can afford.
    tiny = (code.replace("n_train=1000, n_val=200", "n_train=16, n_val=4")
                .replace("epochs=10, steps_per_epoch=60", "epochs=1, steps_per_epoch=2")
                .replace("(160, 160)", "(64, 64)").replace("Resize(160, 160)", "Resize(64, 64)")
                .replace("build_dataset(data, 16,", "build_dataset(data, 4,"))
    assert tiny != code
    monkeypatch.setenv("KERAS_SSD_CACHE", str(tmp_path))
    namespace = {}
    exec(compile(tiny, "README.md", "exec"), namespace)  # noqa: S102
    detections = namespace["detections"]
    assert detections.shape == (4, 200, 6)
