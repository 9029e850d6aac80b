# several threads allocating at once
import threading
from snap import snapshot
def work(n):
    x = [{"a": i, "b": str(i)} for i in range(n)]
    return len(x)
snapshot(b"start")
ts = [threading.Thread(target=work, args=(15000 + 1000 * k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
snapshot(b"joined")
