"""sentinel: keeps Google Colab training runs alive and brings them back when the runtime is lost."""

__version__ = "0.1.0"

__all__ = ["__version__"]
