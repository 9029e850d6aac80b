/*
 * tr_lib.c - libarenatrace.so, the LD_PRELOAD recorder.
 *
 * At this stage the library links the trace writer and exports the format
 * version it writes; interposition of the malloc family and the CPython
 * hooks come with the tracer.
 */
#include "tf.h"

__attribute__((visibility("default"))) extern const unsigned arenatrace_format_version;
const unsigned arenatrace_format_version = TF_FORMAT_VERSION;
