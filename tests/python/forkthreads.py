# os.fork from a program with 8 threads allocating all the while: each of
# the children (argv[1], default 40) allocates, then exits with os._exit.
# Prints "forkthreads ok N" when every child exited 0.
import os
import sys
import threading
import warnings

# 3.12+ warns about fork in a multi-threaded process: that is true here.
warnings.simplefilter("ignore", DeprecationWarning)
FORKS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
stop = threading.Event()


def churn(k):
    keep = []
    while not stop.is_set():
        keep.append({"k": k, "v": [k] * 8, "s": str(k) * 20})
        if len(keep) > 500:
            del keep[:250]


threads = [threading.Thread(target=churn, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
ok = 0
for i in range(FORKS):
    pid = os.fork()
    if pid == 0:
        data = [str(j) * 5 for j in range(2000)]
        os._exit(0 if len(data) == 2000 else 1)
    _, status = os.waitpid(pid, 0)
    ok += status == 0
stop.set()
for t in threads:
    t.join()
print("forkthreads", "ok" if ok == FORKS else "FAILED", ok)
