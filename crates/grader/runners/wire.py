"""Values crossing the process boundary between judge.py and harness.py.

One definition for both sides: the judge compares a child's encoded answer with the
encoding of the expected value, so the two must never differ. Exact types: a str
subclass with an __eq__ that always says True arrives as "other", not as a str.
"""


def encode(value, depth=0):
    if depth > 50:
        return {"t": "other", "type": "nested too deep"}
    t = type(value)
    if value is None:
        return {"t": "None"}
    if t in (bool, int, str):
        return {"t": t.__name__, "v": value}
    if t is float:
        return {"t": "float", "v": repr(value)}
    if t in (list, tuple):
        return {"t": t.__name__, "v": [encode(v, depth + 1) for v in value]}
    if t is dict:
        return {
            "t": "dict",
            "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()],
        }
    return {"t": "other", "type": t.__name__}
