repeat 1000000000
repeat 1000000000
end
end
