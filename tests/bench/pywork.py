# The Python workload of the tracer benchmark: builds and drops dicts,
# lists and strings, in rounds, so pymalloc allocates and frees a lot.
for rnd in range(40):
    d = {}
    for i in range(20000):
        d["k%d_%d" % (rnd, i)] = [i, str(i) * 3, {"x": i}]
    s = [v[1] + "!" for v in d.values()]
    del d
    s.clear()
print("done")
