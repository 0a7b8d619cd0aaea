"""Augmentation chains: the original SSD recipe and three generic recipes.

Every chain: `__call__(image, labels=None, return_inverter=False)` returns `image`,
or `(image, labels)`, with one composed inverter appended when `return_inverter=True`
(it undoes every geometric step, the last one first). Images are uint8 RGB
`(H, W, 3)` (gray and RGBA are converted); labels are `(k, n)` float arrays in
`labels_format` (a settable property that propagates to every step). One `rng`
(a `numpy.random.Generator`, an int seed or None) seeds the whole chain: each step
gets a generator spawned from it, so the same seed gives the same output.
"""

from __future__ import annotations

import inspect

from keras_ssd.data.transforms._base import DEFAULT_LABELS_FORMAT
from keras_ssd.data.transforms._base import ComposedInverter
from keras_ssd.data.transforms._base import Transform
from keras_ssd.data.transforms._base import pack
from keras_ssd.data.transforms._base import prepare_labels
from keras_ssd.data.transforms._geometry import INTERPOLATION_MODES
from keras_ssd.data.transforms.geometric import RandomFlip
from keras_ssd.data.transforms.geometric import RandomRotate
from keras_ssd.data.transforms.geometric import RandomScale
from keras_ssd.data.transforms.geometric import RandomTranslate
from keras_ssd.data.transforms.geometric import Resize
from keras_ssd.data.transforms.geometric import ResizeRandomInterp
from keras_ssd.data.transforms.patch_sampling import PatchCoordinateGenerator
from keras_ssd.data.transforms.patch_sampling import RandomPatch
from keras_ssd.data.transforms.patch_sampling import RandomPatchInf
from keras_ssd.data.transforms.photometric import ConvertColor
from keras_ssd.data.transforms.photometric import ConvertDataType
from keras_ssd.data.transforms.photometric import ConvertTo3Channels
from keras_ssd.data.transforms.photometric import RandomBrightness
from keras_ssd.data.transforms.photometric import RandomChannelSwap
from keras_ssd.data.transforms.photometric import RandomContrast
from keras_ssd.data.transforms.photometric import RandomHue
from keras_ssd.data.transforms.photometric import RandomSaturation
from keras_ssd.data.transforms.validation import BoundGenerator
from keras_ssd.data.transforms.validation import BoxFilter
from keras_ssd.data.transforms.validation import ImageValidator

__all__ = [
    "DataAugmentationConstantInputSize",
    "DataAugmentationSatellite",
    "DataAugmentationVariableInputSize",
    "SSDDataAugmentation",
    "SSDExpand",
    "SSDPhotometricDistortions",
    "SSDRandomCrop",
]


def _takes_inverter(transform) -> bool:
    return "return_inverter" in inspect.signature(transform.__call__).parameters


class _Chain(Transform):
    """Runs a list of transforms, collecting inverters."""

    def _run(self, sequence, image, labels, return_inverter):
        labels = prepare_labels(labels, self.labels_format)
        inverters = []
        for transform in sequence:
            with_inverter = return_inverter and _takes_inverter(transform)
            if with_inverter:
                out = transform(image, labels, return_inverter=True)
            else:
                out = transform(image, labels)
            out = out if isinstance(out, tuple) else (out,)
            image = out[0]
            labels = out[1] if labels is not None else None
            if with_inverter:
                inverters.append(out[-1])
        return pack(image, labels, ComposedInverter(inverters[::-1]), return_inverter)


class _TwoSequenceChain(_Chain):
    """Picks `sequence1` or `sequence2` with probability 1/2 each."""

    def __call__(self, image, labels=None, return_inverter=False):
        sequence = self.sequence1 if self.rng.random() < 0.5 else self.sequence2
        return self._run(sequence, image, labels, return_inverter)


class _OneSequenceChain(_Chain):
    def __call__(self, image, labels=None, return_inverter=False):
        return self._run(self.sequence, image, labels, return_inverter)


def _photometric_steps(brightness, contrast, saturation, hue, contrast_last=False):
    """The photometric part shared by the chains: 3 channels -> brightness (float) ->
    [contrast] -> HSV saturation and hue -> RGB [-> contrast], ending in uint8 RGB."""
    to_float, to_uint8 = ConvertDataType("float32"), ConvertDataType("uint8")
    hsv = [ConvertColor("RGB", "HSV"), to_float, saturation, hue, to_uint8,
           ConvertColor("HSV", "RGB")]
    head = [ConvertTo3Channels(), to_float, brightness]
    if contrast_last:
        return [*head, to_uint8, *hsv, to_float, contrast, to_uint8]
    return [*head, contrast, to_uint8, *hsv]


