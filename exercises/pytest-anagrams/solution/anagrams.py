"""Find the anagrams of a word (reference solution)."""


def find_anagrams(word, candidates):
    folded = word.casefold()
    letters = sorted(folded)
    found = []
    for candidate in candidates:
        other = candidate.casefold()
        if other != folded and sorted(other) == letters:
            found.append(candidate)
    return found
