/*
 * atr-pylines.c - checks tf_pyline() against a real interpreter's answers:
 * reads the dump tests/python/pylines_dump.py writes (the line table,
 * first line and PyCode_Addr2Line at every offset of each code object,
 * and at offset -1, a frame not started) and decodes each offset itself.
 * Prints each mismatch (the first 20) and one summary line, counting
 * offset -1 as one; exit 1 on any mismatch, a malformed dump or a dump
 * without code objects.  --as-format N decodes with another format than
 * the dump's (the suite's check that a wrong decoder is caught).
 * usage: atr-pylines [--as-format N] DUMP
 */
#include "tf_pyline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHOWN 20 /* mismatches printed; all are counted */

typedef struct check {
	unsigned format;
	char version[32];
	uint8_t *table;
	size_t len, cap;
	int64_t first_line;
	uint64_t nbytes;
	char name[512];
	int have_code;
	uint64_t codes, offsets, mismatches;
	const char *path;
	size_t lineno;
} check;

static int bad(const check *c, const char *what)
{
	fprintf(stderr, "atr-pylines: %s:%zu: %s\n", c->path, c->lineno, what);
	return -1;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int read_table(check *c, const char *hex)
{
	size_t n = strlen(hex);
	c->len = 0;
	if (!strcmp(hex, "-"))
		return 0;
	if (n % 2)
		return bad(c, "odd number of hex digits");
	if (n / 2 > c->cap) {
		c->cap = n / 2;
		free(c->table);
		c->table = malloc(c->cap);
		if (!c->table)
			return bad(c, "out of memory");
	}
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return bad(c, "not hex");
		c->table[c->len++] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void compare(check *c, int64_t offset, int64_t want)
{
	int64_t got = tf_pyline(c->format, c->table, c->len, c->first_line, offset);
	c->offsets++;
	if (got == want)
		return;
	if (c->mismatches++ < MAX_SHOWN)
		printf("mismatch: %s (first line %" PRId64 ", %zu table bytes) offset %" PRId64
		       ": interpreter %" PRId64 ", tf_pyline %" PRId64 "\n",
		       c->name, c->first_line, c->len, offset, want, got);
}

/* "code FIRSTLINE NBYTES BEFORE TABLE NAME"; BEFORE is offset -1's line */
static int code_line(check *c, char *rest)
{
	char *end;
	c->first_line = strtoll(rest, &end, 10);
	c->nbytes = strtoull(end, &end, 10);
	int64_t before = strtoll(end, &end, 10);
	char *hex = strtok(end, " ");
	char *name = strtok(NULL, "\n");
	if (!hex || !name)
		return bad(c, "a code line needs FIRSTLINE NBYTES BEFORE TABLE NAME");
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->have_code = 1;
	c->codes++;
	if (read_table(c, hex))
		return -1;
	compare(c, -1, before);
	return 0;
}

/* "lines L0 L1 ..." with "L*N" for runs, one per offset 0, 2, ... */
static int lines_line(check *c, char *rest)
{
	if (!c->have_code)
		return bad(c, "lines before a code line");
	c->have_code = 0;
	int64_t offset = 0;
	for (char *tok = strtok(rest, " \n"); tok; tok = strtok(NULL, " \n")) {
		char *end;
		int64_t want = strtoll(tok, &end, 10);
		uint64_t run = 1;
		if (*end == '*')
			run = strtoull(end + 1, &end, 10);
		if (*end || end == tok || !run)
			return bad(c, "not a line number");
		for (; run; run--, offset += 2)
			compare(c, offset, want);
	}
	if ((uint64_t)offset != (c->nbytes + 1) / 2 * 2)
		return bad(c, "not one line per offset of the code");
	return 0;
}

static int header_line(check *c, char *rest, int as_format)
{
	unsigned version, format;
	if (sscanf(rest, "%u %u %31s", &version, &format, c->version) != 3 || version != 1)
		return bad(c, "not a pylines 1 dump");
	c->format = as_format >= 0 ? (unsigned)as_format : format;
	return 0;
}

static int run(check *c, FILE *f, int as_format)
{
	char *buf = NULL;
	size_t cap = 0;
	int rc = 0, seen_header = 0;
	while (!rc && getline(&buf, &cap, f) > 0) {
		c->lineno++;
		if (!strncmp(buf, "pylines ", 8)) {
			rc = header_line(c, buf + 8, as_format);
			seen_header = 1;
		} else if (!seen_header) {
			rc = bad(c, "no pylines header");
		} else if (!strncmp(buf, "code ", 5)) {
			rc = code_line(c, buf + 5);
		} else if (!strncmp(buf, "lines ", 6)) {
			rc = lines_line(c, buf + 6);
		} else {
			rc = bad(c, "unknown line");
		}
	}
	free(buf);
	if (!rc && c->have_code)
		rc = bad(c, "a code line without its lines");
	return rc;
}

int main(int argc, char **argv)
{
	int as_format = -1;
	if (argc == 4 && !strcmp(argv[1], "--as-format")) {
		as_format = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: atr-pylines [--as-format N] DUMP\n");
		return 2;
	}
	check c = {.path = argv[1]};
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	int rc = run(&c, f, as_format);
	fclose(f);
	free(c.table);
	printf("atr-pylines: python %s, format %u: %" PRIu64 " code objects, %" PRIu64
	       " offsets, %" PRIu64 " mismatches\n",
	       c.version[0] ? c.version : "?", c.format, c.codes, c.offsets, c.mismatches);
	return rc || c.mismatches || !c.codes ? 1 : 0;
}