class SSDPhotometricDistortions(_TwoSequenceChain):
    """The SSD photometric distortions: random brightness (+-32), contrast (0.5-1.5),
    saturation (0.5-1.5) and hue (+-18), each with probability 1/2; contrast comes
    before the HSV steps in one sequence and after them in the other. The channel
    swap step is disabled (`prob=0.0`), as in the original."""

    def __init__(self, labels_format=DEFAULT_LABELS_FORMAT, *, rng=None):
        self.random_brightness = RandomBrightness(lower=-32, upper=32, prob=0.5)
        self.random_contrast = RandomContrast(lower=0.5, upper=1.5, prob=0.5)
        self.random_saturation = RandomSaturation(lower=0.5, upper=1.5, prob=0.5)
        self.random_hue = RandomHue(max_delta=18, prob=0.5)
        self.random_channel_swap = RandomChannelSwap(prob=0.0)
        steps = (self.random_brightness, self.random_contrast,
                 self.random_saturation, self.random_hue)
        self.sequence1 = [*_photometric_steps(*steps), self.random_channel_swap]
        self.sequence2 = [*_photometric_steps(*steps, contrast_last=True),
                          self.random_channel_swap]
        self.labels_format = labels_format
        self._seed(rng)


class SSDExpand(_OneSequenceChain):
    """The SSD zoom-out: with probability 1/2, place the image on a `background` canvas
    1 to 4 times its size (uniform scale), at a random position."""

    def __init__(self, background=(123, 117, 104), labels_format=DEFAULT_LABELS_FORMAT, *,
                 rng=None):
        generator = PatchCoordinateGenerator(
            must_match="h_w", min_scale=1.0, max_scale=4.0, scale_uniformly=True
        )
        self.expand = RandomPatch(
            generator, box_filter=None, image_validator=None, n_trials_max=1,
            clip_boxes=False, prob=0.5, background=background, labels_format=labels_format,
        )
        self.sequence = [self.expand]
        self.labels_format = labels_format
        self._seed(rng)


class SSDRandomCrop(_OneSequenceChain):
    """The SSD min-IoU random crop: keep the image (probability 1 - 0.857 per round) or
    crop a patch (scale 0.3-1, aspect ratio 0.5-2) whose IoU with at least one box
    exceeds a minimum drawn from {none, 0.1, 0.3, 0.5, 0.7, 0.9}; boxes whose center
    leaves the patch are dropped, the rest clipped."""

    def __init__(self, labels_format=DEFAULT_LABELS_FORMAT, *, rng=None):
        self.random_crop = RandomPatchInf(
            patch_coord_generator=PatchCoordinateGenerator(
                must_match="h_w", min_scale=0.3, max_scale=1.0, scale_uniformly=False,
                min_aspect_ratio=0.5, max_aspect_ratio=2.0,
            ),
            box_filter=BoxFilter(
                check_overlap=True, check_min_area=False, check_degenerate=False,
                overlap_criterion="center_point", labels_format=labels_format,
            ),
            image_validator=ImageValidator(
                overlap_criterion="iou", n_boxes_min=1, labels_format=labels_format,
                border_pixels="half",
            ),
            bound_generator=BoundGenerator(
                sample_space=((None, None), (0.1, None), (0.3, None), (0.5, None),
                              (0.7, None), (0.9, None)),
                weights=None,
            ),
            n_trials_max=50, clip_boxes=True, prob=0.857, labels_format=labels_format,
        )
        self.sequence = [self.random_crop]
        self.labels_format = labels_format
        self._seed(rng)


class SSDDataAugmentation(_OneSequenceChain):
    """The original SSD training augmentation: `SSDPhotometricDistortions`,
    `SSDExpand(background)`, `SSDRandomCrop`, horizontal `RandomFlip(0.5)`, then
    `ResizeRandomInterp(img_height, img_width)` (5 OpenCV modes) dropping degenerate
    boxes. The output is always `(img_height, img_width, 3)` uint8."""

    def __init__(self, img_height=300, img_width=300, background=(123, 117, 104),
                 labels_format=DEFAULT_LABELS_FORMAT, *, rng=None):
        self.photometric_distortions = SSDPhotometricDistortions(labels_format)
        self.expand = SSDExpand(background=background, labels_format=labels_format)
        self.random_crop = SSDRandomCrop(labels_format=labels_format)
        self.random_flip = RandomFlip(dim="horizontal", prob=0.5, labels_format=labels_format)
        self.box_filter = BoxFilter(
            check_overlap=False, check_min_area=False, check_degenerate=True,
            labels_format=labels_format,
        )
        self.resize = ResizeRandomInterp(
            height=img_height, width=img_width, interpolation_modes=INTERPOLATION_MODES,
            box_filter=self.box_filter, labels_format=labels_format,
        )
        self.sequence = [self.photometric_distortions, self.expand, self.random_crop,
                         self.random_flip, self.resize]
        self.labels_format = labels_format
        self._seed(rng)


