"""The `sha256` signal type: SHA256 of the raw bytes, for exact-copy hash lists."""

from tutela.signals.digest import DigestSignalType

SHA256 = DigestSignalType(name="sha256", algorithm="sha256", hex_length=64)
