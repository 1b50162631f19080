"""Bundles git still holds: the records ``gc`` must keep the data of.

A record is live when a membership ref names it in any tree git reaches from
its refs: the tip of every branch, tag and remote-tracking ref, every stash
entry (its work tree and its index), and the index. The work tree itself is
the repository's own refs. Git objects are read with dulwich; nothing is
checked out.

Everything read is cached in ``cache/db-<token>/gitlive.sqlite`` by git object id (a
``refs/contexts`` tree -> its members, a record sha256 -> the blobs it
names), so a second ``gc`` over unchanged branches reads almost nothing.
The members of a tree are as git wrote them (untrusted): uuids and record
hashes are validated, and a record read from git must hash to the value
its ref names.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsdt._db import LocalConnection, healing, insert_many
from dsdt.errors import DsdtError
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.ids import is_sha256, is_uuid, sha256_bytes
from dsdt.objects.record import MAX_RECORD_BYTES, BundleRecord
from dsdt.repo import Repository

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trees(tree TEXT PRIMARY KEY, members TEXT);
CREATE TABLE IF NOT EXISTS records(sha TEXT PRIMARY KEY, blobs TEXT);
"""


@dataclass
class GitLive:
    """What git holds: live records and the blobs they name directly.

    Attributes:
        members: uuid -> record sha256, for every record a git tree names.
        blobs: uuid -> {blob id: meta kind (``tree``, ``packed``) or None for
            data}, for the records among them that could be read.
        unread: Records named in git whose record could not be read (its
            blobs cannot be known: gc keeps what it cannot rule out).
    """

    members: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, dict[str, str | None]] = field(default_factory=dict)
    unread: int = 0