def _photometric_ops(random_brightness, random_contrast, random_saturation, random_hue):
    return (
        RandomBrightness(*random_brightness),
        RandomContrast(*random_contrast),
        RandomSaturation(*random_saturation),
        RandomHue(*random_hue),
    )


class DataAugmentationConstantInputSize(_TwoSequenceChain):
    """Augmentation that keeps the image size: photometric distortions, then either
    `RandomTranslate` -> zoom-in `RandomScale(1, max)` or zoom-out
    `RandomScale(min, 1)` -> `RandomTranslate` (1/2 each), then a horizontal flip.
    Boxes go through `BoxFilter(overlap_criterion, bounds_box_filter, min_area=16)`
    and each geometric step must pass `ImageValidator(bounds_validator, n_boxes_min)`.

    `random_brightness`, `random_contrast`, `random_saturation`: `(lower, upper, prob)`;
    `random_hue`: `(max_delta, prob)`; `random_flip`: prob; `random_translate`:
    `(dy_minmax, dx_minmax, prob)`; `random_scale`: `(min, max, prob)` with min < 1 < max.
    """

    def __init__(
        self,
        random_brightness=(-48, 48, 0.5),
        random_contrast=(0.5, 1.8, 0.5),
        random_saturation=(0.5, 1.8, 0.5),
        random_hue=(18, 0.5),
        random_flip=0.5,
        random_translate=((0.03, 0.5), (0.03, 0.5), 0.5),
        random_scale=(0.5, 2.0, 0.5),
        n_trials_max=3,
        clip_boxes=True,
        overlap_criterion="area",
        bounds_box_filter=(0.3, 1.0),
        bounds_validator=(0.5, 1.0),
        n_boxes_min=1,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        if not random_scale[0] < 1 < random_scale[1]:
            raise ValueError(
                "`random_scale` must have min < 1 < max (the chain zooms in and out). "
                f"Received: random_scale={random_scale!r}"
            )
        self.box_filter = BoxFilter(
            check_overlap=True, check_min_area=True, check_degenerate=True,
            overlap_criterion=overlap_criterion, overlap_bounds=bounds_box_filter,
            min_area=16, labels_format=labels_format,
        )
        self.image_validator = ImageValidator(
            overlap_criterion=overlap_criterion, bounds=bounds_validator,
            n_boxes_min=n_boxes_min, labels_format=labels_format,
        )
        photometric = _photometric_ops(
            random_brightness, random_contrast, random_saturation, random_hue
        )
        shared = dict(clip_boxes=clip_boxes, box_filter=self.box_filter,
                      image_validator=self.image_validator, n_trials_max=n_trials_max,
                      background=background, labels_format=labels_format)
        self.random_translate = RandomTranslate(
            random_translate[0], random_translate[1], random_translate[2], **shared
        )
        self.random_zoom_in = RandomScale(1.0, random_scale[1], random_scale[2], **shared)
        self.random_zoom_out = RandomScale(random_scale[0], 1.0, random_scale[2], **shared)
        self.random_flip = RandomFlip("horizontal", random_flip, labels_format)
        # Zooming in: translate first; zooming out: scale first (keeps content in view).
        self.sequence1 = [*_photometric_steps(*photometric), self.random_translate,
                          self.random_zoom_in, self.random_flip]
        self.sequence2 = [*_photometric_steps(*photometric, contrast_last=True),
                          self.random_zoom_out, self.random_translate, self.random_flip]
        self.labels_format = labels_format
        self._seed(rng)


def _random_patch_and_resize(owner, resize_height, resize_width, min_scale, max_scale,
                             min_aspect_ratio, max_aspect_ratio, n_trials_max, clip_boxes,
                             overlap_criterion, bounds_box_filter, bounds_validator,
                             n_boxes_min, background, labels_format):
    """Set the `random_patch` ('w_ar' patches) and `resize` steps shared by the
    variable-input-size and satellite chains on `owner`."""
    owner.box_filter_patch = BoxFilter(
        check_overlap=True, check_min_area=False, check_degenerate=False,
        overlap_criterion=overlap_criterion, overlap_bounds=bounds_box_filter,
        labels_format=labels_format,
    )
    owner.box_filter_resize = BoxFilter(
        check_overlap=False, check_min_area=True, check_degenerate=True, min_area=16,
        labels_format=labels_format,
    )
    owner.image_validator = ImageValidator(
        overlap_criterion=overlap_criterion, bounds=bounds_validator,
        n_boxes_min=n_boxes_min, labels_format=labels_format,
    )
    owner.random_patch = RandomPatch(
        PatchCoordinateGenerator(
            must_match="w_ar", min_scale=min_scale, max_scale=max_scale,
            scale_uniformly=False, min_aspect_ratio=min_aspect_ratio,
            max_aspect_ratio=max_aspect_ratio,
        ),
        box_filter=owner.box_filter_patch, image_validator=owner.image_validator,
        n_trials_max=n_trials_max, clip_boxes=clip_boxes, prob=1.0, background=background,
        can_fail=False, labels_format=labels_format,
    )
    owner.resize = Resize(resize_height, resize_width, box_filter=owner.box_filter_resize,
                          labels_format=labels_format)


class DataAugmentationVariableInputSize(_OneSequenceChain):
    """Augmentation for images of any size: photometric distortions, a `RandomPatch`
    (width `min_scale..max_scale` of the image width, aspect ratio
    `min_aspect_ratio..max_aspect_ratio`, validated like the constant-size chain), a
    horizontal flip, and `Resize(resize_height, resize_width)` dropping boxes smaller
    than 16 px^2 or degenerate. Tuple arguments as in `DataAugmentationConstantInputSize`.
    """

    def __init__(
        self,
        resize_height,
        resize_width,
        random_brightness=(-48, 48, 0.5),
        random_contrast=(0.5, 1.8, 0.5),
        random_saturation=(0.5, 1.8, 0.5),
        random_hue=(18, 0.5),
        random_flip=0.5,
        min_scale=0.3,
        max_scale=2.0,
        min_aspect_ratio=0.5,
        max_aspect_ratio=2.0,
        n_trials_max=3,
        clip_boxes=True,
        overlap_criterion="area",
        bounds_box_filter=(0.3, 1.0),
        bounds_validator=(0.5, 1.0),
        n_boxes_min=1,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        photometric = _photometric_ops(
            random_brightness, random_contrast, random_saturation, random_hue
        )
        _random_patch_and_resize(
            self, resize_height, resize_width, min_scale, max_scale, min_aspect_ratio,
            max_aspect_ratio, n_trials_max, clip_boxes, overlap_criterion,
            bounds_box_filter, bounds_validator, n_boxes_min, background, labels_format,
        )
        self.random_flip = RandomFlip("horizontal", random_flip, labels_format)
        self.sequence = [*_photometric_steps(*photometric), self.random_patch,
                         self.random_flip, self.resize]
        self.labels_format = labels_format
        self._seed(rng)


class DataAugmentationSatellite(_OneSequenceChain):
    """Augmentation for overhead imagery: photometric distortions, horizontal and
    vertical flips (each with probability `random_flip`), `RandomRotate(*random_rotate)`,
    a `RandomPatch` and a `Resize` as in `DataAugmentationVariableInputSize`."""

    def __init__(
        self,
        resize_height,
        resize_width,
        random_brightness=(-48, 48, 0.5),
        random_contrast=(0.5, 1.8, 0.5),
        random_saturation=(0.5, 1.8, 0.5),
        random_hue=(18, 0.5),
        random_flip=0.5,
        random_rotate=((90, 180, 270), 0.5),
        min_scale=0.3,
        max_scale=2.0,
        min_aspect_ratio=0.8,
        max_aspect_ratio=1.25,
        n_trials_max=3,
        clip_boxes=True,
        overlap_criterion="area",
        bounds_box_filter=(0.3, 1.0),
        bounds_validator=(0.5, 1.0),
        n_boxes_min=1,
        background=(0, 0, 0),
        labels_format=DEFAULT_LABELS_FORMAT,
        *,
        rng=None,
    ):
        photometric = _photometric_ops(
            random_brightness, random_contrast, random_saturation, random_hue
        )
        _random_patch_and_resize(
            self, resize_height, resize_width, min_scale, max_scale, min_aspect_ratio,
            max_aspect_ratio, n_trials_max, clip_boxes, overlap_criterion,
            bounds_box_filter, bounds_validator, n_boxes_min, background, labels_format,
        )
        self.random_horizontal_flip = RandomFlip("horizontal", random_flip, labels_format)
        self.random_vertical_flip = RandomFlip("vertical", random_flip, labels_format)
        self.random_rotate = RandomRotate(
            angles=tuple(random_rotate[0]), prob=random_rotate[1], labels_format=labels_format
        )
        self.sequence = [*_photometric_steps(*photometric), self.random_horizontal_flip,
                         self.random_vertical_flip, self.random_rotate, self.random_patch,
                         self.resize]
        self.labels_format = labels_format
        self._seed(rng)
