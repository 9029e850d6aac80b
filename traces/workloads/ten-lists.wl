# The example users know: ten lists, each holding itself, created and
# dropped.  Reference counting frees none of them (each still holds one
# reference to itself); gc.collect() finds all ten and returns 10.
repeat 10
    new l% 56 container
    ref l% l%
    drop l%
end
collect
