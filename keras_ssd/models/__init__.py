"""SSD model builders: SSD300, SSD512 and the small SSD7."""

from keras_ssd.models.ssd7 import build_model
from keras_ssd.models.ssd7 import ssd_7
from keras_ssd.models.ssd300 import ssd_300
from keras_ssd.models.ssd512 import ssd_512

__all__ = ["build_model", "ssd_300", "ssd_512", "ssd_7"]
