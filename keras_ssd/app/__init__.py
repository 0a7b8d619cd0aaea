"""The jobs behind the `keras-ssd` command line: train, evaluate, predict, demo."""
