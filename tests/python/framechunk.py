"""A function with 70,000 locals: on 3.11+ its frame needs a data-stack
chunk of 1 MiB, the arena size, taken from the arena allocator; while
the frame lives, the interpreter allocates new arenas."""
import ctypes
try:
    snapshot = ctypes.PyDLL(None).arenatrace_snapshot
except AttributeError:
    snapshot = lambda label: None
src = ("def big():\n" + "".join(" v%d = %d\n" % (i, i) for i in range(70000)) +
       " v0 = [str(i) * 3 for i in range(150000)]\n return v0\n")
ns = {}
exec(compile(src, "big", "exec"), ns)
keep = []
for r in range(3):
    keep.append(ns["big"]())
    snapshot(b"after call %d" % r)
del keep[::2]
snapshot(b"end")
print(len(keep))
