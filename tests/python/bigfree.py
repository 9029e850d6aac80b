# a large structure built, then freed in random order
import random
from snap import snapshot
random.seed(3)
snapshot(b"start")
objs = [(i, "s%d" % i, [i] * (i % 9)) for i in range(60000)]
snapshot(b"built")
order = list(range(len(objs)))
random.shuffle(order)
for n, i in enumerate(order):
    objs[i] = None
    if n % 20000 == 0:
        snapshot(b"freeing %d" % n)
snapshot(b"freed")
