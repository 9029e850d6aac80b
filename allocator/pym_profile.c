/*
 * pym_profile.c - the pymalloc model's parameter sets: one profile per
 * CPython version 3.8-3.13 (a table, one row each), custom ones from a
 * name, and which parameters the model can run (MODEL.md §1 and §11).
 *
 * Invariant: the rows are in version order, names and minors ascending,
 * and each passes pym_params_check(); pym_profile_names lists their names
 * in the same order.
 */
#include "pym_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits of the model's own representation (not CPython's): */
#define MAX_POOL_SIZE (1u << 16)    /* block offsets and free-chain links are 16-bit */
#define MIN_ALIGN_SHIFT 3           /* 8-byte blocks, as 32-bit CPython */
#define MAX_ALIGN_SHIFT 8           /* block_index() is exact up to 2^8 << shift */
#define MIN_POOLS_PER_ARENA 2
#define MAX_POOLS_PER_ARENA 4096    /* pool ids: arena index << 12 | pool fits int32 */
#define MIN_BLOCKS_PER_POOL 2       /* a fresh pool hands out block 0 and chains block 1 */
#define RADIX_BITS_3_10 48          /* the radix tree's address bits in 3.10 */
#define RADIX_BITS_3_11 64          /* and from 3.11 (bpo-45526) */

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

int pym_params_check(const pym_params *p)
{
	if (!is_pow2(p->pool_size) || p->pool_size > MAX_POOL_SIZE || !is_pow2(p->arena_size) ||
	    p->align_shift < MIN_ALIGN_SHIFT || p->align_shift > MAX_ALIGN_SHIFT ||
	    p->arena_size < MIN_POOLS_PER_ARENA * p->pool_size ||
	    p->arena_size / p->pool_size > MAX_POOLS_PER_ARENA ||
	    p->threshold < (1u << p->align_shift) ||
	    (p->threshold >> p->align_shift) > PYM_MAX_CLASSES ||
	    p->threshold % (1u << p->align_shift) || p->pool_overhead >= p->pool_size ||
	    (p->pool_size - p->pool_overhead) / p->threshold < MIN_BLOCKS_PER_POOL ||
	    (p->pool_size - p->pool_overhead) >> p->align_shift >= BNONE ||
	    (p->radix_bits && p->radix_bits != RADIX_BITS_3_10 && p->radix_bits != RADIX_BITS_3_11))
		return PYM_E_PARAMS;
	return 0;
}

/* ---- profiles ---- */

#define KiB (1u << 10)
#define MiB (1u << 20)

/* One row per CPython 3.x (64-bit Linux, default build), MODEL.md §1:
 *   arena, pool  ARENA_SIZE and POOL_SIZE: 256 KiB / 4 KiB up to 3.9,
 *                1 MiB / 16 KiB from 3.10 (USE_LARGE_ARENAS, _POOLS);
 *   align        ALIGNMENT_SHIFT, 16-byte blocks in every version;
 *   threshold    SMALL_REQUEST_THRESHOLD, 512 in every version;
 *   overhead     POOL_OVERHEAD, sizeof(pool_header) = 48 in every version;
 *   keep         the last wholly free arena kept, from 3.9 (bpo-37257);
 *   radix        address_in_range by radix tree from 3.10 (bpo-37448),
 *                over 48 address bits in 3.10 and 64 from 3.11. */
static const struct profile {
	int minor; /* 3.minor */
	pym_params p;
} profiles[] = {
    /* minor  name            arena      pool      align threshold overhead keep   radix */
    {8, {"cpython-3.8", 256 * KiB, 4 * KiB, 4, 512, 48, false, 0}},
    {9, {"cpython-3.9", 256 * KiB, 4 * KiB, 4, 512, 48, true, 0}},
    {10, {"cpython-3.10", 1 * MiB, 16 * KiB, 4, 512, 48, true, RADIX_BITS_3_10}},
    {11, {"cpython-3.11", 1 * MiB, 16 * KiB, 4, 512, 48, true, RADIX_BITS_3_11}},
    {12, {"cpython-3.12", 1 * MiB, 16 * KiB, 4, 512, 48, true, RADIX_BITS_3_11}},
    {13, {"cpython-3.13", 1 * MiB, 16 * KiB, 4, 512, 48, true, RADIX_BITS_3_11}},
};
#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))
#define NEWEST (&profiles[NPROFILES - 1])

const char *const pym_profile_names[] = {
    profiles[0].p.name, profiles[1].p.name, profiles[2].p.name, profiles[3].p.name,
    profiles[4].p.name, profiles[5].p.name, NULL,
};
_Static_assert(sizeof(pym_profile_names) / sizeof(pym_profile_names[0]) == NPROFILES + 1,
	       "a name for every profile");

static const struct profile *profile_of_minor(int minor)
{
	for (size_t i = 0; i < NPROFILES; i++)
		if (profiles[i].minor == minor)
			return &profiles[i];
	return NULL;
}

/* A size: digits, then K or M (KiB, MiB) if any. */
static bool parse_size(const char *v, size_t len, uint32_t *out)
{
	char *end;
	char tmp[32];
	if (!len || len >= sizeof(tmp))
		return false;
	memcpy(tmp, v, len);
	tmp[len] = 0;
	unsigned long long n = strtoull(tmp, &end, 10);
	if (end == tmp)
		return false;
	if (*end == 'K' || *end == 'k')
		n *= KiB, end++;
	else if (*end == 'M' || *end == 'm')
		n *= MiB, end++;
	if (*end || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

/* Whether the k bytes at p are the key. */
static bool key_is(const char *p, size_t k, const char *key)
{
	return k == strlen(key) && !strncmp(p, key, k);
}

#define CUSTOM "custom"

int pym_params_from_name(const char *name, pym_params *out)
{
	for (size_t i = 0; i < NPROFILES; i++)
		if (!strcmp(name, profiles[i].p.name)) {
			*out = profiles[i].p;
			return 0;
		}
	size_t cl = strlen(CUSTOM);
	if (strncmp(name, CUSTOM, cl) || (name[cl] && name[cl] != ':'))
		return PYM_E_PARAMS;
	*out = NEWEST->p; /* keys not given keep the newest profile's values */
	snprintf(out->name, sizeof(out->name), CUSTOM);
	const char *p = name[cl] ? name + cl + 1 : name + cl;
	while (*p) {
		size_t n = strcspn(p, ","), k = strcspn(p, "=");
		if (k >= n)
			return PYM_E_PARAMS;
		const char *v = p + k + 1;
		size_t vl = n - k - 1;
		uint32_t x;
		if (!parse_size(v, vl, &x))
			return PYM_E_PARAMS;
		if (key_is(p, k, "arena"))
			out->arena_size = x;
		else if (key_is(p, k, "pool"))
			out->pool_size = x;
		else if (key_is(p, k, "align") && is_pow2(x))
			out->align_shift = (uint32_t)__builtin_ctz(x);
		else if (key_is(p, k, "threshold"))
			out->threshold = x;
		else if (key_is(p, k, "keep-empty") && x <= 1)
			out->keep_empty_arena = x;
		else if (key_is(p, k, "radix"))
			out->radix_bits = x;
		else
			return PYM_E_PARAMS;
		p += n + (p[n] == ',');
	}
	return pym_params_check(out);
}

void pym_params_for_version(const char *version, pym_params *out)
{
	int major = 0, minor = 0;
	const struct profile *row = NULL;
	if (version && sscanf(version, "%d.%d", &major, &minor) == 2 && major == 3)
		row = profile_of_minor(minor);
	*out = (row ? row : NEWEST)->p;
}
