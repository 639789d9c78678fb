"""Checkpoints of the full (seed-vmapped) training state, written atomically.

A checkpoint is two files in ``DIR/checkpoints/``:

* ``state-<segments>.npz``: every leaf of the ``TrainState`` pytree (all seeds stacked on the
  leading axis), stored as ``leaf_00000``, ``leaf_00001``, ... in ``jax.tree`` flattening order.
  PRNG-key leaves are stored as their raw key data, dtypes NumPy cannot store natively
  (bfloat16, ...) as unsigned integers of the same width.
* ``latest.json``: the metadata and the commit record, naming the ``.npz`` it belongs to, the
  resolved config, the marta, JAX and jaxlib versions, `SCHEMA_VERSION`, the number of finished
  segments and each leaf's path, shape and dtype.

A leaf can be left out (`save_checkpoint`'s ``omit``): its path, shape and dtype are recorded
with ``"omitted": true`` and loading fills it with zeros. The runner leaves out the replay
buffers of a finished run's last checkpoint (``keep_final_buffers``, docs/running.md): they are
most of its size (about 2.5 GB for a 3-seed Traffic Junction run at the paper's horizon) and
nothing that reads a finished run (``marta eval``, the scorecard, the activation map) uses them.

Saving writes the ``.npz`` first and then replaces ``latest.json``, each through a temporary
file, ``fsync`` and ``os.replace``; only then are older ``.npz`` files deleted. Whenever the
process dies, ``latest.json`` therefore names a complete state file that matches it.

Loading needs a template of the state (``jax.eval_shape`` of the vmapped ``init``, so nothing
is compiled); every leaf's path, shape and dtype is checked against it before anything is
returned, so a checkpoint from another config or code version is refused with a clear error.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

import marta
from marta.experiments.config import software_versions
from marta.experiments.io import atomic_write_text, atomic_write_with

#: bump when the on-disk layout changes; checkpoints of another schema are refused
SCHEMA_VERSION = 1
METADATA_FILE = "latest.json"
#: a leaf's key path in a pytree, as `jax.tree_util.tree_flatten_with_path` gives it
KeyPath = tuple[Any, ...]


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class CheckpointInfo:
    """What `latest.json` says about the newest checkpoint.

    Attributes:
        segments_done: number of finished training segments the state includes.
        env_steps: environment steps per seed at that point (from the last metrics), or -1.
        config: the resolved experiment config as a plain dict.
        marta_version: version of marta that wrote it.
        software: ``marta X (jax Y, jaxlib Z)`` that wrote it (`software_versions`), or "?"
            for checkpoints written before it was recorded.
        state_file: name of the ``.npz`` holding the state.
        omitted: paths of the leaves left out of the state file (loaded as zeros).
    """

    segments_done: int
    env_steps: int
    config: dict[str, Any]
    marta_version: str
    state_file: str
    software: str = "?"
    omitted: tuple[str, ...] = ()


def _is_key(dtype: Any) -> bool:
    return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _layout(leaf: Any) -> dict[str, Any]:
    """A leaf's shape and dtype as recorded in ``latest.json``."""
    return {"shape": list(np.shape(leaf)), "dtype": str(leaf.dtype)}


