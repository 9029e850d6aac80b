# Arenas pinned by survivors.  2000 groups are built, each a list holding
# itself (a cycle), 99 small objects and one more object that a long-lived
# list also keeps.  While a list holds every group nothing is garbage; once
# it goes, the groups are cyclic garbage that only a collection frees.  The
# collection frees 99% of the bytes but no arena: the survivors, one block
# in a hundred, are spread over every pool of every arena.
new keeper 56 container
new all 56 container
repeat 2000
    new group 56 container
    ref group group
    ref all group
    repeat 99
        new item 64 plain
        ref group item
    end
    new survivor 64 plain
    ref group survivor
    ref keeper survivor
end
drop group
drop item
drop survivor
drop all
collect
