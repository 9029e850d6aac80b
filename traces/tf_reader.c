/*
 * tf_reader.c - pull reader: zstd frames in, one record per call out.
 * This file opens traces and loads frames; tf_decode.c decodes and checks
 * their records.
 *
 * A frame is decompressed whole (at most TF_MAX_FRAME bytes), its checksum
 * verified, and then every one of its records decoded and checked (each
 * decodes, every stream is used up exactly, the end record's counts agree)
 * before any of them is returned: a corrupt frame is an error, and none of
 * its records reaches the caller (FORMAT.md §1).  The check is the decode:
 * the records' field values go into a per-frame buffer (vals) as they are
 * decoded, and are handed out from there.  A frame whose values would not
 * fit in VALS_MAX is decoded to the end all the same (nothing kept past the
 * buffer), and its records past the buffer are decoded a second time, from
 * a copy of the decoder's state, as they are handed out.  A file that ends
 * inside a frame is read up to the last complete frame and flagged
 * truncated.  Memory is bounded: one input chunk, one frame, its values
 * (at most VALS_MAX), the header's copies.
 */
#include "tf_rd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

int tf_rd_fail(tf_reader *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return r->err = err;
}

/* ---- opening ---- */

static tf_reader *reader_new(void)
{
	tf_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->fd = -1;
	tf_state_init(&r->st);
	return r;
}

static int setup_dctx(tf_reader *r)
{
	r->dctx = ZSTD_createDStream();
	if (!r->dctx)
		return TF_E_NOMEM;
	/* frames are at most TF_MAX_FRAME, so no window needs to be larger */
	if (ZSTD_isError(ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, 24)))
		return TF_E_ARG;
	return 0;
}

int tf_reader_open_mem(tf_reader **out, const void *buf, size_t len)
{
	*out = NULL;
	if (!len)
		return TF_E_EMPTY;
	tf_reader *r = reader_new();
	if (!r)
		return TF_E_NOMEM;
	int err = setup_dctx(r);
	if (err) {
		tf_reader_free(r);
		return err;
	}
	r->in = buf;
	r->in_len = len;
	r->in_eof = true;
	*out = r;
	return 0;
}

int tf_reader_open_raw(tf_reader **out, const void *buf, size_t len)
{
	*out = NULL;
	if (len > TF_MAX_FRAME) /* one frame's content, as FORMAT.md bounds it */
		return TF_E_TOO_LARGE;
	tf_reader *r = reader_new();
	if (!r)
		return TF_E_NOMEM;
	r->raw = true;
	r->frame = buf;
	r->frame_len = len;
	r->have_frame = true;
	*out = r;
	return 0;
}

int tf_reader_open_file(tf_reader **out, const char *path, char *errbuf, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	int err = 0;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		err = TF_E_IO;
		if (errbuf)
			snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
	} else if (S_ISDIR(sb.st_mode)) {
		err = TF_E_IO;
		if (errbuf)
			snprintf(errbuf, errlen, "%s: is a directory", path);
	} else if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
		err = TF_E_EMPTY;
		if (errbuf)
			snprintf(errbuf, errlen, "%s: empty file (0 bytes)", path);
	}
	tf_reader *r = err ? NULL : reader_new();
	if (!err && !r)
		err = TF_E_NOMEM;
	if (!err && (err = setup_dctx(r)) == 0) {
		r->in_buf = malloc(IN_CHUNK);
		if (!r->in_buf)
			err = TF_E_NOMEM;
	}
	if (err) {
		if (errbuf && err == TF_E_NOMEM)
			snprintf(errbuf, errlen, "%s: out of memory", path);
		tf_reader_free(r);
		if (fd >= 0)
			close(fd);
		return err;
	}
	r->fd = fd;
	r->in = r->in_buf;
	*out = r;
	return 0;
}

void tf_reader_free(tf_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	ZSTD_freeDStream(r->dctx);
	free(r->in_buf);
	free(r->frame_buf);
	free(r->vals);
	free(r->header_mem);
	free(r);
}

const char *tf_reader_error(const tf_reader *r)
{
	return r->err ? r->msg : "";
}

void tf_reader_get_status(const tf_reader *r, tf_reader_status *st)
{
	*st = r->status;
}

