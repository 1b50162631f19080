"""The remote operations of a Bundle: push, pull, localize, delocalize, rmr."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsdt.errors import UsageError
from dsdt.remote.state import require_reachable
from dsdt.repo import Repository


class RemoteMethods:
    """Bundle methods that talk to the remote bound to the bundle's context."""

    _repo: Repository
    uuid: str
    local_context: str
    _need_closed: Callable[[], Any]
    _forget_data: Callable[[], None]  # the data is read again on next access

    def push(self, delocalize: bool = False) -> RemoteMethods:
        """Push this (committed) bundle to its context's remote."""
        from dsdt.remote import prune, push, sync

        remote = sync.open_remote(self._repo, self.local_context)
        push.push(remote, [self.uuid])
        if delocalize:
            prune.delocalize(remote, [self.uuid])
        self._forget_data()
        return self

    def pull(self, localize: bool = False) -> RemoteMethods:
        """Pull this bundle from its context's remote (with ``localize``: its data too)."""
        from dsdt.remote import pull, sync

        pull.pull(sync.open_remote(self._repo, self.local_context),
                  lambda uuid, _entry: uuid == self.uuid, localize=localize)
        self._forget_data()
        return self

    def localize(self, path: str | None = None) -> RemoteMethods:
        """Bring this bundle's data down from the remote: all of it, or the file ``path``.

        Args:
            path: A remote URL of one file, as ``data`` presents it.
        """
        from dsdt.remote.pull import fetch_blobs, needed_blobs
        from dsdt.remote.sync import open_remote

        self._need_closed()
        require_reachable(self._repo, self.local_context, [self.uuid])
        remote = open_remote(self._repo, self.local_context)
        refs = needed_blobs(remote, self.uuid).data
        if path is not None:
            refs = {b: s for b, s in refs.items() if remote.blob_url(b) == path}
            if not refs:
                raise UsageError(f"{path} is not a remote file of bundle {self.uuid}")
        fetch_blobs(remote, refs)
        self._forget_data()
        return self

    def delocalize(self, path: str | None = None) -> RemoteMethods:
        """Drop the local copy of this bundle's data (all, or one file) once the remote has it."""
        from dsdt.remote.prune import delocalize
        from dsdt.remote.sync import open_remote

        delocalize(open_remote(self._repo, self.local_context), [self.uuid],
                   only_path=path)
        self._forget_data()
        return self

    def rmr(self) -> list[str]:
        """Remove this bundle from its context's remote."""
        from dsdt.remote import prune, sync

        return prune.rmr(sync.open_remote(self._repo, self.local_context), [self.uuid])
