/*
 * rep_dir.c - the directory a report is written into, and its manifest
 * (rep.h says the rules; reports/README.md shows them to users).
 *
 * The manifest, REP_MANIFEST, is how a directory is recognised as an
 * earlier report: a first line "arenatrace report 1", then one line per
 * file the report wrote, "HASH SIZE NAME" (FNV-1a 64 of its bytes in hex,
 * its size in bytes, its name).  It is written last, under another name
 * then renamed, so it never lists a file that was not complete.  A file
 * counts as the earlier report's only while its size and hash are the
 * listed ones, so a file the user changed or put in its place is never
 * removed; names outside the sinks' lists are never touched at all.
 */
#include "rep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_MAGIC "arenatrace report 1"
#define MANIFEST_MAX 4096 /* bytes: a longer file is no manifest of ours */
#define NAME_MAX_LEN 32

/* Every sink, in the order they run. */
static const rep_sink *const sinks[] = {&rep_csv_sink, &rep_html_sink};

typedef struct entry {
	char name[NAME_MAX_LEN + 1];
	uint64_t size, hash;
} entry;

struct rep_dir {
	char path[4096];
	void (*on_file)(void *ctx, const char *name);
	void *on_file_ctx;
	bool made;                /* this run made the directory */
	bool wrote;               /* a sink opened a file in it */
	entry old[REP_MAX_FILES]; /* the earlier report's files, as it left them */
	int nold;
};

/* A name some sink may write. */
static bool report_file(const char *name)
{
	for (size_t k = 0; k < sizeof(sinks) / sizeof(sinks[0]); k++)
		for (const char *const *f = sinks[k]->files; *f; f++)
			if (!strcmp(*f, name))
				return true;
	return false;
}

/* FNV-1a 64 and size of a regular file (not through a link); false when
 * it is none or cannot be read. */
static bool file_sum(const char *dir, const char *name, uint64_t *size, uint64_t *hash)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (fd < 0)
		return false;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return false;
	}
	uint64_t h = 0xcbf29ce484222325ull, n = 0;
	unsigned char buf[1 << 16];
	for (;;) {
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			close(fd);
			return false;
		}
		if (got == 0)
			break;
		for (ssize_t i = 0; i < got; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
		n += (uint64_t)got;
	}
	close(fd);
	*size = n;
	*hash = h;
	return true;
}

/* name in dir is a regular file, not a link to one. */
static bool regular(const char *dir, const char *name)
{
	char path[4200];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool unchanged(const char *dir, const entry *e)
{
	uint64_t size, hash;
	return file_sum(dir, e->name, &size, &hash) && size == e->size && hash == e->hash;
}

/* The earlier report's manifest into d->old; false when there is none, or
 * the file is not one (then it is a stranger's file like any other). */
static bool read_manifest(rep_dir *d)
{
	char path[4200], buf[MANIFEST_MAX + 1];
	snprintf(path, sizeof(path), "%s/%s", d->path, REP_MANIFEST);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || n > MANIFEST_MAX || buf[n - 1] != '\n')
		return false;
	buf[n] = 0;
	d->nold = 0;
	char *save = NULL, *line = strtok_r(buf, "\n", &save);
	if (!line || strcmp(line, MANIFEST_MAGIC))
		return false;
	while ((line = strtok_r(NULL, "\n", &save))) {
		entry *e = &d->old[d->nold];
		char name[NAME_MAX_LEN + 1];
		int used = 0;
		if (d->nold == REP_MAX_FILES ||
		    sscanf(line, "%16" SCNx64 " %" SCNu64 " %32s%n", &e->hash, &e->size, name,
			   &used) != 3 ||
		    line[used] || !report_file(name))
			return d->nold = 0, false;
		for (int k = 0; k < d->nold; k++)
			if (!strcmp(d->old[k].name, name))
				return d->nold = 0, false;
		snprintf(e->name, sizeof(e->name), "%s", name);
		d->nold++;
	}
	return true;
}

/* An existing directory: empty, or an earlier report's (with files of
 * other names beside it, left alone); else only with force. */
