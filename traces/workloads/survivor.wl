# Two-cycles held by a live list survive every collection; when the holder
# goes (by reference counting, it is no cycle), only a collection of the
# generation the cycles reached frees them.
new holder 56 container
repeat 20
    new a 56 container
    new b 56 container
    ref a b
    ref b a
    ref holder a
    drop a
    drop b
end
collect 0
collect 1
drop holder
collect 1
collect 2
