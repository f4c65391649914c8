"""
{{title}}

Write count_words(text): the number of words in `text`, a string. A word is a run of
characters that are not whitespace (spaces, tabs, newlines), so "  a  b " has two words
and "" or "   " has none.

Examples:
    count_words("hello world")     # 2
    count_words("  one   two  ")   # 2
    count_words("")                # 0

Try it:  python3 -c 'import {{module}}; print({{module}}.count_words("a b"))'
"""


def count_words(text):
    # TODO: this counts the gaps between single spaces, not the words.
    return len(text.split(" "))
