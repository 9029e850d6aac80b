# fdlimit.py - CPython's test_close_fds_when_max_fd_is_lowered in small:
# descriptors open above a lowered limit, a child interpreter started
# with them, which starts one with close_fds and has it list its own.
# Under a tracer whose unwinder kept descriptor numbers it had closed, the
# middle interpreter lost a file it was reading while it started.
import os
import resource
import subprocess
import sys

fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(40)]
for fd in fds[:14]:
    os.close(fd)
for fd in fds[14:]:
    os.set_inheritable(fd, True)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (29, hard))
inner = ("import os, subprocess, sys\n"
         "subprocess.run([sys.executable, '-c', "
         "'import os; print(sorted(int(f) for f in os.listdir(\"/proc/self/fd\")))'], "
         "close_fds=True, check=True)\n")
rc = subprocess.run([sys.executable, "-c", inner], close_fds=False).returncode
print("middle interpreter:", rc)
sys.exit(rc)
