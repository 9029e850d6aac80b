new a 56 container
new b 30 plain
ref a b
ref a b
unref a b
alias c a
freeze
drop a
unfreeze
disable
collect 1
enable
drop c
drop b
