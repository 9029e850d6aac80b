# arenas allocated and freed in waves: each wave builds tens of thousands
# of small objects of several size classes (several arenas' worth, in
# 3.10+'s 1 MiB arenas too), keeps a few, then drops the rest, so that
# pymalloc releases most of the arenas it took; the survivors of earlier
# waves keep some arenas partly used across the next ones.
keep = []
for wave in range(6):
    n = 10000 + 4000 * wave
    objs = [(i, "w%d-%d" % (wave, i), [i] * (i % 7)) for i in range(n)]
    keep.append(objs[:: 2500])
    del objs
print("waves done, %d kept" % sum(len(k) for k in keep))