const tf_header *tf_reader_header(const tf_reader *r)
{
	return r->stage > ST_HEADER ? &r->header : NULL;
}

const char *tf_reader_kind_name(const tf_reader *r, unsigned tag)
{
	if (tag >= TF_NKINDS)
		return NULL;
	if (r->kinds[tag].present)
		return r->kinds[tag].name;
	return tf_kinds[tag].name;
}

/* ---- frames ---- */

/* fd mode: more input.  Returns 0, or TF_E_IO. */
static int refill(tf_reader *r)
{
	if (r->in_eof)
		return 0;
	r->in_off += r->in_len;
	r->in_pos = r->in_len = 0;
	for (;;) {
		ssize_t n = read(r->fd, r->in_buf, IN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tf_rd_fail(r, TF_E_IO, "read error at byte %" PRIu64 ": %s", r->in_off,
				    strerror(errno));
		if (n == 0)
			r->in_eof = true;
		r->in_len = (size_t)n;
		return 0;
	}
}

static int grow_frame(tf_reader *r)
{
	if (r->frame_cap > TF_MAX_FRAME)
		return tf_rd_fail(r, TF_E_TOO_LARGE,
			    "frame at byte %" PRIu64 " decompresses to more than %u bytes",
			    r->frame_off, TF_MAX_FRAME);
	size_t cap = r->frame_cap ? r->frame_cap * 2 : (1u << 20);
	if (cap > TF_MAX_FRAME + 1)
		cap = TF_MAX_FRAME + 1; /* one byte over the limit detects it */
	uint8_t *p = realloc(r->frame_buf, cap);
	if (!p)
		return tf_rd_fail(r, TF_E_NOMEM, "out of memory for a frame of %zu bytes", cap);
	r->frame_buf = p;
	r->frame_cap = cap;
	return 0;
}

/* Decompresses the next frame.  1: a frame is ready; 0: no more frames
 * (status.truncated says whether the file ended inside one); <0: error. */
int tf_rd_load_frame(tf_reader *r)
{
	r->frame_len = 0;
	r->have_frame = false;
	if (r->raw)
		return 0;
	r->frame_off = in_offset(r);
	bool started = false; /* bytes of this frame were consumed */
	for (;;) {
		if (r->frame_len == r->frame_cap && grow_frame(r) < 0)
			return r->err;
		if (r->in_pos == r->in_len && r->fd >= 0 && refill(r) < 0)
			return r->err;
		bool no_input = r->in_pos == r->in_len;
		if (no_input && !started)
			return 0; /* clean end between frames */
		ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
		ZSTD_outBuffer out = {r->frame_buf, r->frame_cap, r->frame_len};
		size_t ret = ZSTD_decompressStream(r->dctx, &out, &in);
		bool progress = in.pos != r->in_pos || out.pos != r->frame_len;
		r->in_pos = in.pos;
		r->frame_len = out.pos;
		started |= progress;
		if (ZSTD_isError(ret)) {
			if (r->frame_off == 0 && ZSTD_getErrorCode(ret) == ZSTD_error_prefix_unknown)
				return tf_rd_fail(r, TF_E_NOT_TRACE,
					    "not an arenatrace trace (no zstd frame at byte 0)");
			if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge)
				return tf_rd_fail(r, TF_E_TOO_LARGE,
					    "frame at byte %" PRIu64 " needs a window over 16 MiB",
					    r->frame_off);
			return tf_rd_fail(r, TF_E_CORRUPT, "corrupt frame at byte %" PRIu64 ": %s",
				    r->frame_off, ZSTD_getErrorName(ret));
		}
		if (r->frame_len > TF_MAX_FRAME)
			return grow_frame(r); /* reports the limit */
		if (ret == 0) {
			r->status.frames++;
			r->status.bytes_compressed = in_offset(r);
			r->status.bytes_raw += r->frame_len;
			if (r->frame_len == 0) { /* a skippable or empty frame */
				r->frame_off = in_offset(r);
				started = false;
				continue;
			}
			r->frame = r->frame_buf;
			r->have_frame = true;
			return 1;
		}
		if (no_input && !progress) { /* the file ends inside this frame */
			r->status.truncated = true;
			r->status.truncated_at = r->frame_off;
			return 0;
		}
	}
}

