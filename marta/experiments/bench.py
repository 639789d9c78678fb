"""Throughput benchmarks: env steps per second of JAX envs vs references, and of training.

Steps are *environment* steps (one joint action of all agents), random policy, measured after
compilation as the best of `repeats` timed runs. JAX envs run as one compiled program
(`marta.envs.rollout`: `vmap` over envs, `scan` over steps, observations not stored, so the
figure is the environment and the policy, not the memory traffic of a stored trajectory);
host references run a Python loop over a single environment, through
`marta.envs.host.HostEnv` or, for ma-gym's Traffic Junction, its own gym loop.

Training throughput (`bench_training`) times whole compiled training segments (acting,
storing, learning, evaluating) of the plain learner, the fault-injection baseline and MARTA
on one config, so their ratio is measured in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

import marta.envs
from marta.envs.host import HostEnv


@dataclass(frozen=True)
class BenchCase:
    """One environment to benchmark and, if any, the reference it is compared against."""

    env_id: str
    reference_name: str | None = None
    #: reference(num_steps) -> random-policy env steps/s of the reference (single env)
    reference: Callable[[int], float] | None = None


def _lbforaging(env_id: str) -> Callable[[int], float]:
    return lambda num_steps: host_steps_per_second(
        lambda: HostEnv.from_gymnasium(env_id), num_steps
    )


def _mpe2_simple_tag(num_steps: int) -> float:
    from mpe2 import simple_tag_v3

    predators = ["adversary_0", "adversary_1", "adversary_2"]
    make = lambda: HostEnv.from_pettingzoo(
        simple_tag_v3.parallel_env(continuous_actions=False), agents=predators
    )
    return host_steps_per_second(make, num_steps)


def _ma_gym_traffic_junction(reference_id: str) -> Callable[[int], float]:
    def measure(num_steps: int, seed: int = 0) -> float:
        from marta.envs.ma_gym_reference import make_reference

        env = make_reference(reference_id)
        rng = np.random.default_rng(seed)
        env.reset()
        t0 = time.perf_counter()
        for _ in range(num_steps):
            _, _, dones, _ = env.step(list(rng.integers(0, 2, env.n_agents)))
            if all(dones):
                env.reset()
        return num_steps / (time.perf_counter() - t0)

    return measure


#: every benchmark case `marta bench envs` knows, keyed by our env id
CASES: dict[str, BenchCase] = {
    "lbf-5x5-4p-1f": BenchCase(
        "lbf-5x5-4p-1f", "lbforaging Foraging-5x5-4p-1f-v3", _lbforaging("Foraging-5x5-4p-1f-v3")
    ),
    "lbf-8x8-2p-2f-coop": BenchCase(
        "lbf-8x8-2p-2f-coop",
        "lbforaging Foraging-8x8-2p-2f-coop-v3",
        _lbforaging("Foraging-8x8-2p-2f-coop-v3"),
    ),
    "mpe-simple-tag": BenchCase("mpe-simple-tag", "mpe2 simple_tag_v3", _mpe2_simple_tag),
    "tj-4": BenchCase(
        "tj-4", "ma-gym TrafficJunction4-v0", _ma_gym_traffic_junction("TrafficJunction4-v0")
    ),
    "tj-10": BenchCase(
        "tj-10", "ma-gym TrafficJunction10-v0", _ma_gym_traffic_junction("TrafficJunction10-v0")
    ),
}


def jax_steps_per_second(
    env_id: str,
    num_envs: int,
    num_steps: int,
    repeats: int = 3,
    seed: int = 0,
    overrides: dict[str, object] | None = None,
) -> float:
    """Random-policy env steps/s of a registered JAX env at batch `num_envs`."""
    env = marta.envs.make(env_id, **(overrides or {}))
    key = jax.random.key(seed)
    run = lambda k: marta.envs.rollout(
        env, marta.envs.random_policy, k, num_envs, num_steps, keep_obs=False
    )
    run(key).reward.block_until_ready()
    best = float("inf")
    for r in range(repeats):
        key_r = jax.random.fold_in(key, r + 1)
        t0 = time.perf_counter()
        run(key_r).reward.block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return num_envs * num_steps / best


def host_steps_per_second(make_env: Callable[[], HostEnv], num_steps: int, seed: int = 0) -> float:
    """Random-policy env steps/s of a host env driven by a Python loop (single env)."""
    env = make_env()
    rng = np.random.default_rng(seed)
    _, state = env.reset(seed)
    actions = rng.integers(0, env.num_actions, (num_steps, env.num_agents))
    t0 = time.perf_counter()
    for t in range(num_steps):
        _, state, _, _, _ = env.step(None, state, actions[t])
    return num_steps / (time.perf_counter() - t0)


def machine_description() -> str:
    """One line naming the machine, Python and JAX versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"JAX {jax.__version__} ({jax.default_backend()})"
    )


