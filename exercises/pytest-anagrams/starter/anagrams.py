# Find the anagrams of a word: see the statement.


def find_anagrams(word, candidates):
    # TODO: ignore case, and leave out the word itself.
    return [candidate for candidate in candidates if sorted(candidate) == sorted(word)]
