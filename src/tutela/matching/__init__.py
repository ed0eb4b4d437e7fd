"""Indexes that find bank entries for a signal: exact digests by dictionary, PDQ by exact range search.

Both follow the bank change feed (add, enable, disable, remove, bank threshold and switch) without a rebuild.
"""

from tutela.matching.exact_index import ExactHits, ExactIndex
from tutela.matching.pdq_index import PdqHits, PdqIndex

__all__ = ["ExactHits", "ExactIndex", "PdqHits", "PdqIndex"]
