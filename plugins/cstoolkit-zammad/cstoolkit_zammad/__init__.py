"""cstoolkit-zammad: the Zammad backend for cstoolkit (``plugin = "zammad"``) and the Zammad
knowledge base as a knowledge source (``plugin = "zammad_kb"``, plugin API 1.2)."""

from __future__ import annotations

from typing import Any

from cstoolkit.hookspecs import hookimpl
from cstoolkit_zammad.backend import ZammadBackend
from cstoolkit_zammad.knowledge import ZammadKbSource

__all__ = ["ZammadBackend", "ZammadKbSource", "register_backends", "register_knowledge_sources"]


@hookimpl
def register_backends(register: Any) -> None:
    register(ZammadBackend)


@hookimpl
def register_knowledge_sources(register: Any) -> None:
    register(ZammadKbSource)
