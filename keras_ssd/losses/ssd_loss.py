"""`SSDLoss`: the SSD multibox loss (softmax log loss + smooth L1, hard negative mining).

Both `y_true` (from `SSDInputEncoder`) and `y_pred` (the model's training output)
have shape `(batch, n_boxes, n_classes + 1 + 12)` (see `keras_ssd.layout`). The
loss reads only the class block (`CLASSES`) and the 4 offsets (`OFFSETS`); the
anchors and variances are ignored. In the class block of `y_true`:

- background is column 0 (as in ssd_keras, whatever the encoder's `background_id`),
- a positive anchor has a one in some column >= 1,
- a neutral anchor is all zeros and contributes nothing.
"""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf

from keras_ssd.layout import CLASSES
from keras_ssd.layout import N_TRAILING
from keras_ssd.layout import OFFSETS

__all__ = ["MINING_MODES", "SSDLoss", "SSDLossFunction"]

#: Accepted values of `SSDLoss(mining=...)`.
MINING_MODES = ("batch", "per_image")

# Probabilities are clipped to this before the log, as in ssd_keras.
_LOG_EPSILON = 1e-15
# The smallest normal float32.
_FLOAT32_TINY = 1.1754944e-38
_INT32_MAX = 2**31 - 1


@keras.saving.register_keras_serializable(package="keras_ssd")
class SSDLoss(keras.losses.Loss):
    """The SSD loss of Liu et al. (2016), as ssd_keras computes it.

    For each image `i` of the batch:

        loss_i = (L_pos_i + L_neg_i + alpha * L_loc_i) / max(1, N_pos) * batch_size

    - `L_pos_i`: softmax log loss `-sum(y_true * log(max(y_pred, 1e-15)))` over the
      class block, summed over the positive anchors of image `i`. `y_pred` must be
      softmax probabilities, not logits.
    - `L_neg_i`: the same log loss summed over the *mined* (hardest) negative
      anchors of image `i` (see `mining`).
    - `L_loc_i`: smooth L1 between the encoded and the predicted offsets, summed
      over the positive anchors of image `i`.
    - `N_pos`: the number of positive anchors in the whole batch.

    An anchor is negative when column 0 of its `y_true` class block (background,
    as in ssd_keras) is 1, positive when another column is, and neutral (ignored)
    when the class block is all zeros.

    The factor `batch_size` cancels the mean Keras takes over the batch (for a
    plain function loss and for this class's default `"sum_over_batch_size"`
    reduction alike), so the value Keras reports is the paper's loss: the batch
    total divided by the batch's positive count.

    Under `tf.distribute` (MirroredStrategy, MultiWorkerMirroredStrategy) each
    replica sees its share of the global batch. `N_pos` is then the positive
    count of the global batch (all-reduced over the replicas) and `batch_size`
    the global batch size (local batch times replicas), which cancels Keras's
    per-replica mean and its `1 / num_replicas` scaling: the summed replica
    gradients equal the single-device gradient of the global batch. That holds
    exactly with `mining="per_image"`; with `mining="batch"` each replica mines
    over its local batch (`floor(neg_pos_ratio * local N_pos)` negatives among
    its own images), so the selection differs from the global one when the
    positives are spread unevenly over the replicas.

    Hard negative mining. The number of negatives kept is
    `k = min(max(floor(neg_pos_ratio * N_pos), n_neg_min), n_neg_nonzero)`, where
    `n_neg_nonzero` counts the negative anchors with a non-zero loss. With
    `mining="batch"` (the ssd_keras default) `k` and the selection are global over
    the flattened batch: the `k` largest negative losses of the whole batch are
    kept, whichever images they belong to. With `mining="per_image"` (Caffe's
    SSD) each image keeps its own `k_i`, computed from its own positives and
    negatives, with `n_neg_min` applying per image. Among equal losses the anchor
    with the lower index (in the flattened batch, or in the image) is kept first,
    which is `tf.nn.top_k`'s documented order; the value of the loss does not
    depend on this choice, only which of the tied anchors get a gradient.

    Under XLA (`jit_compile=True`, Keras's default on GPUs) a `top_k` whose `k`
    depends on the data would be compiled anew for every new `k`, that is for
    nearly every batch. Inside an XLA context the loss therefore selects the same
    negatives through a static-shape formulation (the `k`-th largest value found by
    bisection, everything above it kept, ties at it broken by index), which
    compiles once and gives identical values.

    All computation is in float32: `y_pred` may be float16 or bfloat16 (mixed
    precision) and is cast first.

    Use it either as a loss object or, as in ssd_keras, through its method:

        model.compile(optimizer, loss=SSDLoss())
        model.compile(optimizer, loss=SSDLoss(neg_pos_ratio=3, alpha=1.0).compute_loss)

    Args:
        neg_pos_ratio: maximum number of mined negatives per positive. A float is
            accepted: the count is `floor(neg_pos_ratio * N_pos)`. Defaults to 3.
        n_neg_min: minimum number of negatives kept (per batch, or per image with
            `mining="per_image"`), so that batches with few or no positives still
            learn background. Defaults to 0.
        alpha: weight of the localization loss. Defaults to 1.0.
        mining: `"batch"` (ssd_keras: negatives mined over the whole batch) or
            `"per_image"` (Caffe: each image mines `neg_pos_ratio` times its own
            positives). Defaults to `"batch"`.
        negatives_for_hard: number of hardest negatives kept when the whole batch
            has no positive anchor (per batch, or per image with
            `mining="per_image"`), where the formula above would keep only
            `n_neg_min`. Defaults to 0 (ssd_keras: such a batch then learns
            nothing unless `n_neg_min > 0`).
        name: name of the loss. Defaults to `"ssd_loss"`.
        reduction: Keras reduction of the per-image losses. Keep the default
            `"sum_over_batch_size"` to get the paper's loss.
        dtype: dtype Keras casts the inputs to before `call`; the loss itself is
            always computed in float32. Defaults to `None` (`keras.config.floatx()`).

    Returns (of `compute_loss`/`call`):
        float32 tensor of shape `(batch,)`.
    """

    def __init__(
        self,
        neg_pos_ratio=3,
        n_neg_min=0,
        alpha=1.0,
        *,
        mining="batch",
        negatives_for_hard=0,
        name="ssd_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.neg_pos_ratio = _check_non_negative("neg_pos_ratio", neg_pos_ratio)
        self.n_neg_min = _check_non_negative("n_neg_min", n_neg_min, integer=True)
        self.alpha = float(_check_non_negative("alpha", alpha))
        if mining not in MINING_MODES:
            raise ValueError(f"`mining` must be one of {MINING_MODES}. Received: mining={mining!r}")
        self.mining = mining
        self.negatives_for_hard = _check_non_negative(
            "negatives_for_hard", negatives_for_hard, integer=True
        )
        self._dtype_arg = dtype

    # -- the two elementary losses (ssd_keras names) ---------------------------

    def smooth_L1_loss(self, y_true, y_pred):  # the ssd_keras name, capital L included
        """Smooth L1 summed over the last axis: `(..., 4)` -> `(...)`.

        Elementwise `0.5 * d**2` if `|d| < 1`, else `|d| - 0.5`, with `d = y_pred - y_true`.
        """
        absolute = tf.abs(y_pred - y_true)
        elementwise = tf.where(absolute < 1.0, 0.5 * tf.square(absolute), absolute - 0.5)
        return tf.reduce_sum(elementwise, axis=-1)

    def log_loss(self, y_true, y_pred):
        """Softmax log loss summed over the last axis: `(..., C)` -> `(...)`.

        `-sum(y_true * log(max(y_pred, 1e-15)))`; `y_pred` holds probabilities.
        """
        y_pred = tf.maximum(y_pred, _LOG_EPSILON)
        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)

    # -- the loss ---------------------------------------------------------------

    @property
    def compute_loss(self) -> SSDLossFunction:
        """The per-image SSD loss as a function: `compute_loss(y_true, y_pred) -> (batch,)`.

        `model.compile(loss=SSDLoss().compute_loss)` is the ssd_keras spelling.
        It is a small serializable callable (not a bound method, which Keras
        cannot save), so such a model also reloads from `.keras` with no
        `custom_objects`.
        """
        return SSDLossFunction(self)

    def per_image_loss(self, y_true, y_pred):
        """The per-image SSD loss (see the class docstring).

        Args:
            y_true: `(batch, n_boxes, n_classes + 1 + 12)`, as `SSDInputEncoder` makes it.
            y_pred: the same shape, the model's training output (any float dtype).

        Returns:
            float32 tensor of shape `(batch,)`.
        """
        y_true = tf.cast(tf.convert_to_tensor(y_true), tf.float32)
        y_pred = tf.cast(tf.convert_to_tensor(y_pred), tf.float32)
        _check_shapes(y_true, y_pred)
        batch_size = tf.shape(y_pred)[0]

        class_true = y_true[..., CLASSES]
        classification_loss = self.log_loss(class_true, y_pred[..., CLASSES])  # (B, n_boxes)
        localization_loss = self.smooth_L1_loss(y_true[..., OFFSETS], y_pred[..., OFFSETS])

        negatives = class_true[..., 0]  # background is column 0
        positives = tf.reduce_max(class_true[..., 1:], axis=-1)  # neutral anchors: 0 in both
        # The positives of the global batch: summed over the tf.distribute replicas.
        n_positive = _sum_over_replicas(tf.reduce_sum(positives))

        pos_class_loss = tf.reduce_sum(classification_loss * positives, axis=-1)
        neg_class_loss = self._mined_negative_loss(
            classification_loss * negatives, positives, n_positive > 0
        )
        loc_loss = tf.reduce_sum(localization_loss * positives, axis=-1)

        total = pos_class_loss + neg_class_loss + self.alpha * loc_loss
        # Keras takes the mean over this replica's batch and divides by the number of
        # replicas: the global batch size cancels both.
        global_batch_size = tf.cast(batch_size * _replicas_in_sync(), tf.float32)
        return total / self.normalizer(n_positive) * global_batch_size

    def call(self, y_true, y_pred):
        return self.per_image_loss(y_true, y_pred)

    def normalizer(self, n_positive):
        """The divisor of the loss: `max(1, n_positive)`.

        `n_positive` is the positive count of the global batch: inside a
        `tf.distribute` replica context `compute_loss` has summed it over the
        replicas (all-reduce), so every replica divides by the same count.
        """
        return tf.maximum(1.0, n_positive)

    def _mined_negative_loss(self, neg_losses, positives, batch_has_positives):
        """Sum per image of the mined negative losses: `(B, n_boxes)` -> `(B,)`.

        `neg_losses` is the log loss of every negative anchor and 0 elsewhere.
        Mining works on rows: one row (the flattened batch) for `"batch"`, one row
        per image for `"per_image"`.
        """
        if self.mining == "batch":
            rows = tf.reshape(neg_losses, [1, -1])
            row_positives = tf.reduce_sum(positives)[None]
        else:
            rows = neg_losses
            row_positives = tf.reduce_sum(positives, axis=-1)
        k = self._n_negatives_to_keep(rows, row_positives, batch_has_positives)

        def mine():
            mask = _threshold_mask(rows, k) if _in_xla_context() else _top_k_mask(rows, k)
            kept = tf.reshape(rows * mask, tf.shape(neg_losses))
            return tf.reduce_sum(kept, axis=-1)

        def nothing():
            return tf.zeros([tf.shape(neg_losses)[0]], tf.float32)

        return tf.cond(tf.reduce_any(k > 0), mine, nothing)

    def _n_negatives_to_keep(self, rows, row_positives, batch_has_positives):
        """Number of negatives to keep per row, int32 `(rows,)`."""
        n_nonzero = tf.math.count_nonzero(rows, axis=-1, dtype=tf.int32)
        # floor(ratio * trunc(n_pos)) in float64 reproduces the original's integer
        # product for integer ratios and takes a float ratio exactly as Python would.
        n_pos = tf.floor(tf.cast(row_positives, tf.float64))
        wanted = tf.floor(tf.minimum(self.neg_pos_ratio * n_pos, _INT32_MAX))
        wanted = tf.cast(wanted, tf.int32)
        wanted = tf.maximum(wanted, self.n_neg_min)
        if self.negatives_for_hard > 0:
            wanted = tf.where(
                batch_has_positives, wanted, tf.maximum(wanted, self.negatives_for_hard)
            )
        return tf.minimum(wanted, n_nonzero)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "neg_pos_ratio": self.neg_pos_ratio,
                "n_neg_min": self.n_neg_min,
                "alpha": self.alpha,
                "mining": self.mining,
                "negatives_for_hard": self.negatives_for_hard,
                "dtype": self._dtype_arg
                if self._dtype_arg is None or isinstance(self._dtype_arg, str)
                else self._dtype_policy.name,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_ssd")
