/*
 * plateau.c - a heap that fills, is mostly freed, and stays held: 200,000
 * blocks of 64 bytes, of which every 500th comes from keep_survivor(),
 * the rest from fill(); the fill blocks are freed, so the survivors, one
 * in each few pools, keep nearly empty arenas (under pymalloc) for the
 * plateau; then refill() allocates 150,000 blocks again, into the arenas
 * the survivors kept, and the program ends without freeing anything.  A
 * mark names each phase.  The replay's worst moment (held minus live at
 * its largest) is on the plateau, what pins its arenas is keep_survivor's
 * stack, and at the end refill's and keep_survivor's blocks are live.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 200000
#define EVERY 500
#define REFILL 150000

static void *slot[N];

__attribute__((noinline)) static void *keep_survivor(void)
{
	void *p = malloc(64);
	memset(p, 1, 64);
	return p;
}

__attribute__((noinline)) static void *refill(void)
{
	void *p = malloc(64);
	memset(p, 3, 64);
	return p;
}

__attribute__((noinline)) static void *fill(void)
{
	void *p = malloc(64);
	memset(p, 2, 64);
	return p;
}

/* arenatrace_mark when the tracer is there */
static void mark(const char *label)
{
	void (*fn)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT, "arenatrace_mark");
	if (fn)
		fn(label);
}

int main(void)
{
	for (int i = 0; i < N; i++)
		slot[i] = i % EVERY ? fill() : keep_survivor();
	mark("filled");
	for (int i = 0; i < N; i++)
		if (i % EVERY) {
			free(slot[i]);
			slot[i] = NULL;
		}
	mark("plateau");
	/* the plateau: a little other work that holds nothing */
	for (int k = 0; k < 2000; k++) {
		void *volatile p = malloc(32);
		free(p);
	}
	mark("refill");
	for (int i = 0; i < REFILL; i++)
		if (i % EVERY)
			slot[i] = refill();
	printf("done\n");
	return 0;
}
