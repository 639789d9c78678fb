"""Unit tests of the JAX Level-Based Foraging rules (reference parity: test_lbf_parity.py)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.envs.base import EnvState
from marta.envs.lbf import (
    EAST,
    LOAD,
    NONE,
    NORTH,
    SOUTH,
    WEST,
    LBFState,
    LevelBasedForaging,
    max_food_that_fits,
)

LBF_IDS = sorted(k for k in marta.envs.ENVS if k.startswith("lbf-"))


def make_state(players, levels, foods, food_levels, spawned=None, time=0) -> EnvState:
    """An EnvState with players at `players` (row, col) and foods at `foods`."""
    food_levels = jnp.asarray(food_levels, jnp.int32)
    env = LBFState(
        player_pos=jnp.asarray(players, jnp.int32),
        player_level=jnp.asarray(levels, jnp.int32),
        food_pos=jnp.asarray(foods, jnp.int32),
        food_level=food_levels,
        food_spawned=jnp.asarray(food_levels.sum() if spawned is None else spawned, jnp.float32),
        step=jnp.asarray(time, jnp.int32),
    )
    return EnvState(env=env, time=jnp.asarray(time), episode_return=jnp.zeros(()))


_JITTED: dict[int, tuple] = {}


def do_step(env, state, actions):
    """One jitted step (compiled once per env object)."""
    if id(env) not in _JITTED:
        _JITTED[id(env)] = (env, jax.jit(env.step))
    return _JITTED[id(env)][1](jax.random.key(0), state, jnp.asarray(actions, jnp.int32))


def test_registered_ids_and_sizes():
    assert (
        sorted(
            f"lbf-{base}{s}"
            for base in ("5x5-4p-1f", "5x5-2p-1f", "5x5-3p-1f", "8x8-2p-2f-coop")
            for s in ("", "-2s")
        )
        == LBF_IDS
    )
    env = marta.envs.make("lbf-5x5-4p-1f")
    assert (env.num_agents, env.num_actions, env.obs_dim, env.max_steps) == (4, 6, 15, 50)
    assert env.state_dim == 3 * 1 + 3 * 4 + 1
    coop = marta.envs.make("lbf-8x8-2p-2f-coop-2s")
    assert coop.config.force_coop and coop.sight == 2 and coop.obs_dim == 12
    for env_id in LBF_IDS:
        e = marta.envs.make(env_id)
        obs, _ = jax.jit(e.reset)(jax.random.key(0))
        assert obs.shape == (e.num_agents, e.obs_dim) and e.max_steps == 50
        assert e.config.normalize_reward and e.config.max_player_level == 2
    big = marta.envs.make("lbf-5x5-4p-1f", grid_size=6)
    assert big.grid_size == 6 and big.sight == 6
    obs, state = big.reset(jax.random.key(0))
    assert obs.shape == (4, 15) and int(state.env.player_pos.max()) <= 5


@pytest.mark.parametrize("env_id", ["lbf-5x5-4p-1f", "lbf-5x5-2p-1f", "lbf-8x8-2p-2f-coop"])
def test_spawn_rules(env_id):
    env = marta.envs.make(env_id)
    g = env.grid_size
    s = jax.vmap(env.reset_env)(jax.random.split(jax.random.key(1), 3000))
    pos, lvl = np.asarray(s.player_pos), np.asarray(s.player_level)
    fpos, flvl = np.asarray(s.food_pos), np.asarray(s.food_level)
    assert ((pos >= 0) & (pos < g)).all() and ((lvl >= 1) & (lvl <= 2)).all()
    assert (np.abs(pos[:, :, None] - pos[:, None, :]).sum(-1) > 0).sum((1, 2)).min() == (
        env.num_agents * (env.num_agents - 1)
    ), "players must be on distinct cells"
    assert ((fpos >= 1) & (fpos <= g - 2)).all(), "food never on the border"
    assert (flvl > 0).all(), "every food fits on these grids"
    on_player = (fpos[:, :, None, :] == pos[:, None, :, :]).all(-1).any(-1)
    assert not on_player.any()
    lowest3 = np.sort(lvl, axis=1)[:, :3].sum(1)
    if env.config.force_coop:
        assert (flvl == lowest3[:, None]).all()
    else:
        assert ((flvl >= 1) & (flvl <= lowest3[:, None])).all()
        assert (flvl == 1).any() and (flvl == lowest3[:, None]).any()
    np.testing.assert_array_equal(np.asarray(s.food_spawned), flvl.sum(1))
    if env.num_food == 2:  # foods neither touch nor lie 2 apart in a row or column
        d = np.abs(fpos[:, 0] - fpos[:, 1])
        assert (d.max(-1) >= 2).all() and not ((d.min(-1) == 0) & (d.max(-1) <= 2)).any()


def test_spawn_is_uniform():
    env = marta.envs.make("lbf-5x5-4p-1f")
    s = jax.vmap(env.reset_env)(jax.random.split(jax.random.key(2), 20000))
    pos = np.asarray(s.player_pos)
    n = len(pos)
    for i in range(env.num_agents):  # every player's cell is uniform over the 25 cells
        counts = np.bincount(pos[:, i, 0] * 5 + pos[:, i, 1], minlength=25)
        p = 1 / 25
        assert np.abs(counts - n * p).max() < 5 * np.sqrt(n * p * (1 - p)), counts
    level_one = (np.asarray(s.player_level) == 1).mean()
    assert abs(level_one - 0.5) < 5 * np.sqrt(0.25 / (n * env.num_agents))
    # given the players, the food is uniform over the free interior cells: check the
    # interior cells' frequencies against the exact expectation computed from the players
    fpos = np.asarray(s.food_pos)[:, 0]
    interior = [(r, c) for r in range(1, 4) for c in range(1, 4)]
    free = ~(pos[:, None, :, :] == np.array(interior)[None, :, None, :]).all(-1).any(-1)
    expected = (free / free.sum(1, keepdims=True)).sum(0)
    counts = np.array([((fpos == cell).all(-1)).sum() for cell in interior])
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected).max()


def brute_force_max_food(grid_size: int) -> int:
    cells = [(r, c) for r in range(1, grid_size - 1) for c in range(1, grid_size - 1)]

    def ok(a, b):
        dr, dc = abs(a[0] - b[0]), abs(a[1] - b[1])
        return max(dr, dc) >= 2 and not (min(dr, dc) == 0 and max(dr, dc) <= 2)

    best = 0
    for k in range(1, len(cells) + 1):
        if any(
            all(ok(a, b) for a, b in itertools.combinations(c, 2))
            for c in itertools.combinations(cells, k)
        ):
            best = k
        else:
            break
    return best


@pytest.mark.parametrize("grid_size", [3, 4, 5, 6, 7])
def test_food_capacity_is_the_true_maximum(grid_size):
    assert max_food_that_fits(grid_size) == brute_force_max_food(grid_size)


def test_avail_actions_follow_reference_rules():
    env = marta.envs.make("lbf-5x5-2p-1f")
    # player 0 at the top-left corner; player 1 west of the food at (2, 2)
    state = make_state([[0, 0], [2, 1]], [1, 1], [[2, 2]], [2])
    avail = np.asarray(env.avail_actions(state))
    np.testing.assert_array_equal(avail[0], [1, 0, 1, 0, 1, 0])  # no N/W off-grid, no LOAD
    np.testing.assert_array_equal(avail[1], [1, 1, 1, 1, 0, 1])  # E blocked by food; LOAD


def test_movement_and_collisions():
    env = marta.envs.make("lbf-5x5-3p-1f")
    food = ([[3, 3]], [1])
    # two players moving into the same cell both stay; the third moves freely
    s = make_state([[0, 0], [0, 2], [4, 0]], [1, 1, 1], *food)
    _, s2, *_ = do_step(env, s, [EAST, WEST, NORTH])
    np.testing.assert_array_equal(s2.env.player_pos, [[0, 0], [0, 2], [3, 0]])
    # a player moving into the cell another player leaves: both move; swaps are allowed too
    s = make_state([[0, 0], [0, 1], [2, 0]], [1, 1, 1], *food)
    _, s2, *_ = do_step(env, s, [EAST, EAST, NONE])
    np.testing.assert_array_equal(s2.env.player_pos, [[0, 1], [0, 2], [2, 0]])
    _, s2, *_ = do_step(env, s, [EAST, WEST, NONE])
    np.testing.assert_array_equal(s2.env.player_pos, [[0, 1], [0, 0], [2, 0]])
    # reference quirk: A enters B's cell while B's own move fails (B collides with C)
    s = make_state([[1, 0], [1, 1], [1, 3]], [1, 1, 1], *food)
    _, s2, *_ = do_step(env, s, [EAST, EAST, WEST])
    np.testing.assert_array_equal(s2.env.player_pos, [[1, 1], [1, 1], [1, 3]])
    # a move into food or off the grid is unavailable and executed as NONE
    s = make_state([[3, 2], [0, 0], [4, 4]], [1, 1, 1], *food)
    _, s2, *_ = do_step(env, s, [EAST, NORTH, SOUTH])
    np.testing.assert_array_equal(s2.env.player_pos, s.env.player_pos)


@pytest.mark.parametrize("bad", [-1, 6, 7, 1000, -1000])
def test_out_of_range_actions_are_none(bad):
    env = marta.envs.make("lbf-5x5-2p-1f")
    s = make_state([[1, 1], [4, 4]], [1, 1], [[2, 2]], [1])
    out_bad = do_step(env, s, [bad, WEST])
    out_none = do_step(env, s, [NONE, WEST])
    for a, b in zip(jax.tree.leaves(out_bad[:4]), jax.tree.leaves(out_none[:4]), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out_bad[1].env.player_pos, [[1, 1], [4, 3]])


def test_loading_rule_exact_levels_and_rewards():
    env = marta.envs.make("lbf-8x8-2p-2f-coop", num_players=3)
    foods = [[2, 2], [5, 5]]
    # food (2, 2) has level 3: loaders of levels 1 + 2 suffice; a non-loader does not count
    s = make_state([[2, 1], [1, 2], [5, 4]], [1, 2, 2], foods, [3, 4])
    _, s2, reward, done, info = do_step(env, s, [LOAD, LOAD, NONE])
    np.testing.assert_allclose(info["agent_rewards"], [1 * 3 / (3 * 7), 2 * 3 / (3 * 7), 0])
    np.testing.assert_allclose(reward, 3 / 7, rtol=1e-6)
    np.testing.assert_array_equal(s2.env.food_level, [0, 4])
    assert not bool(done)
    # levels 1 + 1 < 3: nothing is loaded, and a failed group pays the penalty
    s = make_state([[2, 1], [1, 2], [5, 4]], [1, 1, 2], foods, [3, 4])
    _, s2, reward, _, info = do_step(env, s, [LOAD, LOAD, LOAD])
    np.testing.assert_array_equal(s2.env.food_level, [3, 4])  # 2 < 4 fails as well
    np.testing.assert_allclose(info["agent_rewards"], [0, 0, 0])
    penal = marta.envs.make("lbf-8x8-2p-2f-coop", num_players=3, penalty=0.25)
    s = make_state([[2, 1], [1, 2], [5, 4]], [1, 1, 2], foods, [3, 2])
    _, s2, _, _, info = do_step(penal, s, [LOAD, LOAD, LOAD])
    np.testing.assert_array_equal(s2.env.food_level, [3, 0])
    np.testing.assert_allclose(info["agent_rewards"], [-0.25, -0.25, 2 * 2 / (2 * 5)])
    # without normalisation the reward is level * food level; last food gone -> terminal
    raw = marta.envs.make("lbf-8x8-2p-2f-coop", num_players=3, normalize_reward=False)
    s = make_state([[2, 1], [1, 2], [5, 4]], [1, 2, 2], foods, [3, 0], spawned=7)
    _, _, reward, done, info = do_step(raw, s, [LOAD, LOAD, NONE])
    np.testing.assert_allclose(info["agent_rewards"], [3.0, 6.0, 0.0])
    assert bool(done) and bool(info["terminated"]) and not bool(info["truncated"])


def test_normalised_episode_return_is_one_when_all_food_is_loaded():
    env = marta.envs.make("lbf-5x5-2p-1f")
    out = marta.envs.rollout(env, marta.envs.random_policy, jax.random.key(3), 256, 100)
    done = np.asarray(out.done)
    ret, length = np.asarray(out.episode_return)[done], np.asarray(out.episode_length)[done]
    terminal = length < env.max_steps
    assert terminal.sum() > 50 and (~terminal).sum() > 0
    np.testing.assert_allclose(ret[terminal], 1.0, rtol=1e-5)
    assert (ret[~terminal] <= 1.0 + 1e-6).all()


def test_time_limit_truncates_and_auto_resets():
    env = marta.envs.make("lbf-5x5-2p-1f", max_steps=7)
    obs, state = env.reset(jax.random.key(4))
    step = jax.jit(env.step)
    for t in range(1, 8):
        obs, new_state, _, done, info = step(jax.random.key(t), state, jnp.zeros(2, jnp.int32))
        assert bool(done) == (t == 7)
        if t < 7:
            state = new_state
    assert bool(info["truncated"]) and not bool(info["terminated"])
    assert int(info["episode_length"]) == 7 and int(new_state.time) == 0
    np.testing.assert_array_equal(info["final_obs"], env.observations(state))
    np.testing.assert_array_equal(obs, env.observations(new_state))
    assert int(new_state.env.step) == 0


def test_observation_layout_full_view():
    env = marta.envs.make("lbf-5x5-3p-1f")
    s = make_state([[0, 4], [4, 0], [2, 1]], [2, 1, 1], [[2, 2]], [3])
    obs = np.asarray(env.observations(s))
    food = [2, 2, 3]
    np.testing.assert_array_equal(obs[0], food + [0, 4, 2] + [4, 0, 1] + [2, 1, 1])
    np.testing.assert_array_equal(obs[1], food + [4, 0, 1] + [0, 4, 2] + [2, 1, 1])
    np.testing.assert_array_equal(obs[2], food + [2, 1, 1] + [0, 4, 2] + [4, 0, 1])
    # once loaded the food slot is padding
    s = make_state([[0, 4], [4, 0], [2, 1]], [2, 1, 1], [[2, 2]], [0], spawned=3)
    assert list(np.asarray(env.observations(s))[0, :3]) == [-1, -1, 0]


def test_observation_layout_partial_view():
    env = marta.envs.make("lbf-8x8-2p-2f-coop-2s", num_players=3)
    # agent 0 at (0, 0): view corner (0, 0); agents are seen up to 2*sight = 4 rows/cols
    # away (the reference's shifted window), foods only within sight = 2
    s = make_state([[0, 0], [4, 3], [5, 2]], [1, 2, 1], [[2, 2], [1, 5]], [3, 2])
    obs = np.asarray(env.observations(s))
    np.testing.assert_array_equal(obs[0], [2, 2, 3, -1, -1, 0, 0, 0, 1, 4, 3, 2, -1, -1, 0])
    # agent 1 at (4, 3): corner (2, 1); sees food (2, 2) at (0, 1); food (1, 5) is 3 rows up;
    # agent 0 (relative (-2, -1)) is unseen, so agent 2 (relative (3, 1)) takes the next slot
    np.testing.assert_array_equal(obs[1], [0, 1, 3, -1, -1, 0, 2, 2, 2, 3, 1, 1, -1, -1, 0])
    # row-major food order: with both foods seen, (1, 3) comes before (2, 1)
    s = make_state([[2, 2], [7, 7], [7, 0]], [1, 2, 1], [[2, 0], [1, 3]], [3, 2])
    obs = np.asarray(env.observations(s))
    np.testing.assert_array_equal(obs[0, :6], [1, 3, 2, 2, 0, 3])


def test_global_state():
    env = marta.envs.make("lbf-8x8-2p-2f-coop")
    s = make_state([[0, 4], [6, 1]], [2, 1], [[2, 2], [5, 5]], [0, 3], spawned=6, time=10)
    gs = np.asarray(env.global_state(s))
    assert gs.shape == (env.state_dim,) == (13,)
    np.testing.assert_allclose(gs, [-1, -1, 0, 5, 5, 3, 0, 4, 2, 6, 1, 1, 10 / 50])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"grid_size": 2}, "grid_size"),
        ({"grid_size": 0}, "grid_size"),
        ({"num_players": 0}, "num_players"),
        ({"num_food": 0}, "num_food"),
        ({"num_players": 25}, "num_players"),
        ({"num_food": 3}, "num_food"),
        ({"sight": 0}, "sight"),
        ({"max_steps": 0}, "max_steps"),
        ({"min_player_level": 0}, "min_player_level"),
        ({"max_player_level": 0}, "max_player_level"),
        ({"min_food_level": 4}, "min_food_level"),
        ({"force_coop": True, "max_food_level": 9}, "max_food_level"),
        ({"max_food_level": 0}, "max_food_level"),
        ({"penalty": -1.0}, "penalty"),
    ],
)
def test_bad_configs_raise_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        marta.envs.make("lbf-5x5-4p-1f", **overrides)


def test_good_edge_configs_build():
    LevelBasedForaging(grid_size=5, num_players=4, num_food=2)  # 2 foods fit a 5x5 grid
    LevelBasedForaging(num_players=4, force_coop=True, max_food_level=8)  # = team total
    LevelBasedForaging(num_players=2, sight=1)


def test_jit_vmap_scan_and_no_recompile():
    env = marta.envs.make("lbf-5x5-4p-1f-2s")
    obs, state = jax.vmap(env.reset)(jax.random.split(jax.random.key(5), 8))
    step = jax.jit(jax.vmap(env.step))
    acts = jnp.zeros((8, 4), jnp.int32)
    step(jax.random.split(jax.random.key(6), 8), state, acts)
    before = step._cache_size()  # a second call must not retrace
    step(jax.random.split(jax.random.key(7), 8), state, acts + 1)
    assert step._cache_size() == before == 1
    # vmap gives the same result as a loop of single steps
    keys = jax.random.split(jax.random.key(8), 8)
    batched = step(keys, state, acts + 2)
    single = jax.jit(env.step)
    for b in range(8):
        one = single(keys[b], jax.tree.map(lambda x, b=b: x[b], state), acts[b] + 2)
        for x, y in zip(jax.tree.leaves(one[:4]), jax.tree.leaves(batched[:4]), strict=True):
            np.testing.assert_array_equal(x, y[b])


@pytest.mark.parametrize("env_id", ["lbf-5x5-4p-1f", "lbf-8x8-2p-2f-coop-2s"])
def test_rollout(env_id):
    env = marta.envs.make(env_id)
    out = marta.envs.rollout(env, marta.envs.random_policy, jax.random.key(9), 16, 60)
    assert out.obs.shape == (60, 16, env.num_agents, env.obs_dim)
    assert bool(out.done.any())
    stats = marta.envs.episode_stats(out)
    assert 0.0 <= stats["return_mean"] <= 1.0 and 1 <= stats["length_mean"] <= 50
