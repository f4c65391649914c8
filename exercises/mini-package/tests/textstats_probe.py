"""Probes that need a few lines of code against the learner's package. They run in
the untrusted child (harness.py) and only return plain data; the judge decides."""

import contextlib
import importlib
import io


def import_output():
    """What `import textstats` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        importlib.import_module("textstats")
    return out.getvalue()


def star_import_names():
    namespace = {}
    exec("from textstats import *", namespace)
    return sorted(k for k in namespace if k != "__builtins__")


def reexports():
    import textstats
    import textstats.core as core

    return [
        getattr(textstats, name, None) is getattr(core, name)
        for name in ("word_count", "sentence_count", "average_word_length")
    ]
