"""The ground truth for tf_pyline(): run by a CPython 3.8+, compiles some
stdlib modules' files and a generated source with the constructs whose line
tables are unusual, walks every code object (through co_consts), and writes
for each the raw line table, the first line and, for every instruction
offset 0, 2, 4 ... < len(co_code) and at -1 (a frame not started), what
the interpreter's own PyCode_Addr2Line(code, offset) answers.
tests/tools/atr-pylines.c reads it and checks tf_pyline() against every
offset.

Besides the real tables, each code object's table is also dumped cut short
(truncated at a few points) and with one byte changed, as code.replace()
gives the interpreter them, wherever the interpreter's own reading of such
a table is defined (see defined()).

    python3 pylines_dump.py [--no-damage] > dump.txt

The dump, one record a line (tests/tools/atr-pylines.c):
    pylines 1 FORMAT VERSION
    code FIRSTLINE NBYTES BEFORE TABLE NAME
                                       (BEFORE: the line at offset -1, a
                                        frame not started; TABLE in hex,
                                        "-" when empty)
    lines L0 L1 ...                    (the line at offsets 0, 2, ...;
                                        "L*N" is L repeated N times)
"""
import ctypes
import os
import random
import sys
import types

FORMATS = {(3, 8): 1, (3, 9): 1, (3, 10): 2, (3, 11): 3, (3, 12): 3, (3, 13): 3}
STDLIB = ["json/decoder.py", "asyncio/base_events.py", "dataclasses.py", "_pydecimal.py",
          "argparse.py", "typing.py", "inspect.py", "email/_header_value_parser.py",
          "pydoc.py", "tarfile.py", "difflib.py", "collections/__init__.py"]
GAP = 3000  # blank lines in the generated source's long gaps
DAMAGE_MAX = 4096  # table bytes: larger tables are not damaged (each lookup
                   # reads the table from its start, in the interpreter too)


def table_of(code):
    if sys.version_info >= (3, 10):
        return code.co_linetable
    return code.co_lnotab


def with_table(code, table):
    if sys.version_info >= (3, 10):
        return code.replace(co_linetable=table)
    return code.replace(co_lnotab=table)


def addr2line():
    fn = getattr(ctypes.pythonapi, "PyCode_Addr2Line", None)
    if fn is None:
        sys.exit("pylines_dump: this interpreter exports no PyCode_Addr2Line")
    fn.argtypes = [ctypes.py_object, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def rle(values):
    out, i = [], 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i]:
            j += 1
        out.append(str(values[i]) if j - i == 1 else "%d*%d" % (values[i], j - i))
        i = j
    return " ".join(out)


