"""The reference solution of {{id}}: `gauntlet exercises check` grades it (it must score 100)."""


def count_words(text):
    return len(text.split())
