"""Pure-JAX multi-agent environments, their registry and host-environment adapters.

>>> import jax, marta.envs
>>> env = marta.envs.make("lbf-5x5-4p-1f")
>>> obs, state = env.reset(jax.random.key(0))
"""

# Importing an environment module registers its ids; one line per module.
from marta.envs import critical as _critical  # noqa: F401
from marta.envs import lbf as _lbf  # noqa: F401
from marta.envs import matrix as _matrix  # noqa: F401
from marta.envs import simple_tag as _simple_tag  # noqa: F401
from marta.envs import simple_tag_prey as _simple_tag_prey  # noqa: F401
from marta.envs import traffic_junction as _traffic_junction  # noqa: F401
from marta.envs.base import EnvState, MultiAgentEnv
from marta.envs.registry import ENVS, get_entry, make, register
from marta.envs.rollout import Rollout, episode_stats, random_policy, rollout

__all__ = [
    "ENVS",
    "EnvState",
    "MultiAgentEnv",
    "Rollout",
    "episode_stats",
    "get_entry",
    "make",
    "random_policy",
    "register",
    "rollout",
]
