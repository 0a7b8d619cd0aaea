"""Packaging for keras_ssd: the single source of metadata and dependencies."""

import pathlib
import re

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "keras_ssd" / "version.py").read_text()
).group(1)

EXTRAS = {
    "test": ["pytest>=7", "pytest-xdist", "hypothesis", "pyyaml"],
    "coco": ["pycocotools"],
    "notebooks": ["matplotlib", "jupyter", "nbclient", "nbformat", "ipykernel"],
    "dev": ["ruff"],
}
EXTRAS["all"] = sorted({dep for deps in EXTRAS.values() for dep in deps})

setup(
    name="keras-ssd",
    version=VERSION,
    description=(
        "SSD (Single Shot MultiBox Detector) for Keras 3 / TensorFlow 2: "
        "the ssd_keras port that loads the original weights."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(exclude=("tests", "tests.*")),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "numpy",
        "h5py",
        "opencv-python-headless",
        "tqdm",
        "pyyaml",
        "matplotlib",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["keras-ssd=keras_ssd.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
