/*
 * fuzz_workload.c - libFuzzer target for the workload parser
 * (replay/rp_workload.c): any bytes give a workload or a FILE:LINE
 * message, never a crash.  A parsed workload that runs few statements is
 * also simulated, with gcm_check() after every statement, so the model
 * sees whatever graphs the fuzzer makes up.
 */
#include "rp_workload.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	rp_workload *w;
	if (rp_workload_parse((const char *)data, size, "fuzz", &w, err, sizeof(err)) < 0) {
		if (strncmp(err, "fuzz:", 5))
			__builtin_trap(); /* every message names the place */
		return 0;
	}
	if (w->executed <= 20000) {
		static const char *const profiles[] = {"cpython-3.8", "cpython-3.12"};
		rp_sim_opts o = {.profile = profiles[size & 1], .file = "fuzz", .check = true,
				 .gc_off = (size & 2) != 0};
		rp_sim_result res;
		rp_sim_run(w, &o, &res, err, sizeof(err));
	}
	rp_workload_free(w);
	return 0;
}
