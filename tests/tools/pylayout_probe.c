/*
 * pylayout_probe.c - compiled by tests/e2e/test_pylayout.sh against one
 * CPython's own headers (Py_BUILD_CORE, for the internal frame structures),
 * prints the offsets the tracer reads, in the form of
 * tests/tools/pylayout_print.c: the reference for tracer/tr_pylayout.h.
 * Not built by make: it needs the headers of the interpreter it describes.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#if PY_VERSION_HEX >= 0x030C0000
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#endif
#else
#include <frameobject.h>
#endif

#include <stddef.h>
#include <stdio.h>

#define P(name, v) printf("%s %zu\n", name, (size_t)(v))

int main(void)
{
#if PY_VERSION_HEX < 0x030A0000
	P("lasti_kind", 1);
	P("lines_format", 1);
#elif PY_VERSION_HEX < 0x030B0000
	P("lasti_kind", 2);
	P("lines_format", 2);
#else
	P("lasti_kind", 3);
	P("lines_format", 3);
#endif
#if PY_VERSION_HEX < 0x030B0000
	P("ts_frame", offsetof(PyThreadState, frame));
	P("f_back", offsetof(PyFrameObject, f_back));
	P("f_code", offsetof(PyFrameObject, f_code));
	P("f_lasti", offsetof(PyFrameObject, f_lasti));
#else
#if PY_VERSION_HEX < 0x030D0000
	P("ts_frame", offsetof(PyThreadState, cframe));
	P("cf_current", offsetof(_PyCFrame, current_frame));
#else
	P("ts_frame", offsetof(PyThreadState, current_frame));
#endif
	P("f_back", offsetof(_PyInterpreterFrame, previous));
#if PY_VERSION_HEX < 0x030D0000
	P("f_code", offsetof(_PyInterpreterFrame, f_code));
	P("f_lasti", offsetof(_PyInterpreterFrame, prev_instr));
#else
	P("f_code", offsetof(_PyInterpreterFrame, f_executable));
	P("f_lasti", offsetof(_PyInterpreterFrame, instr_ptr));
#endif
#if PY_VERSION_HEX < 0x030C0000
	P("f_is_entry", offsetof(_PyInterpreterFrame, is_entry));
#else
	P("f_owner", offsetof(_PyInterpreterFrame, owner));
#endif
#endif
	P("co_filename", offsetof(PyCodeObject, co_filename));
	P("co_name", offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030B0000
	P("co_qualname", offsetof(PyCodeObject, co_qualname));
#endif
	P("co_firstlineno", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX < 0x030A0000
	P("co_lines", offsetof(PyCodeObject, co_lnotab));
#else
	P("co_lines", offsetof(PyCodeObject, co_linetable));
#endif
#if PY_VERSION_HEX >= 0x030B0000
	P("co_code", offsetof(PyCodeObject, co_code_adaptive));
#endif
	P("str_ascii", sizeof(PyASCIIObject));
	P("str_compact", sizeof(PyCompactUnicodeObject));
	P("ob_type", offsetof(PyObject, ob_type));
	P("str_length", offsetof(PyASCIIObject, length));
	P("str_state", offsetof(PyASCIIObject, hash) + sizeof(Py_hash_t));
	P("bytes_size", offsetof(PyVarObject, ob_size));
	P("bytes_data", offsetof(PyBytesObject, ob_sval));
#if PY_VERSION_HEX >= 0x030C0000
	P("frame_owned_by_cstack", FRAME_OWNED_BY_CSTACK);
#else
	P("frame_owned_by_cstack", 3); /* not in this version: the tracer's value is not used */
#endif
#if PY_VERSION_HEX >= 0x030C0000
	/* whose obmalloc state a request is for (tr_pyheap_layout) */
	P("heap_state_ptr", __builtin_types_compatible_p(
				__typeof__(((PyInterpreterState *)0)->obmalloc),
				struct _obmalloc_state *));
	P("rt_interp_head", offsetof(_PyRuntimeState, interpreters.head));
	P("rt_main_interp", offsetof(_PyRuntimeState, _main_interpreter));
	P("ts_interp", offsetof(PyThreadState, interp));
	P("is_feature_flags", offsetof(PyInterpreterState, feature_flags));
	P("is_obmalloc", offsetof(PyInterpreterState, obmalloc));
	P("use_main_obmalloc", Py_RTFLAGS_USE_MAIN_OBMALLOC);
	if (sizeof(((PyInterpreterState *)0)->feature_flags) != sizeof(unsigned long)) {
		fprintf(stderr, "feature_flags is not an unsigned long\n");
		return 3;
	}
#endif
	/* the state's bits the tracer reads: kind, compact, ascii (from bit 2) */
	PyASCIIObject probe = {0};
	probe.state.kind = 4;
	probe.state.compact = 1;
	probe.state.ascii = 1;
	unsigned bits;
	memcpy(&bits, (char *)&probe + offsetof(PyASCIIObject, hash) + sizeof(Py_hash_t), sizeof(bits));
	fprintf(stderr, "state bits 0x%x\n", bits);
	return bits == (4u << 2 | 1u << 5 | 1u << 6) ? 0 : 3;
}
