"""The encrypted content spool: submitted bytes wait here until their signals are extracted.

Each file is AES-256-GCM encrypted under the spool key with a fresh 96-bit nonce; the file name is the
associated data, so a file renamed onto another evaluation fails authentication instead of being hashed as
that evaluation's content. Layout: magic `TSP1`, nonce, ciphertext with its tag.

The key comes from the `spool_key` setting or from `data_dir/spool.key`, created with mode 0600 on first use
(atomically: two processes starting at once end up with the same key). Losing the key loses only content
not yet hashed; nothing else is encrypted with it.

Writes are fsynced (file and directory) before the submit transaction commits, so an accepted item's
content survives a crash. Files are deleted once extracted, unless the verdict holds them for review.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.pipeline.errors import SpoolError
from tutela.settings import Settings

_MAGIC = b"TSP1"
_SPOOLS: dict[tuple[Path, str | None], Spool] = {}
_SPOOLS_LOCK = threading.Lock()
_NONCE_BYTES = 12
_KEY_BYTES = 32


class Spool:
    """Encrypted files under one directory, named by random tokens."""

    def __init__(self, directory: Path, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"the spool key must be {_KEY_BYTES} bytes, got {len(key)}")
        self.directory = directory
        self._aead = AESGCM(key)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    @classmethod
    def from_settings(cls, settings: Settings) -> Spool:
        if settings.spool_key is not None:
            key = base64.b64decode(settings.spool_key.get_secret_value(), validate=True)
        else:
            key = load_or_create_key(settings.data_dir / "spool.key")
        return cls(settings.data_dir / "spool", key)

    def write(self, data: bytes) -> str:
        """Encrypt `data` into a new file, fsynced with its directory; returns the file's name."""
        name = secrets.token_hex(16)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = _MAGIC + nonce + self._aead.encrypt(nonce, data, name.encode())
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(sealed)
                handle.flush()
                os.fsync(handle.fileno())
            _fsync_directory(self.directory)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return name

    def read(self, name: str) -> bytes:
        """The decrypted content; SpoolError if the file is gone or fails authentication."""
        try:
            sealed = (self.directory / _checked(name)).read_bytes()
        except FileNotFoundError:
            raise SpoolError(f"spool file {name} is missing (deleted by retention or by hand)") from None
        if not sealed.startswith(_MAGIC):
            raise SpoolError(f"spool file {name} is not a Tutela spool file")
        nonce = sealed[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[len(_MAGIC) + _NONCE_BYTES :], name.encode())
        except InvalidTag:
            raise SpoolError(
                f"spool file {name} fails authentication: wrong spool key, or the file was altered"
            ) from None

    def delete(self, name: str) -> None:
        """Remove a file; deleting one that is already gone is not an error (sweeps and retries)."""
        (self.directory / _checked(name)).unlink(missing_ok=True)

    def names(self) -> Iterator[tuple[str, float]]:
        """(name, modification time) of every file, for sweeps."""
        for entry in os.scandir(self.directory):
            if entry.is_file() and not entry.name.startswith("."):
                try:
                    yield entry.name, entry.stat().st_mtime
                except FileNotFoundError:
                    continue


def spool_for(settings: Settings) -> Spool:
    """The spool of these settings, built once per process (the key file is read once)."""
    secret = None if settings.spool_key is None else settings.spool_key.get_secret_value()
    key = (settings.data_dir.resolve(), secret)
    with _SPOOLS_LOCK:
        spool = _SPOOLS.get(key)
        if spool is None:
            spool = _SPOOLS[key] = Spool.from_settings(settings)
        return spool


def load_or_create_key(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600, atomically via a hard link) when it does not exist."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(_KEY_BYTES)) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(temporary, path)
        _fsync_directory(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = base64.b64decode(path.read_bytes().strip(), validate=True)
    if len(key) != _KEY_BYTES:
        raise SpoolError(f"{path} holds a {len(key)}-byte key; a spool key is {_KEY_BYTES} bytes (base64)")
    return key


def _checked(name: str) -> str:
    if not name or not all(c in "0123456789abcdef" for c in name):
        raise SpoolError(f"invalid spool file name {name!r}")
    return name


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
