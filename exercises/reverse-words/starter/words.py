"""Reverse the words of a sentence.

Write reverse_words(sentence) so that it returns the words of `sentence` in reverse
order, joined by single spaces.

- A word is a run of characters that are not whitespace. Punctuation belongs to the
  word it touches: "Hello, world!" gives "world! Hello,".
- Any whitespace (spaces, tabs, newlines, several in a row) separates words; the
  result has exactly one space between words and none at either end.
- A sentence with no words gives the empty string.
- The argument is a str and so is the result (not a list).

Examples:
    reverse_words("hello world")          == "world hello"
    reverse_words("  one   two\tthree ")  == "three two one"
    reverse_words("")                     == ""

Run it yourself:  python3 -c 'import words; print(words.reverse_words("a b c"))'
"""


def reverse_words(sentence):
    # TODO: split the sentence into words, reverse them, join them with spaces.
    return sentence
