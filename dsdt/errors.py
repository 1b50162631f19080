"""The dsdt exception hierarchy.

Every error dsdt raises derives from :class:`DsdtError`. Each class carries a
process exit code (used only by the CLI) and a one-line message that says what
went wrong and what to do about it. Builtin bases are mixed in where they fit,
so ``except LookupError`` keeps working for callers that expect it.
"""

from __future__ import annotations


class DsdtError(Exception):
    """Root of every dsdt error.

    Attributes:
        exit_code: The process exit code the CLI uses for this error.
    """

    exit_code: int = 1


class UsageError(DsdtError, ValueError):
    """Arguments that do not make sense together or are malformed."""

    exit_code = 2


class InvalidNameError(UsageError):
    """A bundle, context or ref name that dsdt cannot store safely."""


class NotARepositoryError(DsdtError):
    """No ``.dsdt`` directory was found."""

    exit_code = 3


class RepositoryExistsError(DsdtError):
    """``init`` was asked to create a repository where one already exists."""

    exit_code = 3


class FormatVersionError(DsdtError):
    """The repository's ``format_version`` is not one this dsdt understands."""

    exit_code = 3


class NotFoundError(DsdtError, LookupError):
    """Something that was asked for does not exist."""

    exit_code = 4


class ContextNotFoundError(NotFoundError):
    """A context name that does not exist."""


class BundleNotFoundError(NotFoundError):
    """No bundle matches the given name, uuid or tags."""


class ContextExistsError(DsdtError):
    """A context that was to be created already exists."""

    exit_code = 5


class BundleExistsError(DsdtError):
    """A bundle that was to be created (with a given uuid) already exists."""

    exit_code = 5


class UnsupportedValueError(DsdtError, TypeError):
    """A value dsdt cannot store losslessly."""

    exit_code = 6


class BundleStateError(DsdtError):
    """An operation not allowed in the bundle's state: open or closed, committed or not, or
    made in another clone (``rm`` of a committed bundle, ``push`` of an uncommitted one)."""

    exit_code = 7


class ConflictError(DsdtError):
    """A compare-and-swap lost: somebody else changed the ref first."""

    exit_code = 8


class BindingChangedError(ConflictError):
    """A context's remote binding is not the one this clone last used (``context.yaml``
    comes with git); ``dsdt remote`` accepts the new one."""


class LockError(DsdtError):
    """A lock could not be taken in time."""

    exit_code = 8


class CorruptObjectError(DsdtError):
    """A stored record, ref or blob does not match its hash or schema."""

    exit_code = 9


class PlantedPathError(CorruptObjectError):
    """A symlink, or a file of the wrong kind, where ``.dsdt`` keeps a directory or file of
    its own (git can carry one): removing it is the cure, not removing a bundle."""


class PathError(DsdtError, OSError):
    """A filesystem path given by the user is missing or not usable."""

    exit_code = 10


class RemoteError(DsdtError):
    """A remote (S3 bucket, directory) is missing, unreachable or refused a request."""

    exit_code = 11


class NoRemoteError(RemoteError, RuntimeError):
    """The context has no remote bound and the operation needs one (``dsdt remote`` binds one)."""


class ContainerError(DsdtError):
    """Building, pushing or running a pipeline image failed (engine, registry, job)."""

    exit_code = 12


class StillRunningError(ContainerError):
    """``run --wait`` gave up waiting: the job goes on (nothing is lost)."""

    exit_code = 15


class ApplyError(DsdtError):
    """A pipeline task failed (or luigi could not schedule the pipeline).

    Attributes:
        result: ``{'success': False, 'did_work': bool}`` as ``apply`` would have returned.
    """

    def __init__(self, message: str, result: dict[str, object]) -> None:
        super().__init__(message)
        self.result = result


class FileSystemError(DsdtError, OSError):
    """The operating system refused a file operation (disk full, permissions, I/O error)."""

    exit_code = 13


class DataUnreachableError(NotFoundError):
    """A bundle's data is neither in the local cache nor on its context's remote.

    The message names the bundle and who made it where, so the team knows whom
    to ask to push it.
    """

    exit_code = 14
