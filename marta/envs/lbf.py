"""Level-Based Foraging in pure JAX, step-for-step identical to ``lbforaging==2.0.0``.

How to read this file: `LevelBasedForaging.Config` mirrors the constructor of the reference
``lbforaging.foraging.ForagingEnv`` (Papoudakis et al., 2021, "Benchmarking Multi-Agent Deep
Reinforcement Learning Algorithms in Cooperative Tasks"), and the ids registered at the bottom
mirror its ``Foraging{-2s}-{s}x{s}-{p}p-{f}f{-coop}-v3`` registrations. The state holds no grid:
players and foods are short arrays (N and F are small), and every rule is a pairwise comparison
between them, so a step is a handful of fused ``[N, N]`` / ``[N, F]`` array ops.

Rules (all taken from the reference's ``reset``/``step``/``_make_gym_obs``):

* actions ``0 NONE, 1 NORTH (row - 1), 2 SOUTH (row + 1), 3 WEST (col - 1), 4 EAST (col + 1),
  5 LOAD``. A move is available if it stays on the grid and the target cell holds no food
  (other players do not block it); LOAD is available next to (4-neighbourhood) a food; NONE
  always. An unavailable action is executed as NONE, as in the reference. **Out-of-range
  actions** (< 0 or >= 6, which make the reference raise) are also executed as NONE.
* movement: every player has a target cell (its own cell for NONE/LOAD); a player moves iff no
  other player has the same target. As in the reference, this lets a player step into the cell
  of a player whose own move failed, so two players can share a cell.
* loading: the loaders next to a food load it iff the sum of their levels is >= the food's
  level; each then gets ``level_i * food_level / (sum_levels * food_spawned)`` (normalised) or
  ``level_i * food_level`` (not normalised), where ``food_spawned`` is the sum of the levels of
  all foods spawned this episode. A failed group gets ``-penalty`` each. The team reward is the
  sum of the agents' rewards (``info["agent_rewards"]`` holds them).
* the episode terminates when all food is gone; the base class truncates at ``max_steps``.
* spawn: player ``i`` gets a uniformly random free cell and a level uniform in
  ``[min_player_level, max_player_level]``; then foods are placed one by one on a uniformly
  random interior cell (not on the border) that is free and neither touches another food
  (3x3 neighbourhood) nor lies within distance 2 of one in the same row or column. If no cell
  is left for a food, it is not spawned (the reference gives up after 1000 random tries). Food
  level: if ``max_food_level`` is None the maximum is the sum of the three lowest player levels;
  with ``force_coop`` every food has the maximum level, otherwise it is uniform in
  ``[min_food_level, max]``.

Observation of agent i, ``f32[3 F + 3 N]`` (``3 F + 2 N`` without levels), exactly the
reference's flat observation: F food triplets ``(row, col, level)`` of the visible foods in
row-major order, then ``(row, col, level)`` of agent i itself, then of the other visible agents
in index order; unused slots are ``(-1, -1, 0)``. Coordinates are relative to the corner
``max(pos_i - sight, 0)`` of the agent's view, which equals the absolute position when sight
covers the grid. A food is visible iff it is within ``sight`` of the agent on both axes; an
agent ``j`` is visible iff both of its relative coordinates lie in ``[0, 2 sight]``. Near the
top/left border the latter window is shifted (the reference's ``_transform_to_neighborhood``):
it reaches further down/right than ``sight``. We keep this quirk for parity.

Deviations: randomness is JAX's PRNG, so episodes are equal in distribution, not in samples.
The reference's player spawn also avoids the cells players held at the end of the *previous*
episode (stale positions are not cleared before ``spawn_players``); ours samples from all free
cells. Per-player/per-food level lists and grid observations are not supported.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marta.envs.base import EnvState, EnvStep, MultiAgentEnv
from marta.envs.registry import register

#: action ids, in the reference's order (``lbforaging.foraging.environment.Action``)
NONE, NORTH, SOUTH, WEST, EAST, LOAD = range(6)
#: (d_row, d_col) of each action
ACTION_DELTAS = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]], dtype=np.int32)


@struct.dataclass
class LBFState:
    """State of one Level-Based Foraging episode (no grid: players and foods are arrays).

    Attributes:
        player_pos: i32[N, 2] (row, col) of each player.
        player_level: i32[N] level of each player.
        food_pos: i32[F, 2] (row, col) of each food slot.
        food_level: i32[F] level of each food; 0 once loaded (or if it was never spawned).
        food_spawned: f32[] sum of the levels of the foods spawned this episode.
        step: i32[] steps taken in this episode (for the global state).
    """

    player_pos: jax.Array
    player_level: jax.Array
    food_pos: jax.Array
    food_level: jax.Array
    food_spawned: jax.Array
    step: jax.Array


def _interior_cells(grid_size: int) -> np.ndarray:
    """i32[(G-2)^2, 2] all (row, col) that may hold food, in row-major order."""
    rows, cols = np.meshgrid(np.arange(1, grid_size - 1), np.arange(1, grid_size - 1))
    return np.stack([rows.T.ravel(), cols.T.ravel()], axis=-1).astype(np.int32)


def _blocked_by_food(cells: jax.Array, food_pos: jax.Array) -> jax.Array:
    """bool[..., K, F]: cell is too close to the food by the reference's spawn rule.

    The reference rejects a cell whose 3x3 neighbourhood holds food, or whose row or column
    holds food within distance 2 (``neighborhood(row, col, distance=2, ignore_diag=True)``).
    """
    d = abs(cells[..., :, None, :] - food_pos[..., None, :, :])  # numpy or jax arrays
    dr, dc = d[..., 0], d[..., 1]
    return ((dr <= 1) & (dc <= 1)) | ((dr == 0) & (dc <= 2)) | ((dc == 0) & (dr <= 2))


@functools.cache
def max_food_that_fits(grid_size: int) -> int:
    """Foods a row-major packing fits on the interior under the reference's spacing rule.

    The spacing rule (see `_blocked_by_food`) allows at most this many foods on a
    `grid_size` grid in the packing used here; tests check it is the true maximum for small
    grids.
    """
    placed: list[np.ndarray] = []
    for cell in _interior_cells(grid_size):
        if not placed or not _blocked_by_food(cell[None], np.stack(placed)).any():
            placed.append(cell)
    return len(placed)


class LevelBasedForaging(MultiAgentEnv):
    """Level-Based Foraging (lbforaging 2.0 ``Foraging-*-v3``) as a pure-JAX environment."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config:
        grid_size: int = 5
        """side of the square grid (reference: field_size=(s, s))"""
        num_players: int = 4
        """number of agents (reference: players)"""
        num_food: int = 1
        """foods spawned per episode, at most (reference: max_num_food)"""
        min_player_level: int = 1
        """lowest player level"""
        max_player_level: int = 2
        """highest player level"""
        min_food_level: int = 1
        """lowest food level (ignored with force_coop)"""
        max_food_level: int | None = None
        """highest food level; None = sum of the three lowest player levels of the episode"""
        force_coop: bool = False
        """every food gets the highest food level (needs several players to load)"""
        sight: int | None = None
        """view radius in cells; None = grid_size (full view, the reference's non -2s ids)"""
        max_steps: int = 50
        """time limit (reference: max_episode_steps)"""
        normalize_reward: bool = True
        """divide rewards by (sum of loaders' levels * sum of spawned food levels)"""
        penalty: float = 0.0
        """reward subtracted from each player of a failed loading group"""
        observe_agent_levels: bool = True
        """include agent levels in observations (3 numbers per agent, else 2)"""

        def __post_init__(self) -> None:
            def fail(field: str, allowed: str) -> None:
                raise ValueError(f"{field} must be {allowed}, got {getattr(self, field)!r}")

            if self.grid_size < 3:
                fail("grid_size", ">= 3 (food is only placed off the border)")
            if self.num_players < 1:
                fail("num_players", ">= 1")
            if self.num_food < 1:
                fail("num_food", ">= 1")
            if self.num_players + self.num_food > self.grid_size**2:
                fail(
                    "num_players",
                    f"<= grid_size**2 - num_food = {self.grid_size**2 - self.num_food}",
                )
            fits = max_food_that_fits(self.grid_size)
            if self.num_food > fits:
                fail(
                    "num_food",
                    f"<= {fits} (foods that fit off the border of a {self.grid_size}x"
                    f"{self.grid_size} grid without touching or being 2 apart in a line)",
                )
            if self.min_player_level < 1:
                fail("min_player_level", ">= 1")
            if self.max_player_level < self.min_player_level:
                fail("max_player_level", f">= min_player_level = {self.min_player_level}")
            if self.min_food_level < 1:
                fail("min_food_level", ">= 1")
            team_max = self.num_players * self.max_player_level
            if self.max_food_level is None:
                lowest = min(3, self.num_players) * self.min_player_level
                if self.min_food_level > lowest and not self.force_coop:
                    fail("min_food_level", f"<= the lowest possible maximum food level {lowest}")
            else:
                if self.max_food_level < self.min_food_level:
                    fail("max_food_level", f">= min_food_level = {self.min_food_level}")
                top = self.max_food_level if self.force_coop else self.min_food_level
                if top > team_max:
                    field = "max_food_level" if self.force_coop else "min_food_level"
                    fail(
                        field,
                        f"<= the team's total level num_players*max_player_level "
                        f"= {team_max}, or no food can ever be loaded",
                    )
            if self.sight is not None and self.sight < 1:
                fail("sight", ">= 1 (or None for full view)")
            if self.max_steps < 1:
                fail("max_steps", ">= 1")
            if not self.penalty >= 0.0:
                fail("penalty", ">= 0")

    def __init__(self, **kwargs) -> None:
        self.config = cfg = self.Config(**kwargs)
        self.grid_size = cfg.grid_size
        self.sight = cfg.grid_size if cfg.sight is None else cfg.sight
        self.num_agents = cfg.num_players
        self.num_food = cfg.num_food
        self.num_actions = 6
        self.player_obs_len = 3 if cfg.observe_agent_levels else 2
        self.obs_dim = 3 * cfg.num_food + self.player_obs_len * cfg.num_players
        self.state_dim = 3 * cfg.num_food + 3 * cfg.num_players + 1
        # the global state holds raw coordinates (< grid_size) and levels: scale it to [-1, 1]
        top_food = cfg.max_food_level or (
            (cfg.num_players if cfg.force_coop else min(3, cfg.num_players)) * cfg.max_player_level
        )
        self.state_scale = 1.0 / max(cfg.grid_size - 1, cfg.max_player_level, top_food)
        # observations hold the same coordinates (absolute, or relative within the view) and
        # levels, padded with -1 and 0: the same bound
        self.obs_scale = self.state_scale
        self.max_steps = cfg.max_steps
        self._cells = _interior_cells(cfg.grid_size)
        # sight reaches every cell from every cell (so everything is seen, unshifted)
        self._full_view = self.sight >= cfg.grid_size - 1
        # row i: agent i's list of players, itself first, then the others in index order
        n = cfg.num_players
        self._order = np.array([[i] + [j for j in range(n) if j != i] for i in range(n)])
        # [i, j, k]: k != i comes before j in agent i's list of the other agents
        idx = np.arange(cfg.num_players)
        self._eye = idx[:, None] == idx[None, :]
        self._before = (idx[None, None, :] < idx[None, :, None]) & (
            idx[None, None, :] != idx[:, None, None]
        )

    # ----------------------------------------------------------------- spawn
    def reset_env(self, key: jax.Array) -> LBFState:
        """Spawns players, then foods, as the reference's ``reset`` does (see module doc).

        One uniform draw per player and per food picks both its cell (uniform over the cells
        still allowed, like the reference's rejection sampling) and its level, so a reset costs
        N + F random numbers.
        """
        cfg, n, f = self.config, self.num_agents, self.num_food
        g = self.grid_size
        u_player, u_food = jnp.split(jax.random.uniform(key, (n + f,)), [n])

        # player i takes the r-th of the G*G - i cells not yet taken, r uniform
        span = cfg.max_player_level - cfg.min_player_level + 1
        taken, level = [], []
        for i in range(n):  # N is small and static: players are placed one after another
            draw = jnp.floor(u_player[i] * ((g * g - i) * span)).astype(jnp.int32)
            rank = draw // span
            cell = rank
            for _ in range(i):  # fixed point of cell = rank + #{taken <= cell}
                cell = rank + sum((t <= cell).astype(jnp.int32) for t in taken)
            taken.append(cell)
            level.append(cfg.min_player_level + draw % span)
        flat, player_level = jnp.stack(taken), jnp.stack(level)
        player_pos = jnp.stack([flat // g, flat % g], axis=-1)
        free = (jnp.arange(g * g)[:, None] != flat[None, :]).all(-1)

        if cfg.max_food_level is None:  # sum of the three lowest player levels
            idx = jnp.arange(n)
            lower = (player_level[None, :] < player_level[:, None]) | (
                (player_level[None, :] == player_level[:, None]) & (idx[None, :] < idx[:, None])
            )
            top = jnp.where(lower.sum(-1) < 3, player_level, 0).sum()
        else:
            top = jnp.asarray(cfg.max_food_level, jnp.int32)
        low = top if cfg.force_coop else jnp.asarray(cfg.min_food_level, jnp.int32)

        interior = jnp.asarray(self._cells)  # [K, 2]
        allowed = free.reshape(g, g)[1:-1, 1:-1].ravel()  # interior cells without players
        pos, level = [], []
        for i in range(f):  # F is small and static: foods are placed one after another
            cell, draw = _pick(u_food[i], allowed, top - low + 1)
            food_pos = (cell[:, None] * interior).sum(0)
            pos.append(food_pos)
            level.append(jnp.where(allowed.any(), low + draw, 0))  # 0: no room, not spawned
            allowed = allowed & ~_blocked_by_food(interior, food_pos[None])[:, 0]
        food_level = jnp.stack(level)
        return LBFState(
            player_pos=player_pos,
            player_level=player_level,
            food_pos=jnp.stack(pos),
            food_level=food_level,
            food_spawned=food_level.sum().astype(jnp.float32),
            step=jnp.zeros((), jnp.int32),
        )

    # ----------------------------------------------------------------- dynamics
    def avail_actions_of(self, state: LBFState) -> jax.Array:
        """bool[N, 6]: the reference's valid actions (``_is_valid_action``)."""
        g = self.grid_size
        target = state.player_pos[:, None, :] + jnp.asarray(ACTION_DELTAS[1:5])  # [N, 4, 2]
        on_grid = ((target >= 0) & (target < g)).all(-1)
        diff = target[:, :, None, :] - state.food_pos[None, None, :, :]  # [N, 4, F, 2]
        alive = state.food_level > 0
        food_there = ((diff == 0).all(-1) & alive).any(-1)  # [N, 4]
        # LOAD: a food in the 4-neighbourhood, i.e. one of the four move targets holds food
        load = food_there.any(-1, keepdims=True)
        none = jnp.ones_like(load)
        return jnp.concatenate([none, on_grid & ~food_there, load], axis=-1)

    def step_env(self, key: jax.Array, state: LBFState, actions: jax.Array) -> EnvStep:
        """One step of the reference's ``step``: validate, move, load, reward, terminate."""
        del key
        cfg = self.config
        avail = self.avail_actions_of(state)
        in_range = (actions >= 0) & (actions < self.num_actions)
        safe = jnp.clip(actions, 0, self.num_actions - 1)
        ok = in_range & jnp.take_along_axis(avail, safe[:, None], axis=-1)[:, 0]
        act = jnp.where(ok, safe, NONE)

        # movement: a player moves iff it is the only one targeting its target cell
        target = state.player_pos + jnp.asarray(ACTION_DELTAS)[act]
        same = (target[:, None, :] == target[None, :, :]).all(-1)  # [N, N]
        moves = same.sum(-1) == 1
        player_pos = jnp.where(moves[:, None], target, state.player_pos)

        # loading: each loader touches exactly one food (spawn spacing guarantees it)
        alive = state.food_level > 0
        dist = jnp.abs(player_pos[:, None, :] - state.food_pos[None, :, :]).sum(-1)  # [N, F]
        group = (act == LOAD)[:, None] & (dist == 1) & alive[None, :]  # [N, F]
        level = state.player_level.astype(jnp.float32)
        group_level = (group * level[:, None]).sum(0)  # [F]
        food = state.food_level.astype(jnp.float32)
        loaded = group.any(0) & (group_level >= food)  # [F]
        share = level[:, None] * food[None, :]
        if cfg.normalize_reward:
            share = share / (jnp.maximum(group_level, 1.0) * jnp.maximum(state.food_spawned, 1.0))
        per_food = jnp.where(loaded[None, :], share, -cfg.penalty)
        agent_rewards = jnp.where(group, per_food, 0.0).sum(-1)  # [N]

        food_level = jnp.where(loaded, 0, state.food_level)
        next_state = state.replace(
            player_pos=player_pos, food_level=food_level, step=state.step + 1
        )
        terminated = ~(food_level > 0).any()
        return next_state, agent_rewards.sum(), terminated, {"agent_rewards": agent_rewards}

    # ----------------------------------------------------------------- grid views
    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid (for activation maps, docs/marta.md)."""
        return self.grid_size, self.grid_size

    def agent_cells(self, state: EnvState) -> jax.Array:
        """i32[N, 2] (row, col) of each player; players are always on the grid."""
        return state.env.player_pos.astype(jnp.int32)

    # ----------------------------------------------------------------- observations
    def observe(self, state: LBFState) -> jax.Array:
        """f32[N, obs_dim]: the reference's ``_make_gym_obs`` for every agent (module doc)."""
        s, g, n = self.sight, self.grid_size, self.num_agents
        pos, fpos = state.player_pos, state.food_pos
        alive = state.food_level > 0
        order_key = fpos[:, 0] * g + fpos[:, 1]  # [F] foods are listed in row-major order
        before = order_key[None, :] < order_key[:, None]  # [F(f), F(h)]: h comes before f
        plevel = state.player_level[:, None]
        flevel = state.food_level[:, None]
        pad = (-1, -1, 0)

        if self._full_view:
            # every agent sees everything in absolute coordinates: the food list is shared
            # and the player list is a fixed permutation of the players
            rank = (alive[None, :] & before).sum(-1)
            food_vals = jnp.concatenate([fpos, flevel], -1)
            food_obs = _compact(alive[None], rank[None], food_vals[None], self.num_food, pad)
            food_obs = jnp.broadcast_to(food_obs, (n,) + food_obs.shape[1:])
            table = jnp.concatenate([pos, plevel], -1)[:, : self.player_obs_len]
            player_obs = table[self._order].astype(jnp.float32)  # [N, N, obs per player]
        else:
            origin = jnp.maximum(pos - s, 0)  # [N, 2] corner of each agent's view
            # foods: visible within sight on both axes
            d = fpos[None, :, :] - pos[:, None, :]  # [N, F, 2]
            visible = (jnp.abs(d) <= s).all(-1) & alive[None, :]
            rank = (visible[:, None, :] & before[None, :, :]).sum(-1)  # [N, F]
            food_rel = fpos[None, :, :] - origin[:, None, :]  # [N, F, 2]
            food_lvl = jnp.broadcast_to(flevel[None], food_rel.shape[:2] + (1,))
            food_vals = jnp.concatenate([food_rel, food_lvl], axis=-1)  # [N, F, 3]
            food_obs = _compact(visible, rank, food_vals, self.num_food, pad)
            # players: relative coords within [0, 2 sight]; self first, then the others seen,
            # in index order: slot of j != i is 1 + (number of seen k != i with k < j)
            rel = pos[None, :, :] - origin[:, None, :]  # [N(i), N(j), 2]
            seen = ((rel >= 0) & (rel <= 2 * s)).all(-1)
            others_before = (seen[:, None, :] & jnp.asarray(self._before)).sum(-1)
            slot = jnp.where(jnp.asarray(self._eye), 0, 1 + others_before)
            lvl = jnp.broadcast_to(plevel[None], rel.shape[:2] + (1,))
            vals = jnp.concatenate([rel, lvl], axis=-1)[..., : self.player_obs_len]
            player_obs = _compact(seen, slot, vals, n, pad[: self.player_obs_len])

        return jnp.concatenate([food_obs.reshape(n, -1), player_obs.reshape(n, -1)], axis=-1)

    def global_state_of(self, state: LBFState) -> jax.Array:
        """f32[3 F + 3 N + 1]: every food (row, col, level) in spawn order, ``(-1, -1, 0)`` once
        loaded; every player (row, col, level) in index order, absolute coordinates; then the
        fraction ``step / max_steps`` of the time limit used."""
        alive = (state.food_level > 0)[:, None]
        food = (
            jnp.where(alive, jnp.concatenate([state.food_pos, state.food_level[:, None]], -1), -1)
            .at[:, 2]
            .max(0)
        )
        players = jnp.concatenate([state.player_pos, state.player_level[:, None]], -1)
        t = (state.step / self.max_steps).reshape(1)
        return jnp.concatenate(
            [food.ravel().astype(jnp.float32), players.ravel().astype(jnp.float32), t]
        ).astype(jnp.float32)


def _pick(u: jax.Array, allowed: jax.Array, num_levels) -> tuple[jax.Array, jax.Array]:
    """Uniform (cell, level) pair from one uniform ``u`` in [0, 1).

    Returns a one-hot bool[K] of a uniformly random allowed cell (all False if none is
    allowed) and an independent uniform level offset in ``[0, num_levels)``.
    """
    k = allowed.shape[0]
    # inclusive prefix count as a [K] x [K, K] product: vectorises far better than cumsum
    prefix = allowed.astype(jnp.float32) @ jnp.asarray(np.triu(np.ones((k, k), np.float32)))
    count = prefix[-1].astype(jnp.int32)
    draw = jnp.floor(u * (count * num_levels)).astype(jnp.int32)
    rank, level = draw // num_levels, draw % num_levels
    cell = allowed & (prefix.astype(jnp.int32) == rank + 1)
    return cell, level


def _compact(mask: jax.Array, slot: jax.Array, vals: jax.Array, num_slots: int, pad) -> jax.Array:
    """f32[B, S, C]: ``vals[b, e]`` written to ``slot[b, e]`` where ``mask[b, e]``, else `pad`.

    Scatter as a one-hot sum, so it vectorises; the slots of the masked entries are distinct.
    """
    hit = mask[:, :, None] & (slot[:, :, None] == jnp.arange(num_slots))  # [B, E, S]
    out = (hit[..., None] * vals[:, :, None, :]).sum(1).astype(jnp.float32)
    return jnp.where(hit.any(1)[..., None], out, jnp.asarray(pad, jnp.float32))


def _register_all() -> None:
    """The reference's v3 ids (lbforaging/__init__.py) that marta names."""
    for size, players, foods, coop in (
        (5, 4, 1, False),
        (5, 2, 1, False),
        (5, 3, 1, False),
        (8, 2, 2, True),
    ):
        for sight in (None, 2):
            env_id = f"lbf-{size}x{size}-{players}p-{foods}f{'-coop' if coop else ''}"
            env_id += "-2s" if sight else ""
            ref = f"Foraging{'-2s' if sight else ''}-{size}x{size}-{players}p-{foods}f"
            ref += "-coop-v3" if coop else "-v3"
            register(
                env_id,
                LevelBasedForaging,
                f"Level-Based Foraging, as lbforaging 2.0 {ref}",
                grid_size=size,
                num_players=players,
                num_food=foods,
                min_player_level=1,
                max_player_level=2,
                min_food_level=1,
                max_food_level=None,
                force_coop=coop,
                sight=sight,
                max_steps=50,
                normalize_reward=True,
                penalty=0.0,
            )


_register_all()
