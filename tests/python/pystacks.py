# pystacks.py - allocations at known lines of known functions, for
# tests/e2e/test_pystacks.sh: each allocates a bytearray of a size no other
# line uses (bytearray(n) asks for n + 1 bytes), and the marker comment on
# the line names it.  Run as: python3 pystacks.py
import asyncio
import json
import sys
import threading

import pystacks_lib

KEEP = []


def make_main():
    KEEP.append(bytearray(70001))  # @main


def worker():
    KEEP.append(bytearray(70021))  # @thread


def gen():
    yield bytearray(70031)  # @gen


def use_gen():
    for block in gen():  # @use_gen
        KEEP.append(block)


async def inner_coro():
    await asyncio.sleep(0)
    return bytearray(70041)  # @coro


async def outer_coro():
    KEEP.append(await inner_coro())  # @outer_coro


def key_fn(x):
    if x == 1:
        KEEP.append(bytearray(70051))  # @key
    return -x


def use_sorted():
    return sorted(range(3), key=key_fn)  # @use_sorted


def hook(obj):
    if "mark" in obj:
        KEEP.append(bytearray(70061))  # @hook
    return obj


def use_json():
    return json.loads('[{"mark": 1}, {"other": 2}]', object_hook=hook)  # @use_json


def recurse(n):
    if n == 0:
        KEEP.append(bytearray(70071))  # @deep
        return 0
    return recurse(n - 1) + 1


def thrower(n):
    if n == 0:
        raise ValueError("deep")
    try:
        thrower(n - 1)
    finally:
        if n == 50:
            KEEP.append(bytearray(70081))  # @finally


def use_raise():
    try:
        thrower(100)
    except ValueError:
        KEEP.append(bytearray(70091))  # @except


make_main()
pystacks_lib.build_table(3)
t = threading.Thread(target=worker, name="worker")
t.start()
t.join()
use_gen()
asyncio.run(outer_coro())
use_sorted()
use_json()
sys.setrecursionlimit(20000)
recurse(5000)
use_raise()
