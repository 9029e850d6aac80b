# 4 threads each run 125 subprocesses (500 in all): plain, close_fds=False,
# and with pass_fds, so the child keeps one of our pipes open.  Every child
# must exit 0.  Prints "spawns ok 500".
import os
import subprocess
import sys
import threading

PER_THREAD = int(sys.argv[1]) if len(sys.argv) > 1 else 125
failures = []
done = []


def spawner(k):
    r, w = os.pipe()
    try:
        for i in range(PER_THREAD):
            kind = (k + i) % 3
            if kind == 0:
                p = subprocess.run(["true"])
            elif kind == 1:
                p = subprocess.run(["true"], close_fds=False)
            else:
                p = subprocess.run(["sh", "-c", "exec test -e /proc/self/fd/%d" % w],
                                   pass_fds=(w,))
            if p.returncode != 0:
                failures.append((k, i, kind, p.returncode))
            done.append(1)
    finally:
        os.close(r)
        os.close(w)


threads = [threading.Thread(target=spawner, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("spawns", "ok" if not failures else "FAILED %r" % failures[:5], len(done))
