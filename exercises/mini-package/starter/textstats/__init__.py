# The textstats package's public face: see the statement.

# TODO: version 1.0.0, re-export the three functions, __all__.
__version__ = "0.1.0"

from .core import word_count
