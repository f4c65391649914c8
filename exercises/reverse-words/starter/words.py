# Reverse the words of a sentence: see the statement.


def reverse_words(sentence):
    # TODO: split the sentence into words, reverse them, join them with spaces.
    return sentence
