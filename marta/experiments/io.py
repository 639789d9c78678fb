"""Crash-safe file writes for run directories.

Every file a run writes is either replaced atomically (write a temporary file in the same
directory, flush, ``fsync``, ``os.replace``, ``fsync`` the directory) or, for the per-seed
``metrics.jsonl`` logs, appended line by line and cut back to a known number of complete lines
when a run resumes. A reader therefore sees either the old or the new version of a file, never
half of one, and a ``kill -9`` at any moment leaves a run directory that `--resume` can continue.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any


def fsync_dir(path: str | os.PathLike) -> None:
    """Flushes a directory entry (a rename inside it) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Opens a temporary file that replaces `path` atomically when the block exits cleanly.

    If the block raises, the temporary file is removed and `path` is left untouched.

    Args:
        path: destination file; its directory must exist.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replaces `path` with `data` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Replaces `path` with `text` (UTF-8) atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_with(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Replaces `path` atomically with whatever `write(binary_file)` writes."""
    with atomic_open(path, "wb") as f:
        write(f)


def check_writable(directory: str | os.PathLike) -> Path:
    """Creates `directory` (and parents) and proves a file can be written and renamed in it.

    Raises:
        ValueError: the directory cannot be created or written, with the OS reason.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(directory / ".marta-write-test", b"ok")
        os.unlink(directory / ".marta-write-test")
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(f"cannot write to output directory {str(directory)!r}: {reason}") from None
    return directory


# ---------------------------------------------------------------------------------- JSONL
def json_line(record: dict[str, Any]) -> str:
    """One JSON object on one line (keys in insertion order, NaN/inf written as in Python)."""
    return json.dumps(record, separators=(", ", ": ")) + "\n"


def append_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> None:
    """Appends one line per record and forces them to disk before returning."""
    text = "".join(json_line(r) for r in records)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads the complete lines of a JSONL file; a torn last line (no newline) is ignored.

    Raises:
        ValueError: a complete line is not a JSON object (names the file and line number).
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(_complete_lines(path.read_bytes()), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {line[:40]!r}")
        records.append(record)
    return records


def count_jsonl(path: str | os.PathLike) -> int:
    """Number of complete (newline-terminated) lines; 0 for a missing file."""
    path = Path(path)
    return len(_complete_lines(path.read_bytes())) if path.exists() else 0


def truncate_jsonl(path: str | os.PathLike, num_lines: int) -> None:
    """Cuts a JSONL file back to its first `num_lines` complete lines, atomically.

    Used on resume: lines written after the last checkpoint (and a torn last line left by a
    kill) are dropped, so the resumed run appends exactly the segments it recomputes. A
    missing file counts as empty.

    Raises:
        ValueError: the file holds fewer than `num_lines` complete lines (it cannot be made
            consistent with the checkpoint).
    """
    if num_lines < 0:
        raise ValueError(f"num_lines must be >= 0, got {num_lines}")
    path = Path(path)
    lines = _complete_lines(path.read_bytes()) if path.exists() else []
    if len(lines) < num_lines:
        raise ValueError(
            f"{path} has {len(lines)} complete lines but the checkpoint expects {num_lines}; "
            "the run directory is inconsistent"
        )
    if path.exists() or num_lines:
        atomic_write_bytes(path, b"".join(line + b"\n" for line in lines[:num_lines]))


def _complete_lines(data: bytes) -> list[bytes]:
    """The newline-terminated lines of `data`, without their newlines."""
    if not data:
        return []
    lines = data.split(b"\n")
    return lines[:-1]  # the piece after the last newline is empty or torn
