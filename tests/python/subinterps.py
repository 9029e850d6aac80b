# subinterps.py - subinterpreters created, used and destroyed beside the main
# interpreter's own work, for tests/e2e/test_subinterp.sh: two one after the
# other on the main thread, then two at once on threads of their own (two
# each) while the main thread allocates.  Each builds and drops enough small
# objects to need several arenas.  From 3.12 they are isolated (an obmalloc
# state of their own) unless the argument is "legacy"; before 3.12 they
# always share the main interpreter's.
import ctypes
import sys
import threading
try:
    import _xxsubinterpreters as si
    run = si.run_string
except ImportError:
    import _interpreters as si
    run = si.exec

legacy = sys.argv[1:] == ["legacy"]


def create():
    if not legacy or sys.version_info < (3, 12):
        return si.create()
    if sys.version_info < (3, 13):
        return si.create(isolated=False)
    return si.create("legacy")

lib = ctypes.PyDLL(None)
snapshot = getattr(lib, "arenatrace_snapshot", None)

CODE = """
keep = []
for r in range(3):
    d = {i: str(i) * 4 for i in range(30000)}
    keep.append([d[i] for i in range(0, 30000, 9)])
    del d
total = sum(len(x) for x in keep)
"""


def use(n):
    for _ in range(n):
        interp = create()
        run(interp, CODE)
        si.destroy(interp)


def main_work(rounds):
    kept = []
    for r in range(rounds):
        m = [(str(i), i * 1.5) for i in range(20000)]
        kept.append(m[::11])
    return kept


if snapshot:
    snapshot(b"start")
before = main_work(2)
use(2)
if snapshot:
    snapshot(b"after-main-thread")
threads = [threading.Thread(target=use, args=(2,)) for _ in range(2)]
for t in threads:
    t.start()
during = main_work(3)
for t in threads:
    t.join()
after = main_work(1)
if snapshot:
    snapshot(b"end")
print("done", len(before), len(during), len(after), file=sys.stdout)
