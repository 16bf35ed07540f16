"""Checking model names and reading version references (``3``, ``"3"``, ``"latest"``)."""

from __future__ import annotations

import re

from deepad.registry.errors import RegistryError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: the named references ``version()`` accepts besides a number
NAMED_REFS = ("production", "latest")


def check_name(name: object) -> str:
    """``name`` if it is a valid model name (it becomes a folder name), else RegistryError."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def read_ref(ref: int | str | None) -> int | str | None:
    """A version reference as an int, ``"production"``, ``"latest"`` or None (the default)."""
    if ref is None:
        return None
    if isinstance(ref, bool):
        raise RegistryError(f"invalid version {ref!r}: give a number, 'production' or 'latest'")
    if isinstance(ref, int):
        if ref < 1:
            raise RegistryError(f"invalid version {ref}: versions start at 1")
        return ref
    if isinstance(ref, str):
        text = ref.strip().lower().removeprefix("v")
        if text.isdigit() and text.isascii():
            return read_ref(int(text))
        if text in NAMED_REFS:
            return text
    raise RegistryError(f"invalid version {ref!r}: give a number, 'production' or 'latest'")


def split_ref(text: str) -> tuple[str, int | str | None]:
    """``"fraud:3"`` -> ``("fraud", 3)``; ``"fraud"`` -> ``("fraud", None)``."""
    name, sep, ref = text.rpartition(":")
    if not sep:
        return check_name(text), None
    return check_name(name), read_ref(ref)
