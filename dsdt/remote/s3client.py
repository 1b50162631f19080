"""The boto3 S3 clients dsdt shares (one per process, profile, endpoint and AWS
environment), and how their errors become dsdt's.

boto3 is imported on the first request only, so ``dsdt --help`` stays fast.
Credentials come from boto3's default chain; nothing here reads, logs or
stores them (the cache key is a hash of the settings that decide the client).

Tests often run under moto's in-process ``mock_aws``, which intercepts the
requests of clients made after moto was imported. A client made while a mock
is active is never reused (the next test's mock, or the real endpoint once
the mock stops, must not receive it): each call makes a new one, from a
cached session so that it is quick. A client made before moto was imported
is not reused afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dsdt.errors import NotFoundError, RemoteError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_NO_CREDENTIALS_HINT = (
    "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or run 'aws configure' / 'aws sso login'"
)


def codes(e: ClientError) -> set[str]:
    """The error code and the HTTP status of a botocore ClientError, as strings."""
    err = e.response.get("Error", {})
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return {str(err.get("Code", "")), str(status)}


@contextlib.contextmanager
def translated_errors(op: str, url: str, key: str | None = None) -> Iterator[None]:
    """Turn botocore errors into NotFoundError / RemoteError naming ``op`` and ``key``.

    Args:
        op: What was being done ("read", "upload to"...).
        url: The remote's URL.
        key: The object's key within the remote, if the request was about one.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    where = f"{url}/{key}" if key is not None else url
    try:
        yield
    except NoCredentialsError as e:
        raise RemoteError(f"{op} {where}: {_NO_CREDENTIALS_HINT}") from e
    except ClientError as e:
        found = codes(e)
        if found & NOT_FOUND and key is not None:
            raise NotFoundError(f"{key} not found in remote {url}") from e
        if found & {"403", "AccessDenied"}:
            raise RemoteError(f"{op} {where}: access denied; check the credentials and the "
                              "bucket policy") from e
        raise RemoteError(f"{op} {where} failed: {e}") from e
    except BotoCoreError as e:
        raise RemoteError(f"{op} {where} failed: {e}") from e
    except Exception as e:
        from s3transfer.exceptions import S3DownloadFailedError, S3UploadFailedError

        if isinstance(e, (S3DownloadFailedError, S3UploadFailedError)):
            raise RemoteError(f"{op} {where} failed: {e} (did the object change while it "
                              "was transferred? try again)") from e
        raise


#: Environment that decides who boto3 is and where it talks to: a client made
#: under other values is not reused.
_CLIENT_ENV = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
               "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN",
               "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CA_BUNDLE")
_MAX_CLIENTS = 48  # sessions, clients and resources
_clients: dict[tuple[str, str], Any] = {}  # (client|resource|session, key)
_clients_lock = threading.Lock()


def shared_client(profile: str | None, endpoint_url: str | None) -> Any:
    """One boto3 S3 client per process, profile, endpoint and AWS environment.

    Making a client loads botocore's service models (about 0.15 s); transports
    of the same remote, or of several remotes, share one (clients are
    thread-safe). The AWS files' mtimes are part of the key, so rewritten
    credentials (``aws sso login``, ``aws configure``) are read again. Under
    an active moto mock every call makes a new client (see the module doc).
    """
    return _shared("client", profile, endpoint_url)


def shared_resource(profile: str | None, endpoint_url: str | None) -> Any:
    """A boto3 S3 *resource* made and shared like :func:`shared_client` (luigi's S3 targets)."""
    return _shared("resource", profile, endpoint_url)


def _shared(kind: str, profile: str | None, endpoint_url: str | None) -> Any:
    import hashlib

    import boto3.session
    from botocore.config import Config

    files = [os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
             os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")]
    mock = _moto_state()
    facts = [os.getpid(), profile, endpoint_url, mock,
             *(os.environ.get(v) for v in _CLIENT_ENV), *(_mtime(f) for f in files)]
    key = hashlib.sha256(repr(facts).encode()).hexdigest()  # no secret kept in clear
    with _clients_lock:
        if mock != "active" and (kind, key) in _clients:
            return _clients[kind, key]
        if len(_clients) >= _MAX_CLIENTS:
            _clients.clear()
        # A warm session makes a client in ~10 ms (a new one loads the models: ~0.3 s).
        if ("session", key) not in _clients:
            _clients["session", key] = boto3.session.Session(profile_name=profile)
        session = _clients["session", key]
        config = Config(retries={"max_attempts": 8, "mode": "adaptive"},
                        max_pool_connections=32, connect_timeout=10, read_timeout=60)
        made = getattr(session, kind)("s3", endpoint_url=endpoint_url, config=config)
        if mock != "active":
            _clients[kind, key] = made
        return made


def _moto_state() -> str:
    """``"absent"`` (moto not imported), ``"active"`` (a ``mock_aws`` runs) or ``"idle"``.

    moto is never imported here: only a process that imported it can be mocked.
    """
    models = sys.modules.get("moto.core.models")
    if models is None:
        return "absent"
    stubber = getattr(models, "botocore_stubber", None)
    return "active" if getattr(stubber, "enabled", False) else "idle"


def _mtime(path: str) -> int | None:
    try:
        return os.stat(os.path.expanduser(path)).st_mtime_ns
    except OSError:
        return None
