/*
 * churn.c - the allocation churn workload of the tracer benchmarks:
 * 64 K live slots; each step frees a random slot and refills it, 95% of
 * sizes 1..512 bytes and 5% up to 64 KiB, from two call sites.
 * usage: churn [STEPS]   (default 2,000,000 steps = 4,000,000 events)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 65536

static uint64_t rng = 88172645463325252ull;
static inline uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t pick_size(void)
{
	uint64_t r = next();
	return r % 100 < 95 ? 1 + (r >> 8) % 512 : 513 + (r >> 8) % (65536 - 512);
}

/* Two call sites, kept apart so their stacks differ. */
__attribute__((noinline)) static void *site_a(size_t n)
{
	return malloc(n);
}

__attribute__((noinline)) static void *site_b(size_t n)
{
	return malloc(n);
}

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : 2000000;
	static void *slot[SLOTS];
	uint64_t sum = 0;
	for (long i = 0; i < steps; i++) {
		uint64_t r = next();
		unsigned s = (unsigned)(r % SLOTS);
		free(slot[s]);
		size_t n = pick_size();
		slot[s] = (r >> 32) & 1 ? site_a(n) : site_b(n);
		if (!slot[s])
			return 1;
		*(volatile char *)slot[s] = (char)i;
		sum += (uintptr_t)slot[s] & 0xff;
	}
	for (unsigned s = 0; s < SLOTS; s++)
		free(slot[s]);
	printf("%llu\n", (unsigned long long)(sum & 1));
	return 0;
}
