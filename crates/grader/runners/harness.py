"""The untrusted half of the runner: imports the learner's module and runs one request.

Started by judge.py as `python3 -I -S -B -c "…; import harness" TESTS_DIR REPLY_FD` (or run
as a script, `harness.py TESTS_DIR REPLY_FD`), with the request as JSON on stdin. It answers with one JSON object on REPLY_FD and
nothing else; the learner's prints go to files the judge keeps private. Nothing here is
trusted: the learner's code runs in this process and could rewrite any of it, which is
why the judge, not this file, decides whether a test passed.

What the request brings besides the call:

* `confine_fd`: the Landlock ruleset the judge prepared (confine.py), on a descriptor
  it passed. The harness enters that domain (the tests unreadable, the workspace
  read-only, the runner out of reach) before anything of the learner's is on
  sys.path, and closes the descriptor; it never runs the learner's code outside it.
  (Entered here rather than between fork and exec in the judge: a fork of the judge
  costs more than these two system calls.)
* `sources`: the source of the package's probe modules (`tests/<name>.py`) the call
  needs. The tests folder is unreadable here, so the judge reads them and hands them
  over; they are imported from that text, ahead of anything on sys.path.
* `listings`: what the folders that lost their listing in the domain hold (the
  workspace root, whose `tests/` is hidden). Python's path finder lists a folder to
  find modules in it; for these it is given the listing instead.
"""

import json
import os
import sys
import traceback

# Everything the harness needs is imported before the workspace joins sys.path, so a
# learner's json.py cannot stand in for the standard library here (nor a wire.py for
# the encoding shared with the judge).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importlib.machinery  # noqa: E402

import confine  # noqa: E402
from wire import encode  # noqa: E402

tests_dir, reply_fd = sys.argv[1], int(sys.argv[2])
os.set_inheritable(reply_fd, False)
request = json.loads(sys.stdin.read())
sys.stdin = open(os.devnull)


if request.get("confine_fd") is not None:
    try:
        fd = int(request["confine_fd"])
        confine.restrict(fd)
        os.close(fd)
    except Exception as e:
        data = json.dumps({"confine_error": str(e)}).encode() + b"\n"
        os.write(reply_fd, data)
        sys.exit(1)

# The exercise's tests folder comes next, so its probe modules cannot be shadowed by a
# file in the workspace root (an archive submission may add files there). Inside the
# domain it cannot be read: the probes then arrive as `sources` (see above).
sys.path[1:1] = [tests_dir, os.getcwd()]


class _Probes:
    """Imports the probe modules the judge handed over as text."""

    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        if name not in self.sources:
            return None
        origin = os.path.join(tests_dir, name + ".py")
        return importlib.machinery.ModuleSpec(name, self, origin=origin)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = module.__spec__.origin
        code = compile(self.sources[module.__name__], module.__file__, "exec")
        exec(code, module.__dict__)


class _ListedFinder(importlib.machinery.FileFinder):
    """Python's path finder, for a folder it may enter but not list: the listing comes
    from the judge, who could."""

    listings = {}

    def _fill_cache(self):
        names = self.listings.get(os.path.abspath(self.path or os.getcwd()))
        if names is None:
            return super()._fill_cache()
        self._path_cache = set(names)
        self._relaxed_path_cache = {n.lower() for n in names}


def _install_finders():
    sources = request.get("sources") or {}
    if sources:
        sys.meta_path.insert(0, _Probes(sources))
    listings = request.get("listings") or {}
    if listings:
        _ListedFinder.listings = listings
        loaders = [
            (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
            (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES),
            (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
        ]
        sys.path_hooks.insert(0, _ListedFinder.path_hook(*loaders))
        for folder in listings:  # (none is cached yet; this is belt and braces)
            sys.path_importer_cache.pop(folder, None)


_install_finders()


def short_traceback():
    """The learner's frames and the error, without the harness's or importlib's."""
    etype, value, tb = sys.exc_info()
    frames = [
        f
        for f in traceback.extract_tb(tb)
        if not f.filename.endswith("harness.py")
        and "importlib" not in f.filename
        and not f.filename.startswith("<frozen")
    ]
    lines = traceback.format_list(frames[-8:]) + traceback.format_exception_only(etype, value)
    text = "".join(lines).rstrip()
    if frames:
        text = "Traceback (most recent call last):\n" + text
    return text[-3000:]


def outcome(fn):
    try:
        return {"ok": encode(fn())}
    except BaseException as e:  # SystemExit and KeyboardInterrupt are results too
        try:
            message = str(e)
        except BaseException:
            message = "<str() of the exception failed>"
        return {
            "raised": {
                "type": type(e).__name__,
                "mro": [c.__name__ for c in type(e).__mro__],
                "message": message[:2000],
                "traceback": short_traceback(),
            }
        }


def answer(obj):
    data = json.dumps(obj).encode() + b"\n"  # the judge reads one line
    view = memoryview(data)
    while view:
        n = os.write(reply_fd, view)
        view = view[n:]
    os.close(reply_fd)


def resolve(obj, dotted):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def main():
    import importlib

    try:
        module = importlib.import_module(request["module"])
    except BaseException:
        return {"import_error": short_traceback()}
    op = request["op"]
    if op == "describe":
        try:
            obj = resolve(module, request["name"])
        except AttributeError:
            return {"result": {"kind": "missing"}}
        kind = type(obj).__name__
        where = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
        result = {"kind": kind, "defined_in": where}
        if not callable(obj):
            result["value"] = encode(obj)
        return {"result": result}
    try:
        target = resolve(module, request.get("name") or request["cls"])
    except AttributeError:
        name = request.get("name") or request["cls"]
        return {
            "missing": f"{request['module']} has no {name!r}: is it spelled right, and "
            "defined (or imported) at the top level of the module?"
        }
    if op == "call":
        return {"result": outcome(lambda: target(*request["args"]))}
    if op == "calls":
        return {"results": [outcome(lambda a=a: target(*a)) for a in request["args_list"]]}
    if op == "object":
        results = []
        box = {}

        def build():
            box["obj"] = target(*request["args"])
            return None

        results.append(outcome(build))
        for step in request["steps"]:
            if "obj" not in box:
                results.append({"raised": {"type": "NotBuilt", "mro": [], "message": "no object"}})
            elif step[0] == "get":
                results.append(outcome(lambda s=step: getattr(box["obj"], s[1])))
            else:
                results.append(outcome(lambda s=step: getattr(box["obj"], s[1])(*s[2])))
        return {"results": results}
    return {"missing": f"unknown request {op!r}"}


answer(main())
