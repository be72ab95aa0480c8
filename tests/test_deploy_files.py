"""The deployment files say what the code does: every setting in the env example, the image's contract."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from sentinel.config import Settings

REPO = Path(__file__).resolve().parents[1]


def _env_names(model: type[BaseModel], prefix: str = "SENTINEL_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(_env_names(annotation, f"{prefix}{name.upper()}__"))
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_env_example_lists_every_setting() -> None:
    """docker/sentinel.env.example names each SENTINEL_* variable Settings reads, and no other."""
    text = (REPO / "docker" / "sentinel.env.example").read_text()
    listed = set(re.findall(r"^#? ?(SENTINEL_[A-Z_]+)=", text, flags=re.MULTILINE))
    expected = set(_env_names(Settings))
    assert not expected - listed, f"settings missing from the env example: {sorted(expected - listed)}"
    assert not listed - expected, f"the env example names unknown settings: {sorted(listed - expected)}"


def test_dockerfile_runs_sentinel_in_exec_form_behind_tini() -> None:
    """A shell between tini and sentinel would swallow SIGTERM: `docker stop` would end in SIGKILL."""
    text = (REPO / "docker" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"]' in text
    assert 'CMD ["sentinel", "run"]' in text
    assert re.search(r"^USER sentinel$", text, flags=re.MULTILINE)
    assert "# syntax=" not in text and "<<EOF" not in text, "the 20.10 builder rejects both"
