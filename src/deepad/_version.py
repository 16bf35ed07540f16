"""The single source of deepad's version string."""

__version__ = "0.1.0"
