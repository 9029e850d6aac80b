# pyreuse.py - code objects that die and are born again at the same address,
# and a forked child, for tests/e2e/test_pystacks.sh: every request must
# name the code it ran, never one that died before.
import os
import sys
import types


def template(n):
    return bytearray(n)  # @reuse


addresses = set()
for i in range(40):
    names = {"co_name": "gen_%d" % i, "co_filename": "gen_%d.py" % i}
    if sys.version_info >= (3, 11):
        names["co_qualname"] = "gen_%d" % i
    code = template.__code__.replace(**names)
    addresses.add(id(code))
    types.FunctionType(code, globals())(70500 + 10 * i)
    del code


def in_child():
    return bytearray(70991)  # @child


pid = os.fork()
if pid == 0:
    in_child()
    os._exit(0)
os.waitpid(pid, 0)
print("code objects at", "few" if len(addresses) < 10 else "many", "addresses")