class SSDLossFunction:
    """`SSDLoss(...).compute_loss`: the per-image loss as a saveable function object.

    Keras wraps a function given to `compile(loss=...)` and saves it by
    reference; a bound method cannot be saved that way, so `compute_loss` is
    this callable, which saves its `SSDLoss` configuration and rebuilds it on load.

    Call arguments:
        y_true, y_pred: `(batch, n_boxes, n_classes + 1 + 12)`.

    Returns:
        float32 `(batch,)`, as `SSDLoss.per_image_loss`.
    """

    __name__ = "compute_loss"  # Keras names the compiled loss after the function

    def __init__(self, loss: SSDLoss):
        if not isinstance(loss, SSDLoss):
            raise TypeError(f"`loss` must be an SSDLoss. Received: loss of type {type(loss)}")
        self.loss = loss

    def __call__(self, y_true, y_pred):
        return self.loss.per_image_loss(y_true, y_pred)

    def get_config(self):
        return {"loss": keras.saving.serialize_keras_object(self.loss)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["loss"]))


# -- negative selection: two formulations with identical results ---------------


def _top_k_mask(losses, k):
    """float32 mask of the `k[r]` largest entries of each row of `losses` `(rows, n)`.

    `tf.nn.top_k` (ties: lower index first) with `k = max(k)`, then only the first
    `k[r]` of row `r` are scattered into the mask. Fast, but `k` is data
    dependent, so XLA would recompile it for every new value.
    """
    k_max = tf.reduce_max(k)
    _, indices = tf.nn.top_k(losses, k=k_max, sorted=True)  # (rows, k_max)
    keep = tf.range(k_max)[None, :] < k[:, None]
    row_ids = tf.broadcast_to(tf.range(tf.shape(losses)[0])[:, None], tf.shape(indices))
    return tf.scatter_nd(
        tf.stack([row_ids, indices], axis=-1), tf.cast(keep, tf.float32), tf.shape(losses)
    )


