"""Training utilities: learning-rate schedules and callbacks."""

from keras_ssd.training.callbacks import MeanAveragePrecisionCallback
from keras_ssd.training.callbacks import NaNLossError
from keras_ssd.training.callbacks import RunState
from keras_ssd.training.callbacks import TerminateOnNaN
from keras_ssd.training.callbacks import checkpoint_callbacks
from keras_ssd.training.schedules import WarmupCosineDecay
from keras_ssd.training.schedules import WarmupStepDecay
from keras_ssd.training.schedules import ssd_keras_step_schedule
