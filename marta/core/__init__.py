"""MARTA core: compiled training of the team, and MARTA's adversary and switcher around it."""

from marta.core.marta import MartaConfig, make_marta_train
from marta.core.train import TrainConfig, Trainer, TrainState, make_train, seed_keys

__all__ = [
    "MartaConfig",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "make_marta_train",
    "make_train",
    "seed_keys",
]
