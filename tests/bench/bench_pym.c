/*
 * bench_pym.c - the pymalloc model alone on a churn mix: 64 K live slots,
 * each operation frees a random slot and refills it (97% of sizes 1-512
 * bytes, 3% raw up to 4 KiB, one in 8 a realloc), one core, median of 5
 * runs of process CPU time.  Prints operations/s and the ratio to the
 * 50 M operations/s target.
 */
#include "pym.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SLOTS 65536
#define OPS 20000000L
#define RUNS 5

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *profile = argc > 1 ? argv[1] : "cpython-3.12";
	pym_params p;
	if (pym_params_from_name(profile, &p) < 0) {
		fprintf(stderr, "bench_pym: unknown profile %s\n", profile);
		return 2;
	}
	static uint64_t live[SLOTS];
	double t[RUNS];
	uint64_t arenas = 0;
	for (int run = 0; run < RUNS; run++) {
		pym *m;
		if (pym_create(&m, &p, NULL) < 0)
			return 1;
		for (int i = 0; i < SLOTS; i++)
			live[i] = 0;
		uint64_t rng = 88172645463325252ull;
		double t0 = cpu_now();
		for (long i = 0; i < OPS; i++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			unsigned k = (unsigned)(rng % SLOTS);
			uint64_t n = (rng >> 20) % 100 < 97 ? 1 + (rng >> 32) % 512
							    : 513 + (rng >> 32) % 3584;
			if (live[k] && (rng >> 40) % 8 == 0) {
				pym_realloc(m, live[k], n, &live[k]);
			} else if (live[k]) {
				pym_free_block(m, live[k], NULL);
				live[k] = 0;
			} else {
				pym_malloc(m, n, &live[k]);
			}
		}
		t[run] = cpu_now() - t0;
		pym_stats st;
		pym_get_stats(m, &st);
		arenas = st.arenas_highwater;
		pym_free(m);
	}
	qsort(t, RUNS, sizeof(double), cmp);
	double ops = (double)OPS / t[RUNS / 2];
	printf("model/%s: %ld operations (churn, 64 K slots, %llu arenas at the high-water mark), "
	       "median of %d runs, one core\n",
	       profile, OPS, (unsigned long long)arenas, RUNS);
	printf("  %.1f M operations/s   ratio to the 50 M/s target: %.2f\n", ops / 1e6, ops / 50e6);
	return 0;
}
