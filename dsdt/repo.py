"""The repository: discovery, ``init``, contexts, records and membership refs.

Paths under ``.dsdt/`` (see ``docs/format.md``)::

    config.yaml                               settings, format_version
    HEAD                                      current context (not checked in)
    records/<uuid[:2]>/<uuid>.yaml            immutable bundle records
    refs/contexts/<ctx>/context.yaml          a context and its remote binding
    refs/contexts/<ctx>/bundles/<uuid[:2]>/<uuid>    membership: sha256 of the record
    refs/contexts/<ctx>/committed/<uuid[:2]>/<uuid>  commit mark: sha256 of the record
    cache/                                    blobs, views, index, stat cache (not checked in)
    cache/tracking/<ctx>                      what the context's remote held when last seen
    cache/records/<uuid[:2]>/<uuid>.yaml      records pulled from a remote (not checked in)
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from dsdt._fs import Confined, is_regular, misplaced, remove_tree
from dsdt._locks import flocked
from dsdt.config import Config
from dsdt.errors import (
    ContextExistsError,
    ContextNotFoundError,
    CorruptObjectError,
    NotARepositoryError,
    PathError,
    PlantedPathError,
    RepositoryExistsError,
)
from dsdt.index import Index
from dsdt.members import Members
from dsdt.objects.blobs import BlobStore
from dsdt.objects.gate import has_control, name_problem
from dsdt.objects.record import dump_yaml, load_yaml
from dsdt.objects.statcache import StatCache
from dsdt.refs.names import check_context_name, split_context
from dsdt.refs.store import RefStore
from dsdt.refs.tracking import TrackingStore

DIRNAME = ".dsdt"
DEFAULT_CONTEXT = "default"
#: Directories of ``.dsdt`` that dsdt reads and sweeps; none may be a symlink.
_OWN_DIRS = ("cache", "records", "refs", "refs/contexts", "cache/blobs", "cache/tmp",
             "cache/open", "cache/made", "cache/views")


@dataclass(frozen=True)
class ContextInfo:
    """A context and its remote binding.

    Attributes:
        name: The local context.
        remote_context: The remote context it is bound to (None: unbound).
        remote_url: The remote's URL (None: unbound).
        current: True for the CLI's current context.
        broken: Why its ``context.yaml`` cannot be read (None: it can); its
            remote binding is then unknown and shown as None.
    """

    name: str
    remote_context: str | None
    remote_url: str | None
    current: bool
    broken: str | None = None


def template_dir() -> Path:
    """The ``.dsdt-template`` skeleton shipped with dsdt."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_template", here.parent / ".dsdt-template"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise NotARepositoryError("dsdt's .dsdt-template is missing from the installation; reinstall")


