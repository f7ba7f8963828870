"""cstoolkit-zammad: the Zammad backend for cstoolkit (``plugin = "zammad"``)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_zammad.backend import ZammadBackend

__all__ = ["ZammadBackend", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(ZammadBackend)
