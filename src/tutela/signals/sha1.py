"""The `sha1` signal type: SHA1 of the raw bytes, for exact-copy hash lists."""

from tutela.signals.digest import DigestSignalType

SHA1 = DigestSignalType(name="sha1", algorithm="sha1", hex_length=40)
