"""Reverse the words of a sentence (reference solution)."""


def reverse_words(sentence):
    return " ".join(reversed(sentence.split()))
