/*
 * atr-mutate.c - deterministic damage inside a trace's frames, for the
 * tests of what a reader does with a frame that zstd accepts but whose
 * records do not hold together (FORMAT.md §1.1: such a frame is corrupt,
 * and none of its records may be handed out).
 *
 *   atr-mutate mutate IN OUT SEED
 *     OUT is IN with the decompressed content of one frame changed (bytes
 *     overwritten, one bit flipped, a run of bytes rewritten: SEED picks
 *     the frame, the kind, the place and the bytes; the stream table stays)
 *     and that frame compressed again with its checksum, so that only the
 *     reader's own checks can find the damage.  Prints "frame K of N".
 *   atr-mutate check TRACE
 *     Reads TRACE with the trace library and counts the records it hands
 *     out.  On an error it names the frame it rejected (the last one it
 *     decompressed) and checks that the records handed out are exactly
 *     those of the frames before it (the count of each frame's tags
 *     stream, less the schema record): prints "rejected frame K at byte X:
 *     N records before it, M handed out" and exits 1 when M != N, or
 *     "read N records" when the trace reads to its end.
 * Exit status 2 for bad usage or input this tool cannot take.
 */
#include "tf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define MAX_FRAMES 4096

typedef struct frame {
	size_t off, len;  /* where in the file, compressed bytes */
	uint64_t records; /* length of its tags stream */
} frame;

static uint64_t rng;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "atr-mutate: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	size_t cap = 1 << 20, n = 0;
	unsigned char *buf = malloc(cap);
	for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
		n += got;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "atr-mutate: out of memory\n");
		exit(2);
	}
	*len = n;
	return buf;
}

/* A frame's content; exits on anything but a plain, complete frame. */
static unsigned char *content(const unsigned char *src, size_t len, size_t *out_len)
{
	unsigned long long size = ZSTD_getFrameContentSize(src, len);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
	    size > TF_MAX_FRAME) {
		fprintf(stderr, "atr-mutate: a frame without its content size\n");
		exit(2);
	}
	unsigned char *dst = malloc(size ? size : 1);
	size_t got = dst ? ZSTD_decompress(dst, size, src, len) : 0;
	if (!dst || ZSTD_isError(got) || got != size) {
		fprintf(stderr, "atr-mutate: a frame that does not decompress\n");
		exit(2);
	}
	*out_len = size;
	return dst;
}

/* Where the streams start (past the magic and the stream table) and the
 * length of the tags stream. */
static size_t streams_at(const unsigned char *c, size_t len, bool first, uint64_t *tags)
{
	const uint8_t *p = c + (first ? TF_MAGIC_LEN : 0), *end = c + len;
	uint64_t n, l;
	*tags = 0;
	if (p > end || !tf_get_varint(&p, end, &n))
		return len;
	for (uint64_t i = 0; i < n; i++) {
		if (!tf_get_varint(&p, end, &l))
			return len;
		if (i == 0)
			*tags = l;
	}
	return (size_t)(p - c);
}

/* The file's frames, in order. */
static int split(const unsigned char *buf, size_t len, frame *fr)
{
	int n = 0;
	for (size_t off = 0; off < len; n++) {
		size_t flen = ZSTD_findFrameCompressedSize(buf + off, len - off);
		if (ZSTD_isError(flen) || n == MAX_FRAMES) {
			fprintf(stderr, "atr-mutate: not a sequence of whole zstd frames\n");
			exit(2);
		}
		size_t clen;
		unsigned char *c = content(buf + off, flen, &clen);
		streams_at(c, clen, n == 0, &fr[n].records);
		free(c);
		fr[n].off = off;
		fr[n].len = flen;
		off += flen;
	}
	return n;
}

static int mutate(const char *in, const char *out, uint64_t seed)
{
	size_t len, clen;
	unsigned char *buf = slurp(in, &len);
	static frame fr[MAX_FRAMES];
	int n = split(buf, len, fr);
	rng = seed * 0x9E3779B97F4A7C15ull + 1;
	const int k = (int)(rnd() % (uint64_t)n);
	unsigned char *c = content(buf + fr[k].off, fr[k].len, &clen);
	uint64_t tags;
	const size_t from = streams_at(c, clen, k == 0, &tags);
	if (from >= clen) {
		fprintf(stderr, "atr-mutate: frame %d has no stream bytes\n", k);
		return 2;
	}
	size_t at = from + rnd() % (clen - from);
	switch (rnd() % 3) {
	case 0: /* one byte overwritten */
		c[at] = (unsigned char)rnd();
		break;
	case 1: /* one bit flipped */
		c[at] ^= (unsigned char)(1u << rnd() % 8);
		break;
	default: /* a run of up to 8 bytes rewritten */
		for (size_t i = 0, run = 1 + rnd() % 8; i < run && at + i < clen; i++)
			c[at + i] = (unsigned char)rnd();
	}
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(clen);
	unsigned char *z = malloc(cap);
	size_t zlen = 0;
	if (cc && z) {
		ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
		zlen = ZSTD_compress2(cc, z, cap, c, clen);
	}
	FILE *f = fopen(out, "wb");
	if (!cc || !z || ZSTD_isError(zlen) || !f) {
		fprintf(stderr, "atr-mutate: cannot write %s\n", out);
		return 2;
	}
	fwrite(buf, 1, fr[k].off, f);
	fwrite(z, 1, zlen, f);
	fwrite(buf + fr[k].off + fr[k].len, 1, len - fr[k].off - fr[k].len, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "atr-mutate: cannot write %s\n", out);
		return 2;
	}
	printf("frame %d of %d\n", k, n);
	ZSTD_freeCCtx(cc);
	free(z), free(c), free(buf);
	return 0;
}

static int check(const char *path)
{
	size_t len;
	unsigned char *buf = slurp(path, &len);
	static frame fr[MAX_FRAMES];
	int n = split(buf, len, fr);
	free(buf);
	tf_reader *r;
	char err[512];
	if (tf_reader_open_file(&r, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "atr-mutate: %s\n", err);
		return 2;
	}
	tf_record rec;
	uint64_t got = 0;
	int rc;
	while ((rc = tf_reader_next(r, &rec)) > 0)
		got++;
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	if (rc == 0) {
		printf("read %" PRIu64 " records\n", got);
		tf_reader_free(r);
		return 0;
	}
	/* the rejected frame is the last one decompressed; the schema record
	 * (the first frame's first) is never handed out */
	int k = (int)st.frames - 1;
	uint64_t want = 0;
	for (int i = 0; i < k && i < n; i++)
		want += fr[i].records;
	want -= want > 0;
	printf("rejected frame %d at byte %zu: %" PRIu64 " records before it, %" PRIu64
	       " handed out (%s)\n",
	       k, k >= 0 && k < n ? fr[k].off : len, want, got, tf_reader_error(r));
	tf_reader_free(r);
	return got == want ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "mutate"))
		return mutate(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "check"))
		return check(argv[2]);
	fputs("usage: atr-mutate mutate IN OUT SEED | atr-mutate check TRACE\n", stderr);
	return 2;
}
