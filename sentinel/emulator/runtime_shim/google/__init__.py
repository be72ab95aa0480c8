"""Namespace for the emulator's ``google.colab`` shim (only on emulator kernels' PYTHONPATH)."""
