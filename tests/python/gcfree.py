# Garbage only the cyclic collector can free, then garbage reference
# counting frees: the replay must tell the two apart.  Automatic collection
# is off, so the one explicit pass is the only one until shutdown.
import gc
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000


class Node:
    __slots__ = ("peer",)


gc.disable()
for i in range(N):
    a = Node()
    a.peer = a  # a self-cycle: its count never reaches zero
del a
found = gc.collect()
floats = [float(i) for i in range(N)]  # freed by reference counting
del floats
print(found)
