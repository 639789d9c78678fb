"""Traffic Junction in pure JAX, step-for-step identical to ma-gym 0.0.14's ``TrafficJunction``.

How to read this file: `TrafficJunction.Config` mirrors the constructor of the reference
``ma_gym.envs.traffic_junction.TrafficJunction`` (Koul, 2019, "ma-gym: collection of
multi-agent environments based on OpenAI gym"; the task is Sukhbaatar et al., 2016, CommNet),
and the ids registered at the bottom mirror ma-gym's ``TrafficJunction{4,10}-v0``. The state
holds no grid: the reference's string grid is always determined by the car positions (see
"grid" below), so every rule is a comparison between short ``[N, 2]`` position arrays.

Geometry (``G x G`` grid, ``h = G // 2``; ma-gym's formulas, 14 x 14 in the comments):

* road: rows ``h - 1, h`` and columns ``h - 1, h`` (two lanes each way); the rest is wall;
* entry gates, in ma-gym's ``_entry_gates`` order, with their direction of travel:
  ``(h, 0)`` east ``(0, 1)``; ``(G-1, h)`` north ``(-1, 0)``; ``(h-1, G-1)`` west ``(0, -1)``;
  ``(0, h-1)`` south ``(1, 0)``;
* destinations (a car that reaches one is done): ``(h, G-1)``, ``(0, h)``, ``(h-1, 0)``,
  ``(G-1, h-1)``;
* routes: 1 straight, 2 turn right, 3 turn left. A turning car changes direction when it
  presses GAS on its direction's turning cell (``_turning_places``), e.g. an east-bound car
  turns right at ``(h, h-1)`` and left at ``(h, h)``.

Rules (ma-gym's ``reset``/``step``, in its order):

* reset: the four gates are shuffled (in ma-gym's ``_route_vectors`` order) and cars
  ``0..min(N, 4)-1`` are placed on them with a uniform route in {1, 2, 3}; the other cars wait
  off the road at ``(0, 0)``;
* step: cars are processed **sequentially in index order**; each car on the road and not done
  adds 1 to its own step counter ``tau_i``, then on GAS (action 0) computes its next cell
  (turning first if it is on its turning cell and has not turned yet). If that cell holds a
  car it *collides*: it gets ``collision_reward`` and stays (its direction has already
  turned). Otherwise, if the cell is road, it moves there. BRAKE (action 1) stays. Every such
  car gets ``step_cost * tau_i``. Then, for every car, reaching a destination makes it done
  and removes it from the grid (later cars of the same step may enter that cell);
* arrival (after all cars): with probability ``arrive_prob``, if a car has never entered and
  some gate holds no car position, the lowest-index waiting car enters a uniformly chosen free
  gate (ma-gym's ``random.choice`` over the gates in ``_entry_gates`` order) with a uniform
  route. A car that is done never re-enters;
* team reward = sum of the cars' rewards (``info["agent_rewards"]`` holds them); the episode
  terminates when every car is done (ma-gym's ``all(dones)``); the time limit (ma-gym sets
  every car done once ``step_count >= max_steps``) is the base class's truncation.

Grid (ma-gym keeps a string grid ``_full_obs``): a cell shows car ``j`` iff ``j`` is on the
road, not done and at that cell. One quirk is kept for parity: at reset ma-gym writes *every*
waiting car into cell ``(0, 0)`` and never clears it, so when ``N > 4`` that wall cell shows
car ``N - 1`` (the last writer) for the whole episode, wherever that car currently is. Only
observations of cars at ``(0, 0)``, i.e. waiting cars, can see it (the `ghost` below).

Observation of car i, ``f32[9 (N + 5)]`` (ma-gym's ``get_agent_obs``): the 3 x 3 cells around
the car's position, row-major, each holding ``[one_hot(j) (N), row_j / (G-1), col_j / (G-1),
one_hot(route_j - 1) (3)]`` of the car ``j`` shown in that cell (zeros if none or off-grid).
Cars that are done still observe around their destination; waiting cars around ``(0, 0)``.
A car that never entered has route ``-1``, whose one-hot is ma-gym's ``np.zeros(3)[-2] = 1``
(index 1). With ``full_observable`` every car gets the concatenation of all observations.

Global state ``f32[14 N + 1]`` (`TrafficJunction.global_state_of`): per car its status,
position, route, heading, turned flag and ``tau``, then the episode's progress.

Deviations: randomness is JAX's PRNG (`reset_draws`, `arrival_draws`), so episodes are equal
in distribution, not in samples; driving ma-gym with the same draws gives identical episodes
(tests/test_traffic_junction_parity.py). ma-gym keeps each waiting car's route from the
*previous* episode (``_agents_routes`` is not reset), which shows up in observations of the
(0, 0) cell; ours resets it to ma-gym's initial ``-1`` every episode (= a fresh ma-gym env).
ma-gym caps ``n_max <= 10`` (its colour table); ours allows up to one car per road cell.
ma-gym's grid must be square (it mixes ``grid_shape[0]`` and ``[1]``); ours checks it.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marta.envs.base import EnvState, EnvStep, MultiAgentEnv
from marta.envs.registry import register

#: action ids, in ma-gym's order (``ACTION_MEANING``)
GAS, BRAKE = 0, 1
#: number of routes: 1 straight, 2 turn right, 3 turn left
NUM_ROUTES = 3
#: route of a car that has never entered the road (ma-gym's initial ``_agents_routes``)
NO_ROUTE = -1
#: direction vectors (d_row, d_col), indexed by direction id: east, north, south, west
DIRECTIONS = np.array([[0, 1], [-1, 0], [1, 0], [0, -1]], dtype=np.int32)
#: side of the observed neighbourhood (ma-gym's ``_agent_view_mask``)
VIEW = 3
#: features of one car in an observation cell besides its id one-hot: row, col, route one-hot
CAR_FEATURES = 2 + NUM_ROUTES
#: global-state features per car (see `TrafficJunction.global_state_of`)
STATE_FEATURES_PER_CAR = 3 + 2 + NUM_ROUTES + len(DIRECTIONS) + 1 + 1


@struct.dataclass
class TJState:
    """State of one Traffic Junction episode (ma-gym's per-car lists as arrays).

    Attributes:
        pos: i32[N, 2] (row, col) of each car (ma-gym's ``agent_pos``): ``(0, 0)`` while
            waiting, the destination once done.
        direction: i32[N] direction id (row of `DIRECTIONS`) of each car.
        route: i32[N] route in {1, 2, 3}, or `NO_ROUTE` before the car first enters.
        turned: bool[N] the car has turned at the junction.
        on_road: bool[N] the car has entered the road (stays true once done, as in ma-gym).
        done: bool[N] the car has reached a destination.
        tau: i32[N] steps each car has spent on the road (ma-gym's ``_agent_step_count``).
        step: i32[] steps taken in this episode (for the global state).
    """

    pos: jax.Array
    direction: jax.Array
    route: jax.Array
    turned: jax.Array
    on_road: jax.Array
    done: jax.Array
    tau: jax.Array
    step: jax.Array


@struct.dataclass
class ResetDraws:
    """Random draws of a reset (the ones ma-gym takes from Python's ``random``).

    Attributes:
        perm: i32[4] permutation of the gates in ma-gym's ``_route_vectors`` order
            (``random.shuffle``): car i starts at gate ``perm[i]``.
        route: i32[N] route of each car (``random.randint(1, 3)``); only cars placed on a gate
            use theirs.
    """

    perm: jax.Array
    route: jax.Array


@struct.dataclass
class ArrivalDraws:
    """Random draws of one step's arrival (the ones ma-gym takes from Python's ``random``).

    Attributes:
        u: f32[] uniform in [0, 1); a car arrives iff ``u < arrive_prob`` (``random.uniform``).
        gate: i32[] uniform in [0, 12); the arriving car takes free gate number
            ``gate % num_free`` (``random.choice``; 12 is divisible by 1..4 free gates, so the
            choice is uniform).
        route: i32[] route of the arriving car (``random.randint(1, 3)``).
    """

    u: jax.Array
    gate: jax.Array
    route: jax.Array


#: `ArrivalDraws.gate` is uniform in [0, GATE_DRAWS): divisible by every number of free gates
GATE_DRAWS = 12


class TrafficJunction(MultiAgentEnv):
    """Traffic Junction (ma-gym ``TrafficJunction``): cars cross a four-way junction.

    Team reward (ma-gym's docstring, summed over cars):
    $r_t = C_t \\, r_{coll} + \\sum_{i=1}^{N_t} \\tau_i \\, r_{time}$, with $C_t$ the collisions
    at step t, $N_t$ the cars on the road and $\\tau_i$ the steps car i has been on the road.
    Actions: 0 GAS (advance one cell along the route), 1 BRAKE (stay); both always available.
    """

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config:
        grid_shape: tuple[int, int] = (14, 14)
        """(rows, cols) of the grid; square and at least 4 x 4 (ma-gym's ``grid_shape``)"""
        num_agents: int = 4
        """number of cars N (ma-gym's ``n_max``); at most one per road cell"""
        arrive_prob: float = 0.5
        """per-step probability that a waiting car enters (ma-gym's ``arrive_prob``)"""
        step_cost: float = -0.01
        """reward per car per step, times the car's steps on the road (``step_cost``)"""
        collision_reward: float = -10.0
        """reward of a car whose move hits another car (``collision_reward``)"""
        full_observable: bool = False
        """every car observes all cars' neighbourhoods (``full_observable``; -v1 ids)"""
        max_steps: int = 100
        """time limit of an episode (``max_steps``)"""

        def __post_init__(self) -> None:
            shape = tuple(self.grid_shape)
            if len(shape) != 2 or not all(isinstance(s, int | np.integer) for s in shape):
                raise ValueError(f"grid_shape must be two ints (rows, cols), got {self.grid_shape}")
            if shape[0] != shape[1]:
                raise ValueError(
                    f"grid_shape must be square (ma-gym mixes rows and cols), got {shape}"
                )
            if shape[0] < 4:
                raise ValueError(f"grid_shape must be at least (4, 4), got {shape}")
            object.__setattr__(self, "grid_shape", (int(shape[0]), int(shape[1])))
            road_cells = 4 * shape[0] - 4
            if not 1 <= self.num_agents <= road_cells:
                raise ValueError(
                    f"num_agents must be in [1, {road_cells}] (road cells of a {shape} grid), "
                    f"got {self.num_agents}"
                )
            if not 0.0 <= self.arrive_prob <= 1.0:
                raise ValueError(f"arrive_prob must be in [0, 1], got {self.arrive_prob}")
            for name in ("step_cost", "collision_reward"):
                if not np.isfinite(getattr(self, name)):
                    raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
            if self.max_steps < 1:
                raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")

    def __init__(self, **kwargs) -> None:
        self.config = cfg = self.Config(**kwargs)
        n = cfg.num_agents
        self.num_agents = n
        self.num_actions = 2
        self.max_steps = cfg.max_steps
        self.features = n + CAR_FEATURES
        self.local_obs_dim = VIEW * VIEW * self.features
        self.obs_dim = self.local_obs_dim * (n if cfg.full_observable else 1)
        self.state_dim = n * STATE_FEATURES_PER_CAR + 1
        # ---- ma-gym's geometry (static numpy tables)
        g = cfg.grid_shape[0]
        h = g // 2
        self.grid_size = g
        #: row or col / (G - 1), rounded from float64 like ma-gym's (XLA may use a reciprocal)
        self.coordinate = (np.arange(g) / (g - 1)).astype(np.float32)
        self.lanes = np.array([h - 1, h], np.int32)
        self.gates = np.array([[h, 0], [g - 1, h], [h - 1, g - 1], [0, h - 1]], np.int32)
        self.gate_direction = np.array([0, 1, 3, 2], np.int32)  # east, north, west, south
        #: ma-gym's `_route_vectors` (the reset shuffle) lists gates 0, 1, 3, 2
        self.reset_gate_order = np.array([0, 1, 3, 2], np.int32)
        self.destinations = np.array([[h, g - 1], [0, h], [h - 1, 0], [g - 1, h - 1]], np.int32)
        #: turning[direction, route - 2] = cell where a car turns right (route 2) / left (3)
        self.turning = np.array(
            [
                [[h, h - 1], [h, h]],  # east
                [[h, h], [h - 1, h]],  # north
                [[h - 1, h - 1], [h, h - 1]],  # south
                [[h - 1, h], [h - 1, h - 1]],  # west
            ],
            np.int32,
        )
        self.turned_direction = _turn_table()
        #: (0, 0) shows the last waiting car for the whole episode when some cars wait
        self.ghost = n > len(self.gates)

    # ------------------------------------------------------------------ randomness
    # Every draw is one 32-bit word reduced modulo a small range (bias < 2^-27): one
    # `jax.random.bits` call per reset or step, instead of permutation/randint programs that
    # dominate compile time.
    episode_counters = {"collisions": "step_collisions"}

    def reset_draws(self, key: jax.Array) -> ResetDraws:
        """The random draws of `reset_env` (ma-gym: ``random.shuffle``, ``random.randint``)."""
        bits = jax.random.bits(key, (1 + self.num_agents,), jnp.uint32)
        gates = len(self.gates)
        return ResetDraws(
            perm=nth_permutation((bits[0] % math.factorial(gates)).astype(jnp.int32), gates),
            route=(1 + bits[1:] % NUM_ROUTES).astype(jnp.int32),
        )

    def arrival_draws(self, key: jax.Array) -> ArrivalDraws:
        """The random draws of a step's arrival (ma-gym: ``uniform``, ``choice``, ``randint``)."""
        bits = jax.random.bits(key, (3,), jnp.uint32)
        return ArrivalDraws(
            u=(bits[0] >> 8).astype(jnp.float32) * (1.0 / (1 << 24)),  # multiples of 2^-24
            gate=(bits[1] % GATE_DRAWS).astype(jnp.int32),
            route=(1 + bits[2] % NUM_ROUTES).astype(jnp.int32),
        )

    # ------------------------------------------------------------------ dynamics
    def reset_env(self, key: jax.Array) -> TJState:
        return self.reset_from_draws(self.reset_draws(key))

    def reset_from_draws(self, draws: ResetDraws) -> TJState:
        """Initial state given the reset draws (ma-gym's ``reset``/``__init_full_obs``)."""
        n = self.num_agents
        placed = min(n, len(self.gates))
        gate = _select(self.reset_gate_order, draws.perm[:placed])
        waiting = n - placed
        pos = jnp.concatenate([_select(self.gates, gate), jnp.zeros((waiting, 2), jnp.int32)])
        direction = jnp.concatenate(
            [_select(self.gate_direction, gate), jnp.zeros((waiting,), jnp.int32)]
        )
        on_road = jnp.arange(n) < placed
        return TJState(
            pos=pos,
            direction=direction,
            route=jnp.where(on_road, draws.route, NO_ROUTE).astype(jnp.int32),
            turned=jnp.zeros((n,), bool),
            on_road=on_road,
            done=jnp.zeros((n,), bool),
            tau=jnp.zeros((n,), jnp.int32),
            step=jnp.zeros((), jnp.int32),
        )

    def step_env(self, key: jax.Array, state: TJState, actions: jax.Array) -> EnvStep:
        return self.step_from_draws(self.arrival_draws(key), state, actions)

    def step_from_draws(
        self, draws: ArrivalDraws, state: TJState, actions: jax.Array
    ) -> tuple[TJState, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One step given the arrival draws (ma-gym's ``step``).

        Returns:
            (next state, team reward f32[], terminated bool[] = all cars done, info with
            ``agent_rewards`` f32[N] and ``step_collisions`` i32[] as in ma-gym's info).
        """
        # ma-gym moves cars one after another: a scan over car indices, unrolled (N is small;
        # unrolled runs about 2x faster on CPU than a loop, and compiles as fast)
        state, (agent_rewards, collided) = jax.lax.scan(
            lambda s, i: self._move_car(s, i, actions[i]),
            state,
            jnp.arange(self.num_agents),
            unroll=True,
        )
        state = self._arrive(draws, state)
        state = state.replace(step=state.step + 1)
        info = {
            "agent_rewards": agent_rewards.astype(jnp.float32),
            "step_collisions": collided.sum().astype(jnp.int32),
        }
        return state, agent_rewards.sum(), state.done.all(), info

    def _occupied(self, state: TJState, cell: jax.Array) -> jax.Array:
        """bool[]: the reference's grid shows a car at `cell` (in bounds)."""
        shown = state.on_road & ~state.done & (state.pos == cell).all(-1)
        return shown.any() | (self.ghost & (cell == 0).all())

    def _is_road(self, cell: jax.Array) -> jax.Array:
        return (cell[:, None] == jnp.asarray(self.lanes)).any(-1).any()

    def _move_car(
        self, state: TJState, i: jax.Array, action: jax.Array
    ) -> tuple[TJState, tuple[jax.Array, jax.Array]]:
        """Car i's part of a step: move, collide, pay, reach a destination (ma-gym order)."""
        cfg = self.config
        active = state.on_road[i] & ~state.done[i]
        gas = active & (action == GAS)
        pos, direction, route = state.pos[i], state.direction[i], state.route[i]
        turn_index = jnp.clip(route - 2, 0, 1)
        at_turn = (
            (route != 1)
            & (pos == _select(self.turning.reshape(-1, 2), 2 * direction + turn_index)).all()
            & ~state.turned[i]
        )
        turn = gas & at_turn
        direction = jnp.where(
            turn,
            _select(self.turned_direction.reshape(-1), len(DIRECTIONS) * turn_index + direction),
            direction,
        )
        target = pos + _select(DIRECTIONS, direction)
        in_grid = ((target >= 0) & (target < self.grid_size)).all()
        occupied = in_grid & self._occupied(state, target)
        collided = gas & occupied
        moves = gas & in_grid & ~occupied & self._is_road(target)
        pos = jnp.where(moves, target, pos)
        tau = state.tau[i] + active.astype(jnp.int32)
        reward = jnp.where(
            active, collided * cfg.collision_reward + cfg.step_cost * tau.astype(jnp.float32), 0.0
        )
        reached = (pos == jnp.asarray(self.destinations)).all(-1).any()
        state = state.replace(
            pos=state.pos.at[i].set(pos),
            direction=state.direction.at[i].set(direction),
            turned=state.turned.at[i].set(state.turned[i] | turn),
            done=state.done.at[i].set(state.done[i] | reached),
            tau=state.tau.at[i].set(tau),
        )
        return state, (reward.astype(jnp.float32), collided)

    def _arrive(self, draws: ArrivalDraws, state: TJState) -> TJState:
        """The lowest-index waiting car may enter a free gate (ma-gym's arrival block)."""
        gates = jnp.asarray(self.gates)
        free = ~(state.pos[None, :, :] == gates[:, None, :]).all(-1).any(-1)  # bool[4]
        num_free = free.sum()
        arrives = (draws.u < self.config.arrive_prob) & ~state.on_road.all() & (num_free > 0)
        # the (gate % num_free)-th free gate, in `gates` order
        rank = draws.gate % jnp.maximum(num_free, 1)
        gate = jnp.argmax(free & (jnp.cumsum(free) - 1 == rank))
        car = jnp.argmin(state.on_road)  # first car that has never entered
        enter = arrives & (jnp.arange(self.num_agents) == car)
        return state.replace(
            pos=jnp.where(enter[:, None], _select(self.gates, gate), state.pos),
            direction=jnp.where(enter, _select(self.gate_direction, gate), state.direction),
            route=jnp.where(enter, draws.route, state.route),
            turned=state.turned & ~enter,
            on_road=state.on_road | enter,
        )

    # ------------------------------------------------------------------ views
    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid (for activation maps, docs/marta.md)."""
        return self.config.grid_shape

    def agent_cells(self, state: EnvState) -> jax.Array:
        """i32[N, 2] (row, col) of each car on the grid; (-1, -1) for a car that is not on it.

        A car is on the grid while it is on the road and not done; one waiting to enter
        (stored at the wall cell (0, 0)) or already arrived (stored at its destination) is not.
        """
        car = state.env
        shown = car.on_road & ~car.done
        return jnp.where(shown[:, None], car.pos, -1).astype(jnp.int32)

    def car_features(self, state: TJState) -> jax.Array:
        """f32[N, CAR_FEATURES] what a cell showing car j holds after the car's id one-hot:
        position, route one-hot."""
        where = _select(self.coordinate, state.pos)
        # route - 1 indexed like numpy: route -1 (never entered) -> index -2 -> 1
        routes = jax.nn.one_hot((state.route - 1) % NUM_ROUTES, NUM_ROUTES, dtype=jnp.float32)
        return jnp.concatenate([where, routes], axis=-1)

    def observe(self, state: TJState) -> jax.Array:
        n = self.num_agents
        # cell c of car i's view (row-major 3 x 3, like ma-gym's flattened view) shows car j
        # iff j is shown on the grid and j - i is that cell's offset; a shown car is on the
        # grid, so no view cell off the grid can match
        shown = state.on_road & ~state.done  # [N]
        offset = state.pos[None, :, :] - state.pos[:, None, :]  # [i, j, 2]
        near = (jnp.abs(offset) <= 1).all(-1) & shown[None, :]
        cell = jnp.where(near, (offset[..., 0] + 1) * VIEW + offset[..., 1] + 1, -1)  # [i, j]
        shows = cell[:, None, :] == jnp.arange(VIEW * VIEW)[None, :, None]  # [i, 9, j]
        if self.ghost:
            view_offsets = jnp.asarray([(r, c) for r in range(-1, 2) for c in range(-1, 2)])
            at_wall = (view_offsets[None] == -state.pos[:, None, :]).all(-1)  # [i, 9]
            # only car N - 1's column changes: OR-ing a mask over every car ran tj-10 1.5x slower
            last = shows[..., n - 1 :] | at_wall[..., None]
            shows = jnp.concatenate([shows[..., : n - 1], last], axis=-1)
        shows = shows.astype(jnp.float32)
        # a cell's features are those of the cars it shows: the id one-hot is `shows` itself,
        # the rest (position, route) a masked sum over cars, unrolled over j: under `vmap` a
        # reduction over the car axis ran 1.5x slower (tj-4), XLA's batched dot of these tiny
        # matrices slower still (BENCHMARKS.md, "Correction")
        features = self.car_features(state)
        shown_features = sum(shows[:, :, j, None] * features[j] for j in range(n))
        local = jnp.concatenate([shows, shown_features], axis=-1)
        local = local.reshape(n, self.local_obs_dim)
        if self.config.full_observable:
            return jnp.broadcast_to(local.reshape(1, -1), (n, self.obs_dim))
        return local

    def global_state_of(self, state: TJState) -> jax.Array:
        """f32[14 N + 1]: per car (in index order) and then the episode's progress.

        Per car: status one-hot (waiting, on the road, done), row / (G-1), col / (G-1), route
        one-hot (zeros before the car first enters), direction one-hot (east, north, south,
        west; zeros before entering), turned, ``tau / max_steps``; last entry
        ``step / max_steps``.
        """
        entered = state.on_road
        status = jnp.stack([~entered, entered & ~state.done, state.done], axis=-1)
        where = _select(self.coordinate, state.pos)
        route = jax.nn.one_hot(state.route - 1, NUM_ROUTES) * entered[:, None]
        direction = jax.nn.one_hot(state.direction, len(DIRECTIONS)) * entered[:, None]
        per_car = jnp.concatenate(
            [
                status.astype(jnp.float32),
                where,
                route,
                direction,
                state.turned[:, None].astype(jnp.float32),
                (state.tau / self.max_steps)[:, None],
            ],
            axis=-1,
        )
        progress = jnp.reshape(state.step / self.max_steps, (1,))
        return jnp.concatenate([per_car.reshape(-1), progress]).astype(jnp.float32)


def _select(table: np.ndarray, index: jax.Array) -> jax.Array:
    """``table[index]`` for a small static table, as a one-hot select instead of a gather.

    Gathers from constant tables are slow to compile under `jax.vmap` on CPU; a compare with
    ``arange(K)`` and a masked sum fuses into the surrounding elementwise code.
    """
    table = np.asarray(table)
    hit = index[..., None] == jnp.arange(table.shape[0])  # [..., K]
    hit = hit.reshape(hit.shape + (1,) * (table.ndim - 1))
    return jnp.where(hit, jnp.asarray(table), 0).sum(axis=index.ndim).astype(table.dtype)


def nth_permutation(index: jax.Array, n: int) -> jax.Array:
    """i32[n]: permutation number `index` of ``range(n)`` in lexicographic order, the order of
    ``itertools.permutations``, decoded from its factorial-base digits (Lehmer code).

    About 20 scalar operations for n = 4 instead of a one-hot select over a 24 x 4 table,
    which took a fifth of a batched Traffic Junction step (the reset is computed every step).
    """
    digits = [(index // math.factorial(n - 1 - j)) % (n - j) for j in range(n)]
    perm = list(digits)
    for j in reversed(range(n - 1)):  # digit j counts the smaller values left for place j
        for i in range(j + 1, n):
            perm[i] = perm[i] + (perm[i] >= perm[j]).astype(perm[i].dtype)
    return jnp.stack(perm).astype(jnp.int32)


def _turn_table() -> np.ndarray:
    """i32[2, 4]: direction id after turning right (row 0) or left (row 1) from each direction.

    ma-gym's ``__get_next_direction`` for route 2 (right) and 3 (left): a horizontal vector
    ``(0, c)`` becomes ``(c * s, 0)`` and a vertical ``(r, 0)`` becomes ``(0, r * s)``, with
    ``s = +1`` (right) / ``-1`` (left) for horizontal and ``-1`` (right) / ``+1`` (left) for
    vertical vectors.
    """
    table = np.zeros((2, len(DIRECTIONS)), np.int32)
    for turn, sign_h, sign_v in ((0, 1, -1), (1, -1, 1)):
        for d, (dr, dc) in enumerate(DIRECTIONS):
            new = (dc * sign_h, 0) if dr == 0 else (0, dr * sign_v)
            table[turn, d] = next(k for k, v in enumerate(DIRECTIONS) if tuple(v) == new)
    return table


register(
    "tj-4",
    TrafficJunction,
    "Traffic Junction, 14x14, 4 cars, arrive_prob 0.5 (ma-gym TrafficJunction4-v0)",
    num_agents=4,
)
register(
    "tj-6",
    TrafficJunction,
    "Traffic Junction, 14x14, 6 cars, arrive_prob 0.5 (TJ4 map; MARTA Table 1 'QMIX (6)')",
    num_agents=6,
)
register(
    "tj-10",
    TrafficJunction,
    "Traffic Junction, 14x14, 10 cars, arrive_prob 0.5 (ma-gym TrafficJunction10-v0)",
    num_agents=10,
)
