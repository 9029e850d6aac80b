# pysubinterp.py - requests made in subinterpreters (on the main thread and on
# another), for tests/e2e/test_pystacks.sh: they must not crash the tracer
# nor carry frames they do not run in.
import threading
try:
    import _xxsubinterpreters as si
    run = si.run_string
except ImportError:
    import _interpreters as si
    run = si.exec


def use_subinterp():
    interp = si.create()
    run(interp, "x = bytearray(70111)\ndef f():\n    return bytearray(70121)\ny = f()")  # @sub
    si.destroy(interp)


use_subinterp()
t = threading.Thread(target=use_subinterp)
t.start()
t.join()
print("done")
