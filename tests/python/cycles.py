# reference cycles and explicit collections
import gc
from snap import snapshot
class Node:
    def __init__(self):
        self.peer = None
for rnd in range(4):
    for i in range(5000):
        a, b = Node(), Node()
        a.peer, b.peer = b, a
    snapshot(b"cycles %d" % rnd)
    gc.collect()
    snapshot(b"collected %d" % rnd)
