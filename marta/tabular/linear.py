"""MARTA with linear function approximation (Theorem 3; appendix Theorem 8).

Action values are :math:`Q = \\Phi r` with a user-given feature matrix :math:`\\Phi`
``f64[S * A, p]`` (rows in the order of ``game.reward_flat.ravel()``) and
:math:`\\mathfrak F \\Lambda = \\mathcal R + \\gamma P \\min\\{\\hat{\\mathcal M}\\Lambda,
\\max \\Lambda\\}` (:func:`marta.tabular.operators.bellman_q`). :math:`\\Pi` is the orthogonal
projection onto the span of :math:`\\Phi` in the weighted norm
:math:`\\|x\\|_\\xi = (\\sum_{s,a} \\xi(s,a) x(s,a)^2)^{1/2}`, where :math:`\\xi` is the
sampling distribution of state-action pairs (the paper's "stationary distribution"; see
:func:`state_action_weights`).

* :func:`projected_fixed_point` solves :math:`\\Pi\\mathfrak F(\\Phi r^*) = \\Phi r^*` by
  (optionally damped) projected value iteration.
* :func:`linear_marta_q` is the stochastic approximation of the appendix,
  :math:`r_{t+1} = r_t + \\alpha_t \\phi(s,\\boldsymbol a)\\big(\\mathcal R(s,\\boldsymbol a) +
  \\gamma\\min\\{\\max\\Phi r, \\hat{\\mathcal M}\\Phi r\\}(s') - \\phi(s,\\boldsymbol a)^\\top
  r_t\\big)`, with ``(s, a) ~ xi`` i.i.d. (a stationary ergodic special case of the Markov
  samples of Theorem 9), averaged over a minibatch.
* :func:`approximation_bound` evaluates both sides of Theorem 3's bound
  :math:`\\|\\Phi r^* - Q^*\\|_\\xi \\le (1-\\gamma^2)^{-1/2}\\|\\Pi Q^* - Q^*\\|_\\xi`. The
  paper's proof needs :math:`\\mathfrak F` to be a :math:`\\gamma`-contraction in
  :math:`\\|\\cdot\\|_\\xi`, which the max/min operator is only in sup norm, so the bound can fail;
  ``docs/theory.md`` reports where.

Unbudgeted game only (``budget=None``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import numpy as np

from marta.tabular.games import FaultGame
from marta.tabular.operators import apply, bellman_q, check_cost
from marta.tabular.simulate import sample_next_state


def state_action_weights(
    game: FaultGame, kind: Literal["uniform", "stationary"] = "stationary"
) -> np.ndarray:
    """Sampling distribution :math:`\\xi` over flat pairs ``f64[S * A]``.

    ``"uniform"``: every pair alike. ``"stationary"``: :math:`\\xi(s, a) = \\mu(s)/A` with
    :math:`\\mu` the stationary distribution of the chain under uniformly random joint actions
    (the exploring behaviour; computed as the left eigenvector, with a little uniform restart
    mass ``1e-6`` if the chain is reducible).
    """
    S, A = game.num_states, game.num_joint_actions
    if kind == "uniform":
        return np.full(S * A, 1.0 / (S * A))
    if kind != "stationary":
        raise ValueError(f"kind: expected one of ('uniform', 'stationary'), got {kind!r}")
    chain = game.transition_flat.mean(axis=1)  # [S, S']
    chain = (1 - 1e-6) * chain + 1e-6 / S
    vals, vecs = np.linalg.eig(chain.T)
    mu = np.abs(np.real(vecs[:, np.argmin(np.abs(vals - 1.0))]))
    mu = mu / mu.sum()
    return np.repeat(mu / A, A)


def weighted_norm(x: np.ndarray, xi: np.ndarray) -> float:
    """:math:`\\|x\\|_\\xi` for ``x`` ``f64[S * A]`` (or any shape that ravels to it)."""
    return float(np.sqrt(np.sum(xi * np.ravel(x) ** 2)))


def projection(phi: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """:math:`\\Pi = \\Phi(\\Phi^\\top D\\Phi)^{-1}\\Phi^\\top D`, ``f64[S*A, S*A]``."""
    return phi @ _solver_matrix(phi, xi)


def _solver_matrix(phi: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """:math:`(\\Phi^\\top D\\Phi)^{-1}\\Phi^\\top D`: maps a target to its best weights."""
    gram = phi.T @ (xi[:, None] * phi)
    return np.linalg.solve(gram, phi.T * xi[None])


def _check_features(game: FaultGame, phi: np.ndarray, xi: np.ndarray | None) -> tuple:
    phi = np.asarray(phi, dtype=np.float64)
    rows = game.num_states * game.num_joint_actions
    if phi.ndim != 2 or phi.shape[0] != rows:
        raise ValueError(f"phi: expected shape [S * A, p] = [{rows}, p], got {phi.shape}")
    if np.linalg.matrix_rank(phi) < phi.shape[1]:
        raise ValueError("phi: features must be linearly independent (full column rank)")
    xi = state_action_weights(game) if xi is None else np.asarray(xi, dtype=np.float64)
    if xi.shape != (rows,) or np.any(xi <= 0) or not np.isclose(xi.sum(), 1.0):
        raise ValueError(f"xi: expected positive weights summing to 1, shape ({rows},)")
    return phi, xi


class LinearSolution(NamedTuple):
    """The projected fixed point :math:`\\Pi\\mathfrak F(\\Phi r^*) = \\Phi r^*`.

    Attributes:
        r: ``f64[p]`` weights.
        q: ``f64[S * A]`` approximate action values :math:`\\Phi r^*`.
        residual: :math:`\\|\\Pi\\mathfrak F(\\Phi r^*) - \\Phi r^*\\|_\\xi`.
        iterations: projected-value-iteration sweeps used.
    """

    r: np.ndarray
    q: np.ndarray
    residual: float
    iterations: int


def projected_residual(
    game: FaultGame, phi: np.ndarray, r: np.ndarray, cost: float, xi: np.ndarray
) -> float:
    """:math:`\\|\\Pi\\mathfrak F(\\Phi r) - \\Phi r\\|_\\xi`."""
    q = (phi @ r).reshape(1, game.num_states, -1)
    target = bellman_q(game, q, cost, budgeted=False).ravel()
    return weighted_norm(projection(phi, xi) @ target - phi @ r, xi)


def projected_fixed_point(
    game: FaultGame,
    phi: np.ndarray,
    cost: float,
    xi: np.ndarray | None = None,
    *,
    damping: float = 1.0,
    tol: float = 1e-10,
    max_iters: int = 100_000,
) -> LinearSolution:
    """Solves :math:`\\Pi\\mathfrak F(\\Phi r) = \\Phi r` by
    :math:`r \\leftarrow (1-\\beta) r + \\beta(\\Phi^\\top D\\Phi)^{-1}\\Phi^\\top D\\,
    \\mathfrak F(\\Phi r)` (``beta = damping``).

    Raises:
        RuntimeError: if the iteration does not settle within ``max_iters`` (the projected
            operator need not be a contraction; see the module docstring).
    """
    cost = check_cost(cost)
    phi, xi = _check_features(game, phi, xi)
    if not 0 < damping <= 1:
        raise ValueError(f"damping: must be in (0, 1], got {damping}")
    fit = _solver_matrix(phi, xi)
    r = np.zeros(phi.shape[1])
    for k in range(1, max_iters + 1):
        q = (phi @ r).reshape(1, game.num_states, -1)
        r_new = (1 - damping) * r + damping * fit @ bellman_q(game, q, cost, budgeted=False).ravel()
        diff = float(np.max(np.abs(phi @ (r_new - r))))
        r = r_new
        if not np.isfinite(diff):
            break
        if diff <= tol:
            return LinearSolution(r, phi @ r, projected_residual(game, phi, r, cost, xi), k)
    raise RuntimeError(f"projected value iteration did not converge in {max_iters} sweeps")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class LinearMartaQConfig:
    """Settings of :func:`linear_marta_q`."""

    num_steps: int = 3_000
    """number of stochastic-approximation steps"""
    batch_size: int = 256
    """pairs sampled from xi per step (their updates are averaged)"""
    step_scale: float = 1.0
    """alpha_t = step_scale * (1 + (1 - gamma) t)^(-step_exponent)"""
    step_exponent: float = 0.7
    """Robbins-Monro exponent in (0.5, 1]"""

    def __post_init__(self) -> None:
        for name in ("num_steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        if not self.step_scale > 0:
            raise ValueError(f"step_scale: must be > 0, got {self.step_scale}")
        if not 0.5 < self.step_exponent <= 1.0:
            raise ValueError(f"step_exponent: must be in (0.5, 1], got {self.step_exponent}")


def linear_marta_q(
    seed: int | np.random.Generator,
    game: FaultGame,
    phi: np.ndarray,
    cost: float,
    xi: np.ndarray | None = None,
    config: LinearMartaQConfig = LinearMartaQConfig(),
) -> np.ndarray:
    """MARTA-Q with linear function approximation (Theorem 3): returns the weights ``f64[p]``.

    Each step draws ``batch_size`` pairs ``(s, a) ~ xi`` and next states ``s' ~ P(. | s, a)``,
    and moves ``r`` along the average of
    :math:`\\phi(s,\\boldsymbol a)\\,\\delta` with the TD error
    :math:`\\delta = \\mathcal R + \\gamma\\min\\{\\max\\Phi r,
    c + \\hat{\\mathcal M}\\Phi r\\}(s') - \\phi^\\top r`. The step is normalised by the
    largest eigenvalue of :math:`\\Phi^\\top D\\Phi` (the mean update's curvature), so
    ``step_scale = 1`` is stable for any feature scaling.
    """
    cost = check_cost(cost)
    phi, xi = _check_features(game, phi, xi)
    rng = np.random.default_rng(seed)
    S, A = game.num_states, game.num_joint_actions
    P, R = game.transition_flat.reshape(S * A, S), game.reward_flat.ravel()
    scale = config.step_scale / float(np.linalg.eigvalsh(phi.T @ (xi[:, None] * phi)).max())
    r = np.zeros(phi.shape[1])
    for t in range(config.num_steps):
        v = apply(game, (phi @ r).reshape(1, S, A), cost, budgeted=False).value[0]
        pairs = rng.choice(S * A, size=config.batch_size, p=xi)
        s_next = sample_next_state(rng, P[pairs])
        delta = R[pairs] + game.gamma * v[s_next] - phi[pairs] @ r
        alpha = scale * (1.0 + (1.0 - game.gamma) * t) ** (-config.step_exponent)
        r = r + alpha * (phi[pairs] * delta[:, None]).mean(axis=0)
    return r


class Bound(NamedTuple):
    """Both sides of Theorem 3's bound, in :math:`\\|\\cdot\\|_\\xi`.

    Attributes:
        error: :math:`\\|\\Phi r^* - Q^*\\|_\\xi`.
        best: :math:`\\|\\Pi Q^* - Q^*\\|_\\xi` (the best error the features allow).
        bound: :math:`(1-\\gamma^2)^{-1/2}` ``* best``.
        holds: ``error <= bound`` (with a ``1e-9`` slack for round-off).
    """

    error: float
    best: float
    bound: float
    holds: bool


def approximation_bound(
    game: FaultGame, phi: np.ndarray, q_star: np.ndarray, r_star: np.ndarray, xi: np.ndarray
) -> Bound:
    """Evaluates Theorem 3's bound for a solved game (``q_star`` from
    :func:`marta.tabular.solver.solve`, ``r_star`` from :func:`projected_fixed_point`)."""
    q_star = np.ravel(q_star)
    error = weighted_norm(phi @ r_star - q_star, xi)
    best = weighted_norm(projection(phi, xi) @ q_star - q_star, xi)
    bound = best / np.sqrt(1.0 - game.gamma**2)
    return Bound(error, best, bound, bool(error <= bound + 1e-9))
