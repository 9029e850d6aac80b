/*
 * tf_internal.h - what the writer and reader share and nobody else sees:
 * the record layout table (the schema this library writes) and the
 * prediction state both sides keep in lockstep (traces/FORMAT.md §4).
 */
#ifndef ARENATRACE_TF_INTERNAL_H
#define ARENATRACE_TF_INTERNAL_H

#include "tf.h"

#include <string.h>

#define TF_MAX_FIELDS 16 /* fields per record in this library's schema */
#define TF_RING 16       /* entries per address ring (FORMAT.md §4.2) */

/* How a field is coded, and in which stream of the frame it lives
 * (FORMAT.md §3).  On the wire every field is a varint, except 'b'. */
typedef enum tf_fc {
	TF_FC_U,      /* unsigned varint, numbers stream ('u') */
	TF_FC_S,      /* signed zigzag varint, numbers stream ('s') */
	TF_FC_B,      /* varint length then bytes, bytes stream ('b') */
	TF_FC_K,      /* stack node id, stacks stream ('k') */
	TF_FC_ANEW,   /* address an allocation returned, addresses stream ('a') */
	TF_FC_AOLD,   /* address handed back, addresses stream ('a') */
	TF_FC_PARENT, /* stack node parent as id - parent, stacks stream ('k') */
	TF_FC_IP,     /* stack node ip, zigzag delta from the previous one ('s') */
} tf_fc;

typedef struct tf_field {
	uint8_t fc;   /* tf_fc */
	uint16_t off; /* offset of the uint64_t / tf_bytes slot in tf_record */
} tf_field;

enum {
	TF_RF_EVENT = 1, /* counts as an event; carries thread (SWITCH) */
	TF_RF_MALLOC = 2, /* malloc-family function */
	TF_RF_PYTHON = 4, /* Python domain function */
	TF_RF_STACK = 8,  /* has a stack field (u.alloc.stack) */
	TF_RF_BYTES = 16, /* has byte fields */
};

typedef struct tf_kinddef {
	const char *name;
	uint8_t flags;   /* TF_RF_* */
	uint8_t layer;   /* address prediction state: 0 malloc, 1 python */
	uint8_t nfields;
	const tf_field *fields;
} tf_kinddef;

/* Indexed by tag; name == NULL for tags this library does not define. */
extern const tf_kinddef tf_kinds[TF_NKINDS];

/* Shapes of the request kinds' field tables, for the writer's and the
 * reader's fast paths.  The malloc-family and Python-domain events all have the fields
 *   stack, [old A-down], [nmemb | align], size, [ret], result A-up
 * except the frees: stack, ptr A-down.  A shape says which of these a kind has. */
enum {
	TF_SH_EVENT = 1,  /* the kind has one of the two layouts above */
	TF_SH_FREE = 2,   /* stack, ptr */
	TF_SH_OLD = 4,    /* old (realloc's input) */
	TF_SH_NMEMB = 8,  /* nmemb */
	TF_SH_ALIGN = 16, /* align */
	TF_SH_RET = 32,   /* ret */
	TF_SH_LAYER1 = 64 /* address state of layer 1 */
};

/* The shape of a kind's field table, or 0 when it is not one of them. */
uint8_t tf_shape_of(const tf_kinddef *d);

/* Schema type letter of a codec. */
static inline char tf_fc_type(unsigned fc)
{
	static const char letter[] = {'u', 's', 'b', 'k', 'a', 'a', 'k', 's'};
	return letter[fc];
}

/* Stream of a schema type letter, or -1 for a letter v1 does not define. */
static inline int tf_type_stream(char t)
{
	switch (t) {
	case 'u':
	case 's': return TF_S_NUMS;
	case 'k': return TF_S_STACKS;
	case 'a': return TF_S_ADDRS;
	case 'b': return TF_S_BYTES;
	}
	return -1;
}

/* Address prediction state of one layer (FORMAT.md §4.2). */
typedef struct tf_layer {
	uint64_t base;            /* the first address coded by value, 0 = none yet */
	uint64_t allocd[TF_RING]; /* recent allocation results, ring */
	uint64_t freed[TF_RING];  /* recent freed pointers, ring */
	unsigned apos, fpos;      /* next ring slot to overwrite */
} tf_layer;

/* Everything both ends must track identically. */
typedef struct tf_state {
	uint64_t time;      /* sum of TIME deltas */
	uint32_t thread;    /* SWITCH state, starts at 1 */
	uint64_t next_node; /* id the next STACK record gets, starts at 1 */
	uint64_t last_ip;   /* ip of the previous STACK record */
	tf_layer layer[2];
} tf_state;

static inline void tf_state_init(tf_state *s)
{
	memset(s, 0, sizeof(*s));
	s->thread = 1;
	s->next_node = 1;
}

static inline uint64_t tf_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t tf_unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Address code values (FORMAT.md §4.2). */
#define TF_AC_NULL 0
#define TF_AC_RING1 1 /* 1..TF_RING: ring hit, 1 = newest */
#define TF_AC_ABS (TF_RING + 1)
#define TF_AC_VALUE (TF_RING + 2)

static inline void tf_ring_push(uint64_t *ring, unsigned *pos, uint64_t a)
{
	ring[*pos] = a;
	*pos = (*pos + 1) % TF_RING;
}

/* Inline varint coding for the hot paths (tf_put_varint and
 * tf_get_varint are the exported forms). */
static inline size_t tf_put_uv(uint8_t *p, uint64_t v)
{
	if (v < 0x80) {
		*p = (uint8_t)v;
		return 1;
	}
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline bool tf_get_uv(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	if (p < end && *p < 0x80) {
		*v = *p;
		*pp = p + 1;
		return true;
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* up to 8 bytes, with 8 to read: the end is the first byte without
	 * the top bit, and the 7-bit groups are packed in three steps (pairs,
	 * quads, the whole), without a branch per byte */
	if (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, sizeof(w));
		const uint64_t stop = ~w & 0x8080808080808080ull;
		if (stop) {
			const unsigned len = ((unsigned)__builtin_ctzll(stop) >> 3) + 1;
			uint64_t x = len == 8 ? w : w & ((1ull << (8 * len)) - 1);
			x &= 0x7f7f7f7f7f7f7f7full;
			x = (x & 0x007f007f007f007full) | ((x & 0x7f007f007f007f00ull) >> 1);
			x = (x & 0x00003fff00003fffull) | ((x & 0x3fff00003fff0000ull) >> 2);
			x = (x & 0x000000000fffffffull) | ((x & 0x0fffffff00000000ull) >> 4);
			*v = x;
			*pp = p + len;
			return true;
		}
	}
#endif
	uint64_t r = 0;
	for (unsigned shift = 0; p < end; shift += 7) {
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return false; /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*v = r;
			return true;
		}
	}
	return false;
}

/* Slot of a record field as a uint64_t / tf_bytes. */
#define TF_U64(rec, f) (*(uint64_t *)((char *)(rec) + (f)->off))
#define TF_BYTES(rec, f) (*(tf_bytes *)((char *)(rec) + (f)->off))

#endif
