"""The MARTA paper's reported numbers (Table 2), shipped with the package.

``paper_table2.csv`` is Table 2 of the paper ("The improvements of final return and AUC (±
std) over baselines across 3 seeds", Supplementary Material) as published: one row per
(env, method), methods ``<base>`` and ``marta-<base>``. The gain columns are empty for
baselines. A table2 preset names its row with ``paper_row: {env: ..., base: ...}``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
from importlib import resources

#: the CSV inside this package
TABLE2_FILE = "paper_table2.csv"


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class PaperResult:
    """One row of the paper's Table 2."""

    env: str
    """environment key (``traffic_junction``, ``lbf_5x5_1f``, ``mpe_simple_tag``)"""
    method: str
    """``<base>`` (the baseline) or ``marta-<base>``"""
    final_return_mean: float
    """final test return, mean over 3 seeds"""
    final_return_std: float
    """final test return, standard deviation over seeds"""
    final_gain_pct: float | None
    """gain of MARTA over the baseline in final return, percent (None for baselines)"""
    auc_mean: float
    """area under the evaluation curve (return x env steps), mean over seeds"""
    auc_std: float
    """AUC standard deviation over seeds"""
    auc_gain_pct: float | None
    """gain of MARTA over the baseline in AUC, percent (None for baselines)"""


@functools.cache
def paper_table2() -> dict[tuple[str, str], PaperResult]:
    """The paper's Table 2 keyed by (env, method)."""
    text = resources.files("marta.reproduce").joinpath(TABLE2_FILE).read_text(encoding="utf-8")
    rows = {}
    for row in csv.DictReader(io.StringIO(text)):
        result = PaperResult(
            env=row["env"],
            method=row["method"],
            final_return_mean=float(row["final_return_mean"]),
            final_return_std=float(row["final_return_std"]),
            final_gain_pct=_optional(row["final_gain_pct"]),
            auc_mean=float(row["auc_mean"]),
            auc_std=float(row["auc_std"]),
            auc_gain_pct=_optional(row["auc_gain_pct"]),
        )
        rows[result.env, result.method] = result
    return rows


def paper_pair(env: str, base: str) -> tuple[PaperResult, PaperResult]:
    """(baseline row, MARTA row) of Table 2 for a base learner in an environment.

    Raises:
        ValueError: the paper has no such row; names the valid (env, base) pairs.
    """
    table = paper_table2()
    pair = table.get((env, base)), table.get((env, f"marta-{base}"))
    if pair[0] is None or pair[1] is None:
        valid = sorted({f"{e}/{m}" for e, m in table if not m.startswith("marta-")})
        raise ValueError(
            f"paper_row {{env: {env}, base: {base}}} is not in the paper's Table 2; "
            f"valid env/base: {', '.join(valid)}"
        )
    return pair[0], pair[1]


def _optional(text: str) -> float | None:
    return float(text) if text.strip() else None
