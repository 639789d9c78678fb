"""Networks of the value-based learners: the shared recurrent agent network and the mixers.

How to read this file: `AgentNetwork` maps one agent's input (observation ++ agent-id one-hot
++ previous-action one-hot) and GRU hidden state to Q-values over its actions; its
parameters are shared by all agents (PyMARL's ``RNNAgent``). A *mixer* maps the chosen
per-agent values ``q_i`` f32[..., N] and the global state to the values the TD loss is taken
on, f32[..., K]:

* `NoMixer`    (IQL):  K = N, independent per-agent values;
* `SumMixer`   (VDN, Sunehag et al. 2018): K = 1, :math:`Q_{tot} = \\sum_i q_i`;
* `MonotonicMixer` (QMIX, Rashid et al. 2018, Eq. 5-6): K = 1, a one-hidden-layer network
  whose weights are produced by hypernetworks of the state and made non-negative with
  ``abs``, so :math:`\\partial Q_{tot} / \\partial q_i \\ge 0`.

`MIXERS` is the registry of mixers by name, filled by `register_mixer`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import DTypeLike


class Linear(nn.Module):
    """Affine layer initialised like ``torch.nn.Linear`` (PyMARL's layers).

    Kernel and bias are uniform in :math:`\\pm 1/\\sqrt{\text{fan\\_in}}`. This matters for
    QMIX: flax's default LeCun-normal kernels make the hypernetwork weights about 3x larger
    per layer, so on un-normalised states (LBF coordinates up to 6) the initial
    :math:`\\partial Q_{tot}/\\partial q_i` is ~40 and training diverges (docs/learners.md).

    Attributes:
        features: output width.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        bound = 1.0 / float(x.shape[-1]) ** 0.5

        def init(key, shape, dtype=jnp.float32):
            return jax.random.uniform(key, shape, dtype, -bound, bound)

        kernel = self.param("kernel", init, (x.shape[-1], self.features))
        bias = self.param("bias", init, (self.features,))
        return x @ kernel + bias


def orthogonal(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
    """Random orthogonal matrix without LAPACK (flax's default GRU recurrent initialiser).

    Same distribution as ``nn.initializers.orthogonal()``: the Q factor, with a positive
    diagonal of R, of a Gaussian matrix, computed by Gram-Schmidt with re-orthogonalisation
    (CGS2) instead of ``jnp.linalg.qr``. jaxlib 0.10 runs batched LAPACK kernels on XLA's
    intra-op pool, and a seed-vmapped initialisation with several concurrent QR calls
    can deadlock there (all threads idle; found with MARTA-QMIX on LBF at 3 seeds, see
    docs/marta.md), so compiled training programs must not contain LAPACK calls
    (``tests/test_no_lapack.py`` checks it).
    """
    rows, cols = shape
    tall = rows >= cols
    a = jax.random.normal(key, (max(rows, cols), min(rows, cols)), jnp.float32)

    def column(q: jax.Array, j: jax.Array) -> tuple[jax.Array, None]:
        v = a[:, j]
        v = v - q @ (q.T @ v)
        v = v - q @ (q.T @ v)
        return q.at[:, j].set(v / jnp.linalg.norm(v)), None

    q, _ = jax.lax.scan(column, jnp.zeros_like(a), jnp.arange(a.shape[1]))
    return (q if tall else q.T).astype(dtype)


class AgentNetwork(nn.Module):
    """PyMARL recurrent agent: Dense(hidden) -> ReLU -> GRU(hidden) -> Dense(num_actions).

    Attributes:
        hidden_dim: width of the MLP layer and of the GRU state.
        num_actions: size of the Q head.
    """

    hidden_dim: int
    num_actions: int

    @nn.compact
    def __call__(self, hidden: jax.Array, inputs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One recurrent step for any leading batch shape.

        Args:
            hidden: f32[..., hidden_dim] GRU state.
            inputs: f32[..., input_dim] agent inputs.

        Returns:
            (new hidden f32[..., hidden_dim], q f32[..., num_actions]).
        """
        x = nn.relu(Linear(self.hidden_dim, name="fc1")(inputs))
        hidden, x = nn.GRUCell(
            features=self.hidden_dim, recurrent_kernel_init=orthogonal, name="gru"
        )(hidden, x)
        return hidden, Linear(self.num_actions, name="q")(x)


class NoMixer(nn.Module):
    """IQL: returns the per-agent values unchanged (each agent has its own TD loss)."""

    @nn.compact
    def __call__(self, q_i: jax.Array, state: jax.Array) -> jax.Array:
        """q_i f32[..., N], state f32[..., S] -> f32[..., N]."""
        del state
        return q_i


class SumMixer(nn.Module):
    """VDN: :math:`Q_{tot}(s, a) = \\sum_i q_i(o_i, a_i)` (Sunehag et al., 2018, Eq. 1)."""

    @nn.compact
    def __call__(self, q_i: jax.Array, state: jax.Array) -> jax.Array:
        """q_i f32[..., N], state f32[..., S] -> Q_tot f32[..., 1]."""
        del state
        return jnp.sum(q_i, axis=-1, keepdims=True)


class MonotonicMixer(nn.Module):
    """QMIX mixing network with two-layer hypernetworks (PyMARL ``QMixer``, hypernet_layers=2).

    .. math::
        h = \\mathrm{elu}(q^\\top |W_1(s)| + b_1(s)), \\qquad
        Q_{tot} = h^\\top |W_2(s)| + V(s),

    with :math:`W_1, W_2` two-layer ReLU hypernetworks of the state, :math:`b_1` linear and
    :math:`V` a two-layer ReLU network (Rashid et al., 2018, Sec. 4.2). The absolute values
    and the monotone ``elu`` give :math:`\\partial Q_{tot}/\\partial q_i \\ge 0` (Eq. 5).

    Attributes:
        embed_dim: mixing-network hidden width (32 in QMIX).
        hypernet_embed_dim: hidden width of the weight hypernetworks (64 in QMIX).
    """

    embed_dim: int = 32
    hypernet_embed_dim: int = 64

    @nn.compact
    def __call__(self, q_i: jax.Array, state: jax.Array) -> jax.Array:
        """q_i f32[..., N], state f32[..., S] -> Q_tot f32[..., 1]."""
        num_agents = q_i.shape[-1]
        e, h = self.embed_dim, self.hypernet_embed_dim

        def hypernet(out: int, name: str) -> jax.Array:
            x = nn.relu(Linear(h, name=f"{name}_0")(state))
            return Linear(out, name=f"{name}_1")(x)

        w_1 = jnp.abs(hypernet(num_agents * e, "hyper_w_1"))
        w_1 = w_1.reshape(*w_1.shape[:-1], num_agents, e)
        b_1 = Linear(e, name="hyper_b_1")(state)
        w_final = jnp.abs(hypernet(e, "hyper_w_final"))
        v = Linear(1, name="v_1")(nn.relu(Linear(e, name="v_0")(state)))
        hidden = nn.elu(jnp.einsum("...n,...ne->...e", q_i, w_1) + b_1)
        return jnp.sum(hidden * w_final, axis=-1, keepdims=True) + v


#: mixers by name; a learner is built from one of these (see marta.learners.LEARNERS)
MIXERS: dict[str, type[nn.Module]] = {}


def register_mixer(name: str, mixer: type[nn.Module]) -> None:
    """Registers a mixer class under `name` (a plugin's way in: docs/extending.md).

    The class maps ``(q_i f32[..., N], state f32[..., S])`` to ``f32[..., K]`` (K = 1 for a
    team value) and is built without arguments (its fields' defaults), except ``qmix``,
    which takes the learner config's embedding widths.

    Raises:
        ValueError: a duplicate name, or a `mixer` that is not a flax module class.
    """
    if name in MIXERS:
        raise ValueError(f"mixer {name!r} is already registered")
    if not (isinstance(mixer, type) and issubclass(mixer, nn.Module)):
        raise ValueError(f"mixer {name!r} must be a flax.linen.Module class; got {mixer!r}")
    MIXERS[name] = mixer


register_mixer("none", NoMixer)
register_mixer("sum", SumMixer)
register_mixer("qmix", MonotonicMixer)
