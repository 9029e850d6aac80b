/*
 * rp_lifecycle.c - a replay across a process's life: a forked child's
 * trace after its ancestors' (rp_engine_run_chain feeds them; each later
 * header joins the replay, and its trace's ids and times are moved past
 * those fed before it), and an interpreter initialised again in the same
 * process (py_init).
 *
 * Invariant: after a join, every record of the joined trace is fed with
 * its stack, code, module and thread ids above the largest fed before
 * (rp_engine_feed keeps those), and its time on the first
 * trace's axis.
 */
#include "rp_internal.h"
#include "tf_summary.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- a forked child after its ancestors ---- */

void rp_join(replay *r, const tf_header *h)
{
	r->joining = false;
	r->facts.ancestors++;
	r->facts.inherited_events = r->events;
	r->shift.on = true;
	r->shift.nodes = r->nnodes;
	r->shift.codes = r->max_code;
	r->shift.modules = r->max_module;
	r->shift.threads = r->max_thread;
	r->shift.time = h->start_mono_ns > r->origin_mono ? h->start_mono_ns - r->origin_mono : 0;
	const bool alone = r->facts.parent_missing;
	rp_facts_from_header(&r->facts, h);
	r->facts.parent_missing = alone; /* of the first trace: the chain's start */
}

const tf_record *rp_shifted(const replay *r, const tf_record *rec, tf_record *buf)
{
	*buf = *rec;
	buf->time += r->shift.time;
	if (buf->thread)
		buf->thread += (uint32_t)r->shift.threads;
	if (tf_kind_is_malloc_fn(rec->kind) || tf_kind_is_python_fn(rec->kind)) {
		if (buf->u.alloc.stack)
			buf->u.alloc.stack += r->shift.nodes;
		return buf;
	}
	switch (rec->kind) {
	case TF_STACK:
		buf->u.node.id += r->shift.nodes;
		if (buf->u.node.parent)
			buf->u.node.parent += r->shift.nodes;
		if (buf->u.node.code)
			buf->u.node.code += r->shift.codes;
		break;
	case TF_PY_CODE:
		buf->u.py_code.id += r->shift.codes;
		break;
	case TF_MODULE:
		buf->u.module.id += r->shift.modules;
		break;
	case TF_MODULE_UNLOAD:
		buf->u.module_unload += r->shift.modules;
		break;
	case TF_THREAD:
	case TF_THREAD_NAME:
		buf->u.thread.tid += r->shift.threads;
		break;
	case TF_HEAP:
		buf->u.heap.tid += r->shift.threads;
		break;
	default:
		break;
	}
	return buf;
}

/* ---- an interpreter initialised again ---- */

/* A new initialisation of the interpreter (py_init).  The models go on
 * with the state they have, as the interpreter does up to 3.11 (pymalloc's
 * state and arenas are static variables of Objects/obmalloc.c) and from
 * 3.13 (the main interpreter's state is a static of its own).  CPython
 * 3.12 keeps the main interpreter's in _PyRuntime, which the new
 * initialisation copies back from its initial value: its pymalloc starts
 * with no arena (those it had stay mapped, never freed nor used again),
 * and so do the models (pym_forget); the requested bytes of the blocks
 * left in the forgotten arenas are no pool's any more.  The models do not
 * model another allocator serving the new initialisation: then, from
 * there on, their addresses and arenas are not compared, nor the
 * snapshots checked. */
static bool reinit_starts_afresh(const char *python)
{
	int major, minor;
	return sscanf(python, "%d.%d", &major, &minor) == 2 && major == 3 && minor == 12;
}

int rp_on_py_init(replay *r, const tf_py_init *pi)
{
	rp_facts *f = &r->facts;
	f->inits++;
	r->in_teardown = false; /* the worst moment may be this initialisation's */
	if (r->malloc_layer || r->not_pymalloc || r->reinit_apart)
		return RP_OK;
	char name[sizeof(f->reinit_allocator)];
	snprintf(name, sizeof(name), "%.*s", (int)pi->allocator.len, pi->allocator.ptr);
	rp_printable(name);
	if (tf_pymalloc_served(name)) {
		for (int i = 0; reinit_starts_afresh(f->python) && i < r->n; i++) {
			if (pym_forget(r->mr[i].m) < 0)
				return RP_E_NOMEM;
			r->mr[i].py_live = 0;
		}
		return RP_OK;
	}
	r->reinit_apart = true;
	f->reinit_number = pi->number;
	f->reinit_at = r->requests;
	snprintf(f->reinit_allocator, sizeof(f->reinit_allocator), "%s", name);
	for (int i = 0; i < r->n; i++)
		r->mr[i].recorded_bases = false; /* the model places its arenas itself */
	return RP_OK;
}

const char *rp_reinit_why(const rp_facts *x, char *buf, size_t cap)
{
	if (!x->reinit_number)
		return NULL;
	snprintf(buf, cap, "%s served the interpreter from its initialisation %" PRIu64
		 " on (after request %" PRIu64 ")",
		 x->reinit_allocator, x->reinit_number, x->reinit_at);
	return buf;
}