def bench_envs(
    env_ids: list[str],
    batches: tuple[int, ...] = (1, 64, 1024),
    steps_per_batch: dict[int, int] | None = None,
    reference_steps: int = 5000,
    repeats: int = 3,
    log: Callable[[str], None] = print,
) -> list[dict[str, object]]:
    """Benchmarks each env at each batch size against its reference, in one run.

    Both sides report their best of `repeats` timings (a shared machine's noise only slows a
    run down). Returns one row per (env, batch) with `steps_per_s`, the reference's steps/s
    and the ratio.
    """
    steps_per_batch = steps_per_batch or {1: 2000, 64: 1000, 1024: 200}
    rows: list[dict[str, object]] = []
    for env_id in env_ids:
        if env_id not in marta.envs.ENVS:
            log(f"skipping {env_id}: not registered")
            continue
        case = CASES.get(env_id, BenchCase(env_id))
        ref_sps = None
        if case.reference is not None:
            try:
                ref_sps = max(case.reference(reference_steps) for _ in range(repeats))
                log(f"{case.reference_name}: {ref_sps:,.0f} steps/s (single env, Python loop)")
            except ImportError as err:
                log(f"reference {case.reference_name} unavailable: {err}")
        for batch in batches:
            num_steps = steps_per_batch.get(batch, 200)
            sps = jax_steps_per_second(env_id, batch, num_steps, repeats)
            ratio = sps / ref_sps if ref_sps else None
            log(
                f"{env_id} batch {batch}: {sps:,.0f} steps/s"
                + (f" ({ratio:.0f}x)" if ratio else "")
            )
            rows.append(
                {
                    "env": env_id,
                    "batch": batch,
                    "steps_per_s": round(sps),
                    "reference": case.reference_name or "-",
                    "reference_steps_per_s": round(ref_sps) if ref_sps else "-",
                    "ratio": f"{ratio:.1f}x" if ratio else "-",
                }
            )
    return rows


def _script_path(name: str) -> str:
    """A script under the repository's benchmarks/ (an absolute `name` is kept as is)."""
    return os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", name)


