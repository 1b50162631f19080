"""Files and directories inside bundles.

A file node names its path relative to the bundle's *view* (the directory a
reader sees, ``cache/views/<uuid>/``) and the blob holding its bytes. A
directory node names a *tree*: a blob listing ``[relative path, blob id, size,
executable]`` for every file under it, so a directory of 10,000 files is one
small node in the record. Unchanged files are recognised by a stat cache and
not read again.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dsdt._fs import clone_file
from dsdt.errors import CorruptObjectError, NotFoundError, PathError
from dsdt.objects.blobs import BlobStore
from dsdt.objects.statcache import StatCache
from dsdt.objects.treegate import parse_tree

_WORKERS = 4
_LARGE = 1 << 20  # files above this size are stored on worker threads


def _inside(real: str, top: str | None) -> bool:
    """True if the resolved path ``real`` is ``top`` or below it."""
    return top is not None and (real == top or real.startswith(top + os.sep))


def _stat(path: Path) -> os.stat_result:
    """``os.stat``; an unreadable path is a :class:`PathError`."""
    try:
        return os.stat(path)
    except OSError as e:
        raise PathError(f"cannot read {path} ({e.strerror}); nothing was stored") from None


TREE_BASE = 64 << 20  # a tree blob holds at most this much besides a full entry per file
TREE_ENTRY = 4096 + 256  # the longest path, its blob id, size and flag
MAX_META_BYTES = 1 << 30  # no tree or packed value is larger, whatever its node declares


def tree_limit(node: dict[str, Any]) -> int:
    """The most bytes the tree blob of a (validated) directory node may hold."""
    return min(TREE_BASE + TREE_ENTRY * int(node.get("files", 0)), MAX_META_BYTES)


def tree_blobs(data: bytes, blob_id: str) -> dict[str, int]:
    """Blob ids and sizes listed in a tree blob (validated)."""
    return {e[1]: e[2] for e in parse_tree(data, f"directory tree {blob_id}")["files"]}


class FileEncoder:
    """Ingests files and directories named in a value into the blob store.

    Args:
        blobs: The blob store.
        view_dir: The open bundle's view directory; files the user wrote there
            (``get_file``/``make_file``) keep their relative paths. They are
            copied in like any file: a writer the user still holds cannot
            reach the store.
        stat_cache: Lets unchanged files skip hashing.
        follow_symlinks: Store what symlinks pointing outside an added
            directory point to: True anywhere, a directory only inside it (the
            project, when the checked-in setting asks), False refuses them.
            A symlink into ``private`` is always refused.
        private: The repository's own ``.dsdt`` directory: never stored (a
            directory holding it is stored without it), except the view.
    """

    def __init__(self, blobs: BlobStore, view_dir: Path, stat_cache: StatCache | None = None,
                 follow_symlinks: bool | Path = False, private: Path | None = None) -> None:
        self.blobs = blobs
        self.view_dir = view_dir
        self.stat_cache = stat_cache
        self.follow_symlinks = follow_symlinks
        self.private = str(private.resolve()) if private is not None else None
        self.views = os.path.join(self.private, "cache", "views") if self.private else None
        self._used: set[str] = set()
        self._done: dict[str, dict[str, Any]] = {}
        self._view_real: str | None = None

    def encode_path_str(self, s: str) -> dict[str, Any] | None:
        """A file node if ``s`` names an existing file (or a managed directory), else None."""
        if not s or "\0" in s:
            return None
        path = Path(s[7:] if s.startswith("file://") else s)
        # os.path.isfile/isdir answer False (not raise) for names too long or invalid.
        if os.path.isfile(path) or (os.path.isdir(path)
                                    and self._managed_rel(os.path.realpath(path)) is not None):
            return self.encode_path(path)
        return None

    def encode_path(self, path: Path, *, from_target: bool = False,
                    as_list: bool = False) -> dict[str, Any]:
        """Ingest a file or directory; return its node.

        Raises:
            PathError: It is missing, unreadable, a symlink loop, not a regular
                file or directory (a FIFO would block forever), or dsdt's own
                repository directory.
        """
        try:
            real = str(path.resolve(strict=True))
        except (FileNotFoundError, RuntimeError):
            raise PathError(f"{path} does not exist (or is a symlink loop); nothing was "
                            "stored") from None
        except OSError as e:
            raise PathError(f"{path} cannot be read ({e.strerror}); nothing was stored") from None
        if real in self._done:
            return self._done[real]
        rel = self._managed_rel(real)
        if rel is None and self._is_private(real) and not _inside(real, self.views):
            raise PathError(f"{path} is inside dsdt's own repository directory {self.private}; "
                            "nothing was stored")
        st = _stat(Path(real))
        if stat.S_ISDIR(st.st_mode):
            node = self._directory(Path(real), rel or self._claim(path.name or "root"), as_list)
        elif stat.S_ISREG(st.st_mode):
            node = self._file(Path(real), st, rel or self._claim(path.name))
        else:
            raise PathError(f"{path} is not a regular file or directory (a pipe, socket or "
                            "device); nothing was stored")
        self._done[real] = node
        return node

    def _is_private(self, real: str) -> bool:
        return _inside(real, self.private)

    def _managed_rel(self, real: str) -> str | None:
        """Where the resolved path ``real`` is in the open bundle's view (None: outside it,
        or the view itself)."""
        if self._view_real is None:
            self._view_real = os.path.realpath(self.view_dir)
        top = self._view_real + os.sep
        return real[len(top):].replace(os.sep, "/") if real.startswith(top) else None

    def _claim(self, name: str) -> str:
        """A bundle-relative path for an outside file: its name, made unique."""
        rel, n = name, 1
        while rel in self._used or (self.view_dir / rel).exists():
            n += 1
            rel = f"{n}/{name}"
        self._used.add(rel)
        return rel

    def _file(self, real: Path, st: os.stat_result, rel: str) -> dict[str, Any]:
        [(blob_id, size)] = self._ingest([(str(real), st)])
        return {"type": "file", "path": rel, "blob": blob_id, "size": size,
                "exec": bool(st.st_mode & 0o111)}

    def _directory(self, root: Path, rel: str, as_list: bool) -> dict[str, Any]:
        files, dirs = self._walk(root)
        results = self._ingest([(p, st) for _, p, st in files])
        entries = [[r, blob, size, bool(st.st_mode & 0o111)]
                   for (r, _, st), (blob, size) in zip(files, results, strict=True)]
        tree = json.dumps({"files": sorted(entries), "dirs": sorted(dirs)},
                          separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return {"type": "directory", "path": rel, "tree": self.blobs.put_bytes(tree),
                "files": len(entries), "size": sum(e[2] for e in entries),
                "as": "list" if as_list else "path"}

    def _walk(self, root: Path) -> tuple[list[tuple[str, str, os.stat_result]], list[str]]:
        """Files (relative path, real path, stat) and empty directories under ``root``."""
        files: list[tuple[str, str, os.stat_result]] = []
        dirs: list[str] = []
        seen = {str(root)}
        stack: list[tuple[str, str]] = [(str(root), "")]
        while stack:
            directory, prefix = stack.pop()
            try:
                with os.scandir(directory) as it:
                    entries = list(it)
            except OSError as e:
                raise PathError(f"cannot list {directory} ({e.strerror}); nothing was "
                                "stored") from None
            if not entries and prefix:
                dirs.append(prefix.rstrip("/"))
            for e in entries:
                rel = prefix + e.name
                if e.is_symlink():
                    real = str(self._check_link(root, Path(e.path)))
                    st = _stat(Path(real))
                    is_dir = stat.S_ISDIR(st.st_mode)
                else:
                    real, is_dir = e.path, e.is_dir(follow_symlinks=False)
                    st = None if is_dir else e.stat(follow_symlinks=False)
                if is_dir and self._is_private(real):
                    continue  # the repository itself, as git skips .git
                if is_dir:
                    if real not in seen:
                        seen.add(real)
                        stack.append((real, rel + "/"))
                elif st is not None and stat.S_ISREG(st.st_mode):
                    files.append((rel, real, st))
        return files, dirs

    def _check_link(self, root: Path, link: Path) -> Path:
        try:
            target = link.resolve()
        except (RuntimeError, OSError):
            raise PathError(f"{link} is a symlink loop; nothing was stored") from None
        if self._is_private(str(target)) and not _inside(str(target), self.views):
            raise PathError(f"{link} is a symlink into dsdt's own directory {self.private}; "
                            "nothing was stored")
        reach = root if self.follow_symlinks is False else self.follow_symlinks
        if reach is not True and not target.is_relative_to(reach):
            raise PathError(
                f"{link} is a symlink to {target}, outside {reach}; nothing was stored "
                "(follow_symlinks=True, or dsdt add --follow-symlinks, stores what it points to)"
            )
        if not target.exists():
            raise PathError(f"{link} is a broken symlink; nothing was stored")
        return target

    def _ingest(self, items: list[tuple[str, os.stat_result]]) -> list[tuple[str, int]]:
        """Store each file's bytes (skipping unchanged ones); return (blob id, size) per item."""
        known = self.stat_cache.lookup_many(items) if self.stat_cache else {}
        blobs = self.blobs

        def run(chunk: list[tuple[str, os.stat_result]]) -> list[tuple[str, int]]:
            out = []
            for path, st in chunk:
                blob_id = known.get(path)
                if blob_id is not None and blobs.has(blob_id):
                    out.append((blob_id, st.st_size))
                else:
                    # A large copy is flushed on its copy thread while it is hashed; small
                    # ones are flushed together by the one sync() below.
                    big = st.st_size > _LARGE
                    try:
                        out.append(blobs.put_file(Path(path), sync=big))
                    except (PermissionError, IsADirectoryError, FileNotFoundError) as e:
                        raise PathError(f"cannot read {path} ({e.strerror}); nothing was "
                                        "stored") from None
            return out

        # Small files go one by one (threads only add lock hand-offs for page-cache
        # copies); large ones are hashed in parallel, since hashing releases the GIL.
        try:  # what was written is made durable (and put in place) even if a file fails
            large = [i for i, (_, st) in enumerate(items) if st.st_size > _LARGE]
            results = run([item for item in items if item[1].st_size <= _LARGE])
            if large:
                with ThreadPoolExecutor(_WORKERS) as pool:
                    done = list(pool.map(lambda i: run([items[i]])[0], large))
                for i, r in zip(large, done, strict=True):
                    results.insert(i, r)
        finally:
            blobs.sync()
        if self.stat_cache:
            fresh = [(p, st, r[0]) for (p, st), r in zip(items, results, strict=True)
                     if p not in known]
            self.stat_cache.store_many(fresh)
        return results


