/*
 * fuzz_reader.c - libFuzzer targets for the trace reader.
 *
 * FUZZ_RAW=0: the input is a trace file (zstd frames): exercises frame
 * handling, limits and truncation.  FUZZ_RAW=1: the input is a
 * decompressed record stream: exercises the schema and record parser,
 * which checksums would otherwise shield from the fuzzer.
 * Without libFuzzer, standalone.c runs the same entry point over files.
 */
#include "tf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef FUZZ_RAW
#define FUZZ_RAW 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tf_reader *r;
	int rc = FUZZ_RAW ? tf_reader_open_raw(&r, data, size) : tf_reader_open_mem(&r, data, size);
	if (rc < 0)
		return 0;
	tf_record rec;
	uint64_t sum = 0;
	while ((rc = tf_reader_next(r, &rec)) == 1) {
		/* touch every byte field so ASan sees out-of-bounds pointers */
		if (rec.kind == TF_SNAPSHOT || rec.kind == TF_MARK)
			for (size_t i = 0; i < rec.u.label.text.len; i++)
				sum += (unsigned char)rec.u.label.text.ptr[i];
		if (rec.kind == TF_MODULE)
			for (size_t i = 0; i < rec.u.module.path.len; i++)
				sum += (unsigned char)rec.u.module.path.ptr[i];
		sum += rec.time;
	}
	if (rc < 0 && !tf_reader_error(r)[0])
		__builtin_trap(); /* every error must have a message */
	tf_reader_status st;
	tf_reader_get_status(r, &st);
	const tf_header *h = tf_reader_header(r);
	if (h)
		sum += strlen(h->exe.ptr);
	tf_reader_free(r);
	return (int)(sum & 0);
}
