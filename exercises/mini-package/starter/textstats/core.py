# The functions of textstats: see the statement.


def words(text):
    # TODO: letters and digits only, lower case, TypeError for non-str.
    return text.split()


def word_count(text):
    return len(words(text))


def sentence_count(text):
    raise NotImplementedError("sentence_count")


def average_word_length(text):
    raise NotImplementedError("average_word_length")
