/*
 * tr_modules.c - the module map: every loaded object with its load base,
 * PT_LOAD segments and GNU build-id (FORMAT.md §5.1), rescanned after
 * dlopen and dlclose so the trace holds MODULE and MODULE_UNLOAD records.
 *
 * dl_iterate_phdr runs without tr_lock (it takes the loader lock), the
 * records are written under it.  Scans are one at a time (poll_mu: any
 * thread may poll), so a scan never writes what an older view of the
 * loaded objects says after a newer one.  A poll on the way out of a
 * record only tries poll_mu and is made only outside the loader
 * (tr_poll_safe): the loader calls malloc and free with its lock held, and
 * a thread that waited there for poll_mu while another held poll_mu and
 * waited for the loader's lock would never go on.
 */
#include "tr_internal.h"
#include "tr_modules.h"
#include "tr_modinfo.h"

#include <stddef.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define MAX_MODULES 4096

typedef struct mod {
	uint64_t base;
	uint64_t id;
	uint32_t name_hash;
	bool seen; /* found by the current scan */
} mod;

typedef struct scan_entry {
	tr_modinfo info;
	uint32_t name_hash;
} scan_entry;

static pthread_mutex_t poll_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last[2]; /* dlpi_adds, dlpi_subs at the last scan */

static struct {
	mod *known; /* tr_mmap_alloc'd, MAX_MODULES entries */
	size_t nknown;
	uint64_t next_id;
} M;

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a, 32 bits */
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

typedef struct scan {
	scan_entry *v;
	size_t n, cap;
} scan;

static int on_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	scan *s = arg;
	if (s->n == s->cap)
		return 1;
	scan_entry *e = &s->v[s->n++];
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	tr_modinfo_read(info, !*name && s->n == 1, &e->info); /* the first is the executable */
	e->name_hash = hash_str(e->info.path);
	return 0;
}

/* Under poll_mu. */
static void rescan(void)
{
	if (!tr_recording())
		return;
	scan s = {.cap = MAX_MODULES};
	s.v = tr_mmap_alloc(NULL, s.cap * sizeof(scan_entry));
	if (!s.v)
		return;
	dl_iterate_phdr(on_object, &s);
	int lk = tr_lock();
	if (!M.known)
		M.known = tr_mmap_alloc(NULL, MAX_MODULES * sizeof(mod));
	for (size_t k = 0; M.known && k < M.nknown; k++)
		M.known[k].seen = false;
	for (size_t i = 0; M.known && i < s.n; i++) {
		scan_entry *e = &s.v[i];
		size_t k = 0;
		while (k < M.nknown &&
		       !(M.known[k].base == e->info.base && M.known[k].name_hash == e->name_hash))
			k++;
		if (k < M.nknown) {
			M.known[k].seen = true;
			continue;
		}
		if (M.nknown == MAX_MODULES)
			break;
		M.known[M.nknown++] = (mod){e->info.base, ++M.next_id, e->name_hash, true};
		tf_record rec = {.kind = TF_MODULE};
		rec.u.module = tr_modinfo_record(&e->info, M.next_id);
		tr_put_locked(&rec);
	}
	for (size_t k = 0; M.known && k < M.nknown;) {
		if (M.known[k].seen) {
			k++;
			continue;
		}
		tf_record rec = {.kind = TF_MODULE_UNLOAD};
		rec.u.module_unload = M.known[k].id;
		tr_put_locked(&rec);
		M.known[k] = M.known[--M.nknown];
	}
	tr_unlock(lk);
	tr_mmap_free(NULL, s.v);
}

void tr_modules_rescan(void)
{
	pthread_mutex_lock(&poll_mu);
	rescan();
	pthread_mutex_unlock(&poll_mu);
}

/* A new trace (fork child) lists every module again.  Under tr_lock, the
 * only thread: poll_mu may have been held by another thread at the fork. */
void tr_modules_reset(void)
{
	pthread_mutex_init(&poll_mu, NULL);
	M.nknown = 0;
	last[0] = last[1] = 0;
	M.next_id = 0;
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
	uint64_t *c = arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		c[0] = info->dlpi_adds;
		c[1] = info->dlpi_subs;
	}
	return 1; /* the counters are the same in every entry: stop */
}

/* Under poll_mu. */
static void poll_locked(void)
{
	uint64_t now[2] = {0, 0};
	dl_iterate_phdr(read_counters, now);
	if (now[0] != last[0] || now[1] != last[1] || !M.nknown) {
		last[0] = now[0];
		last[1] = now[1];
		rescan();
	}
}

/* Around dlclose and before the END record. */
void tr_modules_poll(void)
{
	pthread_mutex_lock(&poll_mu);
	poll_locked();
	pthread_mutex_unlock(&poll_mu);
}

bool (*tr_poll_safe)(void);

/* On the way out of a record (the caller asked tr_poll_safe): leaves it to
 * a thread that polls already. */
void tr_modules_poll_try(void)
{
	if (pthread_mutex_trylock(&poll_mu))
		return;
	poll_locked();
	pthread_mutex_unlock(&poll_mu);
}
