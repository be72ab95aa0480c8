"""Reading ``.ipynb`` files into the cells the notebook page shows."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sentinel.errors import UsageError

BUNDLED_NOTEBOOKS = Path(__file__).parent / "notebooks"
# Notebook names in URLs: a file stem, never a path.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class NotebookFormatError(UsageError):
    """Raised when a ``.ipynb`` file cannot be read as a notebook."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One notebook cell as the page needs it."""

    id: str
    type: Literal["code", "text"]
    source: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type, "source": self.source}


@dataclass(frozen=True, slots=True)
class Notebook:
    """A parsed notebook: its URL name, its title and its cells."""

    name: str
    title: str
    cells: tuple[Cell, ...]


def notebook_path(folder: Path, name: str) -> Path | None:
    """The file for notebook ``name`` in ``folder``, or None if the name is not a notebook there."""
    if not NAME_PATTERN.match(name):
        return None
    path = folder / f"{name}.ipynb"
    return path if path.is_file() else None


def list_notebooks(folder: Path) -> list[str]:
    """Names of the notebooks in ``folder`` (file stems), sorted."""
    return sorted(p.stem for p in folder.glob("*.ipynb") if NAME_PATTERN.match(p.stem))


def notebook_files(folder: Path) -> list[Path]:
    """The files :func:`list_notebooks` names, in the same order."""
    return [folder / f"{name}.ipynb" for name in list_notebooks(folder)]


def load_notebook(path: Path) -> Notebook:
    """Parse an nbformat-4 file into a :class:`Notebook`.

    Raises:
        NotebookFormatError: unreadable file, invalid JSON, or not a notebook.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookFormatError(f"{path}: cannot read notebook: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookFormatError(f"{path}: not a notebook (no 'cells' list)")
    cells: list[Cell] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["cells"]):
        if not isinstance(raw, dict):
            raise NotebookFormatError(f"{path}: cell {index} is not an object")
        cell_id = _cell_id(raw, path.stem, index)
        if cell_id in seen:  # ids address cells over the WebSocket; they must be unique
            cell_id = _derived_id(path.stem, index)
        seen.add(cell_id)
        kind: Literal["code", "text"] = "code" if raw.get("cell_type") == "code" else "text"
        cells.append(Cell(cell_id, kind, _source(raw.get("source", ""))))
    metadata = data.get("metadata")
    colab = metadata.get("colab") if isinstance(metadata, dict) else None
    title = colab.get("name") if isinstance(colab, dict) else None
    return Notebook(
        path.stem, title if isinstance(title, str) and title else f"{path.stem}.ipynb", tuple(cells)
    )


def _source(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value)


def _cell_id(raw: dict[str, Any], stem: str, index: int) -> str:
    metadata = raw.get("metadata")
    for candidate in (raw.get("id"), metadata.get("id") if isinstance(metadata, dict) else None):
        if isinstance(candidate, str) and re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", candidate):
            return candidate
    return _derived_id(stem, index)


def _derived_id(stem: str, index: int) -> str:
    # Stable across server restarts, Colab-like in shape (12 url-safe characters).
    digest = hashlib.sha256(f"{stem}/{index}".encode()).hexdigest()
    return "c" + digest[:11]
