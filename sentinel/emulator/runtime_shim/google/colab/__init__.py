"""The emulator's stand-in for Colab's ``google.colab`` package: only ``drive`` is provided."""

from . import drive

__all__ = ["drive"]
