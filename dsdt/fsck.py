"""``fsck``: verify every ref, record and blob of a repository.

Errors are things that are referenced but missing, corrupt or malformed:
a ref whose value is not a record hash, a record that does not match that
hash or the schema, a blob that does not hash to its id. Whether data that
is not here is on the remote is :mod:`dsdt.remote.state`'s question (the
API's ``fsck`` asks it too).
Warnings are harmless leftovers of interrupted work that ``gc`` removes or
the next writer clears: unreferenced records and blobs, commit marks without
membership, stale locks, temporary files.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dsdt._fs import misplaced, misplaced_error, read_regular, shard_files, symlink_error
from dsdt.errors import CorruptObjectError, DsdtError, NotFoundError, PlantedPathError
from dsdt.members import BUNDLES, COMMITTED
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.ids import is_sha256, is_uuid
from dsdt.objects.record import load_yaml
from dsdt.refs.store import MAX_REF_BYTES
from dsdt.repo import Repository


@dataclass
class FsckReport:
    """What fsck found (``ok`` is False on errors or unreachable data).

    Attributes:
        errors: One line per problem: a corrupt or missing record, ref or blob.
        warnings: Harmless leftovers (interrupted writes, stale locks...).
        unreachable: Bundles whose data is neither here nor on a remote, with
            who made them where.
        contexts, refs, records, blobs: How many of each were checked.
        not_pulled: Bundles whose data is on their remote, not here (fine).
        corrupt: Blob id -> the most bytes it may hold, for blobs whose bytes
            are not their hash.
        repaired: Blobs fetched (or uploaded) again by ``repair``.
    """

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  #: data neither here nor on a remote
    contexts: int = 0
    refs: int = 0
    records: int = 0
    blobs: int = 0
    not_pulled: int = 0  #: bundles whose data is on their remote, not here (fine)
    corrupt: dict[str, int] = field(default_factory=dict)  #: blob id -> most bytes it may hold
    repaired: list[str] = field(default_factory=list)  #: blobs fetched again (fsck --repair)

    @property
    def ok(self) -> bool:
        """True when there is no error and all data is reachable (warnings are allowed)."""
        return not self.errors and not self.unreachable


def check(repo: Repository) -> FsckReport:
    """Check the whole repository and return the report."""
    report = FsckReport()
    referenced: dict[str, str] = {}  # uuid -> record sha
    contexts = repo.root / "refs" / "contexts"
    for ctx_dir in _entries(contexts, report):
        if ctx_dir.name.startswith("."):
            report.warnings.append(f"{ctx_dir}: left by an interrupted context deletion")
        elif not ctx_dir.is_dir():
            report.errors.append(_planted_problem(ctx_dir, "dir"))
        else:
            _check_context(repo, ctx_dir, report, referenced)
    for ctx in repo.context_names():  # pulled members are records to check too
        for uuid, sha in repo.tracked(ctx).items():
            if referenced.setdefault(uuid, sha) != sha:  # pull keeps the local one
                report.errors.append(f"bundle {uuid}: the remote of context {ctx} lists "
                                     "another record of it than this clone has, which pull "
                                     "does not take (dsdt fsck --remote checks the remote)")
    _check_head(repo, report)
    _check_layout(repo.root, report)
    needed = _check_records(repo, referenced, report)
    _check_blobs(repo, needed, report)
    _check_leftovers(repo, report, set(referenced))
    return report


def _check_context(repo: Repository, ctx_dir: Path, report: FsckReport,
                   referenced: dict[str, str]) -> None:
    """Check a context's description and refs; note its members in ``referenced``."""
    ctx = ctx_dir.name
    report.contexts += 1
    try:
        meta = load_yaml(read_regular(ctx_dir / "context.yaml", MAX_REF_BYTES),
                         f"{ctx}/context.yaml")
        if not isinstance(meta, dict) or set(meta) != {"remote_context", "remote_url"}:
            report.errors.append(f"{ctx_dir}/context.yaml: not a context description")
        else:
            repo.context_meta(ctx)  # a valid remote context name and URL
    except FileNotFoundError:
        if ctx_dir.exists():  # else deleted by another process while we looked
            report.errors.append(f"{ctx_dir}: context.yaml is missing")
    except DsdtError as e:
        report.errors.append(str(e))
    members: dict[str, str] = {}
    for kind in (BUNDLES, COMMITTED):
        for path in _ref_files(ctx_dir / kind, report):
            report.refs += 1
            uuid = path.name
            where = f"{ctx}/{kind}/{uuid}"
            try:
                value = read_regular(path, MAX_REF_BYTES).decode("utf-8", "replace").strip()
            except FileNotFoundError:
                continue  # removed by a concurrent rm since it was listed
            except DsdtError as e:
                report.errors.append(f"ref {where}: {e}")
                continue
            if not is_uuid(uuid) or path.parent.name != uuid[:2]:
                report.errors.append(f"ref {where}: not a bundle uuid in the right shard")
            elif not is_sha256(value):
                report.errors.append(f"ref {where}: its value is not a sha256")
            elif kind == BUNDLES:
                members[uuid] = value
                if referenced.setdefault(uuid, value) != value:
                    report.errors.append(f"ref {where}: names another record hash than "
                                         "other contexts do")
            elif members.get(uuid) != value and not (ctx_dir / BUNDLES / uuid[:2] / uuid).exists():
                report.warnings.append(f"commit mark {where} without membership (harmless)")


