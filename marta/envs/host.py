"""Adapters that give host (non-JAX) multi-agent environments marta's call shape.

How to read this file: `HostEnv` runs any Gymnasium multi-agent environment (tuple
observation and action spaces, per-agent reward list, e.g. `lbforaging`) or any PettingZoo
parallel environment (dicts keyed by agent name, e.g. `mpe2`) behind the same calls as a
pure-JAX `MultiAgentEnv`::

    obs, state = env.reset(key)
    obs, state, reward, done, info = env.step(key, state, actions)
    env.global_state(state); env.avail_actions(state)

The host environment is stateful, so `state` is only a handle with episode bookkeeping; the
loop runs in Python on numpy arrays. Slower than `scan`, but it lets the reference packages run
beside ours and lets users plug in their own environments. Dicts keyed by agent name exist only
here (STYLE.md E2): everything returned is an array with the agent axis first.

Malformed actions (wrong shape, non-integer dtype, out of range) raise `ValueError` naming
the offending agent and value. Unavailable but in-range actions are passed through: the host
environment applies its own rule (lbforaging turns them into NONE). The JAX environments
document how they treat out-of-range actions (see docs/envs/).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from marta.envs.base import env_spec

AvailFn = Callable[[Any], np.ndarray]
StateFn = Callable[[Any, np.ndarray], np.ndarray]


@dataclasses.dataclass
class HostState:
    """Episode bookkeeping of a host environment (the environment itself holds the rest)."""

    time: int = 0
    episode_return: float = 0.0
    obs: np.ndarray | None = None
    episode: int = 0


def _seed_from_key(key: Any) -> int | None:
    """A host seed from a JAX key, an int, or None (None leaves the host RNG as it is)."""
    if key is None:
        return None
    if isinstance(key, int | np.integer):
        return int(key)
    import jax

    data = (
        jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    )
    return int(np.asarray(data).ravel()[-1])


class HostEnv:
    """A host multi-agent environment behind marta's environment contract.

    Use `HostEnv.from_gymnasium(...)` or `HostEnv.from_pettingzoo(...)` rather than the
    constructor. Sizes (`num_agents`, `num_actions`, `obs_dim`, `state_dim`, `max_steps`) are
    read from the wrapped environment's spaces.
    """

    def __init__(
        self,
        env: Any,
        *,
        kind: str,
        agents: Sequence[Any],
        num_actions: int,
        obs_dim: int,
        max_steps: int,
        avail_fn: AvailFn | None = None,
        state_fn: StateFn | None = None,
        state_dim: int | None = None,
        name: str = "",
    ) -> None:
        if kind not in ("gymnasium", "pettingzoo"):
            raise ValueError(f"kind must be 'gymnasium' or 'pettingzoo', got {kind!r}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.env = env
        self.kind = kind
        self.agents = list(agents)
        self.num_agents = len(self.agents)
        self.num_actions = int(num_actions)
        self.obs_dim = int(obs_dim)
        self.max_steps = int(max_steps)
        self.avail_fn = avail_fn
        self.state_fn = state_fn
        self.state_dim = int(state_dim) if state_dim is not None else self.num_agents * self.obs_dim
        self.name = name

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_gymnasium(
        cls,
        env: Any,
        *,
        max_steps: int | None = None,
        avail_fn: AvailFn | None = None,
        name: str = "",
        **make_kwargs: Any,
    ) -> HostEnv:
        """Wraps a Gymnasium multi-agent env (tuple spaces), given as an instance or an id.

        For `lbforaging` ids ("Foraging-...-v3") the available actions are read from the
        environment's valid-move table unless `avail_fn` is given.
        """
        if isinstance(env, str):
            import gymnasium

            if env.startswith("Foraging"):
                import lbforaging  # noqa: F401  (registers the Foraging ids)
            name = name or env
            # the passive checker warns on every step that per-agent reward lists are not floats
            make_kwargs.setdefault("disable_env_checker", True)
            env = gymnasium.make(env, **make_kwargs)
        spaces = env.action_space.spaces
        inner = env.unwrapped
        if max_steps is None:
            max_steps = getattr(inner, "_max_episode_steps", None) or getattr(
                env.spec, "max_episode_steps", None
            )
        if max_steps is None:
            raise ValueError("max_steps: the environment declares no time limit; pass max_steps")
        if avail_fn is None and hasattr(inner, "_valid_actions"):
            avail_fn = _lbforaging_avail
        return cls(
            env,
            kind="gymnasium",
            agents=range(len(spaces)),
            num_actions=spaces[0].n,
            obs_dim=int(np.prod(env.observation_space.spaces[0].shape)),
            max_steps=int(max_steps),
            avail_fn=avail_fn,
            name=name,
        )

    @classmethod
    def from_pettingzoo(
        cls,
        env: Any,
        *,
        agents: Sequence[str] | None = None,
        max_steps: int | None = None,
        name: str = "",
    ) -> HostEnv:
        """Wraps a PettingZoo parallel env with discrete actions and equal observation sizes
        for the chosen `agents` (default: all). Other agents, if any, must be driven by the
        caller through `step(..., other_actions=...)` or act with a no-op (action 0)."""
        agents = list(agents if agents is not None else env.possible_agents)
        obs_dims = {int(np.prod(env.observation_space(a).shape)) for a in agents}
        num_actions = {int(env.action_space(a).n) for a in agents}
        if len(obs_dims) != 1 or len(num_actions) != 1:
            raise ValueError(
                "agents: the chosen agents must share observation and action sizes; "
                f"got obs sizes {sorted(obs_dims)} and action counts {sorted(num_actions)}"
            )
        if max_steps is None:
            max_steps = getattr(env.unwrapped, "max_cycles", None)
        if max_steps is None:
            raise ValueError("max_steps: the environment declares no time limit; pass max_steps")
        state_dim = None
        state_fn = None
        if hasattr(env, "state_space"):
            try:
                state_dim = int(np.prod(env.state_space.shape))
                state_fn = lambda e, obs: np.asarray(e.state(), np.float32).ravel()
            except (AttributeError, NotImplementedError):
                state_dim = None
        return cls(
            env,
            kind="pettingzoo",
            agents=agents,
            num_actions=num_actions.pop(),
            obs_dim=obs_dims.pop(),
            max_steps=int(max_steps),
            state_fn=state_fn,
            state_dim=state_dim,
            name=name,
        )

    # ------------------------------------------------------------------ contract
    @property
    def spec(self) -> dict[str, int]:
        """Static sizes, as `MultiAgentEnv.spec`."""
        return env_spec(self)

    def reset(self, key: Any = None) -> tuple[np.ndarray, HostState]:
        """Starts an episode; `key` (a JAX key or an int) seeds the host env if given."""
        seed = _seed_from_key(key)
        if self.kind == "gymnasium":
            obs, _ = self.env.reset(seed=seed)
            obs = self._stack(obs)
        else:
            obs, _ = self.env.reset(seed=seed)
            obs = self._stack([obs[a] for a in self.agents])
        return obs, HostState(obs=obs)

    def step(
        self,
        key: Any,
        state: HostState,
        actions: Any,
        *,
        other_actions: dict[str, int] | None = None,
    ) -> tuple[np.ndarray, HostState, float, bool, dict[str, Any]]:
        """One step with auto-reset; same return shape as `MultiAgentEnv.step`."""
        del key
        actions = self.check_actions(actions, state)
        if self.kind == "gymnasium":
            obs, rewards, terminated, truncated, _ = self.env.step(tuple(int(a) for a in actions))
            obs = self._stack(obs)
            reward = float(np.sum(rewards))
            terminated, truncated = bool(terminated), bool(truncated)
        else:
            joint = {a: 0 for a in self.env.agents}
            joint.update(other_actions or {})
            joint.update({a: int(u) for a, u in zip(self.agents, actions, strict=True)})
            obs_d, rew_d, term_d, trunc_d, _ = self.env.step(joint)
            obs = self._stack([obs_d[a] for a in self.agents])
            reward = float(sum(rew_d[a] for a in self.agents))
            terminated = bool(any(term_d[a] for a in self.agents))
            truncated = bool(any(trunc_d[a] for a in self.agents))
        time = state.time + 1
        # A host env that ends at its own time limit may call it `terminated` (lbforaging
        # does); marta reports a time-limit end as truncation, consistently with its JAX envs.
        if time >= self.max_steps and not truncated:
            truncated, terminated = True, False
        done = terminated or truncated
        episode_return = state.episode_return + reward
        info = {
            "terminated": terminated,
            "truncated": truncated,
            "returned_episode": done,
            "episode_return": episode_return,
            "episode_length": time,
            "final_obs": obs,
        }
        if done:
            obs, new_state = self.reset()
            new_state.episode = state.episode + 1
        else:
            new_state = HostState(
                time=time, episode_return=episode_return, obs=obs, episode=state.episode
            )
        return obs, new_state, reward, done, info

    def global_state(self, state: HostState) -> np.ndarray:
        """The env's own global state if it has one, else the concatenated observations."""
        if self.state_fn is not None:
            return self.state_fn(self.env, state.obs)
        return np.asarray(state.obs, np.float32).ravel()

    def avail_actions(self, state: HostState) -> np.ndarray:
        """bool[N, num_actions]; all actions available unless the env says otherwise."""
        if self.avail_fn is None:
            return np.ones((self.num_agents, self.num_actions), bool)
        return np.asarray(self.avail_fn(self.env), bool)

    def check_actions(self, actions: Any, state: HostState | None = None) -> np.ndarray:
        """Validates a joint action: shape [N], integer dtype, each in [0, num_actions)."""
        arr = np.asarray(actions)
        if arr.shape != (self.num_agents,):
            raise ValueError(
                f"actions: expected shape ({self.num_agents},) (one per agent), got {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"actions: expected an integer dtype, got {arr.dtype}")
        bad = np.flatnonzero((arr < 0) | (arr >= self.num_actions))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"actions[{i}] = {int(arr[i])} is out of range; valid actions are "
                f"0..{self.num_actions - 1}"
            )
        return arr.astype(np.int64)

    def _stack(self, per_agent: Sequence[Any]) -> np.ndarray:
        return np.stack([np.asarray(o, np.float32).ravel() for o in per_agent])

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.spec.items())
        return f"HostEnv({self.kind}, {self.name!r}, {sizes})"


def _lbforaging_avail(env: Any) -> np.ndarray:
    """Available actions of an lbforaging env from its valid-move table."""
    inner = env.unwrapped
    num_actions = inner.action_space.spaces[0].n
    table = np.zeros((len(inner.players), num_actions), bool)
    for i, player in enumerate(inner.players):
        for action in inner._valid_actions[player]:
            table[i, action.value] = True
    return table