class FileDecoder:
    """Presents file and directory nodes as readable local paths in a bundle's view.

    A view file is a copy (a reflink where the file system can) of its blob,
    never the blob's own inode: writing through the path a user was given
    cannot change the cache or any other bundle.

    Args:
        blobs: The local blob store.
        view_dir: The bundle's view directory.
        remote: For data that is not local: ``remote.url_of(blob_id)`` names it on
            the remote (files present as that URL) and ``remote.fetch(ids)``
            brings blobs down (a directory presented as a path needs its files).
    """

    def __init__(self, blobs: BlobStore, view_dir: Path, remote: Any = None) -> None:
        self.blobs = blobs
        self.view_dir = view_dir
        self.remote = remote
        self._view_real = os.path.realpath(view_dir)
        self._contained: set[str] = set()
        self._claimed: dict[str, str] = {}  # view path -> the blob shown there

    def present_file(self, node: dict[str, Any]) -> str:
        """Local path of a file node (a copy in the view), or its remote (S3) URL."""
        path = self.view_dir / node["path"]
        self._fetch_shared({node["blob"]: node["size"]})
        if not self._materialize(path, node["blob"], node["size"]):
            return self.remote.url_of(node["blob"])
        return str(path)

    def _fetch_shared(self, limits: dict[str, int]) -> None:
        """Bring down files a directory remote holds: its paths are never handed out."""
        if self.remote is not None and self.remote.shares_paths:
            self.remote.fetch({b: s for b, s in limits.items() if not self.blobs.has(b)})

    def present_directory(self, node: dict[str, Any]) -> str | list[str]:
        """Local path of a directory node (or its file paths, for ``as: list``)."""
        root = self.view_dir / node["path"]
        if self.remote is not None and not self.blobs.has(node["tree"]):
            self.remote.fetch({node["tree"]: tree_limit(node)})
        tree = self.read_tree(node["tree"])
        as_list = node.get("as") == "list"
        if not as_list and self.remote is not None:
            self.remote.fetch({e[1]: e[2] for e in tree["files"] if not self.blobs.has(e[1])})
        elif as_list:
            self._fetch_shared({e[1]: e[2] for e in tree["files"]})
        paths = []
        for rel, blob_id, size, _exec in tree["files"]:
            path = root / rel
            local = self._materialize(path, blob_id, size)
            paths.append(str(path) if local else self.remote.url_of(blob_id))
        for rel in [*tree["dirs"], "."]:
            self._mkdir(root / rel)
        return paths if as_list else str(root)

    def read_tree(self, tree_id: str) -> dict[str, Any]:
        """The parsed, validated tree blob of a directory node."""
        return parse_tree(self.blobs.read(tree_id), f"directory tree {tree_id}")

    def _materialize(self, path: Path, blob_id: str, size: int) -> bool:
        """Link a blob into the view; False if it is only on the remote.

        Raises:
            CorruptObjectError: Another entry of the value already claimed this
                path for other bytes (only a hostile record does that).
        """
        claimed = self._claimed.setdefault(str(path), blob_id)
        if claimed != blob_id:
            raise CorruptObjectError(f"two entries of the bundle claim {path.name} for different "
                                     "data; the record is corrupt or hostile (run dsdt fsck)")
        src = self.blobs.path(blob_id)
        try:
            src_st = os.stat(self.blobs.trusted_path(blob_id))
        except NotFoundError:
            if self.remote is not None:
                return False
            raise PathError(f"{path.name}: its data (blob {blob_id}) is not in the local cache; "
                            "pull the bundle with localize") from None
        self._mkdir(path.parent)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == size and (
                st.st_mtime_ns == src_st.st_mtime_ns and st.st_ino != src_st.st_ino):
            return True  # our copy, unwritten since (a write changes its mtime)
        try:
            if st is not None:
                path.unlink()
            with contextlib.suppress(FileExistsError):  # another reader made it at the same moment
                clone_file(src, path)
        except OSError as e:
            raise PathError(f"cannot show {path} ({e.strerror}); remove the bundle's view "
                            f"{self.view_dir} and read it again") from None
        return True

    def _mkdir(self, directory: Path) -> None:
        """Make a directory of the view, refusing one that resolves outside it."""
        key = str(directory)
        if key in self._contained:
            return
        real = os.path.realpath(directory)
        if real != self._view_real and not real.startswith(self._view_real + os.sep):
            raise CorruptObjectError(f"{directory} resolves to {real}, outside the bundle's view "
                                     f"{self.view_dir}; nothing was written there")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PathError(f"cannot make {directory} ({e.strerror}); remove the bundle's view "
                            f"{self.view_dir} and read it again") from None
        self._contained.add(key)
