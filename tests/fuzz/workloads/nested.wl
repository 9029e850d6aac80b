repeat 3
  repeat 2
    new n% 16 container
    ref n% n%
  end
end
threshold 1 0
unref x y