def _entries(directory: Path, report: FsckReport) -> list[Path]:
    """The entries of a directory of refs; symlinks are errors and never followed."""
    if directory.is_symlink():
        report.errors.append(str(symlink_error(directory)))
        return []
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.iterdir()):
        if path.is_symlink():
            report.errors.append(str(symlink_error(path)))
        else:
            out.append(path)
    return out


#: What dsdt keeps under ``.dsdt``, parents first: each is a directory whose entries are
#: of the first kind and hold entries of the second (None: not looked into). Git can put
#: a symlink, or something of the wrong kind, at any of them (``git add -f``).
_KEPT: dict[str, tuple[str | None, str | None]] = {
    "records": ("dir", "file"), "cache": (None, None), "cache/records": ("dir", "file"),
    "cache/made": ("dir", "file"), "cache/blobs": ("dir", "file"), "cache/views": ("dir", None),
    "cache/tracking": ("file", None), "cache/open": ("file", None), "cache/tmp": (None, None)}


def _check_layout(root: Path, report: FsckReport) -> None:
    """Something of the wrong kind where dsdt keeps a directory or file (a symlink, a
    directory for a file...) stops the writes that reach it and hides what is behind
    it: name each one."""
    for rel, (kind, inner) in _KEPT.items():
        path = root / rel
        if rel.startswith("cache/") and misplaced(root / "cache", directory=True):
            continue  # named with the cache itself
        if misplaced(path, directory=True):
            report.errors.append(_planted_problem(path, "dir"))
            continue
        for entry in _scan(path) if kind else ():
            if not _is(entry, kind):
                report.errors.append(_planted_problem(Path(entry.path), kind))
            elif inner and entry.is_dir(follow_symlinks=False):
                report.errors += [_planted_problem(Path(f.path), inner)
                                  for f in _scan(Path(entry.path)) if not _is(f, inner)]
    if misplaced(root / "cache" / "gc-fence", directory=False):
        report.errors.append(_planted_problem(root / "cache" / "gc-fence", "file"))
    if not misplaced(root / "cache", directory=True):
        _check_views(root / "cache" / "views", report)


def _check_views(views: Path, report: FsckReport) -> None:
    """A view holds directories and regular files only: reading a bundle's files refuses
    anything else (a symlink, a FIFO) that git put inside one."""
    for view in _scan(views) if not misplaced(views, directory=True) else ():
        if not view.is_dir(follow_symlinks=False):
            continue  # named by the layout check
        for top, dirs, files in os.walk(view.path):  # never follows a symlink
            for path in (Path(top, name) for name in dirs + files):
                if misplaced(path, directory=True) and misplaced(path, directory=False):
                    report.errors.append(_planted_problem(path, "file"))


def _is(entry: os.DirEntry[str], kind: str) -> bool:
    """``entry`` is of ``kind``, never through a symlink (a hidden file may sit among
    directories: an interrupted write's)."""
    if kind == "file" or (entry.name.startswith(".") and entry.is_file(follow_symlinks=False)):
        return entry.is_file(follow_symlinks=False)
    return entry.is_dir(follow_symlinks=False)