def code_objects(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from code_objects(c)


def defined(table, fmt):
    """Whether the interpreter's own reading of this table stays defined:
    3.10 reads past a table that ends in a range of length 0 (it skips
    such ranges without looking for the end); 3.11+ keeps a varint in an
    unsigned int, which 6 groups or more could overflow (so could the
    line they are added to)."""
    if fmt == 2:
        last = len(table) - 2 + len(table) % 2
        return not table or table[last] != 0
    if fmt == 3:
        h = 0  # each entry's first byte, where the interpreter looks
        while h < len(table):
            if (table[h] >> 3) & 15 in (13, 14):
                i = h + 1
                while i < len(table) and table[i] & 0x40:
                    i += 1
                if i - h - 1 >= 5:
                    return False
            h += 1
            while h < len(table) and not table[h] & 0x80:
                h += 1
    return True


def damaged(table, fmt, rng):
    """A few variants of a real table: cut short, and one byte changed."""
    out = []
    if len(table) > DAMAGE_MAX:
        return out
    if len(table) > 1:
        for cut in sorted(set(rng.randrange(1, len(table)) for _ in range(3))):
            out.append(("cut %d" % cut, table[:cut]))
    if table:
        for _ in range(2):
            i = rng.randrange(len(table))
            b = bytearray(table)
            b[i] = rng.randrange(256)
            out.append(("byte %d=%02x" % (i, b[i]), bytes(b)))
    return [(what, t) for what, t in out if defined(t, fmt)]


def dump_one(out, code, name, fn):
    table = table_of(code)
    lines = [fn(code, off) for off in range(0, len(code.co_code), 2)]
    out.write("code %d %d %d %s %s\n" % (code.co_firstlineno, len(code.co_code), fn(code, -1),
                                         table.hex() or "-", name))
    out.write("lines %s\n" % rle(lines))
    return len(lines) + 1


def dump(out, top, label, fmt, fn, rng, damage):
    n = 0
    for code in code_objects(top):
        name = "%s:%s" % (label, getattr(code, "co_qualname", code.co_name))
        n += dump_one(out, code, name, fn)
        if damage:
            for what, t in damaged(table_of(code), fmt, rng):
                n += dump_one(out, with_table(code, t), "%s [%s]" % (name, what), fn)
    return n


# The generated source: each piece is a function of the version, giving
# lines; gap() is a long run of blank lines.

def gap(n=GAP):
    return [""] * n


def long_function():
    """A very long function: thousands of statements, long runs of code on
    one line, gaps of thousands of lines, a loop and a with-block whose
    bodies span them (their ends jump back to the first line)."""
    src = ["def long_function(n, items):", "    total = 0"]
    for i in range(1500):
        src.append("    total += n * %d if total %% 3 else len(items) - %d" % (i, i))
        if i % 300 == 150:
            src += gap()
    src.append("    x = " + " + ".join("n" for _ in range(600)))
    src.append("    while total > 0:")
    for i in range(200):
        src.append("        total -= %d" % (i + 1))
    src += gap(2 * GAP)
    src.append("        total //= 2")
    src.append("    with open(__file__) as f:")
    src += ["        total += len(f.readline())"] * 50
    src += gap()
    src.append("        total += 1")
    src.append("    return total + x")
    return src


def multiline():
    """Expressions over many lines, far apart: the lines go back and forth."""
    src = ["def multiline(a, b, c):", "    r = max(", "        a,"]
    src += gap()
    src += ["        b +", "        c,", "    )", "    s = (a"]
    src += gap(200)
    src += ["         + b", "         * c)", "    t = {"]
    src += ["        'k%d': a + %d," % (i, i) for i in range(300)]
    src += ["    }", "    u = [x", "         for x", "         in range(a)",
            "         if x % 2]", "    return (r, s,", "            t, u)"]
    return src


def scopes():
    """Comprehensions, lambdas, generators, closures, classes, async."""
    return '''
def scopes(data):
    sq = [x * x for x in data if x]
    st = {x % 7 for x in data}
    dc = {k: v for k, v in zip(data, data[1:])}
    gen = (x for x in data
           for y in range(x)
           if y)
    nested = [[y for y in range(x)] for x in data]
    f = lambda a, b=2: (a +
                        b)
    g = lambda: [lambda: z for z in data]
    def inner(q):
        def innermost():
            return q + len(sq)
        return innermost
    def generator(n):
        yield n
        yield from range(n)
        x = yield
        return x
    class Local:
        attr = [i for i in range(3)]
        def method(self):
            return super().__init__()
    async def co(xs):
        async with xs as a:
            async for b in a:
                await b
        return [c async for c in xs]
    return sq, st, dc, gen, nested, f, g, inner, generator, Local, co
'''.splitlines()


def exceptions():
    """try/except/else/finally, nested, with-blocks of several items."""
    return '''
def exceptions(path, data):
    try:
        with open(path) as f, open(path) as g:
            data = f.read() + g.read()
    except (OSError, ValueError) as e:
        try:
            raise RuntimeError(path) from e
        except RuntimeError:
            pass
        finally:
            data = None
    except Exception:
        raise
    else:
        data = data.upper()
    finally:
        for i in range(3):
            try:
                continue
            finally:
                data = (data,
                        i)
    with open(path):
        with open(path) as h:
            return h, data
'''.splitlines()


def matching():
    return '''
def matching(cmd):
    match cmd:
        case ["go", direction] if direction in ("n", "s"):
            return direction
        case {"x": x, "y": y, **rest}:
            return x + y
        case Point(x=0, y=0) | Point(x=1):
            return 0
        case [1, 2, *others]:
            return others
        case str() as s if len(s) > 3:
            return s
        case _:
            return None
'''.splitlines()


def except_star():
    return '''
def except_star():
    try:
        raise ExceptionGroup("g", [ValueError(1), TypeError(2)])
    except* ValueError as e:
        caught = e
    except* TypeError:
        pass
    return caught
'''.splitlines()


def type_params():
    return '''
type Pair[T] = tuple[T, T]
def first[T: (int, str)](xs: list[T]) -> T:
    return xs[0]
class Box[T]:
    def get(self) -> T:
        return self.value
'''.splitlines()


def generated():
    src = ["import os", '"""The generated source of pylines_dump.py."""']
    src += long_function()
    src += gap()
    src += multiline() + scopes() + exceptions()
    if sys.version_info >= (3, 10):
        src += matching()
    if sys.version_info >= (3, 11):
        src += except_star()
    if sys.version_info >= (3, 12):
        src += type_params()
    src += gap(5 * GAP)
    src += ["def far_away():", "    return __name__"]
    return "\n".join(src) + "\n"


def main():
    damage = "--no-damage" not in sys.argv[1:]
    fmt = FORMATS.get(sys.version_info[:2])
    if fmt is None:
        sys.exit("pylines_dump: CPython %d.%d has no known line table format"
                 % sys.version_info[:2])
    fn = addr2line()
    rng = random.Random(20240601)
    out = sys.stdout
    out.write("pylines 1 %d %s\n" % (fmt, sys.version.split()[0]))
    n = 0
    libdir = os.path.dirname(os.__file__)
    for rel in STDLIB:
        path = os.path.join(libdir, rel)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                n += dump(out, compile(f.read(), path, "exec"), rel, fmt, fn, rng, damage)
    n += dump(out, compile(generated(), "<generated>", "exec"), "generated", fmt, fn, rng, damage)
    sys.stderr.write("pylines_dump: %d offsets\n" % n)


if __name__ == "__main__":
    main()
