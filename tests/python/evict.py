"""A cache that fills, is mostly evicted, keeps 3,000 survivors scattered
over its arenas, and a module-level list that grows by one block per
request: a leak.  The program then exits normally, and the interpreter's
teardown frees nearly everything."""
import ctypes
import random

try:
    mark = ctypes.PyDLL(None).arenatrace_mark
except AttributeError:  # not traced
    mark = lambda label: None

random.seed(3)
cache = {("key", i): {"id": i, "name": "item-%d" % i, "tags": [i % 7, i % 11]}
         for i in range(60000)}
keys = list(cache)
random.shuffle(keys)
for k in keys[:57000]:
    del cache[k]
del keys
mark(b"after evict")

_seen = []


def handle_request(i):
    _seen.append(bytes(1000 + i % 7))


for i in range(2000):
    handle_request(i)
print("survivors:", len(cache), "seen:", len(_seen))
