/*
 * pym_stats.c - the pymalloc model's figures: the O(1) usage kept in
 * place, per-arena use, and the statistics _PyObject_DebugMallocStats
 * prints, with their text (MODEL.md §8).
 *
 * The statistics are recomputed from the pools on each call; their own
 * invariants: in use + available == pools * NUMBLOCKS in every class, and
 * the six byte lines add up to arenas * ARENA_SIZE.
 */
#include "pym_internal.h"

#include <stdio.h>
#include <string.h>

uint64_t pym_arenas_current(const pym *m)
{
	return m->usage.arenas;
}

void pym_get_usage(const pym *m, pym_usage *u)
{
	*u = m->usage;
}

const pym_usage *pym_usage_of(const pym *m)
{
	return &m->usage;
}

void pym_each_arena(const pym *m, void (*fn)(void *ctx, const pym_arena_use *u), void *ctx)
{
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		pym_arena_use u = {a->address, a->ntotalpools, 0, 0};
		uint32_t carved = arena_carved(m, a);
		for (uint32_t k = 0; k < carved; k++) {
			const pool *pl = &arena_pools(m, i)[k];
			if (!pl->count)
				continue;
			u.pools_used++;
			u.block_bytes += (uint64_t)pl->count * class_size(m, pl->szidx);
		}
		fn(ctx, &u);
	}
}

uint64_t pym_held_bytes(const pym *m)
{
	return pym_usage_held(&m->usage, m->p.arena_size);
}

/* ---- statistics (§8) ---- */

void pym_get_stats(const pym *m, pym_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->nclasses = m->nclasses;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		if (a->address & (m->p.pool_size - 1))
			st->arena_alignment += m->p.pool_size;
		st->unused_pools += a->nfreepools;
		uint32_t carved = arena_carved(m, a);
		for (uint32_t j = 0; j < carved; j++) {
			const pool *pl = &arena_pools(m, i)[j];
			if (!pl->count)
				continue;
			st->class_pools[pl->szidx]++;
			st->class_blocks[pl->szidx] += pl->count;
			st->class_avail[pl->szidx] += numblocks(m, pl->szidx) - pl->count;
		}
	}
	for (uint32_t c = 0; c < m->nclasses; c++) {
		uint64_t size = class_size(m, c);
		st->bytes_allocated += st->class_blocks[c] * size;
		st->bytes_available += st->class_avail[c] * size;
		st->pool_headers += st->class_pools[c] * m->p.pool_overhead;
		st->quantization += st->class_pools[c] * ((m->p.pool_size - m->p.pool_overhead) % size);
	}
	st->arenas_total = m->ntimes_arena_allocated;
	st->arenas_current = m->usage.arenas;
	st->arenas_highwater = m->narenas_highwater;
	st->map_mid = m->radix_mid.live;
	st->map_bot = m->radix_bot.live;
	st->raw_blocks = m->raw.live;
	st->raw_bytes = m->usage.raw_bytes;
}

/* printone(): the label padded to 35 columns, '=', the value with
 * thousands commas right-aligned in 21 columns. */
#define LABEL_WIDTH 35
#define VALUE_WIDTH 21

static size_t printone(char *buf, size_t cap, const char *label, uint64_t v)
{
	char digits[32], num[32];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v), o = 0;
	for (int i = 0; i < n; i++) {
		num[o++] = digits[i];
		if ((n - i - 1) % 3 == 0 && i != n - 1)
			num[o++] = ',';
	}
	num[o] = 0;
	int k = snprintf(buf, cap, "%-*s=%*s\n", LABEL_WIDTH, label, VALUE_WIDTH, num);
	return k < 0 ? 0 : (size_t)k;
}

#define APPEND(expr)                                                                       \
	do {                                                                               \
		size_t k_ = (expr);                                                        \
		len += k_;                                                                 \
		if (len < cap)                                                             \
			buf += k_, left -= k_;                                             \
		else                                                                       \
			buf = scratch, left = sizeof(scratch);                             \
	} while (0)

size_t pym_format_stats(const pym_params *p, const pym_stats *st, char *buf, size_t cap)
{
	char scratch[256], label[64];
	size_t len = 0, left = cap;
	if (!cap)
		buf = scratch, left = sizeof(scratch);
	APPEND((size_t)snprintf(buf, left, "Small block threshold = %u, in %u size classes.\n\n",
				p->threshold, st->nclasses));
	APPEND((size_t)snprintf(buf, left,
				"class   size   num pools   blocks in use  avail blocks\n"
				"-----   ----   ---------   -------------  ------------\n"));
	for (uint32_t c = 0; c < st->nclasses; c++)
		if (st->class_pools[c])
			APPEND((size_t)snprintf(buf, left, "%5u %6u %11llu %15llu %13llu\n", c,
						(c + 1) << p->align_shift,
						(unsigned long long)st->class_pools[c],
						(unsigned long long)st->class_blocks[c],
						(unsigned long long)st->class_avail[c]));
	APPEND((size_t)snprintf(buf, left, "\n"));
	APPEND(printone(buf, left, "# arenas allocated total", st->arenas_total));
	APPEND(printone(buf, left, "# arenas reclaimed", st->arenas_total - st->arenas_current));
	APPEND(printone(buf, left, "# arenas highwater mark", st->arenas_highwater));
	APPEND(printone(buf, left, "# arenas allocated current", st->arenas_current));
	snprintf(label, sizeof(label), "%llu arenas * %u bytes/arena",
		 (unsigned long long)st->arenas_current, p->arena_size);
	APPEND(printone(buf, left, label, st->arenas_current * p->arena_size));
	APPEND((size_t)snprintf(buf, left, "\n"));
	uint64_t total = st->bytes_allocated + st->bytes_available +
			 st->unused_pools * p->pool_size + st->pool_headers + st->quantization +
			 st->arena_alignment;
	APPEND(printone(buf, left, "# bytes in allocated blocks", st->bytes_allocated));
	APPEND(printone(buf, left, "# bytes in available blocks", st->bytes_available));
	snprintf(label, sizeof(label), "%llu unused pools * %u bytes",
		 (unsigned long long)st->unused_pools, p->pool_size);
	APPEND(printone(buf, left, label, st->unused_pools * p->pool_size));
	APPEND(printone(buf, left, "# bytes lost to pool headers", st->pool_headers));
	APPEND(printone(buf, left, "# bytes lost to quantization", st->quantization));
	APPEND(printone(buf, left, "# bytes lost to arena alignment", st->arena_alignment));
	APPEND(printone(buf, left, "Total", total));
	if (p->radix_bits) {
		radix_shape r = radix_shape_of(p);
		uint64_t root_b = (1ull << r.interior) * RADIX_ENTRY_BYTES, mid_b = root_b;
		uint64_t bot_b = (1ull << r.bot) * RADIX_ENTRY_BYTES;
		APPEND((size_t)snprintf(buf, left, "\narena map counts\n"));
		APPEND(printone(buf, left, "# arena map mid nodes", st->map_mid));
		APPEND(printone(buf, left, "# arena map bot nodes", st->map_bot));
		APPEND((size_t)snprintf(buf, left, "\n"));
		APPEND(printone(buf, left, "# bytes lost to arena map root", root_b));
		APPEND(printone(buf, left, "# bytes lost to arena map mid", st->map_mid * mid_b));
		APPEND(printone(buf, left, "# bytes lost to arena map bot", st->map_bot * bot_b));
		APPEND(printone(buf, left, "Total", root_b + st->map_mid * mid_b + st->map_bot * bot_b));
	}
	return len;
}
