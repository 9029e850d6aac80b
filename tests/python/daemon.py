# A daemon's start: close every inherited descriptor, open eight log files
# of its own (in the directory argv[1]) and write to them for a while,
# allocating as it goes.  Its files must be the same traced and untraced.
import os
import sys

os.closerange(3, 4096)
logs = [open(os.path.join(sys.argv[1], "log%d.txt" % i), "w") for i in range(8)]
for n in range(2000):
    for i, f in enumerate(logs):
        f.write("entry %d of log %d %s\n" % (n, i, "x" * (n % 50)))
        f.flush()
    scratch = [str(j) * 10 for j in range(100)]
for f in logs:
    f.close()
print("daemon ok")