class _Cache:
    def __init__(self, path: Path) -> None:
        self._db = LocalConnection(path, lambda db: db.executescript(_SCHEMA))

    @healing
    def get(self, table: str, key: str) -> Any:
        """The cached answer for git object (or record) ``key``, or None."""
        sql = {"trees": "SELECT members FROM trees WHERE tree=?",
               "records": "SELECT blobs FROM records WHERE sha=?"}[table]
        row = self._db.get().execute(sql, (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    @healing
    def put(self, table: str, rows: list[tuple[str, Any]]) -> None:
        """Remember answers (their keys are git object ids: they never change)."""
        insert_many(self._db.get(), f"INSERT OR REPLACE INTO {table} VALUES (?,?)",  # noqa: S608
                    [(k, json.dumps(v)) for k, v in rows])

    def close(self) -> None:
        self._db.close()


def git_live(repo: Repository) -> GitLive | None:
    """The records git holds beyond the work tree, or None outside git."""
    with _walking(repo) as walk:
        return walk.run() if walk is not None else None


@contextmanager
def _walking(repo: Repository) -> Iterator[_Walk | None]:
    """A walk over the git repository enclosing ``repo`` (None outside git)."""
    worktree = repo.git_worktree
    if worktree is None:
        yield None
        return
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    try:
        git = Repo(str(worktree))
    except NotGitRepository:
        yield None
        return
    prefix = os.path.relpath(repo.root, worktree).replace(os.sep, "/").encode()
    cache = _Cache(repo.root / "cache" / "gitlive.sqlite")
    try:
        with git:
            yield _Walk(repo, git, prefix, cache)
    finally:
        cache.close()


class _Walk:
    """One pass over a git repository's roots."""

    def __init__(self, repo: Repository, git: Any, prefix: bytes, cache: _Cache) -> None:
        self.repo, self.git, self.prefix, self.cache = repo, git, prefix, cache
        self.out = GitLive()
        self._refs: dict[bytes, str | None] = {}  # git blob id of a ref file -> its value
        self._record_trees: dict[str, bytes] = {}  # uuid -> a records tree that may hold it
        self._entries: dict[bytes, dict[bytes, bytes]] = {}  # tree id -> name -> object id

    def run(self) -> GitLive:
        for tree in self._root_trees():
            self._add_tree(tree)
        self._add_index()
        self._add_blobs()
        return self.out

    # -- roots ---------------------------------------------------------------------------

    def _root_trees(self) -> Iterator[bytes]:
        """The tree of every ref tip and stash entry (each once)."""
        seen: set[bytes] = set()
        commits = [(sha, name == b"refs/stash") for name, sha in self.git.refs.as_dict().items()
                   if name != b"HEAD"]
        commits += [(entry.new_sha, True) for entry in _stashes(self.git)]
        for sha, stash in commits:
            for tree in self._trees_of(sha, stash):
                if tree not in seen:
                    seen.add(tree)
                    yield tree

    def _trees_of(self, sha: bytes, stash: bool = False) -> list[bytes]:
        """The tree of a commit (peeling tags); for a stash entry, those of its index and
        untracked-files commits too."""
        try:
            obj = self.git[sha]
            while obj.type_name == b"tag":
                obj = self.git[obj.object[1]]
            if obj.type_name != b"commit":
                return []
            trees = [obj.tree]
            if stash:  # its index, and (git stash -u) its untracked files
                trees += [self.git[parent].tree for parent in obj.parents[1:]]
            return trees
        except (KeyError, ValueError):
            return []  # a ref to an object this clone lacks (shallow, broken)

    def _lookup(self, tree: bytes, path: bytes) -> bytes | None:
        from dulwich.object_store import tree_lookup_path

        try:
            _mode, sha = tree_lookup_path(self.git.__getitem__, tree, path)
        except (KeyError, NotADirectoryError, ValueError):
            return None
        return sha

    # -- members -------------------------------------------------------------------------

    def _add_tree(self, root: bytes) -> None:
        contexts = self._lookup(root, self.prefix + b"/refs/contexts")
        if contexts is None:
            return
        records = self._lookup(root, self.prefix + b"/records")
        members = self.cache.get("trees", _hex(contexts))
        if members is None:
            members = dict(self._members_of(contexts))
            self.cache.put("trees", [(_hex(contexts), members)])
        for uuid, sha in members.items():
            self.out.members.setdefault(uuid, sha)
            if records is not None:
                self._record_trees.setdefault(uuid, records)

    def _members_of(self, contexts: bytes) -> Iterator[tuple[str, str]]:
        for _ctx, uuid, sha in self._refs_in(contexts, b"bundles"):
            yield uuid, sha

    def _refs_in(self, contexts: bytes, kind: bytes) -> Iterator[tuple[str, str, str]]:
        """``(context, uuid, value)`` of the valid refs of ``kind`` in a contexts tree."""
        for name, mode, ctx in self.git[contexts].iteritems():
            refs = _child(self.git, ctx, kind) if stat.S_ISDIR(mode) else None
            for shard in _subtrees(self.git, refs) if refs else ():
                for entry, _m, blob in self.git[shard].iteritems():
                    uuid, sha = entry.decode("utf-8", "replace"), self._ref_value(blob)
                    if is_uuid(uuid) and sha is not None:
                        yield name.decode("utf-8", "replace"), uuid, sha

    def marks(self, commit: bytes, kind: bytes) -> set[tuple[str, str, str]]:
        """The refs of ``kind`` (``committed``, ``bundles``) in a commit's tree."""
        trees = self._trees_of(commit)[:1]
        contexts = self._lookup(trees[0], self.prefix + b"/refs/contexts") if trees else None
        return set(self._refs_in(contexts, kind)) if contexts else set()

    def _ref_value(self, blob: bytes) -> str | None:
        if blob not in self._refs:
            try:
                data = self.git[blob].data
                value = data.decode("ascii").strip() if len(data) < 200 else ""
            except (KeyError, UnicodeDecodeError, AttributeError):
                value = ""
            self._refs[blob] = value if is_sha256(value) else None
        return self._refs[blob]

    def _add_index(self) -> None:
        """Membership refs and records staged in the index (as ``git add`` left them)."""
        try:
            index = self.git.open_index()
        except (OSError, ValueError):
            return
        base = self.prefix + b"/refs/contexts/"
        for path, entry in index.iteritems():
            if path.startswith(base) and b"/bundles/" in path and hasattr(entry, "sha"):
                uuid = path.rsplit(b"/", 1)[-1].decode("utf-8", "replace")
                sha = self._ref_value(entry.sha)
                if is_uuid(uuid) and sha is not None:
                    self.out.members.setdefault(uuid, sha)

    # -- blobs ---------------------------------------------------------------------------

    def _add_blobs(self) -> None:
        fresh: list[tuple[str, Any]] = []
        for uuid, sha in self.out.members.items():
            found = self.cache.get("records", sha)
            if found is None:
                rec = self._record(uuid, sha)
                if rec is None:
                    self.out.unread += 1
                    continue
                refs = blob_refs(rec.data)
                found = [[b, None] for b in refs.data] + [[b, m.kind] for b, m in refs.meta.items()]
                fresh.append((sha, found))
            self.out.blobs[uuid] = {blob: kind for blob, kind in found}
        self.cache.put("records", fresh)

    def _record(self, uuid: str, sha: str) -> BundleRecord | None:
        """Record ``sha`` of ``uuid``: here (checked in or pulled), else from git's objects."""
        try:
            return self.repo.read_record(uuid, sha)
        except DsdtError:
            pass
        tree = self._record_trees.get(uuid)
        shard = self._entry(tree, uuid[:2].encode()) if tree else None
        blob = self._entry(shard, f"{uuid}.yaml".encode()) if shard else None
        try:
            data = self.git[blob].data if blob else b""
            if len(data) > MAX_RECORD_BYTES or sha256_bytes(data) != sha:
                return None
            return BundleRecord.from_yaml(data, f"record {uuid} in git")
        except (KeyError, DsdtError):
            return None


    def _entry(self, tree: bytes, name: bytes) -> bytes | None:
        """The object named ``name`` in ``tree`` (each tree parsed once)."""
        if tree not in self._entries:
            try:
                self._entries[tree] = {n: sha for n, _mode, sha in self.git[tree].iteritems()}
            except (KeyError, AttributeError):
                self._entries[tree] = {}
        return self._entries[tree].get(name)


def published(repo: Repository, commits: list[bytes], exclude: list[bytes],
              kinds: tuple[str, ...] = ("committed",)) -> dict[str, set[tuple[str, str, str]]]:
    """Per ref kind (``committed``: commit marks, ``bundles``: membership), the
    ``(context, uuid, record sha256)`` in the trees of ``commits`` that the trees of
    ``exclude`` do not have: what a ``git push`` of them publishes."""
    out: dict[str, set[tuple[str, str, str]]] = {kind: set() for kind in kinds}
    with _walking(repo) as walk:
        for kind in kinds if walk is not None else ():
            new, old = (set().union(*(walk.marks(c, kind.encode()) for c in shas))
                        for shas in (commits, exclude))
            out[kind] = new - old
    return out


def _stashes(git: Any) -> list[Any]:
    from dulwich.stash import Stash

    try:
        return Stash.from_repo(git).stashes()
    except (OSError, ValueError, KeyError):
        return []


def _subtrees(git: Any, tree: bytes) -> Iterator[bytes]:
    for _name, mode, sha in git[tree].iteritems():
        if stat.S_ISDIR(mode):
            yield sha


def _child(git: Any, tree: bytes, name: bytes) -> bytes | None:
    for entry_name, mode, sha in git[tree].iteritems():
        if entry_name == name and stat.S_ISDIR(mode):
            return sha
    return None


def _hex(sha: bytes) -> str:
    return sha.decode() if len(sha) == 40 else sha.hex()
