"""PDQ: Meta's perceptual photo hash, in a bit-exact reference variant and a fast default variant."""

from tutela.signals.pdq.signal import PDQ, PdqMode, hamming, pdq_signal

__all__ = ["PDQ", "PdqMode", "hamming", "pdq_signal"]
