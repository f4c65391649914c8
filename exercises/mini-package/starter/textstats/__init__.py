"""textstats: small statistics about English text. Ship it as a package.

This exercise is submitted as a ZIP archive whose root holds the folder textstats/
(zip it from the folder above: `zip -r submission.zip textstats`). You start with two
files, and you add a third.

textstats/core.py      the functions (see the statement there).
textstats/__init__.py  this file. Make the package's public face:
    - `import textstats` must print nothing.
    - textstats.__version__ == "1.0.0"
    - textstats.word_count, textstats.sentence_count and
      textstats.average_word_length are the functions of textstats.core, imported
      here (re-exported), not copies: `textstats.word_count is
      textstats.core.word_count`.
    - __all__ lists exactly those three names, so `from textstats import *` brings in
      those three and nothing else.
textstats/report.py    a new module (you create it) with one function,
    summary(text) -> dict, for example
        summary("Hi there. Bye!") ==
            {"words": 3, "sentences": 2, "average_word_length": 3.33}
    built from the functions of textstats.core (import them with a relative import,
    `from .core import ...`, so the package works under any name).
"""

# TODO: version 1.0.0, re-export the three functions, __all__.
__version__ = "0.1.0"

from .core import word_count