def _to_storable(leaf: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """A NumPy array `np.savez` can store, plus the metadata needed to restore the leaf."""
    entry = _layout(leaf)
    if _is_key(leaf.dtype):
        entry["key_impl"] = str(jax.random.key_impl(leaf))
        return np.asarray(jax.random.key_data(leaf)), entry
    array = np.asarray(leaf)
    if array.dtype.kind == "V":  # ml_dtypes such as bfloat16: store the raw bits
        array = array.view(f"u{array.dtype.itemsize}")
        entry["stored_as"] = str(array.dtype)
    return array, entry


def save_checkpoint(
    directory: str | Path,
    state: Any,
    *,
    segments_done: int,
    config: dict[str, Any],
    env_steps: int = -1,
    omit: Callable[[KeyPath], bool] | None = None,
) -> Path:
    """Saves `state` as the latest checkpoint in `directory` (created if needed).

    Args:
        directory: the run's ``checkpoints/`` directory.
        state: the full training-state pytree (any leaves; typically [num_seeds, ...]).
        segments_done: finished segments included in `state`.
        config: resolved experiment config (plain dict) recorded in the metadata.
        env_steps: environment steps per seed at this point (for humans; -1 if unknown).
        omit: leaves (by key path) to leave out of the state file; loading fills them with
            zeros. PRNG-key leaves cannot be left out.

    Returns:
        Path of the metadata file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths_and_leaves, _ = jax.tree_util.tree_flatten_with_path(state)
    arrays, leaves_meta = {}, []
    for index, (path, leaf) in enumerate(paths_and_leaves):
        name = jax.tree_util.keystr(path)
        if omit is not None and omit(path):
            if _is_key(leaf.dtype):
                raise ValueError(f"checkpoint leaf {name} is a PRNG key; it cannot be omitted")
            leaves_meta.append({"path": name, **_layout(leaf), "omitted": True})
            continue
        array, entry = _to_storable(leaf)
        arrays[f"leaf_{index:05d}"] = array
        leaves_meta.append({"path": name, **entry})
    state_file = f"state-{segments_done:06d}.npz"
    atomic_write_with(directory / state_file, lambda f: np.savez(f, **arrays))
    metadata = {
        "schema_version": SCHEMA_VERSION,
        "marta_version": marta.__version__,
        "software": software_versions(),
        "segments_done": segments_done,
        "env_steps": int(env_steps),
        "state_file": state_file,
        "config": config,
        "leaves": leaves_meta,
    }
    meta_path = directory / METADATA_FILE
    atomic_write_text(meta_path, json.dumps(metadata, indent=1) + "\n")
    for old in directory.glob("state-*.npz"):
        if old.name != state_file:
            old.unlink(missing_ok=True)
    return meta_path


def read_checkpoint_info(directory: str | Path) -> CheckpointInfo | None:
    """The latest checkpoint's metadata, or None if `directory` holds no checkpoint.

    Raises:
        ValueError: unreadable metadata, another schema version, or a missing state file.
    """
    meta = _read_metadata(Path(directory))
    return None if meta is None else _info(meta)


def _info(meta: dict[str, Any]) -> CheckpointInfo:
    return CheckpointInfo(
        segments_done=int(meta["segments_done"]),
        env_steps=int(meta.get("env_steps", -1)),
        config=meta["config"],
        marta_version=str(meta.get("marta_version", "?")),
        state_file=str(meta["state_file"]),
        software=str(meta.get("software", "?")),
        omitted=tuple(e["path"] for e in meta["leaves"] if e.get("omitted")),
    )


def _read_metadata(directory: Path) -> dict[str, Any] | None:
    meta_path = directory / METADATA_FILE
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read checkpoint metadata {meta_path}: {err}") from None
    missing = {"schema_version", "segments_done", "state_file", "config", "leaves"} - set(meta)
    if missing:
        raise ValueError(f"checkpoint metadata {meta_path} lacks {sorted(missing)}")
    if meta["schema_version"] != SCHEMA_VERSION:
        raise ValueError(
            f"checkpoint {meta_path} has schema version {meta['schema_version']}, this marta "
            f"({marta.__version__}) reads version {SCHEMA_VERSION}"
        )
    if not (directory / meta["state_file"]).exists():
        raise ValueError(f"checkpoint state file {directory / meta['state_file']} is missing")
    return meta


def load_checkpoint(directory: str | Path, template: Any) -> tuple[Any, CheckpointInfo]:
    """Loads the latest checkpoint into a pytree shaped like `template`.

    Args:
        directory: the run's ``checkpoints/`` directory.
        template: pytree of arrays or ``jax.ShapeDtypeStruct`` with the expected structure,
            e.g. ``jax.eval_shape(jax.vmap(trainer.init), keys)``.

    Returns:
        (state as device arrays, checkpoint info); leaves saved as omitted are zeros.

    Raises:
        ValueError: no checkpoint, or one whose leaves do not match `template` (the message
            names the first mismatching leaf).
    """
    directory = Path(directory)
    meta = _read_metadata(directory)
    if meta is None:
        raise ValueError(f"no checkpoint in {directory}")
    paths_and_leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    stored = meta["leaves"]
    if len(stored) != len(paths_and_leaves):
        raise ValueError(
            f"checkpoint in {directory} has {len(stored)} state leaves, this trainer's state "
            f"has {len(paths_and_leaves)}; it was written by a different config or code version"
        )
    leaves = []
    with np.load(directory / meta["state_file"], allow_pickle=False) as data:
        for index, ((path, expected), entry) in enumerate(
            zip(paths_and_leaves, stored, strict=True)
        ):
            name = jax.tree_util.keystr(path)
            want = (name, list(expected.shape), str(expected.dtype))
            got = (entry["path"], list(entry["shape"]), entry["dtype"])
            if want != got:
                raise ValueError(
                    f"checkpoint leaf {got[0]} {got[2]}{got[1]} does not match the trainer's "
                    f"{want[0]} {want[2]}{want[1]}; it was written by a different config or "
                    "code version"
                )
            if entry.get("omitted"):
                leaves.append(jax.numpy.zeros(expected.shape, expected.dtype))
                continue
            array = data[f"leaf_{index:05d}"]
            if "key_impl" in entry:
                leaves.append(jax.random.wrap_key_data(array, impl=entry["key_impl"]))
            else:
                if "stored_as" in entry:
                    array = array.view(expected.dtype)
                leaves.append(jax.device_put(array))
    return jax.tree_util.tree_unflatten(treedef, leaves), _info(meta)
