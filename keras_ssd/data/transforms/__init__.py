"""Data augmentation and preprocessing ops, and the augmentation chains.

Images are `(H, W, C)` RGB arrays; labels are `(k, n)` float arrays in
`labels_format` (default `{'class_id': 0, 'xmin': 1, 'ymin': 2, 'xmax': 3,
'ymax': 4}`), absolute pixel-edge corners. Every op is called as
`op(image, labels=None[, return_inverter=False])`; see `_base` for the conventions
and `set_rng` for reproducible randomness.
"""

from keras_ssd.data.transforms._base import DEFAULT_LABELS_FORMAT
from keras_ssd.data.transforms._base import Transform
from keras_ssd.data.transforms._base import set_rng
from keras_ssd.data.transforms.chains import DataAugmentationConstantInputSize
from keras_ssd.data.transforms.chains import DataAugmentationSatellite
from keras_ssd.data.transforms.chains import DataAugmentationVariableInputSize
from keras_ssd.data.transforms.chains import SSDDataAugmentation
from keras_ssd.data.transforms.chains import SSDExpand
from keras_ssd.data.transforms.chains import SSDPhotometricDistortions
from keras_ssd.data.transforms.chains import SSDRandomCrop
from keras_ssd.data.transforms.geometric import Flip
from keras_ssd.data.transforms.geometric import RandomFlip
from keras_ssd.data.transforms.geometric import RandomRotate
from keras_ssd.data.transforms.geometric import RandomScale
from keras_ssd.data.transforms.geometric import RandomTranslate
from keras_ssd.data.transforms.geometric import Resize
from keras_ssd.data.transforms.geometric import ResizeRandomInterp
from keras_ssd.data.transforms.geometric import Rotate
from keras_ssd.data.transforms.geometric import Scale
from keras_ssd.data.transforms.geometric import Translate
from keras_ssd.data.transforms.inverse import apply_inverse_transforms
from keras_ssd.data.transforms.patch_sampling import Crop
from keras_ssd.data.transforms.patch_sampling import CropPad
from keras_ssd.data.transforms.patch_sampling import Pad
from keras_ssd.data.transforms.patch_sampling import PatchCoordinateGenerator
from keras_ssd.data.transforms.patch_sampling import RandomMaxCropFixedAR
from keras_ssd.data.transforms.patch_sampling import RandomPadFixedAR
from keras_ssd.data.transforms.patch_sampling import RandomPatch
from keras_ssd.data.transforms.patch_sampling import RandomPatchInf
from keras_ssd.data.transforms.photometric import Brightness
from keras_ssd.data.transforms.photometric import ChannelSwap
from keras_ssd.data.transforms.photometric import Contrast
from keras_ssd.data.transforms.photometric import ConvertColor
from keras_ssd.data.transforms.photometric import ConvertDataType
from keras_ssd.data.transforms.photometric import ConvertTo3Channels
from keras_ssd.data.transforms.photometric import Gamma
from keras_ssd.data.transforms.photometric import HistogramEqualization
from keras_ssd.data.transforms.photometric import Hue
from keras_ssd.data.transforms.photometric import RandomBrightness
from keras_ssd.data.transforms.photometric import RandomChannelSwap
from keras_ssd.data.transforms.photometric import RandomContrast
from keras_ssd.data.transforms.photometric import RandomGamma
from keras_ssd.data.transforms.photometric import RandomHistogramEqualization
from keras_ssd.data.transforms.photometric import RandomHue
from keras_ssd.data.transforms.photometric import RandomSaturation
from keras_ssd.data.transforms.photometric import Saturation
from keras_ssd.data.transforms.validation import BoundGenerator
from keras_ssd.data.transforms.validation import BoxFilter
from keras_ssd.data.transforms.validation import ImageValidator

__all__ = [
    "DEFAULT_LABELS_FORMAT",
    "BoundGenerator",
    "BoxFilter",
    "Brightness",
    "ChannelSwap",
    "Contrast",
    "ConvertColor",
    "ConvertDataType",
    "ConvertTo3Channels",
    "Crop",
    "CropPad",
    "DataAugmentationConstantInputSize",
    "DataAugmentationSatellite",
    "DataAugmentationVariableInputSize",
    "Flip",
    "Gamma",
    "HistogramEqualization",
    "Hue",
    "ImageValidator",
    "Pad",
    "PatchCoordinateGenerator",
    "RandomBrightness",
    "RandomChannelSwap",
    "RandomContrast",
    "RandomFlip",
    "RandomGamma",
    "RandomHistogramEqualization",
    "RandomHue",
    "RandomMaxCropFixedAR",
    "RandomPadFixedAR",
    "RandomPatch",
    "RandomPatchInf",
    "RandomRotate",
    "RandomSaturation",
    "RandomScale",
    "RandomTranslate",
    "Resize",
    "ResizeRandomInterp",
    "Rotate",
    "SSDDataAugmentation",
    "SSDExpand",
    "SSDPhotometricDistortions",
    "SSDRandomCrop",
    "Saturation",
    "Scale",
    "Transform",
    "Translate",
    "apply_inverse_transforms",
    "set_rng",
]
