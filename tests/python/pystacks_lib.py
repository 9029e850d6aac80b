# pystacks_lib.py - imported by pystacks.py: survivors made in another file.
KEEP = []


def build_table(n):
    table = {}
    for i in range(n):
        table[i] = bytearray(70011)  # @lib_table
    KEEP.append(table)
    return table
