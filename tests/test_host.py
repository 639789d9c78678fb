"""The host adapter runs reference packages behind marta's call shape."""

import numpy as np
import pytest

from marta.envs.host import HostEnv


@pytest.fixture(scope="module")
def lbf():
    return HostEnv.from_gymnasium("Foraging-5x5-4p-1f-v3")


def test_lbforaging_sizes(lbf):
    assert lbf.spec == {
        "num_agents": 4,
        "num_actions": 6,
        "obs_dim": 15,
        "state_dim": 60,
        "max_steps": 50,
        "state_scale": 1.0,  # a host env recommends no input scaling
        "obs_scale": 1.0,
    }


def test_lbforaging_episode_with_auto_reset(lbf):
    obs, state = lbf.reset(0)
    assert obs.shape == (4, 15) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    finished = []
    for _ in range(400):
        avail = lbf.avail_actions(state)
        assert avail.shape == (4, 6) and avail[:, 0].all()  # NONE is always valid
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in avail])
        obs, state, reward, done, info = lbf.step(None, state, actions)
        assert info["terminated"] != info["truncated"] or not done
        if done:
            finished.append(info)
            assert state.time == 0
    assert finished, "no episode finished in 400 steps"
    assert all(1 <= f["episode_length"] <= 50 for f in finished)
    assert all(f["truncated"] == (f["episode_length"] == 50) for f in finished)
    assert all(0.0 <= f["episode_return"] <= 1.0 + 1e-6 for f in finished)


@pytest.mark.parametrize(
    "actions, match",
    [
        (np.array([0, 1, 2]), r"shape \(4,\)"),
        (np.array([0, 1, 2, 6]), r"actions\[3\] = 6 is out of range"),
        (np.array([0, -1, 2, 3]), r"actions\[1\] = -1"),
        (np.array([0.0, 1.0, 2.0, 3.0]), "integer dtype"),
    ],
)
def test_malformed_actions_rejected(lbf, actions, match):
    _, state = lbf.reset(1)
    with pytest.raises(ValueError, match=match):
        lbf.step(None, state, actions)


def test_pettingzoo_parallel_env():
    from mpe2 import simple_tag_v3

    env = HostEnv.from_pettingzoo(
        simple_tag_v3.parallel_env(continuous_actions=False),
        agents=["adversary_0", "adversary_1", "adversary_2"],
    )
    assert (env.num_agents, env.num_actions, env.max_steps) == (3, 5, 25)
    obs, state = env.reset(3)
    assert obs.shape == (3, env.obs_dim)
    steps = 0
    done = False
    while not done:
        obs, state, reward, done, info = env.step(None, state, np.array([1, 2, 3]))
        steps += 1
    assert steps == 25 and info["truncated"] and info["episode_length"] == 25
    assert env.global_state(state).shape == (env.state_dim,)


def test_pettingzoo_rejects_mixed_sizes():
    from mpe2 import simple_tag_v3

    with pytest.raises(ValueError, match="agents: the chosen agents must share"):
        HostEnv.from_pettingzoo(simple_tag_v3.parallel_env(continuous_actions=False))
