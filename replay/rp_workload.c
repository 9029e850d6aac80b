/*
 * rp_workload.c - the parser of object-graph workloads, whose format is
 * traces/workloads/README.md.  One pass over the text, one statement per
 * line, into an array of statements; repeat blocks are matched and the
 * number of statements a run would execute is counted (saturating) so a
 * workload over RP_WL_MAX_EXEC is refused before it runs.  Memory is
 * proportional to the text; any input ends with a workload or a
 * "FILE:LINE: message".
 */
#include "rp_workload.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 6

typedef struct parser {
	rp_workload *w;
	size_t cap, names_cap;
	const char *file;
	uint32_t line;
	char *err;
	size_t errlen;
	uint32_t open[RP_WL_MAX_DEPTH]; /* indices of the open repeats */
	uint64_t mult[RP_WL_MAX_DEPTH + 1]; /* iterations of each level, product so far */
	int depth;
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...)
{
	int n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void rp_workload_free(rp_workload *w)
{
	if (!w)
		return;
	free(w->s);
	free(w->names);
	free(w);
}

/* A name: a letter or '_', then letters, digits, '_' and '%' (replaced
 * by the iteration numbers of the enclosing repeats). */
static int add_name(parser *p, const char *t, size_t len, uint32_t *off)
{
	if (len > RP_WL_MAX_NAME)
		return fail(p, "name '%.20s...' is longer than %d bytes", t, RP_WL_MAX_NAME);
	if (!isalpha((unsigned char)t[0]) && t[0] != '_')
		return fail(p, "bad name '%.*s': names start with a letter or '_'", (int)len, t);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if (!isalnum(c) && c != '_' && c != '%')
			return fail(p, "bad name '%.*s': letters, digits, '_' and '%%' only",
				    (int)len, t);
		if (c == '%' && !p->depth)
			return fail(p, "'%%' in name '%.*s' outside a repeat block", (int)len, t);
	}
	rp_workload *w = p->w;
	if (w->names_len + len + 1 > p->names_cap) {
		size_t cap = p->names_cap ? p->names_cap * 2 : 1024;
		while (cap < w->names_len + len + 1)
			cap *= 2;
		char *n = realloc(w->names, cap);
		if (!n)
			return fail(p, "out of memory");
		w->names = n;
		p->names_cap = cap;
	}
	memcpy(w->names + w->names_len, t, len);
	w->names[w->names_len + len] = 0;
	*off = (uint32_t)w->names_len;
	w->names_len += len + 1;
	return 0;
}

static int number(parser *p, const char *t, size_t len, uint64_t min, uint64_t max,
		  const char *what, uint64_t *v)
{
	uint64_t x = 0;
	if (!len || len > 19)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)t[i]))
			goto bad;
		x = x * 10 + (uint64_t)(t[i] - '0');
	}
	if (x < min || x > max)
		goto bad;
	*v = x;
	return 0;
bad:
	return fail(p, "%s must be a number from %llu to %llu, not '%.*s'", what,
		    (unsigned long long)min, (unsigned long long)max, len > 24 ? 24 : (int)len, t);
}

/* Counts the statement's executions (mult of its level) into the total. */
static int count_exec(parser *p)
{
	uint64_t m = p->mult[p->depth];
	if (p->w->executed + m > RP_WL_MAX_EXEC)
		return fail(p, "the workload would run more than %llu statements",
			    (unsigned long long)RP_WL_MAX_EXEC);
	p->w->executed += m;
	return 0;
}

static rp_wl_stmt *push(parser *p, int op)
{
	rp_workload *w = p->w;
	if (w->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		rp_wl_stmt *s = realloc(w->s, cap * sizeof(*s));
		if (!s)
			return NULL;
		w->s = s;
		p->cap = cap;
	}
	rp_wl_stmt *s = &w->s[w->n++];
	memset(s, 0, sizeof(*s));
	s->op = (uint8_t)op;
	s->line = p->line;
	s->depth = (uint8_t)p->depth;
	return s;
}

static const struct {
	const char *word;
	int op;
	int min, max; /* arguments after the word */
} grammar[] = {
    {"new", RP_WL_NEW, 3, 3},          {"ref", RP_WL_REF, 2, 2},
    {"unref", RP_WL_UNREF, 2, 2},      {"drop", RP_WL_DROP, 1, 1},
    {"alias", RP_WL_ALIAS, 2, 2},      {"collect", RP_WL_COLLECT, 0, 1},
    {"threshold", RP_WL_THRESHOLD, 1, 3}, {"freeze", RP_WL_FREEZE, 0, 0},
    {"unfreeze", RP_WL_UNFREEZE, 0, 0}, {"enable", RP_WL_ENABLE, 0, 0},
    {"disable", RP_WL_DISABLE, 0, 0},  {"repeat", RP_WL_REPEAT, 1, 1},
    {"end", RP_WL_END, 0, 0},
};