static int check_dir(rep_dir *d, bool force, char *msg, size_t cap)
{
	const bool ours = read_manifest(d);
	DIR *dir = opendir(d->path);
	if (!dir) {
		snprintf(msg, cap, "cannot read the directory %s: %s", d->path, strerror(errno));
		return REP_E_IO;
	}
	int rc = REP_OK;
	bool listed_ok[REP_MAX_FILES] = {false};
	for (struct dirent *de; rc == REP_OK && (de = readdir(dir));) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, "..") ||
		    (ours && !strcmp(name, REP_MANIFEST)))
			continue;
		int k = 0;
		while (ours && k < d->nold && strcmp(d->old[k].name, name))
			k++;
		if (ours && k < d->nold && unchanged(d->path, &d->old[k])) {
			listed_ok[k] = true;
			continue;
		}
		if (report_file(name) && !regular(d->path, name)) {
			snprintf(msg, cap,
				 "%s/%s is not a plain file: a report writes neither through a "
				 "link nor over a directory",
				 d->path, name);
			rc = REP_E_NOT_OURS;
			break;
		}
		if ((ours && !report_file(name)) || force)
			continue; /* not ours, and never written over nor removed */
		if (ours)
			snprintf(msg, cap,
				 "%s/%s was not written by the earlier report there, or changed "
				 "since (--force writes over it)",
				 d->path, name);
		else
			snprintf(msg, cap,
				 "%s is not empty and holds no earlier report (--force writes into "
				 "it; no file is removed)",
				 d->path);
		rc = REP_E_NOT_OURS;
	}
	closedir(dir);
	/* only the files still as the earlier report left them are its own */
	int kept = 0;
	for (int k = 0; k < d->nold; k++)
		if (listed_ok[k])
			d->old[kept++] = d->old[k];
	d->nold = kept;
	return rc;
}

int rep_dir_open(rep_dir **out, const char *path, bool force, char *msg, size_t cap)
{
	*out = NULL;
	rep_dir *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(msg, cap, "out of memory");
		return REP_E_NOMEM;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	struct stat sb;
	int rc = REP_OK;
	if (stat(path, &sb) < 0) {
		if (errno != ENOENT || mkdir(path, 0755) < 0) {
			snprintf(msg, cap, "cannot make the directory %s: %s", path,
				 strerror(errno));
			rc = REP_E_IO;
		}
		d->made = rc == REP_OK;
	} else if (!S_ISDIR(sb.st_mode)) {
		snprintf(msg, cap, "cannot make the directory %s: a file has that name", path);
		rc = REP_E_IO;
	} else {
		rc = check_dir(d, force, msg, cap);
	}
	if (rc < 0) {
		free(d);
		return rc;
	}
	*out = d;
	return REP_OK;
}

/* The manifest of the files out wrote, under a temporary name renamed over
 * the old one. */
static int write_manifest(const rep_dir *d, const rep_out *out, char *msg, size_t cap)
{
	char tmp[4200], path[4200];
	snprintf(tmp, sizeof(tmp), "%s/%s.new", d->path, REP_MANIFEST);
	snprintf(path, sizeof(path), "%s/%s", d->path, REP_MANIFEST);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		snprintf(msg, cap, "%.400s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return REP_E_IO;
	}
	fprintf(f, "%s\n", MANIFEST_MAGIC);
	for (int k = 0; k < out->nwritten; k++) {
		uint64_t size, hash;
		if (!file_sum(d->path, out->written[k], &size, &hash))
			continue; /* gone already: nothing of ours to list */
		fprintf(f, "%016" PRIx64 " %" PRIu64 " %s\n", hash, size, out->written[k]);
	}
	bool bad = ferror(f);
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) < 0) {
		snprintf(msg, cap, "%.400s: %s", bad ? tmp : path, strerror(errno));
		unlink(tmp);
		return REP_E_IO;
	}
	return REP_OK;
}

int rep_dir_write(rep_dir *d, const rep_input *in, char *msg, size_t cap)
{
	rep_out out = {.dir = d->path, .on_file = d->on_file, .ctx = d->on_file_ctx};
	int rc = REP_OK;
	for (size_t k = 0; k < sizeof(sinks) / sizeof(sinks[0]) && rc == REP_OK; k++)
		rc = sinks[k]->write(in, &out);
	d->wrote |= out.nwritten > 0;
	if (rc < 0)
		snprintf(msg, cap, "%s", out.failed);
	/* the earlier report's files this one did not write */
	for (int k = 0; k < d->nold; k++) {
		int w = 0;
		while (w < out.nwritten && strcmp(out.written[w], d->old[k].name))
			w++;
		if (w < out.nwritten || !unchanged(d->path, &d->old[k]))
			continue;
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", d->path, d->old[k].name);
		if (unlink(path) < 0 && errno != ENOENT && rc == REP_OK) {
			snprintf(msg, cap, "cannot remove %.400s: %s", path, strerror(errno));
			rc = REP_E_IO;
		}
	}
	d->nold = 0;
	/* even after a failure: what was written is ours */
	if (out.nwritten) {
		char why[sizeof(out.failed)];
		int mrc = write_manifest(d, &out, why, sizeof(why));
		if (mrc < 0 && rc == REP_OK) {
			snprintf(msg, cap, "%s", why);
			rc = mrc;
		}
	}
	return rc;
}

void rep_dir_on_file(rep_dir *d, void (*fn)(void *ctx, const char *name), void *ctx)
{
	d->on_file = fn;
	d->on_file_ctx = ctx;
}

void rep_dir_free(rep_dir *d)
{
	if (!d)
		return;
	if (d->made && !d->wrote)
		rmdir(d->path); /* made for a report that wrote nothing */
	free(d);
}
