# pyfork.py - a parent that builds a heap of several arenas and forks
# children that go on from it (tests/e2e/test_fork_replay.sh).  Each child
# frees most of what it inherited, builds its own objects, and takes an
# allocator snapshot at its end; one child forks a grandchild, and a
# second thread runs in the parent across the forks.  Every process says
# what it did on stdout, so that the traced run's output can be compared.
import ctypes
import os
import sys
import threading

snap = getattr(ctypes.PyDLL(None), "arenatrace_snapshot", None)


def snapshot(label):
    if snap is not None:
        snap(label.encode())


def build(tag, n):
    return [(i, "%s-%d" % (tag, i), [i] * (i % 5), {"k": i}) for i in range(n)]


def child_work(heap, tag):
    # free most of what was inherited, scattered, and allocate anew
    kept = heap[::97]
    heap.clear()
    mine = build(tag, 30000)  # @child_build
    del mine[::3]
    return kept, mine


def wait(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8


heap = build("parent", 60000)  # @parent_build
stop = threading.Event()


def churn():
    junk = []
    while not stop.is_set():
        junk.append(build("thread", 200))
        if len(junk) > 20:
            junk.clear()


t = threading.Thread(target=churn)
t.start()
codes = []
for k in range(2):
    pid = os.fork()
    if pid == 0:
        kept, mine = child_work(heap, "child%d" % k)
        if k == 1:
            gpid = os.fork()
            if gpid == 0:
                kept2, mine2 = child_work(mine, "grandchild")
                print("grandchild: kept %d, built %d" % (len(kept2), len(mine2)))
                sys.stdout.flush()
                snapshot("grandchild end")
                os._exit(0)
            print("grandchild exited %d" % wait(gpid))
        print("child %d: kept %d, built %d" % (k, len(kept), len(mine)))
        sys.stdout.flush()
        snapshot("child%d end" % k)
        os._exit(3 + k)
    codes.append(wait(pid))
    heap = heap[::2] + build("parent%d" % k, 20000)
stop.set()
t.join()
print("parent: children exited %s" % codes)
snapshot("parent end")
