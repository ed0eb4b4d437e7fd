"""The `md5` signal type: MD5 of the raw bytes, for exact-copy hash lists."""

from tutela.signals.digest import DigestSignalType

MD5 = DigestSignalType(name="md5", algorithm="md5", hex_length=32)
