# {{title_line}}: see the statement.


def count_words(text):
    # TODO: this counts the gaps between single spaces, not the words.
    return len(text.split(" "))
