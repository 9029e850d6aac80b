/*
 * atr-drop.c - a trace copied record by record through the trace library,
 * leaving out its Nth arena_free record: a trace in which the tracer
 * missed one arena release, for the replay's arena cross-check
 * (tests/e2e/test_arena_xcheck.sh).
 *
 *   atr-drop IN OUT N
 *     OUT holds IN's header and every record IN's reader hands out, in
 *     order and at the same times and threads, but the Nth arena_free
 *     (1-based); the writer makes the time, switch and end records again
 *     (the end record with IN's clean, exit status and dropped, and its own
 *     event count).  Stack records are copied in order, so their ids stay.
 *     Prints "dropped arena_free base=0x... of M" (M the arena_free
 *     records of IN), and exits 1 when IN has fewer than N.
 * Exit status 2 for bad usage or input this tool cannot take.
 */
#include "tf.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int fail(const char *what, int rc)
{
	fprintf(stderr, "atr-drop: %s: %s\n", what, tf_strerror(rc));
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 4 || atoll(argv[3]) < 1) {
		fprintf(stderr, "usage: atr-drop IN OUT N\n");
		return 2;
	}
	const uint64_t nth = (uint64_t)atoll(argv[3]);
	char err[256];
	tf_reader *rd;
	int rc = tf_reader_open_file(&rd, argv[1], err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "atr-drop: %s\n", err);
		return 2;
	}
	tf_record rec;
	if ((rc = tf_reader_next(rd, &rec)) <= 0 || rec.kind != TF_HEADER)
		return fail(argv[1], rc < 0 ? rc : TF_E_CORRUPT);
	const tf_header *h = tf_reader_header(rd);
	int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror("atr-drop: OUT");
		return 2;
	}
	tf_writer_opts o = {.fd = fd, .quantum_ns = h->quantum_ns, .exact_time = !h->quantum_ns};
	tf_writer *w;
	if ((rc = tf_writer_create(&w, &o, h)) < 0)
		return fail(argv[2], rc);
	uint64_t frees = 0, base = 0;
	tf_end end = {0};
	bool has_end = false;
	while ((rc = tf_reader_next(rd, &rec)) > 0) {
		switch (rec.kind) {
		case TF_SCHEMA:
		case TF_HEADER:
		case TF_TIME:
		case TF_SWITCH: /* the writer makes its own */
			continue;
		case TF_END:
			end = rec.u.end;
			has_end = true;
			continue;
		case TF_ARENA_FREE:
			if (++frees == nth) {
				base = rec.u.arena.addr;
				continue;
			}
			break;
		default:
			break;
		}
		if ((rc = tf_writer_put(w, &rec)) < 0)
			return fail(argv[2], rc);
	}
	if (rc < 0) {
		fprintf(stderr, "atr-drop: %s\n", tf_reader_error(rd));
		return 2;
	}
	if (!has_end) {
		fprintf(stderr, "atr-drop: %s has no end record\n", argv[1]);
		return 2;
	}
	if ((rc = tf_writer_finish(w, (unsigned)end.clean, end.exit_status, end.dropped)) < 0)
		return fail(argv[2], rc);
	tf_writer_free(w);
	tf_reader_free(rd);
	if (close(fd) < 0) {
		perror("atr-drop: OUT");
		return 2;
	}
	if (frees < nth) {
		fprintf(stderr, "atr-drop: %s has %" PRIu64 " arena_free records, not %" PRIu64 "\n",
			argv[1], frees, nth);
		return 1;
	}
	printf("dropped arena_free base=0x%" PRIx64 " of %" PRIu64 "\n", base, frees);
	return 0;
}
