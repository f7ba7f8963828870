"""The one error hierarchy.

Every error the toolkit raises on purpose is a :class:`CstError`: it carries a one-line message
for the user and the process exit code documented in docs/exit-codes.md:

==  ==========================================================
0   ok (also a scheduled run that found nothing to do)
1   an operation failed (some sync / send / apply failed)
2   usage or configuration error (bad file, bad token, unknown plugin)
3   a query the user asked matched nothing
4   busy: another run holds the lock
70  internal error: a bug in cst or a plugin (EX_SOFTWARE); a crash report was written
==  ==========================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_MATCH = 3
EXIT_BUSY = 4
#: An unexpected exception: a bug, not a failed operation (``EX_SOFTWARE`` of sysexits.h).
EXIT_INTERNAL = 70


class CstError(Exception):
    """Base of every expected error; ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(CstError):
    """Bad command-line input."""

    exit_code = EXIT_USAGE


class ConfigError(CstError):
    """A problem in a configuration file; names the file, line and field where it can."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path:
            where = path
            if line:
                where += f":{line}"
                if column:
                    where += f":{column}"
            where += ": "
        if field:
            where += f"{field}: "
        super().__init__(where + message, hint=hint)
        self.path = path
        self.line = line
        self.column = column
        self.field = field
        self.bare_message = message


class AuthError(CstError):
    """A backend or channel refused our credentials (the secret itself is never shown)."""

    exit_code = EXIT_USAGE


class PluginError(CstError):
    """A plugin could not be loaded or is not usable (missing dependency, disabled)."""

    exit_code = EXIT_USAGE


class NotFoundError(CstError):
    """A ticket, instance or run the user named does not exist, or a query matched nothing."""

    exit_code = EXIT_NO_MATCH


class BusyError(CstError):
    """Another run holds the lock this one needs."""

    exit_code = EXIT_BUSY


class StoreError(CstError):
    """The store cannot be used (corrupt, newer schema than this program, unreachable)."""

    exit_code = EXIT_FAILED


class BackendError(CstError):
    """A backend call failed after its retries (network, 5xx, malformed payload)."""

    exit_code = EXIT_FAILED


class ConflictError(BackendError):
    """The ticket changed upstream since the change was planned; it was not overwritten."""


class CapabilityError(CstError):
    """The plugin does not declare the capability the operation needs (or is read-only)."""

    exit_code = EXIT_USAGE


class QueryError(UsageError):
    """A malformed ``--query`` or recipe condition; names the position of the problem."""
