"""Notebook web UIs the daemon can drive: the interface (``base``), Colab, and an in-package fake for tests.

``--frontend colab`` treats every page as Colab; ``--frontend auto`` (the default) asks each known
frontend whether it recognises the page by its DOM, never by host name, so the emulator's
``http://127.0.0.1`` pages, colab.research.google.com and colab.google.com are treated alike. A
JupyterLab frontend would be one more module here and one more entry in :data:`FRONTENDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sentinel.errors import ConfigError, FrontendError
from sentinel.frontends.base import (
    ALLOWED_ACTIONS,
    HUMAN_ONLY,
    Action,
    Connection,
    Dialog,
    DialogReport,
    Frontend,
    LayerVerdict,
    Observation,
    PageProbe,
    SelectorReport,
    Signal,
    SignalHandler,
    SignalKind,
)

if TYPE_CHECKING:
    from playwright.async_api import Page


def _colab(selectors: Path | None) -> Frontend:
    from sentinel.frontends.colab import ColabFrontend, load_selectors

    return ColabFrontend(load_selectors(selectors))


def _jupyterlab(selectors: Path | None) -> Frontend:
    from sentinel.frontends.jupyterlab import JupyterLabFrontend, load_selectors

    return JupyterLabFrontend(load_selectors(selectors))


FrontendKind = Literal["auto", "colab", "jupyterlab"]

# Every frontend by name, in the order ``auto`` tries them. Each factory takes the --selectors file.
FRONTENDS: dict[str, Callable[[Path | None], Frontend]] = {"colab": _colab, "jupyterlab": _jupyterlab}


def make_frontends(kind: FrontendKind, selectors: Path | None = None) -> tuple[Frontend, ...]:
    """The frontends to use for ``--frontend kind``: one for a name, all of them for ``auto``.

    Raises:
        ConfigError: the selectors file is unreadable, or names a key the frontend (for ``auto``: every
            frontend) does not have.
    """
    if kind != "auto":
        return (FRONTENDS[kind](selectors),)
    if selectors is None:
        return tuple(factory(None) for factory in FRONTENDS.values())
    # A selectors file is written for one frontend (its keys are that frontend's): the frontends it
    # does not fit keep their defaults; one that fits none is an error (the first frontend's).
    built: list[Frontend] = []
    errors: list[ConfigError] = []
    for factory in FRONTENDS.values():
        try:
            built.append(factory(selectors))
        except ConfigError as exc:
            errors.append(exc)
            built.append(factory(None))
    if len(errors) == len(FRONTENDS):
        raise errors[0]
    return tuple(built)


async def detect_frontend(
    page: Page, candidates: Sequence[Frontend], kind: FrontendKind = "auto"
) -> Frontend:
    """The frontend for ``page``: for ``auto`` the first candidate that recognises it by its DOM, else the named one.

    Raises:
        FrontendError: with ``auto``, no candidate recognises the page (names the URL and the candidates).
    """
    if kind != "auto":
        return next(f for f in candidates if f.name == kind)
    for frontend in candidates:
        if await frontend.matches(page):
            return frontend
    names = ", ".join(f.name for f in candidates) or "none"
    raise FrontendError(f"{page.url} does not look like a notebook sentinel can drive (tried: {names})")


__all__ = [
    "ALLOWED_ACTIONS",
    "FRONTENDS",
    "HUMAN_ONLY",
    "Action",
    "Connection",
    "Dialog",
    "DialogReport",
    "Frontend",
    "FrontendKind",
    "LayerVerdict",
    "Observation",
    "PageProbe",
    "SelectorReport",
    "Signal",
    "SignalHandler",
    "SignalKind",
    "detect_frontend",
    "make_frontends",
]
