# A ring of 500 lists, each holding the next, the last holding the first.
# While a name holds the ring nothing is garbage; once dropped, the ring is
# garbage in the generation where the collections left it.
new first 56 container
alias prev first
repeat 499
    new node 56 container
    ref prev node
    alias prev node
end
drop node
ref prev first
drop prev
# reachable through first: survives, and moves to generation 1
collect 0
drop first
# garbage now, but in generation 1: a gen-0 collection does not see it
collect 0
collect 1
