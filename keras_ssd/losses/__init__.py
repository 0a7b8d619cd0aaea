"""The SSD loss."""

from keras_ssd.losses.ssd_loss import SSDLoss

__all__ = ["SSDLoss"]