def _scan(path: Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _planted_problem(path: Path, kind: str) -> str:
    return str(misplaced_error(path, directory=kind == "dir"))


def _ref_files(base: Path, report: FsckReport) -> list[Path]:
    out = []
    for shard in _entries(base, report):
        for path in _entries(shard, report) if shard.is_dir() else [shard]:
            if path.is_dir():
                report.errors.append(f"{path} is a directory where a ref file belongs; "
                                     "remove it")
            elif path.name.endswith(".lock"):
                _check_lock(path, report)
            elif path.name.startswith("."):
                report.warnings.append(f"{path}: temporary file left by an interrupted write")
            else:
                out.append(path)
    return out


def _check_lock(path: Path, report: FsckReport) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, OSError):
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        report.warnings.append(f"{path}: stale lock of a dead process (cleared on next write)")
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
    finally:
        os.close(fd)


def _check_head(repo: Repository, report: FsckReport) -> None:
    try:  # HEAD, or default when unset and present
        head = repo.current_context()  # a symlink, a directory, no context name: raises
    except DsdtError as e:
        report.errors.append(str(e))
        return
    if head and not (repo.root / "refs" / "contexts" / head / "context.yaml").is_file():
        report.warnings.append(f"HEAD names context {head!r}, which does not exist")


def _check_records(repo: Repository, referenced: dict[str, str],
                   report: FsckReport) -> dict[str, int]:
    """Every record; returns the blobs they need (inside trees and packed values that are
    here), each with the most bytes it may hold."""
    needed: dict[str, int] = {}
    for uuid, sha in sorted(referenced.items()):
        report.records += 1
        try:
            rec = repo.read_record(uuid, sha)
            try:
                found = blob_refs(rec.data, _intact_or_missing(repo))
            except NotFoundError:  # a tree or packed value is not here: nor is its data
                found = blob_refs(rec.data)
            refs = found.limits()
        except PlantedPathError as e:  # the bundle is sound: the symlink goes
            report.errors.append(f"bundle {uuid}: {e}")
            continue
        except CorruptObjectError as e:
            report.errors.append(f"bundle {uuid}: {e} (remove it: dsdt rm -f -u {uuid} "
                                 "-c <context>)")
            continue
        except DsdtError as e:
            report.errors.append(f"bundle {uuid}: {e}")
            continue
        needed.update(refs)
    return needed


def _intact_or_missing(repo: Repository) -> Callable[[str, int], bytes]:
    """Reads a tree or packed value; a corrupt one counts as missing (fsck reports it)."""
    def read(blob_id: str, limit: int) -> bytes:
        if repo.blobs.here(blob_id) and not repo.blobs.verify(blob_id):
            raise NotFoundError(f"blob {blob_id} is corrupt")
        return repo.blobs.read(blob_id, limit)

    return read


def _check_blobs(repo: Repository, needed: dict[str, int], report: FsckReport) -> None:
    """Every blob here that a record needs must hash to its id."""
    for blob_id in sorted(needed):
        if repo.blobs.here(blob_id):
            report.blobs += 1
            if not repo.blobs.verify(blob_id):
                report.corrupt[blob_id] = needed[blob_id]
                report.errors.append(f"blob {blob_id} does not match its sha256 (corrupt); "
                                     "dsdt fsck --repair fetches it again from a remote")
    unreferenced = [b for b in repo.blobs if b not in needed]
    if unreferenced:
        size = sum(repo.blobs.size(b) for b in unreferenced)
        report.warnings.append(f"{len(unreferenced)} unreferenced blob(s), {size} bytes "
                               "(left by removed bundles or interrupted writes)")


def _check_leftovers(repo: Repository, report: FsckReport, referenced: set[str]) -> None:
    records = repo.root / "records"
    stray = [p for p in shard_files(records) if p.suffix == ".yaml" and p.stem not in referenced]
    if stray:
        report.warnings.append(f"{len(stray)} record(s) not in any context "
                               "(removed bundles or interrupted writes)")
    temps = list(shard_files(records, hidden=True))
    if temps:
        report.warnings.append(f"{len(temps)} temporary record file(s) from interrupted writes")
    scratch = repo.root / "cache" / "tmp"
    leftovers = list(scratch.iterdir()) if scratch.is_dir() else []
    leftovers += list(shard_files(repo.root / "cache" / "blobs", hidden=True))
    if leftovers:
        report.warnings.append(f"{len(leftovers)} temporary blob file(s) from interrupted writes")
    views = repo.root / "cache" / "views"
    orphans = [v for v in views.iterdir() if v.name not in referenced] if views.is_dir() else []
    if orphans:
        report.warnings.append(f"{len(orphans)} view(s) of bundles in no context "
                               "(removed or abandoned bundles)")
