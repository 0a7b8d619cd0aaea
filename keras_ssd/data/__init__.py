"""Data: `DataGenerator` and its parsers, augmentation (`keras_ssd.data.transforms`), the
`tf.data` pipeline (`keras_ssd.data.pipeline.build_dataset`, imported on use because it
needs TensorFlow) and the generated shapes dataset (`keras_ssd.data.synthetic`)."""

from keras_ssd.data.generator import DataGenerator
from keras_ssd.data.generator import DatasetError
from keras_ssd.data.generator import DegenerateBatchError
