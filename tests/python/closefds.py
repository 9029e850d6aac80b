# Children that close every descriptor they inherited before they exec:
# subprocess with close_fds=True (forked by CPython up to 3.9, vfork or
# posix_spawn later), and the multiprocessing pools of the spawn and
# forkserver start methods, whose processes start from fork + close + exec.
# Prints one line per part; nothing on stderr.
import multiprocessing
import subprocess
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    for i in range(5):
        subprocess.run(["true"], close_fds=True, check=True)
    out = subprocess.run([sys.executable, "-c", "print(sum(range(1000)))"], close_fds=True,
                         check=True, stdout=subprocess.PIPE).stdout
    print("subprocess", out.decode().strip())
    for method in ("spawn", "forkserver"):
        with multiprocessing.get_context(method).Pool(2) as pool:
            print(method, sum(pool.map(square, range(200))))
