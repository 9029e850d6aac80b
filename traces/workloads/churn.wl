# A long-lived cache grows (ten entries, each with a payload, per round)
# while temporary objects churn: short self-cycles only a collection frees,
# and plain temporaries freed by reference counting.  About 100,000
# container allocations: automatic collections of every generation, as
# the thresholds and the long-lived rule decide.
new cache 56 container
repeat 2000
    repeat 10
        new item 56 container
        ref cache item
        new payload 100 plain
        ref item payload
    end
    repeat 40
        new tmp 56 container
        ref tmp tmp
        new scratch 200 plain
    end
end
drop item
drop payload
drop tmp
drop scratch
collect
