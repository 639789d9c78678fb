"""Loads ma-gym's Traffic Junction (the reference) without `ma_gym/__init__.py`.

`ma_gym/__init__.py` (ma-gym 0.0.14) enumerates `gym.envs.registry.all()`, an API that gym
0.26.2 no longer has, so importing `ma_gym` fails. The Traffic Junction module itself only needs
`gym`, `gym.spaces` and PIL (for its base image), which import fine with gym 0.26.2 and numpy 2.
We therefore register an empty stub package `ma_gym` (and `ma_gym.envs`) in `sys.modules` whose
`__path__` points at the installed directory, then import the submodule normally: its relative
imports (`..utils.action_space`) resolve inside the real package, and `ma_gym/__init__.py` is
never executed. No numpy/gym attribute patches are needed (checked with numpy 2.4, gym 0.26.2).

Installed by `make install` (`pip install --no-deps gym==0.26.2 ma-gym==0.0.14`).

The reference draws its randomness from the module-level Python `random`. `ScriptedRandom`
replaces that module attribute so a test can drive ma-gym with exactly the draws our JAX
environment made (see `TrafficJunction.reset_draws` / `arrival_draws`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any

REFERENCE_IDS = {
    # ma-gym/__init__.py registers TrafficJunction{4,10}-v{0,1} with only these kwargs; the
    # other constructor arguments keep their defaults (grid_shape=(14, 14), arrive_prob=0.5,
    # step_cost=-0.01, collision_reward=-10, max_steps=100).
    "TrafficJunction4-v0": {"full_observable": False, "n_max": 4},
    "TrafficJunction10-v0": {"full_observable": False, "n_max": 10},
}


def _stub_package(name: str, path: str) -> None:
    if name in sys.modules:
        return
    module = types.ModuleType(name)
    module.__path__ = [path]  # a namespace-like package: submodules import, __init__ does not run
    sys.modules[name] = module


def load_module() -> types.ModuleType:
    """Imports `ma_gym.envs.traffic_junction.traffic_junction` without running ma_gym/__init__."""
    if "ma_gym" not in sys.modules:
        spec = importlib.util.find_spec("ma_gym")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(
                "ma-gym is not installed: pip install --no-deps gym==0.26.2 ma-gym==0.0.14"
            )
        root = list(spec.submodule_search_locations)[0]
        _stub_package("ma_gym", root)
        _stub_package("ma_gym.envs", f"{root}/envs")
    return importlib.import_module("ma_gym.envs.traffic_junction.traffic_junction")


def make_reference(env_id: str = "TrafficJunction4-v0", **overrides: Any) -> Any:
    """Builds ma-gym's `TrafficJunction` with the keyword arguments its registry id uses."""
    module = load_module()
    return module.TrafficJunction(**{**REFERENCE_IDS[env_id], **overrides})


class ScriptedRandom:
    """Stands in for the `random` module inside ma-gym's Traffic Junction.

    Every call consumes the next scripted draw of the matching kind, so a test fails loudly if
    ma-gym asks for a draw the JAX environment did not make (or in another order); draws
    ma-gym does not ask for (no arrival this step) are dropped by `clear`.

    * `shuffle(x)`: reorders x in place as `x[perm[0]], x[perm[1]], ...`;
    * `randint(1, 3)`: the next scripted route;
    * `uniform(0, 1)`: the next scripted arrival uniform;
    * `choice(seq)`: `seq[g % len(seq)]` with the next scripted integer `g`.
    """

    def __init__(self) -> None:
        self._queue: list[tuple[str, Any]] = []

    def script(self, kind: str, value: Any) -> None:
        self._queue.append((kind, value))

    def _next(self, kind: str) -> Any:
        if not self._queue:
            raise AssertionError(f"reference asked for an unscripted random.{kind}")
        got, value = self._queue.pop(0)
        if got != kind:
            raise AssertionError(f"reference asked for random.{kind}, scripted {got}")
        return value

    def pending(self) -> Iterator[str]:
        return (kind for kind, _ in self._queue)

    def clear(self) -> None:
        self._queue.clear()

    def shuffle(self, x: list) -> None:
        perm = self._next("shuffle")
        x[:] = [x[int(p)] for p in perm]

    def randint(self, a: int, b: int) -> int:
        assert (a, b) == (1, 3), (a, b)
        return int(self._next("randint"))

    def uniform(self, a: float, b: float) -> float:
        assert (a, b) == (0, 1), (a, b)
        return float(self._next("uniform"))

    def choice(self, seq):
        return seq[int(self._next("choice")) % len(seq)]