static int statement(parser *p, const char **tok, const size_t *tlen, int nt)
{
	int g = -1;
	for (size_t i = 0; i < sizeof(grammar) / sizeof(grammar[0]); i++)
		if (strlen(grammar[i].word) == tlen[0] && !memcmp(grammar[i].word, tok[0], tlen[0]))
			g = (int)i;
	if (g < 0)
		return fail(p, "unknown statement '%.*s'", tlen[0] > 24 ? 24 : (int)tlen[0], tok[0]);
	int nargs = nt - 1;
	if (nargs < grammar[g].min || nargs > grammar[g].max)
	{
		if (grammar[g].max > grammar[g].min)
			return fail(p, "%s takes %d to %d arguments, not %d", grammar[g].word,
				    grammar[g].min, grammar[g].max, nargs);
		return fail(p, "%s takes %d argument%s, not %d", grammar[g].word, grammar[g].min,
			    grammar[g].min == 1 ? "" : "s", nargs);
	}
	int op = grammar[g].op;
	if (op == RP_WL_END) {
		if (!p->depth)
			return fail(p, "end without repeat");
		if (count_exec(p) < 0) /* each iteration's end */
			return -1;
		uint32_t r = p->open[--p->depth];
		rp_wl_stmt *s = push(p, op);
		if (!s)
			return fail(p, "out of memory");
		s->jump = r;
		p->w->s[r].jump = (uint32_t)(p->w->n - 1);
		return 0;
	}
	if (count_exec(p) < 0)
		return -1;
	rp_wl_stmt *s = push(p, op);
	if (!s)
		return fail(p, "out of memory");
	s->nargs = (uint8_t)nargs;
	switch (op) {
	case RP_WL_NEW:
		if (add_name(p, tok[1], tlen[1], &s->name[0]) < 0 ||
		    number(p, tok[2], tlen[2], 1, RP_WL_MAX_SIZE, "size", &s->num[0]) < 0)
			return -1;
		if (tlen[3] == 9 && !memcmp(tok[3], "container", 9))
			s->container = true;
		else if (!(tlen[3] == 5 && !memcmp(tok[3], "plain", 5)))
			return fail(p, "new: the kind is 'container' or 'plain', not '%.*s'",
				    tlen[3] > 24 ? 24 : (int)tlen[3], tok[3]);
		return 0;
	case RP_WL_REF:
	case RP_WL_UNREF:
	case RP_WL_ALIAS:
		if (add_name(p, tok[2], tlen[2], &s->name[1]) < 0)
			return -1;
		/* fall through */
	case RP_WL_DROP:
		return add_name(p, tok[1], tlen[1], &s->name[0]);
	case RP_WL_COLLECT:
		s->num[0] = 2;
		return nargs ? number(p, tok[1], tlen[1], 0, 2, "generation", &s->num[0]) : 0;
	case RP_WL_THRESHOLD:
		for (int i = 0; i < nargs; i++)
			if (number(p, tok[1 + i], tlen[1 + i], 0, RP_WL_MAX_THRESHOLD, "threshold",
				   &s->num[i]) < 0)
				return -1;
		return 0;
	case RP_WL_REPEAT:
		if (p->depth == RP_WL_MAX_DEPTH)
			return fail(p, "repeat blocks nest at most %d deep", RP_WL_MAX_DEPTH);
		if (number(p, tok[1], tlen[1], 1, RP_WL_MAX_COUNT, "repeat count", &s->num[0]) < 0)
			return -1;
		p->open[p->depth++] = (uint32_t)(p->w->n - 1);
		/* saturates: any level over the limit fails at its first statement */
		p->mult[p->depth] = p->mult[p->depth - 1] > RP_WL_MAX_EXEC / s->num[0]
					? RP_WL_MAX_EXEC + 1
					: p->mult[p->depth - 1] * s->num[0];
		return 0;
	}
	return 0;
}

int rp_workload_parse(const char *text, size_t len, const char *file, rp_workload **out,
		      char *err, size_t errlen)
{
	*out = NULL;
	parser p = {.file = file, .err = err, .errlen = errlen, .mult = {1}};
	p.w = calloc(1, sizeof(rp_workload));
	if (!p.w) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	size_t i = 0;
	while (i < len) {
		p.line++;
		if (p.line == UINT32_MAX)
			goto fail_line;
		const char *tok[MAX_TOKENS + 1];
		size_t tlen[MAX_TOKENS + 1];
		int nt = 0;
		bool comment = false;
		while (i < len && text[i] != '\n') {
			char c = text[i];
			if (c == ' ' || c == '\t' || c == '\r') {
				i++;
				continue;
			}
			if (c == '#')
				comment = true;
			size_t start = i;
			while (i < len && text[i] != '\n' && text[i] != ' ' && text[i] != '\t' &&
			       text[i] != '\r')
				i++;
			if (comment)
				continue;
			if (nt == MAX_TOKENS) {
				fail(&p, "too many words");
				goto out_fail;
			}
			tok[nt] = text + start;
			tlen[nt++] = i - start;
			for (size_t k = start; k < i; k++)
				if ((unsigned char)text[k] < 0x20 || (unsigned char)text[k] >= 0x7f) {
					fail(&p, "bytes that are not printable ASCII");
					goto out_fail;
				}
		}
		i++; /* the newline */
		if (nt && statement(&p, tok, tlen, nt) < 0)
			goto out_fail;
	}
	if (p.depth) {
		p.line = p.w->s[p.open[p.depth - 1]].line;
		fail(&p, "repeat without end");
		goto out_fail;
	}
	*out = p.w;
	return 0;
fail_line:
	fail(&p, "too many lines");
out_fail:
	rp_workload_free(p.w);
	return -1;
}
