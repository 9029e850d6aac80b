# A Python workload for the report benchmark: parses and compiles the
# standard library's modules ROUNDS times (default 2), keeping the last few
# dozen code objects, so the trace has ~20 M events and millions of distinct
# stacks (the parser's and compiler's, under Python frames).
import ast
import glob
import os
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
lib = os.path.dirname(os.__file__)
files = sorted(glob.glob(os.path.join(lib, "*.py")))
kept = []
for _ in range(rounds):
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            src = fh.read()
        kept.append(compile(ast.parse(src), f, "exec"))
        if len(kept) > 50:
            del kept[:25]
print(len(files) * rounds, "modules")
