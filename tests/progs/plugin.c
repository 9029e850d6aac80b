/*
 * plugin.c - a shared object dlprog loads, allocates through and unloads
 * at once: its allocations' stacks must still name plugin_fill.
 */
#include <stdlib.h>

__attribute__((noinline)) void *plugin_fill(int n)
{
	void **v = malloc((size_t)n * sizeof(void *));
	for (int i = 0; v && i < n; i++)
		v[i] = malloc(48);
	return v; /* kept: the blocks outlive the object */
}
