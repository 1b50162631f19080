"""The boto3 S3 clients dsdt shares: one per process, profile, endpoint and AWS environment.

boto3 is imported on the first request only, so ``dsdt --help`` stays fast.
Credentials come from boto3's default chain; nothing here reads, logs or
stores them (the cache key is a hash of the settings that decide the client).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


def codes(e: ClientError) -> set[str]:
    """The error code and the HTTP status of a botocore ClientError, as strings."""
    err = e.response.get("Error", {})
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return {str(err.get("Code", "")), str(status)}


#: Environment that decides who boto3 is and where it talks to: a client made
#: under other values is not reused.
_CLIENT_ENV = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
               "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN",
               "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CA_BUNDLE")
_MAX_CLIENTS = 16
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def shared_client(profile: str | None, endpoint_url: str | None) -> Any:
    """One boto3 S3 client per process, profile, endpoint and AWS environment.

    Making a client loads botocore's service models (about 0.15 s); transports
    of the same remote, or of several remotes, share one (clients are
    thread-safe). The AWS files' mtimes are part of the key, so rewritten
    credentials (``aws sso login``, ``aws configure``) are read again.
    """
    import hashlib

    import boto3.session
    from botocore.config import Config

    files = [os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
             os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")]
    facts = [os.getpid(), profile, endpoint_url, *(os.environ.get(v) for v in _CLIENT_ENV),
             *(_mtime(f) for f in files)]
    key = hashlib.sha256(repr(facts).encode()).hexdigest()  # no secret kept in clear
    with _clients_lock:
        if key not in _clients:
            if len(_clients) >= _MAX_CLIENTS:
                _clients.clear()
            config = Config(retries={"max_attempts": 8, "mode": "adaptive"},
                            max_pool_connections=32, connect_timeout=10, read_timeout=60)
            session = boto3.session.Session(profile_name=profile)
            _clients[key] = session.client("s3", endpoint_url=endpoint_url, config=config)
        return _clients[key]


def _mtime(path: str) -> int | None:
    try:
        return os.stat(os.path.expanduser(path)).st_mtime_ns
    except OSError:
        return None
