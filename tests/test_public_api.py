"""The public API: every exported name imports, is documented, and `import keras_ssd` is cheap."""

import subprocess
import sys

import pytest

import keras_ssd


@pytest.mark.parametrize("name", sorted(set(keras_ssd.__all__) - {"__version__"}))
def test_every_public_name_imports_and_has_a_docstring(name):
    value = getattr(keras_ssd, name)
    assert value.__doc__ and value.__doc__.strip(), f"{name} has no docstring"


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'ssd_1000'"):
        keras_ssd.ssd_1000  # noqa: B018


def test_version_matches_setup():
    from keras_ssd.version import __version__

    assert keras_ssd.__version__ == __version__ and __version__.count(".") == 2


def test_import_does_not_load_tensorflow():
    # NumPy-only users (boxes, anchors, encoder, transforms) do not pay for TensorFlow.
    code = ("import sys, keras_ssd, keras_ssd.boxes, keras_ssd.anchors, "
            "keras_ssd.encoding.input_encoder, keras_ssd.data.transforms; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_data_package_exports_the_generator_without_tensorflow():
    code = ("import sys; from keras_ssd.data import DataGenerator, DatasetError, "
            "DegenerateBatchError; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
