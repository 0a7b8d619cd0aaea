"""Keras layers of SSD: anchors, L2 normalisation, decoding, preprocessing."""

from keras_ssd.layers.anchor_boxes import AnchorBoxes
from keras_ssd.layers.decode_detections import DecodeDetections
from keras_ssd.layers.decode_detections import DecodeDetectionsFast
from keras_ssd.layers.l2_normalization import L2Normalization
from keras_ssd.layers.preprocessing import ChannelSwap
from keras_ssd.layers.preprocessing import DivideByStddev
from keras_ssd.layers.preprocessing import SubtractMean
