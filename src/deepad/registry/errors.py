"""The registry's one error type, with two refinements a service can map to HTTP codes."""

from __future__ import annotations


class RegistryError(ValueError):
    """Bad input to the registry: a bad name, an unknown model or version, a bundle that
    is not one, a database that cannot be reached. A ``ValueError``, so ``deepad``'s CLI
    prints it as one ``deepad: error: ...`` line."""


class RegistryNotFound(RegistryError):
    """The model, version or stage asked for does not exist (a service's 404)."""


class RegistryUnavailable(RegistryError):
    """The registry database cannot be reached or answered with an error (a service's 503)."""
