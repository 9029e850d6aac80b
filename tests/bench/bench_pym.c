/*
 * bench_pym.c - the pymalloc model alone on a churn mix: 64 K live slots,
 * each operation frees a random slot and refills it (97% of sizes 1-512
 * bytes, 3% raw up to 4 KiB, one in 8 a realloc), one core, median of 5
 * runs of process CPU time.
 *
 * The driver (random numbers, the slot array, the branches between
 * malloc, free and realloc) is timed too, in a run of the same loop with
 * the same random numbers where each call into the model is replaced by a
 * store of what it would leave in the slot.  The model alone takes the
 * difference: the ratio to the 50 M operations/s target is taken of that,
 * and all three figures are printed.  The calls themselves count as the
 * model's.
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

static uint64_t live[SLOTS];

/* One run of the churn: CPU seconds.  m == NULL: the driver alone. */
static double churn(pym *m)
{
	for (int i = 0; i < SLOTS; i++)
		live[i] = 0;
	uint64_t rng = 88172645463325252ull;
	double t0 = cpu_now();
	for (long i = 0; i < OPS; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		unsigned k = (unsigned)(rng % SLOTS);
		uint64_t n = (rng >> 20) % 100 < 97 ? 1 + (rng >> 32) % 512 : 513 + (rng >> 32) % 3584;
		if (live[k] && (rng >> 40) % 8 == 0) {
			if (m)
				pym_realloc(m, live[k], n, &live[k]);
			else
				live[k] += n;
		} else if (live[k]) {
			if (m)
				pym_free_block(m, live[k], NULL);
			__asm__ volatile("" ::: "memory"); /* the driver's loop stays a loop */
			live[k] = 0;
		} else if (m) {
			pym_malloc(m, n, &live[k]);
		} else {
			live[k] = n | 1;
		}
	}
	return cpu_now() - t0;
}

static double median(double *t)
{
	qsort(t, RUNS, sizeof(double), cmp);
	return t[RUNS / 2];
}

int main(int argc, char **argv)
{
	const char *profile = argc > 1 ? argv[1] : "cpython-3.12";
	pym_params p;
	if (pym_params_from_name(profile, &p) < 0) {
		fprintf(stderr, "bench_pym: unknown profile %s\n", profile);
		return 2;
	}
	double with[RUNS], alone[RUNS];
	uint64_t arenas = 0;
	for (int run = 0; run < RUNS; run++) {
		pym *m;
		if (pym_create(&m, &p, NULL) < 0)
			return 1;
		with[run] = churn(m);
		pym_stats st;
		pym_get_stats(m, &st);
		arenas = st.arenas_highwater;
		pym_free(m);
		alone[run] = churn(NULL);
	}
	double tw = median(with), td = median(alone);
	double total = (double)OPS / tw, driver = (double)OPS / td;
	double model = tw > td ? (double)OPS / (tw - td) : 0;
	printf("model/%s: %ld operations (churn, 64 K slots, %llu arenas at the high-water mark), "
	       "median of %d runs, one core\n",
	       profile, OPS, (unsigned long long)arenas, RUNS);
	printf("  with its driver %.1f M operations/s; the driver alone %.1f M/s (%.1f ns an "
	       "operation)\n",
	       total / 1e6, driver / 1e6, td / (double)OPS * 1e9);
	printf("  the model alone %.1f M operations/s   ratio to the 50 M/s target: %.2f\n",
	       model / 1e6, model / 50e6);
	return 0;
}
