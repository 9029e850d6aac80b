/*
 * tf_error.c - the one table of trace-format error messages.
 */
#include "tf.h"

const char *tf_strerror(int err)
{
	switch (err) {
	case TF_OK: return "success";
	case TF_E_IO: return "input/output error";
	case TF_E_NOMEM: return "out of memory";
	case TF_E_EMPTY: return "empty file";
	case TF_E_NOT_TRACE: return "not an arenatrace trace";
	case TF_E_VERSION: return "unsupported trace format version";
	case TF_E_CORRUPT: return "corrupt trace";
	case TF_E_TRUNCATED: return "truncated trace";
	case TF_E_TOO_LARGE: return "frame or field over the format's limits";
	case TF_E_ARG: return "invalid argument";
	case TF_E_FAILED: return "writer stopped after an earlier error";
	}
	return "unknown error";
}
