"""The bundled workload of `make demo`: a cache that grows, is mostly
dropped, and keeps a few survivors scattered over its arenas: the classic
"memory is not given back" shape.  Marks and allocator snapshots (when run
under arenatrace) delimit the phases."""
import ctypes
import gc
import random

try:
    _lib = ctypes.PyDLL(None)
    snapshot, mark = _lib.arenatrace_snapshot, _lib.arenatrace_mark
except AttributeError:  # not traced
    snapshot = mark = lambda label: None

random.seed(7)
snapshot(b"start")
mark(b"fill")
cache = {("key", i): {"id": i, "name": "item-%d" % i, "tags": [i % 7, i % 11]}
         for i in range(60000)}
snapshot(b"filled")
mark(b"evict")
keys = list(cache)
random.shuffle(keys)
for k in keys[: len(keys) * 19 // 20]:  # drop 95%, in random order
    del cache[k]
gc.collect()
snapshot(b"evicted")
print("survivors:", len(cache))
