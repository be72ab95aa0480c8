"""The emulator's stand-in for Colab's ``google.colab`` package: ``drive`` and ``auth``."""

from . import auth, drive

__all__ = ["auth", "drive"]
