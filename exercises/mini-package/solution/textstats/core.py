"""The functions of textstats (reference solution)."""

END_MARKS = ".!?"


def _check(text):
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")


def words(text):
    _check(text)
    found = []
    current = []
    for ch in text:
        if ch.isalnum():
            current.append(ch)
        elif current:
            found.append("".join(current).lower())
            current = []
    if current:
        found.append("".join(current).lower())
    return found


def word_count(text):
    return len(words(text))


def sentence_count(text):
    _check(text)
    count = 0
    part = []
    for ch in text + ".":  # a final mark closes the last part
        if ch in END_MARKS:
            if words("".join(part)):
                count += 1
            part = []
        else:
            part.append(ch)
    return count


def average_word_length(text):
    found = words(text)
    if not found:
        return 0.0
    return round(sum(len(w) for w in found) / len(found), 2)
