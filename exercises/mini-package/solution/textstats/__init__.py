"""textstats: small statistics about English text (reference solution)."""

from .core import average_word_length, sentence_count, word_count

__version__ = "1.0.0"
__all__ = ["word_count", "sentence_count", "average_word_length"]
