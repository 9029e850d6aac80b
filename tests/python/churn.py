# dict, list and str churn, snapshots between rounds
from snap import snapshot
keep = []
for rnd in range(6):
    d = {"k%d" % i: [i, str(i) * (i % 5)] for i in range(8000)}
    l = [list(range(i % 40)) for i in range(4000)]
    keep.append({k: v for k, v in list(d.items())[::50]})
    del d, l
    snapshot(b"round %d" % rnd)
