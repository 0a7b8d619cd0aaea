"""Keras layers of SSD: anchors, L2 normalisation, decoding, preprocessing."""

from keras_ssd.layers.anchor_boxes import AnchorBoxes
from keras_ssd.layers.l2_normalization import L2Normalization
