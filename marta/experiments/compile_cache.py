"""JAX's persistent compilation cache, as `marta train`, `marta eval` and `reproduce` use it.

Compiling a training program takes most of a short run on CPU (a MARTA-QMIX run on LBF: init
~17 s, segment ~29 s, scorecard ~9 s on this project's machine). XLA's compiled programs
depend on the config's values, not on the seed, so a resumed run, a rerun and a run with the
same config and other seeds can load them from disk instead (measured: 64 s -> 14 s for a
2,000-step MARTA run). Entries are keyed by the program, the JAX/XLA versions and the XLA
flags, so a stale entry is never used.

Where: ``--compile-cache DIR`` of a command, else ``$MARTA_COMPILE_CACHE``, else JAX's own
``$JAX_COMPILATION_CACHE_DIR``, else ``$XDG_CACHE_HOME/marta/jax`` (``~/.cache/marta/jax``);
``none`` turns it off. The cache is
bounded (least recently used entries are evicted beyond `MAX_BYTES`), and its reads and
writes hold a file lock, so concurrent processes can share one directory.

JAX writes an entry and then its access-time file (``<key>-atime``); a process killed between
the two (Ctrl-C, ``kill -9``, a stopped `reproduce` worker) leaves an entry without one, and
from then on every write to that directory fails with a warning (JAX's eviction reads the
access time of every entry), so the cache silently stops growing. `enable_compile_cache`
repairs such entries first (`repair_orphans`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import filelock

#: environment variable naming the default cache directory (or ``none``)
ENV_VAR = "MARTA_COMPILE_CACHE"
#: cache size beyond which the least recently used entries are evicted
MAX_BYTES = 4 * 2**30
#: programs that compile faster than this are not worth a disk entry
MIN_COMPILE_SECONDS = 1.0
#: file name suffixes of a cache entry and of its access time (jax/_src/lru_cache.py)
_ENTRY, _ATIME = "-cache", "-atime"


def resolve_cache_dir(value: str | os.PathLike | None = None) -> Path | None:
    """The cache directory for a command's ``--compile-cache`` value (None: the default).

    Returns:
        The directory, or None when the value (or ``$MARTA_COMPILE_CACHE``) is ``none``.
    """
    if value is None:
        value = os.environ.get(ENV_VAR, os.environ.get("JAX_COMPILATION_CACHE_DIR"))
    if value is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "marta" / "jax"
    if str(value).strip().lower() in ("none", "off", ""):
        return None
    return Path(value).expanduser()


def enable_compile_cache(cache_dir: str | os.PathLike | None) -> None:
    """Points this process's JAX at the persistent cache in `cache_dir` (None: leaves it as is).

    A later call with another directory applies to the programs compiled after it.
    """
    if cache_dir is None:
        return
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    repair_orphans(Path(cache_dir))
    if jax.config.jax_compilation_cache_dir != str(cache_dir):
        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        compilation_cache.reset_cache()  # JAX opens its cache once, at the first compilation
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)


def repair_orphans(cache_dir: Path) -> list[str]:
    """Gives every entry of `cache_dir` that lacks its access-time file one (the entry's mtime).

    Takes the cache's own lock (``.lockfile``, as JAX's reads and writes do) only when some
    entry needs it. Best effort, like JAX's own cache: a directory it cannot lock or write
    (read-only, say) gets a warning, not an error. Returns the keys it repaired; a missing
    directory has none.
    """
    if not cache_dir.is_dir() or not _orphans(cache_dir):
        return []
    repaired = []
    try:
        with filelock.FileLock(cache_dir / ".lockfile", timeout=10):
            for key in _orphans(cache_dir):  # again, under the lock
                entry = cache_dir / f"{key}{_ENTRY}"
                mtime = entry.stat().st_mtime_ns
                (cache_dir / f"{key}{_ATIME}").write_bytes(mtime.to_bytes(8, "little"))
                repaired.append(key)
    except OSError as err:  # includes filelock.Timeout
        warnings.warn(f"could not repair the compile cache {cache_dir}: {err}", stacklevel=2)
    return repaired


def _orphans(cache_dir: Path) -> list[str]:
    """Keys of the entries of `cache_dir` that have no access-time file, sorted."""
    keys = (entry.name.removesuffix(_ENTRY) for entry in cache_dir.glob(f"*{_ENTRY}"))
    return sorted(key for key in keys if not (cache_dir / f"{key}{_ATIME}").exists())
