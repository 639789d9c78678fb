"""Unit tests of marta's Traffic Junction: one per rule of ma-gym's source, plus the contract.

Rules are checked on hand-built states through `step_from_draws` (explicit arrival draws), so
each test names the exact situation it covers. Parity with ma-gym itself is in
tests/test_traffic_junction_parity.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.envs.traffic_junction import (
    BRAKE,
    GAS,
    NO_ROUTE,
    STATE_FEATURES_PER_CAR,
    ArrivalDraws,
    TJState,
    TrafficJunction,
)

EAST, NORTH, SOUTH, WEST = range(4)
G, H = 14, 7  # default grid and G // 2
NO_ARRIVAL = ArrivalDraws(u=jnp.float32(1.0), gate=jnp.int32(0), route=jnp.int32(1))


def make_state(env, pos, direction, route, *, on_road=None, done=None, tau=None, turned=None):
    n = env.num_agents
    return TJState(
        pos=jnp.asarray(pos, jnp.int32).reshape(n, 2),
        direction=jnp.asarray(direction, jnp.int32),
        route=jnp.asarray(route, jnp.int32),
        turned=jnp.asarray(np.zeros(n, bool) if turned is None else turned),
        on_road=jnp.asarray(np.ones(n, bool) if on_road is None else on_road),
        done=jnp.asarray(np.zeros(n, bool) if done is None else done),
        tau=jnp.asarray(np.zeros(n, np.int32) if tau is None else tau, jnp.int32),
        step=jnp.zeros((), jnp.int32),
    )


@pytest.fixture(scope="module")
def env4():
    return marta.envs.make("tj-4")


@pytest.fixture(scope="module")
def step4(env4):
    return jax.jit(env4.step_from_draws)


@pytest.fixture(scope="module")
def env1():
    return marta.envs.make("tj-4", num_agents=1)


@pytest.fixture(scope="module")
def step1(env1):
    return jax.jit(env1.step_from_draws)


# ----------------------------------------------------------------------------- config, ids
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"grid_shape": (14, 12)}, "grid_shape"),
        ({"grid_shape": (3, 3)}, "grid_shape"),
        ({"grid_shape": (14,)}, "grid_shape"),
        ({"num_agents": 0}, "num_agents"),
        ({"num_agents": 53}, "num_agents"),  # a 14x14 grid has 4 * 14 - 4 = 52 road cells
        ({"arrive_prob": -0.1}, "arrive_prob"),
        ({"arrive_prob": 1.5}, "arrive_prob"),
        ({"step_cost": float("nan")}, "step_cost"),
        ({"collision_reward": float("inf")}, "collision_reward"),
        ({"max_steps": 0}, "max_steps"),
    ],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        TrafficJunction(**overrides)
    with pytest.raises(ValueError, match=field):
        marta.envs.make("tj-4", **overrides)


def test_registered_ids_sizes_and_overrides():
    for env_id, n in (("tj-4", 4), ("tj-6", 6), ("tj-10", 10)):
        env = marta.envs.make(env_id)
        assert env.num_agents == n and env.num_actions == 2 and env.max_steps == 100
        assert env.config.grid_shape == (14, 14) and env.config.arrive_prob == 0.5
        assert env.obs_dim == 9 * (n + 5)  # ma-gym: 3^2 x (|n| + |l| + |r|)
        assert env.state_dim == n * STATE_FEATURES_PER_CAR + 1
    big = marta.envs.make("tj-4", num_agents=6, full_observable=True, grid_shape=(18, 18))
    assert big.num_agents == 6 and big.obs_dim == 6 * 9 * 11
    with pytest.raises(ValueError, match="n_max"):
        marta.envs.make("tj-4", n_max=6)  # ma-gym's name is not a field: num_agents is


# ----------------------------------------------------------------------------- spawn
def test_reset_places_first_four_cars_on_distinct_gates_and_the_rest_wait():
    env = marta.envs.make("tj-6")
    states = jax.vmap(env.reset_env)(jax.random.split(jax.random.key(0), 600))
    pos, route = np.asarray(states.pos), np.asarray(states.route)
    gates = {(H, 0): EAST, (G - 1, H): NORTH, (H - 1, G - 1): WEST, (0, H - 1): SOUTH}
    seen_orders = set()
    for b in range(pos.shape[0]):
        placed = [tuple(p) for p in pos[b, :4]]
        assert set(placed) == set(gates), placed  # the four gates, once each
        assert [gates[p] for p in placed] == list(np.asarray(states.direction)[b, :4])
        seen_orders.add(tuple(placed))
    assert len(seen_orders) == 24  # every shuffle of the gates occurs
    assert (pos[:, 4:] == 0).all() and (route[:, 4:] == NO_ROUTE).all()
    assert set(np.unique(route[:, :4])) == {1, 2, 3}
    assert np.asarray(states.on_road)[:, :4].all() and not np.asarray(states.on_road)[:, 4:].any()
    assert not np.asarray(states.done).any() and (np.asarray(states.tau) == 0).all()


def test_arrival_takes_first_waiting_car_to_chosen_free_gate():
    env = marta.envs.make("tj-4", num_agents=6)
    step = jax.jit(env.step_from_draws)
    # cars 0, 1 sit on gates 0 (H, 0) and 2 (H-1, G-1); cars 2, 3 are done; 4, 5 wait
    state = make_state(
        env,
        [(H, 0), (H - 1, G - 1), (0, H), (H, G - 1), (0, 0), (0, 0)],
        [EAST, WEST, NORTH, EAST, 0, 0],
        [1, 1, 1, 1, NO_ROUTE, NO_ROUTE],
        on_road=[True, True, True, True, False, False],
        done=[False, False, True, True, False, False],
    )
    brake = jnp.full((6,), BRAKE)
    free_gates = [((G - 1, H), NORTH), ((0, H - 1), SOUTH)]  # in ma-gym's _entry_gates order
    for gate_draw in range(4):
        draws = ArrivalDraws(u=jnp.float32(0.49), gate=jnp.int32(gate_draw), route=jnp.int32(3))
        nxt, *_ = step(draws, state, brake)
        cell, direction = free_gates[gate_draw % 2]
        assert tuple(np.asarray(nxt.pos[4])) == cell and int(nxt.direction[4]) == direction
        assert int(nxt.route[4]) == 3 and bool(nxt.on_road[4]) and not bool(nxt.on_road[5])
    # u >= arrive_prob: nobody enters
    draws = ArrivalDraws(u=jnp.float32(0.5), gate=jnp.int32(0), route=jnp.int32(3))
    nxt, *_ = step(draws, state, brake)
    assert not np.asarray(nxt.on_road)[4:].any()
    # every gate holds a car position: nobody enters
    full = state.replace(pos=state.pos.at[2].set((G - 1, H)).at[3].set((0, H - 1)))
    nxt, *_ = step(draws.replace(u=jnp.float32(0.0)), full, brake)
    assert not np.asarray(nxt.on_road)[4:].any()


# ----------------------------------------------------------------------------- movement
def test_gas_advances_brake_stays_and_only_active_cars_count_steps(env4, step4):
    state = make_state(
        env4,
        [(H, 2), (H + 3, H - 1), (0, H), (0, 0)],
        [EAST, NORTH, NORTH, 0],
        [1, 1, 1, NO_ROUTE],
        on_road=[True, True, True, False],
        done=[False, False, True, False],
        tau=[4, 2, 9, 0],
    )
    nxt, reward, terminated, info = step4(NO_ARRIVAL, state, jnp.array([GAS, BRAKE, GAS, GAS]))
    np.testing.assert_array_equal(nxt.pos, [(H, 3), (H + 3, H - 1), (0, H), (0, 0)])
    np.testing.assert_array_equal(nxt.tau, [5, 3, 9, 0])  # done and waiting cars do not count
    np.testing.assert_allclose(info["agent_rewards"], [-0.05, -0.03, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(reward, -0.08, atol=1e-6)  # team reward = sum over cars
    assert not bool(terminated) and int(info["step_collisions"]) == 0


@pytest.mark.parametrize("gate", range(4))
@pytest.mark.parametrize("route", [1, 2, 3])
def test_routes_go_straight_turn_right_or_left_to_the_matching_exit(env1, step1, gate, route):
    """A lone car on GAS follows its route and is done at the exit of its final heading."""
    start, heading = (
        [((H, 0), EAST), ((G - 1, H), NORTH), ((H - 1, G - 1), WEST), ((0, H - 1), SOUTH)]
    )[gate]
    vec = {EAST: (0, 1), NORTH: (-1, 0), SOUTH: (1, 0), WEST: (0, -1)}
    dr, dc = vec[heading]
    final = {1: (dr, dc), 2: (dc, -dr), 3: (-dc, dr)}[route]  # right = clockwise
    state = make_state(env1, [start], [heading], [route])
    total, steps = 0.0, 0
    while not bool(state.done[0]):
        state, reward, terminated, _ = step1(NO_ARRIVAL, state, jnp.array([GAS]))
        total, steps = total + float(reward), steps + 1
        assert steps <= 2 * G
    assert bool(terminated)
    assert vec[int(state.direction[0])] == final
    assert bool(state.turned[0]) == (route != 1)
    row, col = np.asarray(state.pos[0])
    exit_edge = {(0, 1): col == G - 1, (0, -1): col == 0, (1, 0): row == G - 1, (-1, 0): row == 0}
    assert exit_edge[final]
    # the car drives G - 1 cells straight, G - 1 - 1 turning right..., one cell per step
    path = abs(row - start[0]) + abs(col - start[1])
    assert steps == path
    np.testing.assert_allclose(total, -0.01 * steps * (steps + 1) / 2, rtol=1e-5)


# ----------------------------------------------------------------------------- collisions
def test_collision_costs_and_blocks_and_cars_move_in_index_order(env4, step4):
    # car 0 right behind car 1 (east-bound): car 0 moves first and hits car 1
    state = make_state(env4, [(H, 2), (H, 3), (0, H), (0, H)], [EAST] * 4, [1] * 4,
                       done=[False, False, True, True])  # fmt: skip
    both_gas = jnp.array([GAS, GAS, GAS, GAS])
    nxt, reward, _, info = step4(NO_ARRIVAL, state, both_gas)
    np.testing.assert_array_equal(nxt.pos[:2], [(H, 2), (H, 4)])
    np.testing.assert_allclose(info["agent_rewards"][:2], [-10.01, -0.01], atol=1e-5)
    assert int(info["step_collisions"]) == 1
    # swapped indices: car 0 in front moves first, car 1 follows into the freed cell
    swapped = state.replace(pos=state.pos.at[0].set((H, 3)).at[1].set((H, 2)))
    nxt, reward, _, info = step4(NO_ARRIVAL, swapped, both_gas)
    np.testing.assert_array_equal(nxt.pos[:2], [(H, 4), (H, 3)])
    assert int(info["step_collisions"]) == 0
    # braking never collides; a done car's destination cell is free
    _, _, _, info = step4(NO_ARRIVAL, state, jnp.array([BRAKE, GAS, GAS, GAS]))
    assert int(info["step_collisions"]) == 0


def test_blocked_turn_still_turns(env4, step4):
    """ma-gym turns the direction before checking the collision (kept for parity)."""
    # east-bound car 0 turns right at (H, H-1) towards (H+1, H-1), where car 1 waits
    state = make_state(env4, [(H, H - 1), (H + 1, H - 1), (0, H), (0, H)],
                       [EAST, NORTH, NORTH, NORTH], [2, 1, 1, 1],
                       done=[False, False, True, True])  # fmt: skip
    nxt, _, _, info = step4(NO_ARRIVAL, state, jnp.array([GAS, BRAKE, GAS, GAS]))
    assert int(info["step_collisions"]) == 1 and tuple(np.asarray(nxt.pos[0])) == (H, H - 1)
    assert int(nxt.direction[0]) == SOUTH and bool(nxt.turned[0])


# ----------------------------------------------------------------------------- done
def test_reaching_an_exit_is_done_and_frees_the_cell_within_the_step(env4, step4):
    # car 0 reaches the exit (H, G-1); car 1 (processed later) may enter the same cell
    state = make_state(env4, [(H, G - 2), (H + 1, G - 1), (0, H), (0, H)],
                       [EAST, NORTH, NORTH, NORTH], [1, 1, 1, 1],
                       done=[False, False, True, True])  # fmt: skip
    vec_north = state.replace(direction=state.direction.at[1].set(NORTH))
    nxt, _, terminated, info = step4(NO_ARRIVAL, vec_north, jnp.array([GAS, GAS, GAS, GAS]))
    assert bool(nxt.done[0]) and tuple(np.asarray(nxt.pos[0])) == (H, G - 1)
    assert tuple(np.asarray(nxt.pos[1])) == (H, G - 1) and bool(nxt.done[1])
    assert int(info["step_collisions"]) == 0 and bool(terminated)  # all four done
    # a done car no longer moves or pays
    again, reward, *_ = step4(NO_ARRIVAL, nxt, jnp.array([GAS, GAS, GAS, GAS]))
    np.testing.assert_array_equal(again.pos, nxt.pos)
    assert float(reward) == 0.0


# ----------------------------------------------------------------------------- observation
def test_observation_is_the_3x3_neighbourhood_of_car_features():
    env = marta.envs.make("tj-4", num_agents=6)
    f = 6 + 5
    state = make_state(
        env,
        [(H, 3), (H - 1, 4), (0, H - 1), (H, 2), (0, 0), (0, 0)],
        [EAST, WEST, SOUTH, EAST, 0, 0],
        [2, 3, 1, 1, NO_ROUTE, NO_ROUTE],
        on_road=[True, True, True, True, False, False],
        done=[False, False, False, True, False, False],
    )
    obs = np.asarray(env.observe(state)).reshape(6, 3, 3, f)

    def feats(j, row, col, route_index):
        v = np.zeros(f, np.float32)
        v[j], v[6], v[7], v[8 + route_index] = 1.0, row / 13, col / 13, 1.0
        return v

    # car 0 at (H, 3): itself in the centre, car 1 up-right; car 3 (done, left) is invisible
    expected = np.zeros((3, 3, f), np.float32)
    expected[1, 1] = feats(0, H, 3, 1)
    expected[0, 2] = feats(1, H - 1, 4, 2)
    np.testing.assert_allclose(obs[0], expected, rtol=1e-6)
    # car 2 at the top edge: the row above is off-grid (zeros)
    assert not obs[2, 0].any() and obs[2, 1, 1, 2] == 1.0
    # waiting cars at (0, 0) see the 'ghost' of car 5 (ma-gym writes it there, never clears
    # it), with route -1 one-hot at index 1; the done car 3 sees nobody at all
    for waiting in (4, 5):
        ghost = np.zeros((3, 3, f), np.float32)
        ghost[1, 1] = feats(5, 0, 0, 1)
        np.testing.assert_allclose(obs[waiting], ghost, rtol=1e-6)
    assert not obs[3, 1, 1].any()  # the done car 3 is not shown, not even to itself
    np.testing.assert_allclose(obs[3, 1, 2], feats(0, H, 3, 1), rtol=1e-6)
    # no ghost with at most four cars; full observability concatenates every car's view
    assert not np.asarray(marta.envs.make("tj-4").observe(make_state(
        marta.envs.make("tj-4"), [(0, H - 1)] * 4, [SOUTH] * 4, [1] * 4, done=[True] * 4
    ))).any()  # fmt: skip
    full = marta.envs.make("tj-4", num_agents=6, full_observable=True)
    full_obs = np.asarray(full.observe(state))
    np.testing.assert_array_equal(full_obs, np.tile(obs.reshape(1, -1), (6, 1)))


def test_global_state_layout(env4):
    state = make_state(env4, [(H, 3), (0, 0), (0, H), (G - 1, H)], [EAST, 0, NORTH, NORTH],
                       [2, NO_ROUTE, 1, 3], on_road=[True, False, True, True],
                       done=[False, False, True, False], tau=[10, 0, 5, 1],
                       turned=[False, False, False, True])  # fmt: skip
    gs = np.asarray(env4.global_state_of(state.replace(step=jnp.int32(25))))
    assert gs.shape == (env4.state_dim,) and gs[-1] == pytest.approx(0.25)
    cars = gs[:-1].reshape(4, STATE_FEATURES_PER_CAR)
    np.testing.assert_array_equal(cars[:, :3], [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
    np.testing.assert_allclose(cars[0, 3:5], [H / 13, 3 / 13], rtol=1e-6)
    np.testing.assert_array_equal(cars[0, 5:8], [0, 1, 0])  # route 2
    np.testing.assert_array_equal(cars[1, 5:12], 0)  # waiting: no route, no direction
    np.testing.assert_array_equal(cars[3, 8:12], [0, 1, 0, 0])  # north
    np.testing.assert_allclose(cars[:, 12:], [[0, 0.1], [0, 0], [0, 0.05], [1, 0.01]], atol=1e-7)


# ----------------------------------------------------------------------------- contract
def test_both_actions_always_available(env4):
    _, state = env4.reset(jax.random.key(0))
    assert np.asarray(env4.avail_actions(state)).all()


def test_jit_vmap_scan_agree_with_eager_steps():
    env = marta.envs.make("tj-6")
    keys = jax.random.split(jax.random.key(1), 3)
    actions = jax.random.randint(jax.random.key(2), (12, 3, 6), 0, 2)

    def run(key, acts):
        _, state = env.reset(key)

        def one(state, inputs):
            k, a = inputs
            obs, state, reward, done, _ = env.step(k, state, a)
            return state, (obs, reward, done)

        return jax.lax.scan(one, state, (jax.random.split(key, acts.shape[0]), acts))[1]

    batched = jax.jit(jax.vmap(run, in_axes=(0, 1)))(keys, actions)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    for b in range(3):  # one environment and one step at a time
        _, state = reset(keys[b])
        step_keys = jax.random.split(keys[b], 12)
        for t in range(12):
            obs, state, reward, done, _ = step(step_keys[t], state, actions[t, b])
            np.testing.assert_array_equal(obs, batched[0][b, t])
            np.testing.assert_allclose(reward, batched[1][b, t], rtol=1e-6)
            assert bool(done) == bool(batched[2][b, t])


def test_truncation_at_max_steps_and_terminal_auto_reset(env4, env1):
    # everybody brakes: no car ever reaches an exit, the episode is truncated at max_steps
    _, state = env4.reset(jax.random.key(0))
    step = jax.jit(env4.step)
    for t in range(env4.max_steps):
        obs, state, reward, done, info = step(jax.random.key(t), state, jnp.full((4,), BRAKE))
        assert bool(done) == (t == env4.max_steps - 1)
    assert bool(info["truncated"]) and not bool(info["terminated"])
    assert int(info["episode_length"]) == 100 and int(state.time) == 0
    # braking 100 steps with 4 cars: -0.01 * 4 * (1 + ... + 100)
    np.testing.assert_allclose(info["episode_return"], -0.01 * 4 * 5050, rtol=1e-5)
    # one car on GAS reaches its exit: terminated (not truncated), then auto-reset
    _, state = env1.reset(jax.random.key(3))
    step1 = jax.jit(env1.step)
    for t in range(env1.max_steps):
        obs, state, reward, done, info = step1(jax.random.key(t), state, jnp.array([GAS]))
        if bool(done):
            break
    assert bool(info["terminated"]) and not bool(info["truncated"]) and t + 1 < 2 * G
    assert not bool(info["final_obs"].any())  # a done car's own cell is emptied
    assert int(state.time) == 0 and not bool(state.env.done[0])
    np.testing.assert_array_equal(obs, env1.observations(state))


def test_rollout_with_random_policy_runs_batched(env4):
    out = marta.envs.rollout(env4, marta.envs.random_policy, jax.random.key(0), 16, 120)
    stats = marta.envs.episode_stats(out)
    assert stats["episodes"] >= 16 and 1 <= stats["length_mean"] <= env4.max_steps
    assert stats["return_mean"] < 0  # every step costs


def test_nth_permutation_is_the_itertools_order():
    import itertools

    from marta.envs.traffic_junction import nth_permutation

    for n in (1, 2, 3, 4, 5):
        want = np.array(list(itertools.permutations(range(n))))
        got = jax.vmap(lambda k, n=n: nth_permutation(k, n))(jnp.arange(len(want)))
        np.testing.assert_array_equal(got, want)


def test_any_action_but_gas_is_brake(env4):
    """Out-of-range actions: only GAS (0) moves a car; every other value brakes."""
    _, state = env4.reset(jax.random.key(0))
    key = jax.random.key(1)
    brake = env4.step(key, state, jnp.ones((env4.num_agents,), jnp.int32))
    for bad in (2, -1, 7):
        got = env4.step(key, state, jnp.full((env4.num_agents,), bad, jnp.int32))
        jax.tree.map(np.testing.assert_array_equal, got, brake)
