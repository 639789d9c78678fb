"""MARTA core: compiled training of learners (and, later, the adversary and switcher)."""

from marta.core.train import TrainConfig, Trainer, TrainState, make_train, seed_keys

__all__ = ["TrainConfig", "TrainState", "Trainer", "make_train", "seed_keys"]
