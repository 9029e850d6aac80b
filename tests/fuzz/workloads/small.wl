new a 56 container
ref a a
drop a
collect 0
