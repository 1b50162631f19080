"""Packs on a remote: many small blobs in one object, and the index that lists them.

As in git's packfiles, restic and kopia, one request carries thousands of
small blobs. The layout (``docs/format.md`` section 10)::

    packs/<id[:2]>/<id>.pack   blobs concatenated; <id> is the sha256 of the pack's bytes
    packs/<id[:2]>/<id>.idx    the pack's index: which blob is where in it

The index is text::

    dsdt-pack-index 1
    <pack id> <pack size>
    <blob id> <offset> <length>      one line per blob, by increasing offset

An index was written by others: it is read at most :data:`MAX_INDEX_BYTES`,
and refused whole unless every line is exact, every blob id is 64 hex digits
and listed once, and the ranges lie inside the pack's declared size without
overlapping (so an index never makes dsdt read more than the pack). A
blob's bytes are verified against its id after they are cut from the pack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dsdt.errors import CorruptObjectError

#: Blobs smaller than this are pushed in packs; larger ones stay objects of their own.
PACK_THRESHOLD = 1 << 20
#: A push closes a pack once it holds this many bytes (so packs hold 16-17 MiB).
PACK_TARGET = 16 << 20
#: The largest pack a reader accepts (dsdt writes about 17 MiB).
MAX_PACK_BYTES = 256 << 20
#: The largest index a reader accepts (a pack of 256 MiB of 4 KiB blobs needs 5.6 MiB).
MAX_INDEX_BYTES = 16 << 20
HEADER = "dsdt-pack-index 1"
_NUM = r"(?:0|[1-9][0-9]{0,14})"
_ENTRY = re.compile(rf"([0-9a-f]{{64}}) ({_NUM}) ({_NUM})")
_TOP = re.compile(rf"([0-9a-f]{{64}}) ({_NUM})")
_KEY = re.compile(r"packs/([0-9a-f]{2})/([0-9a-f]{64})\.(pack|idx)")


@dataclass(frozen=True)
class PackEntry:
    """Where one blob is in a pack."""

    blob: str
    offset: int
    length: int


@dataclass(frozen=True)
class PackIndex:
    """A pack's index: its id, size and entries (by increasing offset)."""

    pack: str
    size: int
    entries: tuple[PackEntry, ...]


def pack_key(pack_id: str) -> str:
    """Key of a pack."""
    return f"packs/{pack_id[:2]}/{pack_id}.pack"


def index_key(pack_id: str) -> str:
    """Key of a pack's index."""
    return f"packs/{pack_id[:2]}/{pack_id}.idx"


def parse_key(key: str) -> tuple[str, str] | None:
    """``(pack id, "pack" or "idx")`` of a key under ``packs/``; None for anything else."""
    m = _KEY.fullmatch(key)
    if m is None or m.group(2)[:2] != m.group(1):
        return None
    return m.group(2), m.group(3)


def encode_index(index: PackIndex) -> bytes:
    """The canonical text of a pack index."""
    lines = [HEADER, f"{index.pack} {index.size}"]
    lines += [f"{e.blob} {e.offset} {e.length}" for e in index.entries]
    return ("\n".join(lines) + "\n").encode("ascii")


def decode_index(data: bytes, pack_id: str, what: str) -> PackIndex:
    """A validated pack index read from the remote.

    Args:
        data: Its bytes (read with a limit of :data:`MAX_INDEX_BYTES`).
        pack_id: The pack its key names: the index must describe that pack.
        what: Where it came from, for the error.

    Raises:
        CorruptObjectError: Anything about it is not as dsdt writes it.
    """
    try:
        return _decode(data, pack_id)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptObjectError(f"pack index {what} is corrupt or hostile: {e}; its pack "
                                 "was not used (run dsdt fsck --remote)") from None


def _decode(data: bytes, pack_id: str) -> PackIndex:
    if len(data) > MAX_INDEX_BYTES:
        raise ValueError(f"larger than {MAX_INDEX_BYTES} bytes")
    lines = data.decode("ascii").split("\n")
    if len(lines) < 4 or lines[0] != HEADER or lines[-1] != "":
        raise ValueError("not a pack index of format 1 listing at least one blob")
    top = _TOP.fullmatch(lines[1])
    if top is None or top.group(1) != pack_id:
        raise ValueError(f"it does not describe pack {pack_id}")
    size = int(top.group(2))
    if not 0 < size <= MAX_PACK_BYTES:
        raise ValueError(f"pack size {size} is not between 1 and {MAX_PACK_BYTES}")
    entries: list[PackEntry] = []
    seen: set[str] = set()
    end = 0
    for n, line in enumerate(lines[2:-1], start=3):
        m = _ENTRY.fullmatch(line)
        if m is None:
            raise ValueError(f"line {n} is not '<blob id> <offset> <length>'")
        entry = PackEntry(m.group(1), int(m.group(2)), int(m.group(3)))
        if entry.offset < end or entry.offset + entry.length > size:
            raise ValueError(f"line {n}: bytes {entry.offset}..{entry.offset + entry.length} "
                             f"overlap the entry before or lie outside the {size}-byte pack")
        if entry.blob in seen:
            raise ValueError(f"line {n}: blob {entry.blob} is listed twice")
        seen.add(entry.blob)
        end = entry.offset + entry.length
        entries.append(entry)
    return PackIndex(pack_id, size, tuple(entries))
