"""Safe decoding of untrusted media: format from magic bytes, limits checked before pixels are decoded."""

from tutela.media.decode import Media, open_media
from tutela.media.limits import MediaLimits
from tutela.media.sniff import MediaFormat, sniff

__all__ = ["Media", "MediaFormat", "MediaLimits", "open_media", "sniff"]
