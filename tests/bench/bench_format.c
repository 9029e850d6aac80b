/*
 * bench_format.c - speed and size of the trace format on a churn workload.
 *
 * Reads a trace (written by atr-synth), keeping its events in a compact
 * array, then times, on one core (process CPU time, median of runs):
 *   - encode + compress with the writer (tf_writer_put_alloc, as the
 *     tracer does), to /dev/null;
 *   - zstd alone compressing the same record bytes (the anchor: what the
 *     compressor costs by itself);
 *   - decompress + decode with the reader, and zstd alone decompressing
 *     the same frames (its anchor).
 * Prints events/s, the ratios to the targets (encoding 20 M events/s,
 * decoding 80 M events/s), and bytes/event.
 */
#include "tf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define RUNS 5
#define TARGET_EPS 20e6
#define TARGET_DEC_EPS 80e6

typedef struct ev {
	uint8_t kind;
	uint32_t thread;
	uint64_t time, stack, addr, old, size, extra;
} ev;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[n / 2];
}

static void *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0)
		return NULL;
	void *p = malloc((size_t)sb.st_size);
	if (p && read(fd, p, (size_t)sb.st_size) != sb.st_size) {
		free(p);
		p = NULL;
	}
	close(fd);
	*len = (size_t)sb.st_size;
	return p;
}

/* Loads the allocation events of a trace; returns their count. */
static size_t load(const void *buf, size_t len, ev **out, uint64_t *nstacks)
{
	tf_reader *r;
	if (tf_reader_open_mem(&r, buf, len) < 0)
		return 0;
	size_t n = 0, cap = 1 << 20;
	ev *v = malloc(cap * sizeof(ev));
	tf_record rec;
	*nstacks = 0;
	while (v && tf_reader_next(r, &rec) == 1) {
		*nstacks += rec.kind == TF_STACK;
		if (!tf_kind_is_malloc_fn(rec.kind) && !tf_kind_is_python_fn(rec.kind))
			continue;
		if (n == cap) {
			ev *p = realloc(v, (cap *= 2) * sizeof(ev));
			if (!p)
				break;
			v = p;
		}
		const tf_alloc *a = &rec.u.alloc;
		v[n++] = (ev){(uint8_t)rec.kind, rec.thread, rec.time, a->stack, a->addr, a->old,
			      a->size, a->nmemb | a->align};
	}
	tf_reader_free(r);
	*out = v;
	return n;
}

