"""The ``[sentinel]`` progress marker: one JSON line per report (stdlib only; runs in the kernel).

Format (version 1), one line on stdout::

    [sentinel] {"step": 1200, "total": 5000, "loss": 0.31}

The prefix ``[sentinel] `` (with one space) starts the line and is followed by one JSON object written
by ``json.dumps`` with its default separators (``", "`` and ``": "``), keys in call order: ``step``
first, then ``total`` when known, then the metrics. ``step`` is a non-negative int. Metric values are
numbers, strings, booleans or null; non-finite floats are written as the strings ``"nan"``,
``"inf"`` and ``"-inf"`` so that any strict JSON parser reads the line.
"""

from __future__ import annotations

import json
import math
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

REPORT_PREFIX = "[sentinel] "


def _plain(name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    item = getattr(value, "item", None)  # a 0-d tensor or NumPy scalar
    if callable(item):
        try:
            return _plain(name, item())
        except (ValueError, RuntimeError) as exc:
            raise TypeError(f"report({name}=...) needs a single number, got {type(value).__name__}") from exc
    raise TypeError(
        f"report({name}=...) takes numbers, strings, booleans or None, got {type(value).__name__}"
    )


def format_report(step: int, total: int | None = None, **metrics: Any) -> str:
    """The marker line `report()` prints, without the newline; see the module docstring for the format.

    Raises:
        TypeError: ``step``/``total`` is not an int, or a metric is not a number, string, bool or None.
        ValueError: ``step`` or ``total`` is negative.
    """
    for name, value in (("step", step), ("total", total)):
        if value is None and name == "total":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"report({name}=...) must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"report({name}=...) must not be negative, got {value}")
    record: dict[str, Any] = {"step": int(step)}
    if total is not None:
        record["total"] = int(total)
    for name, value in metrics.items():
        record[name] = _plain(name, value)
    return REPORT_PREFIX + json.dumps(record, allow_nan=False)


def report(step: int, total: int | None = None, *, file: TextIO | None = None, **metrics: Any) -> None:
    """Print one progress marker line that the sentinel daemon reads from the cell output.

    Example: ``report(step=1200, total=5000, loss=0.31)`` prints
    ``[sentinel] {"step": 1200, "total": 5000, "loss": 0.31}``. Tensors and NumPy scalars are turned
    into numbers with ``.item()``. The line is flushed at once so the daemon sees it live.

    Args:
        step: Steps done so far (the global step), a non-negative int.
        total: Steps the run will take, when known.
        file: Where to print; standard output by default.
        **metrics: Numbers to show next to the progress, e.g. ``loss=0.31, lr=3e-4``.

    Raises:
        TypeError: A value is not an int (step/total) or not a number, string, bool or None.
        ValueError: ``step`` or ``total`` is negative.
    """
    line = format_report(step, total, **metrics)
    out = sys.stdout if file is None else file
    out.write(line + "\n")
    out.flush()


def finished(step: int, total: int | None = None, *, file: TextIO | None = None, **metrics: Any) -> None:
    """Say the run is done: one progress line with ``"finished": true`` (the daemon then lets the runtime go).

    Use it when the run ends before ``step`` reaches ``total`` (early stopping) or has no total;
    a last ``report(step=total, total=total)`` says the same. Arguments as for :func:`report`.
    """
    report(step, total, file=file, **metrics, finished=True)


def parse_report(line: str) -> dict[str, Any] | None:
    """Read a ``[sentinel]`` marker line; None when the line is not a well-formed marker.

    Carriage returns (progress bars redrawing one terminal line) are handled: the last ``\\r``
    segment that holds a marker wins. Surrounding whitespace is ignored.

    Returns:
        The JSON object as a dict with an int ``"step"`` (and ``"total"`` when it was given), or None.
    """
    for segment in reversed(line.split("\r")):
        text = segment.strip()
        if not text.startswith(REPORT_PREFIX.rstrip()):
            continue
        try:
            record = json.loads(text[len(REPORT_PREFIX.rstrip()) :])
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        step, total = record.get("step"), record.get("total")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            continue
        if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
            continue
        return record
    return None
