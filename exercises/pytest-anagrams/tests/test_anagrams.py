"""Hidden tests for pytest-anagrams, run by pytest (installed from the package's
requirements.txt). pytest loads the learner's module into its own process, so these
results are advisory: see exercises/README.md, "What running the learner's code
in-process gives up"."""

import pytest

from anagrams import find_anagrams


def test_finds_no_anagram_in_an_empty_list():
    assert find_anagrams("diaper", []) == []


def test_finds_no_anagram_when_none_matches():
    assert find_anagrams("diaper", ["hello", "world", "zombies", "pants"]) == []


@pytest.mark.parametrize(
    "word, candidates, expected",
    [
        ("listen", ["enlists", "google", "inlets", "banana"], ["inlets"]),
        ("master", ["stream", "pigeon", "maters"], ["stream", "maters"]),
        ("allergy", ["gallery", "ballerina", "regally", "clergy", "largely", "leading"],
         ["gallery", "regally", "largely"]),
    ],
    ids=["one anagram", "two anagrams", "three anagrams among near misses"],
)
def test_finds_anagrams_in_the_order_given(word, candidates, expected):
    assert find_anagrams(word, candidates) == expected


@pytest.mark.parametrize(
    "word, candidate",
    [("good", "dog"), ("dog", "good"), ("tapper", "patter"), ("abc", "abcc")],
    ids=["fewer letters", "more letters", "same letters other counts", "one letter extra"],
)
def test_needs_every_letter_as_often_as_in_the_word(word, candidate):
    assert find_anagrams(word, [candidate]) == []


@pytest.mark.parametrize(
    "word, candidates, expected",
    [
        ("Orchestra", ["cashregister", "Carthorse", "radishes"], ["Carthorse"]),
        ("orchestra", ["cashregister", "CARTHORSE", "radishes"], ["CARTHORSE"]),
        ("NEMA", ["mane", "Mean", "naME"], ["mane", "Mean", "naME"]),
    ],
    ids=["capital in both", "candidate in capitals", "word in capitals"],
)
def test_ignores_case_and_keeps_the_candidates_spelling(word, candidates, expected):
    assert find_anagrams(word, candidates) == expected


@pytest.mark.parametrize(
    "word, candidates, expected",
    [
        ("banana", ["banana"], []),
        ("BANANA", ["Banana", "nabana"], ["nabana"]),
        ("Listen", ["listen", "Silent", "LISTEN"], ["Silent"]),
    ],
    ids=["same spelling", "other case", "among real anagrams"],
)
def test_leaves_out_the_word_itself(word, candidates, expected):
    assert find_anagrams(word, candidates) == expected


def test_keeps_a_candidate_that_appears_twice():
    assert find_anagrams("stone", ["tones", "notes", "tones"]) == ["tones", "notes", "tones"]


@pytest.mark.parametrize(
    "word, candidates, expected",
    [
        ("ΑΒΓ", ["ΓΒΑ", "αβγ", "γβα", "ΑΒΔ"], ["ΓΒΑ", "γβα"]),
        ("кот", ["ТОК", "кто", "кит"], ["ТОК", "кто"]),
        ("éte", ["été", "tée", "ete"], ["tée"]),
    ],
    ids=["Greek capitals and small letters", "Cyrillic", "accented letters are letters of their own"],
)
def test_handles_letters_outside_ascii(word, candidates, expected):
    assert find_anagrams(word, candidates) == expected


def test_returns_a_list_and_leaves_the_candidates_alone():
    candidates = ["enlist", "Silent", "listen", "tinsel", "google"]
    result = find_anagrams("Listen", candidates)
    assert type(result) is list
    assert result == ["enlist", "Silent", "tinsel"]
    assert candidates == ["enlist", "Silent", "listen", "tinsel", "google"]


def test_handles_a_hundred_thousand_candidates():
    candidates = ["stop", "pots", "tops", "spot", "post", "opts", "stoop"] * 20_000
    result = find_anagrams("Stop", candidates)
    # Every candidate but "stop" (the word itself) and "stoop" (one letter too many).
    assert result == ["pots", "tops", "spot", "post", "opts"] * 20_000
