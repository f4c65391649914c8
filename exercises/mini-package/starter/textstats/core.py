"""The functions of textstats.

words(text) -> list of str
    The words of `text`, in order, in lower case. A word is a run of letters and
    digits (str.isalnum() is true for each of its characters); anything else
    separates words, apostrophes included: "Don't stop" has the words
    ["don", "t", "stop"].

word_count(text) -> int
    How many words `text` has.

sentence_count(text) -> int
    How many sentences `text` has. A sentence ends at ".", "!" or "?"; a run of them
    ("?!", "...") ends one sentence only. Text after the last end mark counts as one
    more sentence if it holds a word. A part without any word is no sentence: "..."
    alone has none.
        sentence_count("Hi. How are you?!") == 2
        sentence_count("One. Two") == 2

average_word_length(text) -> float
    The mean number of characters per word, rounded to 2 decimals with round();
    0.0 when there are no words.
        average_word_length("Hi there") == 3.5

All four take a str; for anything else they raise TypeError.
"""


def words(text):
    # TODO: letters and digits only, lower case, TypeError for non-str.
    return text.split()


def word_count(text):
    return len(words(text))


def sentence_count(text):
    raise NotImplementedError("sentence_count")


def average_word_length(text):
    raise NotImplementedError("average_word_length")