def _threshold_mask(losses, k):
    """The same mask as `_top_k_mask`, with only static shapes (for XLA).

    Find the `k[r]`-th largest value of each row, keep every entry above it and
    the first (lowest-index) entries equal to it until the row holds `k[r]`:
    exactly the set `tf.nn.top_k` returns.
    """
    keys = _ordered_keys(losses)
    kth = _kth_largest_key(keys, k)[:, None]
    above = keys > kth
    tied = keys == kth
    n_tied_to_keep = k - tf.reduce_sum(tf.cast(above, tf.int32), axis=-1)
    tie_rank = tf.cumsum(tf.cast(tied, tf.int32), axis=-1, exclusive=True)
    keep = above | (tied & (tie_rank < n_tied_to_keep[:, None]))
    return tf.cast(keep, tf.float32)


def _ordered_keys(values):
    """int64 keys that order like the float32 `values` (and equal exactly when they do).

    The IEEE bit pattern read as an integer orders non-negative floats; negative
    floats are mapped to minus their magnitude's pattern, which also merges -0.0
    with 0.0. Subnormals count as zero, as TensorFlow's CPU kernels (`top_k`
    included) treat them.
    """
    values = tf.cast(values, tf.float32)
    values = tf.where(tf.abs(values) < _FLOAT32_TINY, tf.zeros_like(values), values)
    bits = tf.bitcast(values, tf.int32)
    keys = tf.where(bits >= 0, bits, -tf.bitwise.bitwise_and(bits, 0x7FFFFFFF))
    return tf.cast(keys, tf.int64)


