/*
 * pyreinit.c - a program that embeds CPython and initialises it several
 * times in one process (tests/e2e/test_pyreinit.sh compiles it against
 * each CPython 3.8+ there is, with python3-config --embed).
 *
 * pyreinit [ROUNDS [ALLOCATOR]]: ROUNDS times (3 by default) Py_Initialize, Python
 * work that needs several arenas and frees most of them again, an object
 * the program keeps a reference to (so it is alive when the interpreter
 * finalises: a leak, as embedding programs have), Py_FinalizeEx.  Under
 * the tracer each round ends with a snapshot of the allocator's
 * statistics (arenatrace_snapshot, looked up in the process: untraced,
 * there is none and the program does the same otherwise).  With
 * ALLOCATOR, the rounds after the first run with PYTHONMALLOC=ALLOCATOR
 * (pre-initialisation reads it at each Py_Initialize).  Prints one line a
 * round, the same traced or not; exits 0 when every round did.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

/* Builds and drops a few hundred thousand small objects (several arenas of
 * every version's size), keeps a scattered tenth in `kept`. */
static const char work[] =
    "import sys\n"
    "rows = [(i, str(i) * 3, [i, -i]) for i in range(60000)]\n"
    "kept = [rows[i] for i in range(0, len(rows), 10)]\n"
    "del rows\n"
    "d = {('k', i): i * 2 for i in range(20000)}\n"
    "total = sum(len(r[1]) for r in kept) + len(d)\n"
    "del d\n";

static int round_of(int n, void (*snapshot)(const char *))
{
	Py_Initialize();
	PyObject *main = PyImport_AddModule("__main__"); /* borrowed */
	PyObject *globals = main ? PyModule_GetDict(main) : NULL;
	PyObject *got = globals ? PyRun_String(work, Py_file_input, globals, globals) : NULL;
	if (!got) {
		PyErr_Print();
		return -1;
	}
	Py_DECREF(got);
	PyObject *total = PyDict_GetItemString(globals, "total"); /* borrowed */
	PyObject *kept = PyDict_GetItemString(globals, "kept");
	long t = total ? PyLong_AsLong(total) : -1;
	/* a reference the program never gives back: alive at finalisation */
	Py_XINCREF(kept);
	printf("round %d: total %ld, kept %zd\n", n, t, kept ? PyList_Size(kept) : (Py_ssize_t)-1);
	fflush(stdout);
	if (snapshot) {
		char label[32];
		snprintf(label, sizeof(label), "round %d", n);
		snapshot(label);
	}
	return Py_FinalizeEx();
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;
	const char *later = argc > 2 ? argv[2] : NULL;
	void (*snapshot)(const char *) =
	    (void (*)(const char *))dlsym(RTLD_DEFAULT, "arenatrace_snapshot");
	for (int n = 1; n <= rounds; n++) {
		if (n == 2 && later)
			setenv("PYTHONMALLOC", later, 1);
		if (round_of(n, snapshot) != 0) {
			fprintf(stderr, "pyreinit: round %d failed\n", n);
			return 1;
		}
	}
	return 0;
}