class Repository(Members):
    """An opened ``.dsdt`` directory.

    Args:
        root: The ``.dsdt`` directory itself.
    """

    _opened: ClassVar[dict[Path, tuple[tuple[int, int, int], Repository]]] = {}
    _opened_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.root = root
        if not (root / "config.yaml").is_file():
            raise NotARepositoryError(f"{root} is not a dsdt repository (no config.yaml)")
        self.confined = Confined(root)
        for part in _OWN_DIRS:  # git can plant a symlink or a file at any of them
            self.confined.dir(root / part / "x")  # raises: names it
        self.config = Config.load(root / "config.yaml")
        self.refs = RefStore(root, self.config.lock_timeout)
        self.blobs = BlobStore(root / "cache" / "blobs", root / "cache" / "tmp", self.confined)
        self.tracking = TrackingStore(root / "cache" / "tracking", self.config.lock_timeout)
        self.index = Index(root / "cache" / "index.sqlite", root / "refs" / "contexts",
                           self.record_reader, self)
        self.stat_cache = StatCache(root / "cache" / "stat.sqlite")
        self._git: tuple[Any, dict[str, str | bool]] = (None, {})
        self._ctx_meta: dict[tuple[str, str], dict[str, str | None]] = {}

    # --- finding and creating ----------------------------------------------------------

    @classmethod
    def current(cls) -> Repository:
        """The repository of the current directory (or ``DSDT_DIR``), opened once per process.

        It is opened again when its ``config.yaml`` changes. This cache (and
        the hook that draws index rebuilds, :attr:`dsdt.index.Index.progress`)
        is the only process-wide state; everything below the API takes the
        repository as an argument.
        """
        root = cls.find()
        st = (root / "config.yaml").stat()
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # dsdt config replaces the file
        with cls._opened_lock:
            cached = cls._opened.get(root)
            if cached is None or cached[0] != stamp:
                cls._opened[root] = cached = (stamp, cls(root))
        return cached[1]

    @classmethod
    def forget(cls) -> None:
        """Close and drop every repository :meth:`current` has opened.

        Done before ``os.fork()`` (a child must never use a connection its parent
        opened) and between tests.
        """
        with cls._opened_lock:
            for _stamp, repo in cls._opened.values():
                repo.close()
            cls._opened.clear()

    def close(self) -> None:
        """Close this thread's connections to the derived databases."""
        self.index.close()
        self.stat_cache.close()

    def resolve_context(self, local_context: str | None) -> str:
        """An existing context from ``local`` / ``remote/local`` (None: the current one).

        Raises:
            ContextNotFoundError: There is no such context (or no current one).
        """
        if local_context is None:
            current = self.current_context()
            if current is None:
                raise ContextNotFoundError("no current context; run dsdt switch <context>")
            local_context = current
        _, local = split_context(local_context)
        return self.require_context(local)

    @classmethod
    def discover(cls, start: Path | None = None) -> Repository:
        """Open the repository named by ``DSDT_DIR``, else the nearest one above ``start``."""
        return cls(cls.find(start))

    @staticmethod
    def find(start: Path | None = None) -> Path:
        """The ``.dsdt`` directory named by ``DSDT_DIR``, else the nearest one above ``start``."""
        env = os.environ.get("DSDT_DIR")
        if env:
            p = Path(env).expanduser().resolve()
            for candidate in (p, p / DIRNAME):
                if (candidate / "config.yaml").is_file():
                    return candidate
            raise NotARepositoryError(f"DSDT_DIR={env} is not a dsdt repository; run dsdt init")
        here = (start or Path.cwd()).resolve()
        for d in (here, *here.parents):
            root = d / DIRNAME
            if root.is_symlink():  # git can carry one, to anywhere
                raise NotARepositoryError(
                    f"{root} is a symlink: dsdt does not follow one found in a project (git "
                    "can carry it); set DSDT_DIR to use a repository elsewhere")
            if (root / "config.yaml").is_file():
                return root
            if os.path.lexists(root):  # never fall through to a repository further up
                raise NotARepositoryError(
                    f"{root} is not a usable dsdt repository: its config.yaml is missing or "
                    "not a regular file; restore it (git checkout) or remove the directory")
        raise NotARepositoryError(
            f"not a dsdt repository (or any parent up to /): {here}; run dsdt init"
        )

    @classmethod
    def init(cls, project: Path | None = None) -> Repository:
        """Create ``.dsdt/`` in ``project`` from the template, with context ``default``."""
        project = (project or Path.cwd()).resolve()
        if project.exists() and not project.is_dir():
            raise PathError(f"{project} is a file; give a directory to create the repository in")
        target = project / DIRNAME
        if target.exists():
            raise RepositoryExistsError(f"{target} already exists; it is already a dsdt repository")
        project.mkdir(parents=True, exist_ok=True)
        staging = project / f".dsdt-init-{os.getpid()}.tmp"
        remove_tree(staging)
        shutil.copytree(template_dir(), staging)
        try:
            os.rename(staging, target)
        except OSError:
            remove_tree(staging)
            raise RepositoryExistsError(f"{target} already exists") from None
        repo = cls(target)
        repo.create_context(DEFAULT_CONTEXT)
        repo.switch(DEFAULT_CONTEXT)
        return repo

    @property
    def project_dir(self) -> Path:
        """The directory that holds ``.dsdt``."""
        return self.root.parent

    # --- contexts ----------------------------------------------------------------------

    def _ctx_ref(self, ctx: str) -> str:
        return f"refs/contexts/{ctx}/context.yaml"

    def has_context(self, ctx: str) -> bool:
        """True if context ``ctx`` exists."""
        return is_regular(self.refs.path(self._ctx_ref(check_context_name(ctx))))

    def require_context(self, ctx: str) -> str:
        """Return ``ctx`` if it exists, else raise :class:`ContextNotFoundError`."""
        if not self.has_context(ctx):
            base = self.root / "refs" / "contexts" / ctx
            for path, directory in ((base, True), (base / "context.yaml", False)):
                if misplaced(path, directory=directory):  # git can carry a symlink there
                    raise PlantedPathError(f"context {ctx!r} cannot be read: {path} is a "
                                           "symlink or not what dsdt made there; remove it")
            raise ContextNotFoundError(
                f"no context {ctx!r}; create it with 'dsdt context {ctx}' "
                f"(existing: {', '.join(self.context_names()) or 'none'})"
            )
        return ctx

    def create_context(self, ctx: str, remote_context: str | None = None) -> None:
        """Create a context (raises :class:`ContextExistsError` if it exists)."""
        check_context_name(ctx)
        if self.has_context(ctx):
            raise ContextExistsError(f"context {ctx!r} already exists")
        meta = {"remote_context": remote_context, "remote_url": None}
        self.refs.create(self._ctx_ref(ctx), dump_yaml(meta).decode())

    def context_meta(self, ctx: str) -> dict[str, str | None]:
        """The binding stored in ``context.yaml`` (checked in, so checked here).

        Raises:
            CorruptObjectError: It is not a mapping of a valid remote context
                name and a URL (both may be null).
        """
        text = self.refs.read(self._ctx_ref(self.require_context(ctx))) or ""
        known = self._ctx_meta.get((ctx, text))  # a bundle write asks once or twice
        if known is None:
            known = self._ctx_meta[ctx, text] = self._parse_context_meta(ctx, text)
        return dict(known)

    @staticmethod
    def _parse_context_meta(ctx: str, text: str) -> dict[str, str | None]:
        meta = load_yaml(text, f"context {ctx}")
        where = f"refs/contexts/{ctx}/context.yaml"
        if not isinstance(meta, dict) or set(meta) != {"remote_context", "remote_url"}:
            raise CorruptObjectError(f"{where} is not a context description; run dsdt fsck")
        remote, url = meta["remote_context"], meta["remote_url"]
        if remote is not None and name_problem(remote, allow_space=False):
            raise CorruptObjectError(f"{where} names remote context {str(remote)[:40]!r}, "
                                     "which is not a valid context name")
        if url is not None and (not isinstance(url, str) or has_control(url)):
            raise CorruptObjectError(f"{where} holds a malformed remote URL")
        return meta

    def bind_remote(self, ctx: str, remote_context: str, remote_url: str) -> None:
        """Record the remote binding of ``ctx`` (compare-and-swap on its context.yaml)."""
        ref = self._ctx_ref(self.require_context(ctx))
        old = self.refs.read(ref)
        meta = {"remote_context": remote_context, "remote_url": remote_url}
        self.refs.swap(ref, old, dump_yaml(meta).decode())

    def context_names(self, planted: bool = False) -> list[str]:
        """Names of all contexts, sorted; with ``planted``, also those whose ``context.yaml``
        is not a regular file (a symlink git carried, say), which nothing uses."""
        base = self.root / "refs" / "contexts"
        if not base.is_dir():
            return []
        described = os.path.lexists if planted else is_regular
        return sorted(e.name for e in os.scandir(base)
                      if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                      and described(Path(e.path) / "context.yaml"))

    def contexts(self, mark_current: bool = True) -> list[ContextInfo]:
        """Every context with its remote binding and whether it is current.

        A context whose ``context.yaml`` is unreadable or planted (records and
        refs come with git: untrusted) is listed with ``broken`` saying why, so
        one bad context does not hide the others; operations on it still refuse.

        Args:
            mark_current: Read ``HEAD`` to mark the current context (False: none is
                marked, and a planted ``HEAD`` is left to whoever needs it).
        """
        current = self.current_context() if mark_current else None
        out = []
        for name in self.context_names(planted=True):
            try:
                meta = self.context_meta(name)
            except CorruptObjectError as e:
                out.append(ContextInfo(name, None, None, name == current, str(e)))
                continue
            out.append(ContextInfo(name, meta.get("remote_context"), meta.get("remote_url"),
                                   name == current))
        return out

    def delete_context(self, ctx: str) -> None:
        """Remove a context and its refs (records and data stay until gc); also one whose
        ``context.yaml`` git replaced by a symlink or the like (never followed)."""
        if ctx not in self.context_names(planted=True):
            self.require_context(ctx)  # raises, naming what is wrong
        base = self.confined.dir(self.root / "refs" / "contexts" / ctx)
        trash = base.with_name(f".deleted-{ctx}-{os.urandom(4).hex()}")
        os.rename(base, trash)  # atomic: the context disappears at once
        remove_tree(trash)
        self.tracking.drop(ctx)
        if self.refs.read("HEAD") == ctx:
            self.refs.delete("HEAD")

    def current_context(self) -> str | None:
        """The current context (``HEAD``), ``default`` when HEAD is unset, or None."""
        head = self.refs.read("HEAD")
        if head:
            if problem := name_problem(head, allow_space=False):  # git carries HEAD: untrusted
                raise CorruptObjectError(f"{self.root / 'HEAD'} names {head[:80]!r}, which is "
                                         f"not a context name ({problem}); run dsdt switch "
                                         "<context>")
            return head
        return DEFAULT_CONTEXT if self.has_context(DEFAULT_CONTEXT) else None

    def switch(self, ctx: str) -> None:
        """Make ``ctx`` the current context."""
        self.require_context(ctx)
        self.refs.swap("HEAD", self.refs.read("HEAD"), ctx)

    def writing(self, timeout: float | None = None) -> Any:
        """Hold while writing blobs and records that no ref names yet (gc waits for it)."""
        return flocked(self.root / "cache" / "gc-fence", shared=True,
                       timeout=timeout or self.config.lock_timeout)

    def collecting(self, timeout: float | None = None) -> Any:
        """Hold while gc sweeps: no writer is between its first blob and its ref."""
        return flocked(self.root / "cache" / "gc-fence", shared=False,
                       timeout=timeout or self.config.lock_timeout)

    def open_marker(self, uuid: str) -> Path:
        """The file an open bundle holds locked, so gc leaves its view alone."""
        return self.confined.dir(self.root / "cache" / "open") / uuid

    def view_dir(self, uuid: str) -> Path:
        """The directory where a bundle's files are presented (never through a symlink)."""
        return self.confined.dir(self.root / "cache" / "views" / uuid)

    @property
    def git(self) -> dict[str, str | bool]:
        """Git facts of the enclosing project (empty when it is not in git), read again
        whenever ``HEAD``, the index or the config changed (see :func:`gitinfo.git_stamp`)."""
        from dsdt.gitinfo import git_info, git_stamp

        stamp = git_stamp(self._worktree)
        if stamp != self._git[0]:
            info = git_info(self.project_dir)
            self._git = (stamp, {} if info is None else info.as_dict())
        return dict(self._git[1])

    def refresh_git(self) -> dict[str, str | bool]:
        """The git facts read now, dirty flag included (a pipeline run starts with this)."""
        self._git = (None, {})
        return self.git

    @property
    def git_worktree(self) -> Path | None:
        """The git work tree enclosing the project, or None outside git."""
        return self._worktree

    @cached_property
    def _worktree(self) -> Path | None:
        from dsdt.gitinfo import find_worktree

        return find_worktree(self.project_dir)


def open_context(local_context: str | None) -> tuple[Repository, str]:
    """The current repository and the existing context named ``local_context``."""
    repo = Repository.current()
    return repo, repo.resolve_context(local_context)
