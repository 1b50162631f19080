"""A remote in an S3 bucket (or any S3-compatible store), through boto3.

boto3 is imported only when the first request is made, so ``dsdt --help``
stays fast. Credentials come from boto3's default chain (``AWS_PROFILE``, the
environment, the config and credentials files, instance roles); this module
never reads, logs or stores them. Transient failures (throttling, 5xx,
timeouts) are retried by botocore with adaptive backoff.

Immutable objects are created with ``If-None-Match: *`` and mutable ones
(refs) are replaced with ``If-Match: <etag>``: S3's conditional writes make
both atomic on the server, with no lock.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dsdt._fs import tmp_name
from dsdt.errors import ConflictError, NotFoundError, RemoteError
from dsdt.remote.s3client import NOT_FOUND, codes, shared_client, translated_errors
from dsdt.remote.transport import (
    Leftover,
    Progress,
    Transport,
    Versioned,
    too_large,
    truncated,
)

MiB = 1024 * 1024
#: Retries of a write that S3 refused with 409 (a concurrent conditional write).
_CONFLICT_RETRIES = 5
_BAD_RANGE = {"416", "InvalidRange"}
_PRECONDITION = {"412", "PreconditionFailed"}
_CONCURRENT = {"409", "ConditionalRequestConflict"}


class S3Transport(Transport):
    """A remote store under ``s3://bucket/prefix``.

    Args:
        bucket: The bucket name.
        prefix: Key prefix of the remote inside the bucket ("" for the bucket root).
        endpoint_url: An S3-compatible endpoint; default: boto3's own choice
            (``AWS_ENDPOINT_URL``, the config file, else AWS).
        profile: An AWS profile name overriding ``AWS_PROFILE``.
        multipart_threshold: Files at least this big are transferred in parts of
            this size (minimum 5 MiB, S3's smallest part).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None = None,
        profile: str | None = None,
        multipart_threshold: int = 64 * MiB,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._endpoint_url = endpoint_url
        self._profile = profile
        self._part_size = max(multipart_threshold, 5 * MiB)
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Transport({self.url!r})"

    # -- plumbing ----------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client (made on first use, shared by all threads)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        from botocore.exceptions import BotoCoreError

        try:
            return shared_client(self._profile, self._endpoint_url)
        except BotoCoreError as e:
            raise RemoteError(f"cannot set up S3 access for {self.url}: {e}") from e

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self._part_size,
            multipart_chunksize=self._part_size,
            max_concurrency=8,
        )

    def _errors(self, op: str, key: str | None = None) -> contextlib.AbstractContextManager[None]:
        """Turn botocore errors into NotFoundError / RemoteError naming ``op`` and ``key``."""
        return translated_errors(op, self.url, key)

    def _put_object(
        self, key: str, data: bytes, *, retries: int = _CONFLICT_RETRIES, **condition: str
    ) -> dict[str, Any]:
        """``put_object``, retrying a 409 from a concurrent conditional write."""
        from botocore.exceptions import ClientError

        for attempt in range(retries):
            try:
                return self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, **condition
                )
            except ClientError as e:
                if not codes(e) & _CONCURRENT or attempt == retries - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    # -- Transport -----------------------------------------------------------

    def check(self) -> None:
        """Raise RemoteError unless the bucket exists and these credentials reach it."""
        from botocore.exceptions import ClientError

        with self._errors("check"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as e:
                if codes(e) & {"404", "NoSuchBucket", "NotFound"}:
                    raise RemoteError(
                        f"bucket {self.bucket} does not exist: create it "
                        f"(aws s3 mb s3://{self.bucket}) or fix the remote URL {self.url}"
                    ) from e
                raise

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            with self._errors("stat", key):
                return self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except NotFoundError:
            return None

    def size(self, key: str) -> int | None:
        """Size of the object, or None if it does not exist."""
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def stamp(self, key: str) -> str | None:
        """The object's ETag (any overwrite changes it), or None if it does not exist."""
        head = self._head(key)
        return None if head is None else str(head["ETag"])

    def get(self, key: str, limit: int | None = None) -> bytes:
        """The whole object (at most ``limit`` bytes)."""
        return self._get(key, limit)[0]

    def _get(self, key: str, limit: int | None = None) -> tuple[bytes, str]:
        """Content and ETag of an object (a failed body read is retried)."""
        from botocore.exceptions import (
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
        )

        for attempt in range(3):
            with self._errors("read", key), self._body(key, limit) as (body, etag):
                try:
                    data = body.read() if limit is None else body.read(limit + 1)
                    if limit is not None and len(data) > limit:
                        raise too_large(self.url, key, limit)
                    return data, etag
                except (IncompleteReadError, ReadTimeoutError, ResponseStreamingError):
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _body(self, key: str, limit: int | None) -> Iterator[tuple[Any, str]]:
        """The open body of a GET and the object's ETag (refused past ``limit`` bytes)."""
        resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        body = resp["Body"]
        try:
            if limit is not None and resp["ContentLength"] > limit:
                raise too_large(self.url, key, limit)
            yield body, resp["ETag"]
        finally:
            body.close()

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the object from ``offset``: one GET with a ``Range`` header."""
        from botocore.exceptions import ClientError

        if offset < 0 or length < 0:
            raise truncated(self.url, key, offset, length)
        if length == 0:
            if self.size(key) is None:
                raise NotFoundError(f"{key} not found in remote {self.url}")
            return b""
        from botocore.exceptions import (
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
        )

        for attempt in range(3):
            with self._errors("read", key):
                try:
                    resp = self.client.get_object(
                        Bucket=self.bucket, Key=self._key(key),
                        Range=f"bytes={offset}-{offset + length - 1}")
                except ClientError as e:
                    if codes(e) & _BAD_RANGE:
                        raise truncated(self.url, key, offset, length) from None
                    raise
                body = resp["Body"]
                try:
                    data = body.read(length + 1)
                except (IncompleteReadError, ReadTimeoutError, ResponseStreamingError):
                    if attempt == 2:
                        raise
                    continue
                finally:
                    body.close()
            if len(data) != length:  # the object ends early (or the range was ignored)
                raise truncated(self.url, key, offset, length)
            return data
        raise AssertionError("unreachable")

    def get_file(self, key: str, dest: Path, progress: Progress | None = None,
                 limit: int | None = None) -> None:
        """Download to ``dest`` through a temporary sibling (multipart if large), size checked."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_name(dest)
        try:
            with self._errors("download", key):
                resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
                length = resp["ContentLength"]
                if limit is not None and length > limit:
                    resp["Body"].close()
                    raise too_large(self.url, key, limit)
                if length < self._part_size:  # one GET is fastest
                    _stream_to(resp["Body"], tmp, progress, limit)
                else:  # parallel ranged GETs
                    resp["Body"].close()
                    self.client.download_file(
                        self.bucket, self._key(key), str(tmp),
                        Callback=progress, Config=self._transfer_config(),
                    )
            got = os.stat(tmp).st_size
            if limit is not None and got > limit:
                raise too_large(self.url, key, limit)
            if got != length:
                raise RemoteError(f"download of {self.url}/{key} was cut short ({got} of "
                                  f"{length} bytes); try again")
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def sha256(self, key: str, limit: int | None = None) -> str:
        """sha256 of the object, streamed down and hashed (never stored)."""
        import hashlib

        h = hashlib.sha256()
        with self._errors("read", key), self._body(key, limit) as (body, _etag):
            for chunk in body.iter_chunks(1 << 20):
                h.update(chunk)
        return h.hexdigest()

    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> str | None:
        """Store an object; with ``if_absent`` a conditional create (412 means it exists)."""
        from botocore.exceptions import ClientError

        condition = {"IfNoneMatch": "*"} if if_absent else {}
        with self._errors("write", key):
            try:
                resp = self._put_object(key, data, **condition)
            except ClientError as e:
                if if_absent and codes(e) & _PRECONDITION:
                    return None
                raise
        return str(resp["ETag"])

    def put_file(self, key: str, src: Path, progress: Progress | None = None) -> str | None:
        """Upload a file; S3 shows the object only once the (multipart) upload completes.

        Files below the multipart threshold go in one ``PutObject``: the transfer
        manager's per-call set-up costs more than the upload of a small file.
        A multipart upload returns no stamp (its ETag is not one of these bytes).
        """
        size = os.stat(src).st_size
        if size < self._part_size:
            data = Path(src).read_bytes()
            with self._errors("upload to", key):
                resp = self._put_object(key, data)
            if progress is not None:
                progress(len(data))
            return str(resp["ETag"])
        with self._errors("upload to", key):
            self.client.upload_file(
                str(src), self.bucket, self._key(key),
                Callback=progress, Config=self._transfer_config(),
            )
        return None

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` (relative to the remote's prefix)."""
        return (key for key, _size, _mtime in self.list_info(prefix))

    def list_info(self, prefix: str) -> Iterator[tuple[str, int, float]]:
        """Keys under ``prefix`` with their size and LastModified, from the listing itself."""
        base = self._key("")
        with self._errors("list", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix
            )
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield (obj["Key"][len(base):], int(obj["Size"]),
                           obj["LastModified"].timestamp())

    def delete(self, key: str) -> None:
        """Delete an object (S3 does not mind when it is already gone)."""
        try:
            with self._errors("delete", key):
                self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except NotFoundError:
            pass

    def leftovers(self) -> Iterator[Leftover]:
        """Multipart uploads under the prefix that were started and never completed."""
        base = self._key("")
        with self._errors("list uploads", base):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=base)
            for page in pages:
                for up in page.get("Uploads", ()):
                    yield Leftover(f"{up['Key'][len(base):]}#{up['UploadId']}", 0,
                                   up["Initiated"].timestamp())

    def remove_leftover(self, leftover: Leftover) -> None:
        """Abort one unfinished multipart upload (S3 then frees its parts)."""
        key, _, upload_id = leftover.name.rpartition("#")
        try:
            with self._errors("abort upload of", key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key),
                                                   UploadId=upload_id)
        except NotFoundError:
            pass

    def read_versioned(self, key: str) -> Versioned:
        """Content and ETag of the object (both None if it does not exist)."""
        try:
            data, etag = self._get(key)
        except NotFoundError:
            return Versioned(None, None)
        return Versioned(data, etag)

    def swap(self, key: str, expected: str | None, data: bytes) -> str:
        """Conditional put: ``If-Match: expected``, or ``If-None-Match: *`` for None."""
        from botocore.exceptions import ClientError

        condition = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected}
        with self._errors("update", key):
            try:
                resp = self._put_object(key, data, retries=1, **condition)
            except ClientError as e:
                if codes(e) & (_PRECONDITION | _CONCURRENT | NOT_FOUND):
                    raise ConflictError(
                        f"{key} in remote {self.url} was changed by somebody else; "
                        "read it again and retry"
                    ) from e
                raise
        return str(resp["ETag"])



def _stream_to(body: Any, path: Path, progress: Progress | None, limit: int | None) -> None:
    """Write a streaming response body to a new file, reporting progress; stop past ``limit``."""
    total = 0
    with open(path, "xb") as out:
        for chunk in body.iter_chunks(1 << 20):
            out.write(chunk)
            total += len(chunk)
            if progress is not None:
                progress(len(chunk))
            if limit is not None and total > limit:
                break
    body.close()