static tf_writer_stats write_events(const ev *v, size_t n, uint64_t nstacks, int fd, int level)
{
	tf_header h = {.pid = 1, .clock = {"CLOCK_MONOTONIC", 15}};
	tf_writer_opts o = {.fd = fd, .level = level};
	tf_writer *w;
	tf_writer_stats st = {0};
	if (tf_writer_create(&w, &o, &h) < 0)
		return st;
	tf_record rec = {.kind = TF_STACK};
	for (uint64_t i = 0; i < nstacks; i++) {
		rec.u.node.parent = i;
		rec.u.node.ip = 0x400000 + i * 64;
		tf_writer_put(w, &rec);
	}
	for (size_t i = 0; i < n; i++) {
		tf_alloc a = {v[i].stack, v[i].addr, v[i].old, v[i].size, v[i].extra, v[i].extra, 0};
		tf_writer_put_alloc(w, v[i].kind, v[i].thread, v[i].time, &a); /* the tracer's path */
	}
	tf_writer_finish(w, TF_END_EXIT, 0, 0);
	tf_writer_get_stats(w, &st);
	tf_writer_free(w);
	return st;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_format LABEL TRACE [LEVEL]\n");
		return 2;
	}
	int level = argc > 3 ? atoi(argv[3]) : TF_DEFAULT_LEVEL;
	size_t len;
	void *buf = slurp(argv[2], &len);
	ev *v = NULL;
	uint64_t nstacks;
	size_t n = buf ? load(buf, len, &v, &nstacks) : 0;
	if (!n) {
		fprintf(stderr, "bench_format: cannot read %s\n", argv[2]);
		return 1;
	}
	int devnull = open("/dev/null", O_WRONLY);
	double t_enc[RUNS], t_dec[RUNS], t_z[RUNS], t_zd[RUNS];
	tf_writer_stats st = {0};
	for (int k = 0; k < RUNS; k++) {
		double t0 = cpu_now();
		st = write_events(v, n, nstacks, devnull, level);
		t_enc[k] = cpu_now() - t0;
	}
	/* the anchor: zstd alone on the same record bytes, in the same frames */
	int mfd = memfd_create("bench", 0);
	write_events(v, n, nstacks, mfd, level);
	size_t zlen = (size_t)lseek(mfd, 0, SEEK_END);
	uint8_t *z = mmap(NULL, zlen, PROT_READ, MAP_PRIVATE, mfd, 0);
	size_t rawcap = st.bytes_raw + 1024;
	uint8_t *raw = malloc(rawcap), *zout = malloc(ZSTD_compressBound(TF_DEFAULT_FRAME * 2));
	size_t rawlen = ZSTD_decompress(raw, rawcap, z, zlen);
	if (ZSTD_isError(rawlen) || !zout) {
		fprintf(stderr, "bench_format: %s\n", ZSTD_getErrorName(rawlen));
		return 1;
	}
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	for (int k = 0; k < RUNS; k++) {
		double t0 = cpu_now();
		for (size_t off = 0; off < rawlen; off += TF_DEFAULT_FRAME) {
			size_t m = rawlen - off < TF_DEFAULT_FRAME ? rawlen - off : TF_DEFAULT_FRAME;
			ZSTD_compress2(cc, zout, ZSTD_compressBound(TF_DEFAULT_FRAME * 2), raw + off, m);
		}
		t_z[k] = cpu_now() - t0;
	}
	for (int k = 0; k < RUNS; k++) {
		double t0 = cpu_now();
		tf_reader *r;
		tf_record rec;
		tf_reader_open_mem(&r, z, zlen);
		while (tf_reader_next(r, &rec) == 1)
			;
		tf_reader_free(r);
		t_dec[k] = cpu_now() - t0;
	}
	/* the decoder's anchor: zstd alone decompressing the same frames */
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	uint8_t *dout = malloc(ZSTD_DStreamOutSize());
	for (int k = 0; k < RUNS; k++) {
		double t0 = cpu_now();
		ZSTD_inBuffer in = {z, zlen, 0};
		size_t zr = 1;
		while (in.pos < in.size && !ZSTD_isError(zr)) {
			ZSTD_outBuffer out = {dout, ZSTD_DStreamOutSize(), 0};
			zr = ZSTD_decompressStream(dc, &out, &in);
		}
		t_zd[k] = cpu_now() - t0;
		ZSTD_DCtx_reset(dc, ZSTD_reset_session_only);
	}
	double enc = median(t_enc, RUNS), dec = median(t_dec, RUNS), zs = median(t_z, RUNS);
	double zd = median(t_zd, RUNS);
	double eps = (double)n / enc;
	printf("format/%s: %zu events, zstd level %d, median of %d runs, one core\n", argv[1], n,
	       level, RUNS);
	printf("  encode+compress   %6.1f M events/s   ratio to the 20 M/s target: %.2f\n",
	       eps / 1e6, eps / TARGET_EPS);
	printf("  zstd alone        %6.1f M events/s   (encoding adds %.0f%% to compression)\n",
	       (double)n / zs / 1e6, (enc / zs - 1) * 100);
	printf("  decode+decompress %6.1f M events/s   ratio to the 80 M/s target: %.2f\n",
	       (double)n / dec / 1e6, (double)n / dec / TARGET_DEC_EPS);
	printf("  zstd alone        %6.1f M events/s decompressing (decoding adds %.0f%%)\n",
	       (double)n / zd / 1e6, (dec / zd - 1) * 100);
	printf("  size              %6.2f bytes/event compressed, %.2f raw, %.2fx compression\n",
	       (double)st.bytes_compressed / (double)n, (double)st.bytes_raw / (double)n,
	       (double)st.bytes_raw / (double)st.bytes_compressed);
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
	free(dout);
	free(raw), free(zout), free(v), free(buf);
	munmap(z, zlen);
	return 0;
}