def _kth_largest_key(keys, k):
    """The `k[r]`-th largest entry of each row of int32-range `keys`, `(rows,)`.

    Bisection over the 2**32 possible keys: 32 vectorised count-and-compare steps
    instead of a sort, which XLA compiles into a slow sort on CPU. Invariant:
    at least `k` keys are >= `low` and fewer than `k` are >= `high`. (For `k = 0`
    it returns the largest possible key, which keeps nothing.)
    """
    k = k[:, None]
    low = tf.fill(tf.shape(k), tf.constant(-(2**31), tf.int64))
    high = tf.fill(tf.shape(k), tf.constant(2**31, tf.int64))
    for _ in range(32):
        middle = (low + high) // 2
        count = tf.reduce_sum(tf.cast(keys >= middle, tf.int32), axis=-1, keepdims=True)
        enough = count >= k
        low = tf.where(enough, middle, low)
        high = tf.where(enough, high, middle)
    return low[:, 0]


def _replicas_in_sync() -> int:
    """Replicas training in sync: those of the `tf.distribute` replica context, else 1."""
    context = tf.distribute.get_replica_context()
    return 1 if context is None else int(context.num_replicas_in_sync)


def _sum_over_replicas(value):
    """`value` summed over the replicas in sync (all-reduce); unchanged with one replica.

    Used for counts taken from `y_true`, through which no gradient flows.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(value))


def _in_xla_context() -> bool:
    """Whether the ops being built will be compiled by XLA (`jit_compile=True`)."""
    return tf.__internal__.get_enclosing_xla_context() is not None


# -- argument checks ---------------------------------------------------------------


def _check_non_negative(name, value, integer=False):
    kind = "integer" if integer else "number"
    wrong_type = isinstance(value, bool) or not isinstance(
        value, numbers.Integral if integer else numbers.Real
    )
    if wrong_type:
        raise TypeError(f"`{name}` must be a non-negative {kind}. Received: {name}={value!r}")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"`{name}` must be a non-negative {kind}. Received: {name}={value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _check_shapes(y_true, y_pred):
    """Static checks, where shapes are known: rank 3, equal shapes, room for 12 box values."""
    layout = "(batch, n_boxes, n_classes + 1 + 12)"
    shapes = {}
    for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        if tensor.shape.rank is None:
            continue
        shape = tuple(tensor.shape)
        if len(shape) != 3:
            raise ValueError(f"`{name}` must have shape {layout}. Received: {name}.shape={shape}")
        if shape[-1] is not None and shape[-1] < N_TRAILING + 2:
            raise ValueError(
                f"`{name}` needs at least {N_TRAILING + 2} channels (background, one class "
                f"and 12 box values). Received: {name}.shape={shape}"
            )
        shapes[name] = shape
    if len(shapes) == 2:
        pairs = zip(shapes["y_true"], shapes["y_pred"])
        if any(t is not None and p is not None and t != p for t, p in pairs):
            raise ValueError(
                f"`y_true` and `y_pred` must have the same shape {layout}. Received: "
                f"y_true.shape={shapes['y_true']}, y_pred.shape={shapes['y_pred']}"
            )
