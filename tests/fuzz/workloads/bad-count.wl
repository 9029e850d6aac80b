repeat 0
end
