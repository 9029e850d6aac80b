/*
 * rep_paths.h - stacks as paths of frame lines, each distinct path written
 * once: a trie of lines, outermost first, whose nodes are numbered from 1
 * in the order they were first met.  callsites.csv names a call site's
 * stack by the id of its innermost node; stacks.csv lists the nodes.
 */
#ifndef ARENATRACE_REP_PATHS_H
#define ARENATRACE_REP_PATHS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rep_paths rep_paths;

/* An empty trie, or NULL out of memory. */
rep_paths *rep_paths_new(void);
void rep_paths_free(rep_paths *p);

/* The id of the node for line under parent (0: a path's outermost line),
 * added when new; 0 out of memory (the trie stays as it was). */
uint32_t rep_paths_add(rep_paths *p, uint32_t parent, const char *line, size_t len);

/* Nodes so far; node id (1 .. count): its parent, and its line (*len
 * bytes, not NUL-terminated; "" and 0 for an id out of range). */
uint32_t rep_paths_count(const rep_paths *p);
uint32_t rep_paths_parent(const rep_paths *p, uint32_t id);
const char *rep_paths_line(const rep_paths *p, uint32_t id, size_t *len);

#endif
