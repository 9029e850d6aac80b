# string and bytearray growth (reallocs, in place and moving)
from snap import snapshot
s, b, parts = "", bytearray(), []
for i in range(30000):
    s += chr(65 + i % 26)
    b += b"xy"
    if i % 7000 == 0:
        parts.append(s[:])
        snapshot(b"grown %d" % i)
s = s[:10]
del b[100:]
snapshot(b"shrunk")
