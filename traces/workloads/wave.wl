# A wave: a chain of 20,000 lists, each with a 200-byte payload, is built
# and then dropped in one go.  Reference counting frees the whole chain (a
# cascade from its head) and the arenas go back to the system, all but the
# last one from 3.9 on.  No collection is needed.
new head 56 container
alias tail head
repeat 20000
    new node 56 container
    ref tail node
    new payload 200 plain
    ref node payload
    alias tail node
end
drop node
drop payload
drop tail
drop head
