"""A summary of a text (reference solution)."""

from .core import average_word_length, sentence_count, word_count


def summary(text):
    return {
        "words": word_count(text),
        "sentences": sentence_count(text),
        "average_word_length": average_word_length(text),
    }