def bench_external(
    python: str,
    script: str,
    script_args: list[str],
    batches: tuple[int, ...],
    env_id: str,
    overrides: dict[str, Any],
    names: tuple[str, str],
    log: Callable[[str], None] = print,
) -> list[dict[str, object]]:
    """Another JAX library's env (a script under benchmarks/ run by `python`, its own venv)
    against ours at equal batch, both measured now.

    The script prints ``batch B: N steps/s`` lines. `names` are (our env's row name, the
    reference's name).
    """
    batch_args = [a for b in batches for a in ("--batch", str(b))]
    cmd = [python, _script_path(script), *script_args, *batch_args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        log(f"{script} failed: {result.stderr.strip()[-500:]}")
        return []
    theirs = {
        int(m.group(1)): float(m.group(2).replace(",", ""))
        for m in re.finditer(r"batch (\d+): ([\d,]+) steps/s", result.stdout)
    }
    rows = []
    for batch in batches:
        steps = {1: 2000, 64: 1000}.get(batch, 200)
        ours = jax_steps_per_second(env_id, batch, steps, overrides=overrides)
        ref = theirs.get(batch)
        log(f"{names[0]} batch {batch}: ours {ours:,.0f}, {names[1]} {ref}")
        rows.append(
            {
                "env": names[0],
                "batch": batch,
                "steps_per_s": round(ours),
                "reference": f"{names[1]} (JAX, batch {batch})",
                "reference_steps_per_s": round(ref) if ref else "-",
                "ratio": f"{ours / ref:.1f}x" if ref else "-",
            }
        )
    return rows


def bench_jumanji_lbf(
    python: str,
    batches: tuple[int, ...],
    grid: int = 6,
    agents: int = 4,
    food: int = 1,
    log: Callable[[str], None] = print,
) -> list[dict[str, object]]:
    """Jumanji's JAX LBF (run by `python`, a venv with jumanji) vs ours at equal batch.

    Jumanji cannot build 5x5-4p-1f, so both run `grid`x`grid`-`agents`p-`food`f.
    """
    args = ["--grid", str(grid), "--agents", str(agents), "--food", str(food)]
    overrides = {"grid_size": grid, "num_players": agents, "num_food": food}
    name = f"lbf-{grid}x{grid}-{agents}p-{food}f"
    return bench_external(
        python, "jumanji_lbf.py", args, batches, "lbf-5x5-4p-1f", overrides,
        (name, "jumanji LevelBasedForaging"), log,
    )  # fmt: skip


def bench_jaxmarl_simple_tag(
    python: str, batches: tuple[int, ...], log: Callable[[str], None] = print
) -> list[dict[str, object]]:
    """JaxMARL's ``MPE_simple_tag_v3`` (run by `python`, a venv with jaxmarl) vs ours."""
    return bench_external(
        python, "jaxmarl_simple_tag.py", [], batches, "mpe-simple-tag", {},
        ("mpe-simple-tag", "JaxMARL MPE_simple_tag_v3"), log,
    )  # fmt: skip


#: `marta bench train` methods: the overrides that make each from the same base config
TRAIN_METHODS: dict[str, tuple[str, ...]] = {
    "no faults": (),
    "baseline": ("marta.method=baseline", "marta.train_fault.policy=uniform"),
    "marta": ("marta.method=marta", "marta.train_fault.policy=worst_case"),
}


def training_throughput(config: Any, repeats: int = 2) -> dict[str, float]:
    """Times a config's compiled training segment, as the runner runs it.

    Compiles ``jit(vmap(init))`` and ``jit(vmap(segment))`` (`runner.compiled`), runs one
    segment (compilation plus the first segment, whose env steps are mostly before
    `learning_starts`), then `repeats` more segments, of which the fastest counts.

    Returns:
        ``compile_s`` (init and the first segment), ``segment_s`` (best later segment) and
        ``steps_per_s``: env steps of all seeds per second of a later segment.
    """
    from marta.core.train import seed_keys
    from marta.experiments.runner import build_trainer, compiled

    init_fn, segment_fn = compiled(build_trainer(config))
    t0 = time.perf_counter()
    state = jax.block_until_ready(init_fn(seed_keys(config.seed, config.num_seeds)))
    init_s = time.perf_counter() - t0
    first_s, best, _ = segment_times(segment_fn, state, repeats)
    steps = config.train.eval_interval * config.num_seeds
    return {"compile_s": init_s + first_s, "segment_s": best, "steps_per_s": steps / best}


def segment_times(
    segment_fn: Callable[[Any], Any], state: Any, repeats: int
) -> tuple[float, float, dict[str, Any]]:
    """Times a compiled segment from `state` (which it may donate): seconds of the first call
    (compilation included), the fastest of `repeats` further calls, and the last metrics."""
    timings = []
    for _ in range(1 + repeats):
        t0 = time.perf_counter()
        state, metrics = segment_fn(state)
        jax.block_until_ready(metrics)
        timings.append(time.perf_counter() - t0)
    return timings[0], min(timings[1:], default=float("inf")), metrics


def bench_configs(
    base: dict[str, Any],
    fault: tuple[str, ...],
    overrides: tuple[str, ...] = (),
    num_envs: tuple[int, ...] = (),
) -> dict[tuple[str, int], Any]:
    """{(method, num_envs): `ExperimentConfig`} of `TRAIN_METHODS` on `base` (no marta
    section) at each of `num_envs` (default: the config's); the `fault` overrides
    (``marta.train_fault.*``) apply to the baseline and MARTA."""
    from marta.experiments.config import build_config

    configs = {}
    for e in num_envs or (None,):
        extra_envs = () if e is None else (f"train.num_envs={e}",)
        for method, extra in TRAIN_METHODS.items():
            config = build_config(
                base, [*extra, *(fault if extra else ()), *overrides, *extra_envs]
            )
            configs[method, config.train.num_envs] = config
    return configs


def bench_training(
    configs: dict[tuple[str, int], Any],
    repeats: int = 2,
    log: Callable[[str], None] = print,
    reference: float | None = None,
) -> list[dict[str, object]]:
    """Training throughput of each config of `bench_configs`, in one run.

    Returns one row per (method, num_envs) with its seconds per segment, env steps/s (all
    seeds), the ratio of its segment time to the baseline's at the same num_envs (issue:
    MARTA <= 2x the baseline) and, given a `reference` rate (EPyMARL's QMIX, env steps/s),
    its throughput as a multiple of that, plus a last row for the reference itself.
    """
    timings = {}
    for (method, num_envs), config in configs.items():
        timings[method, num_envs] = t = training_throughput(config, repeats)
        log(f"{method}, num_envs={num_envs}: {t['segment_s']:.2f} s/segment")
    rows: list[dict[str, object]] = []
    for (method, num_envs), t in timings.items():
        baseline = timings.get(("baseline", num_envs))
        row: dict[str, object] = {
            "method": method,
            "num_envs": num_envs,
            "compile_and_first_segment_s": round(t["compile_s"], 1),
            "segment_s": round(t["segment_s"], 2),
            "env_steps_per_s": round(t["steps_per_s"]),
            "time_vs_baseline": f"{t['segment_s'] / baseline['segment_s']:.2f}x"
            if baseline
            else "-",
        }
        if reference:
            row["vs_epymarl_qmix"] = f"{t['steps_per_s'] / reference:.1f}x"
        rows.append(row)
    if reference:
        rows.append(
            {
                "method": "EPyMARL QMIX (reference)",
                "num_envs": 1,
                "compile_and_first_segment_s": "-",
                "segment_s": "-",
                "env_steps_per_s": round(reference),
                "time_vs_baseline": "-",
                "vs_epymarl_qmix": "1.0x",
            }
        )
    return rows


def bench_epymarl_qmix(
    python: str,
    epymarl_dir: str,
    steps: int,
    log: Callable[[str], None] = print,
    script: str = "epymarl_qmix.py",
) -> float | None:
    """EPyMARL's QMIX on LBF 5x5-4p-1f (`script` under benchmarks/, run by `python`, a venv
    with torch and sacred): env steps/s after its first update, or None if it failed."""
    cmd = [python, _script_path(script), "--epymarl-dir", epymarl_dir, "--steps", str(steps)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    try:
        rate = float(json.loads(result.stdout.strip().splitlines()[-1])["env_steps_per_s"])
    except (IndexError, KeyError, ValueError):
        log(f"epymarl_qmix.py failed: {result.stderr.strip()[-500:]}")
        return None
    log(f"EPyMARL QMIX: {rate:,.0f} env steps/s")
    return rate
