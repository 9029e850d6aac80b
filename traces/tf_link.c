/*
 * tf_link.c - the exec link (FORMAT.md §1.2): a zstd skippable frame that
 * a traced program appends to the trace of the program whose exec started
 * it, naming its own trace, so that tools follow an exec chain forwards
 * (the header's exec_from points backwards).  Readers of frames skip it.
 */
#include "tf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINK_MAGIC 0x184D2A5Au /* a skippable frame (RFC 8878 §3.1.2) */
static const char link_tag[8] = {'A', 'T', 'R', 'N', 'E', 'X', 'T', '1'};

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tf_link_append(const char *trace, const char *next)
{
	size_t len = strlen(next);
	if (!len || len > TF_LINK_MAX)
		return TF_E_ARG;
	uint8_t frame[8 + sizeof(link_tag) + TF_LINK_MAX + 4];
	size_t n = 0;
	put_u32(frame, LINK_MAGIC);
	put_u32(frame + 4, (uint32_t)(sizeof(link_tag) + len + 4));
	n = 8;
	memcpy(frame + n, link_tag, sizeof(link_tag));
	n += sizeof(link_tag);
	memcpy(frame + n, next, len);
	n += len;
	put_u32(frame + n, (uint32_t)len);
	n += 4;
	int fd = open(trace, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return TF_E_IO;
	ssize_t k = write(fd, frame, n); /* one write: the frame is whole or absent */
	int e = errno;
	close(fd);
	errno = e;
	return k == (ssize_t)n ? 0 : TF_E_IO;
}

int tf_link_read(const char *trace, char *next, size_t cap)
{
	int fd = open(trace, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return TF_E_IO;
	struct stat sb;
	uint8_t tail[8 + sizeof(link_tag) + TF_LINK_MAX + 4];
	ssize_t got = -1;
	if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
		size_t want = (uint64_t)sb.st_size < sizeof(tail) ? (size_t)sb.st_size : sizeof(tail);
		got = pread(fd, tail, want, sb.st_size - (off_t)want);
	}
	close(fd);
	if (got < 8 + (ssize_t)sizeof(link_tag) + 4 + 1)
		return 0;
	const uint8_t *end = tail + got;
	uint32_t len = get_u32(end - 4);
	if (len == 0 || len > TF_LINK_MAX || (size_t)got < 8 + sizeof(link_tag) + len + 4)
		return 0;
	const uint8_t *frame = end - 4 - len - sizeof(link_tag) - 8;
	if (get_u32(frame) != LINK_MAGIC || get_u32(frame + 4) != sizeof(link_tag) + len + 4 ||
	    memcmp(frame + 8, link_tag, sizeof(link_tag)) || memchr(frame + 16, 0, len))
		return 0;
	if (len >= cap)
		return TF_E_ARG;
	memcpy(next, frame + 16, len);
	next[len] = 0;
	return 1;
}
