"""The ``[sentinel]`` progress marker: exact format, parse_report, refused values."""

from __future__ import annotations

import io
import json
from types import ModuleType
from typing import Any

import pytest

from tests.notebook.helpers import needs_torch


class TestFormat:
    def test_exact_line(self, kit: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
        """The documented example, byte for byte."""
        kit.report(step=1200, total=5000, loss=0.31)
        assert capsys.readouterr().out == '[sentinel] {"step": 1200, "total": 5000, "loss": 0.31}\n'

    def test_total_is_optional_and_order_is_kept(self, kit: ModuleType) -> None:
        line = kit.format_report(3, lr=1e-3, acc=0.5, phase="warmup", done=False, best=None)
        assert (
            line
            == '[sentinel] {"step": 3, "lr": 0.001, "acc": 0.5, "phase": "warmup", "done": false, "best": null}'
        )

    def test_non_finite_floats_stay_strict_json(self, kit: ModuleType) -> None:
        line = kit.format_report(1, loss=float("nan"), grad=float("inf"), low=float("-inf"))
        record = json.loads(line.removeprefix(kit.REPORT_PREFIX), parse_constant=pytest.fail)
        assert record == {"step": 1, "loss": "nan", "grad": "inf", "low": "-inf"}

    def test_one_line_even_with_newlines_in_strings(self, kit: ModuleType) -> None:
        assert "\n" not in kit.format_report(1, note="a\nb")

    def test_numpy_scalars(self, kit: ModuleType) -> None:
        import numpy as np

        assert kit.parse_report(kit.format_report(1, loss=np.float32(0.5), n=np.int64(3))) == {
            "step": 1,
            "loss": 0.5,
            "n": 3,
        }

    @needs_torch
    def test_tensors(self, kit: ModuleType) -> None:
        import torch

        assert kit.parse_report(kit.format_report(1, loss=torch.tensor(0.25))) == {"step": 1, "loss": 0.25}
        with pytest.raises(TypeError, match="single number"):
            kit.format_report(1, loss=torch.ones(3))

    def test_writes_to_a_given_file_and_flushes(self, kit: ModuleType) -> None:
        class Recorder(io.StringIO):
            flushed = 0

            def flush(self) -> None:
                Recorder.flushed += 1
                super().flush()

        out = Recorder()
        kit.report(step=5, total=10, file=out)
        assert out.getvalue() == '[sentinel] {"step": 5, "total": 10}\n'
        assert Recorder.flushed >= 1

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"step": -1}, ValueError),
            ({"step": 1.5}, TypeError),
            ({"step": True}, TypeError),
            ({"step": "3"}, TypeError),
            ({"step": 1, "total": -5}, ValueError),
            ({"step": 1, "total": 2.0}, TypeError),
            ({"step": 1, "loss": [1, 2]}, TypeError),
            ({"step": 1, "loss": object()}, TypeError),
        ],
    )
    def test_refused_values(self, kit: ModuleType, kwargs: dict[str, Any], error: type[Exception]) -> None:
        with pytest.raises(error):
            kit.report(**kwargs)


class TestParse:
    def test_round_trip(self, kit: ModuleType) -> None:
        line = kit.format_report(1200, 5000, loss=0.31)
        assert kit.parse_report(line) == {"step": 1200, "total": 5000, "loss": 0.31}

    def test_whitespace_and_carriage_returns(self, kit: ModuleType) -> None:
        """A progress bar redrawing the line with \\r: the last marker segment wins."""
        text = '  10%|#  | 1/10\r[sentinel] {"step": 1}\r[sentinel] {"step": 2, "total": 9}\r 20%|## \n'
        assert kit.parse_report(text) == {"step": 2, "total": 9}

    def test_compact_json_is_accepted(self, kit: ModuleType) -> None:
        assert kit.parse_report('[sentinel] {"step":4,"total":8}') == {"step": 4, "total": 8}

    @pytest.mark.parametrize(
        "line",
        [
            "",
            "step 5/10",
            "[sentinel]",
            "[sentinel] not json",
            "[sentinel] [1, 2]",
            '[sentinel] {"total": 5}',
            '[sentinel] {"step": -1}',
            '[sentinel] {"step": "5"}',
            '[sentinel] {"step": true}',
            '[sentinel] {"step": 5, "total": "x"}',
            'x [sentinel] {"step": 5}',
            '[sentinel]{"step": 5} trailing',
        ],
    )
    def test_not_a_marker(self, kit: ModuleType, line: str) -> None:
        assert kit.parse_report(line) is None
