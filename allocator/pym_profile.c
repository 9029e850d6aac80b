/*
 * pym_profile.c - the pymalloc model's parameter sets: one profile per
 * CPython version 3.8-3.13, custom ones from a name, and which parameters
 * the model accepts (MODEL.md §1 and §11).
 */
#include "pym_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pym_params_check(const pym_params *p)
{
	if (!p->pool_size || (p->pool_size & (p->pool_size - 1)) || p->pool_size > (1u << 16) ||
	    !p->arena_size || (p->arena_size & (p->arena_size - 1)) || p->align_shift < 3 ||
	    p->align_shift > 8 || p->arena_size < 2 * p->pool_size ||
	    p->arena_size / p->pool_size > 4096 || p->threshold < (1u << p->align_shift) ||
	    (p->threshold >> p->align_shift) > PYM_MAX_CLASSES ||
	    p->threshold % (1u << p->align_shift) || p->pool_overhead >= p->pool_size ||
	    (p->pool_size - p->pool_overhead) / p->threshold < 2 ||
	    (p->pool_size - p->pool_overhead) >> p->align_shift >= BNONE ||
	    (p->radix_bits && p->radix_bits != 48 && p->radix_bits != 64))
		return PYM_E_PARAMS;
	return 0;
}

/* ---- profiles ---- */

const char *const pym_profile_names[] = {"cpython-3.8",  "cpython-3.9",  "cpython-3.10",
					 "cpython-3.11", "cpython-3.12", "cpython-3.13", NULL};

/* §1 and §11: 256 KiB arenas and 4 KiB pools up to 3.9, 1 MiB and 16 KiB
 * from 3.10 (64-bit, radix tree on); the last wholly free arena is kept
 * from 3.9 (bpo-37257); the radix tree covers 48 address bits in 3.10 and
 * all 64 from 3.11 (bpo-45526). */
static void profile(int minor, pym_params *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "cpython-3.%d", minor);
	o->align_shift = 4;
	o->threshold = 512;
	o->pool_overhead = 48;
	o->arena_size = minor <= 9 ? 256u << 10 : 1u << 20;
	o->pool_size = minor <= 9 ? 4096 : 16384;
	o->keep_empty_arena = minor >= 9;
	o->radix_bits = minor <= 9 ? 0 : minor == 10 ? 48 : 64;
}

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
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	if (*end || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

int pym_params_from_name(const char *name, pym_params *out)
{
	for (int i = 0; pym_profile_names[i]; i++)
		if (!strcmp(name, pym_profile_names[i])) {
			profile(8 + i, out);
			return 0;
		}
	if (strncmp(name, "custom", 6) || (name[6] && name[6] != ':'))
		return PYM_E_PARAMS;
	profile(13, out);
	snprintf(out->name, sizeof(out->name), "custom");
	const char *p = name[6] ? name + 7 : name + 6;
	while (*p) {
		size_t n = strcspn(p, ","), k = strcspn(p, "=");
		if (k >= n)
			return PYM_E_PARAMS;
		const char *v = p + k + 1;
		size_t vl = n - k - 1;
		uint32_t x;
		if (!parse_size(v, vl, &x))
			return PYM_E_PARAMS;
		if (k == 5 && !strncmp(p, "arena", 5))
			out->arena_size = x;
		else if (k == 4 && !strncmp(p, "pool", 4))
			out->pool_size = x;
		else if (k == 5 && !strncmp(p, "align", 5) && x && !(x & (x - 1)))
			out->align_shift = (uint32_t)__builtin_ctz(x);
		else if (k == 9 && !strncmp(p, "threshold", 9))
			out->threshold = x;
		else if (k == 10 && !strncmp(p, "keep-empty", 10) && x <= 1)
			out->keep_empty_arena = x;
		else if (k == 5 && !strncmp(p, "radix", 5))
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
	if (!version || sscanf(version, "%d.%d", &major, &minor) != 2 || major != 3 || minor < 8 ||
	    minor > 13)
		minor = 13;
	profile(minor, out);
}
