/*
 * tr_modules.h - the module map (tr_modules.c): MODULE and MODULE_UNLOAD
 * records that follow what the process loads and unloads.
 */
#ifndef ARENATRACE_TR_MODULES_H
#define ARENATRACE_TR_MODULES_H

#include <stdbool.h>

/* Records loaded objects that are new and unloads of those
 * gone.  Takes the lock itself; call without it. */
void tr_modules_rescan(void);
/* Rescans only if objects were loaded or unloaded since the last scan
 * (dl_iterate_phdr's dlpi_adds/dlpi_subs).  Called on the way out of a
 * record every TR_MODULE_POLL_MS of event time (never under the lock), around
 * dlclose and before the END record: the map follows dlopen/dlclose
 * without interposing dlopen (which would change the caller glibc uses for
 * RUNPATH lookups). */
void tr_modules_poll(void);
/* The same from a record's way out, once tr_poll_safe said this thread is
 * not inside the loader (which holds its lock while it calls malloc and
 * free); skipped while another thread polls. */
void tr_modules_poll_try(void);
extern bool (*tr_poll_safe)(void); /* set by the preload shim; NULL: never asked */
void tr_modules_reset(void);

#endif
