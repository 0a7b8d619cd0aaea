"""Ground truth to `y_true` (matching, `SSDInputEncoder`) and predictions to boxes (decoders)."""

from keras_ssd.encoding.input_encoder import DegenerateBoxError
from keras_ssd.encoding.input_encoder import SSDInputEncoder
from keras_ssd.encoding.matching import match_bipartite_greedy
from keras_ssd.encoding.matching import match_multi
from keras_ssd.encoding.output_decoder import decode_detections
from keras_ssd.encoding.output_decoder import decode_detections_fast
from keras_ssd.encoding.output_decoder import greedy_nms

__all__ = [
    "DegenerateBoxError",
    "SSDInputEncoder",
    "decode_detections",
    "decode_detections_fast",
    "greedy_nms",
    "match_bipartite_greedy",
    "match_multi",
]
