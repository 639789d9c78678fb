"""marta: fault-tolerant multi-agent reinforcement learning (MARTA) in pure JAX."""

__version__ = "0.1.0"
