"""Opening the store a configuration names (``[store]``: a SQLite file or PostgreSQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cstoolkit import secrets
from cstoolkit.store import Store, open_store

if TYPE_CHECKING:
    from cstoolkit.config import Config


def open_configured(config: Config, *, migrate: bool = True) -> Store:
    """Open the configured store (and by default create and migrate it)."""
    settings = config.store
    if settings.url is None:
        return open_store(settings.path, migrate=migrate)
    password = settings.password
    if password is not None:
        password = secrets.resolve(password, field="store.password", env=config.env)
    return open_store(settings.url, migrate=migrate, schema=settings.schema, password=password)
