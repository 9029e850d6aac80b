/*
 * tr_pystack.c - the Python frames of the thread that allocates, read from
 * the interpreter's own frame chain (tr_pylayout.h), and merged into its
 * native stack.
 *
 * Why read the chain: every other way changes what the traced program
 * does.  A profile or trace function makes the interpreter call back on
 * every call and line; PyEval_GetFrame and PyFrame_GetBack create frame
 * objects from 3.11 (allocations the untraced program does not make);
 * PyUnicode_AsUTF8 caches a copy of non-ASCII names.  Reading the chain
 * takes a few loads per frame and allocates nothing.
 *
 * Whose frames: the calling thread's own.  From 3.12 the interpreter
 * keeps the current thread state per thread (PyThreadState_GetUnchecked,
 * NULL while the thread has released the GIL); before, that function
 * answers the thread holding the GIL, which may be another.  So the
 * thread's state comes from the former on 3.12+ and otherwise from
 * PyGILState_GetThisThreadState (a thread-specific key, no lock, no
 * allocation): the state the thread runs Python with, also while it has
 * released the GIL to run C code.  Only that thread changes its chain, and
 * it is inside an allocator call now, so the chain holds still while it is
 * read; a frame's code object lives as long as the frame.  Nothing is read
 * before Py_IsInitialized() or once finalisation has cleared it.
 *
 * Safety: each frame's code is checked to be a code object (its type)
 * before anything else of it is read, and a walk stops after depth frames;
 * a debug build (Py_REF_DEBUG, whose objects are laid out otherwise) gets
 * no Python frames.
 *
 * The merge: in the native stack the evaluation loop
 * (_PyEval_EvalFrameDefault) appears once per loop running; from the
 * innermost out, each such frame is replaced by the Python frames of its
 * loop (one before 3.11; from 3.11 up to the loop's entry frame).  Python
 * frames the native stack has no loop frame for (a native stack cut at
 * its depth, a loop frame in the function's cold part) go at its outer
 * end, still in order.
 */
#include "tr_pystack.h"
#include "tr_internal.h"
#include "tr_pylayout.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

int tr_pystacks;
uintptr_t tr_pycode_type;
unsigned tr_pyobj_header;

static const tr_pylayout *L;
static void *(*tstate_current)(void); /* 3.12+: this thread's current state, or NULL */
static void *(*tstate_this)(void);    /* PyGILState_GetThisThreadState */
static int (*is_initialized)(void);
static uintptr_t str_type, bytes_type; /* and tr_pycode_type */
static uintptr_t eval_lo, eval_hi; /* _PyEval_EvalFrameDefault's code */

#define AT(p, off, T) (*(const T *)((const char *)(p) + (off)))

static void *sym(const char *name)
{
	return dlsym(RTLD_DEFAULT, name);
}

bool tr_pystack_setup(int minor)
{
	L = tr_pylayout_of(minor);
	if (!L || sizeof(void *) != 8)
		return false;
	/* debug builds: objects and states laid out otherwise */
	if (sym("_Py_RefTotal") || sym("_Py_GetGlobalRefTotal") || sym("_Py_GetRefTotal") ||
	    sym("_Py_PrintReferences"))
		return false;
	if (minor >= 12 && !(*(void **)&tstate_current = sym("PyThreadState_GetUnchecked")))
		*(void **)&tstate_current = sym("_PyThreadState_UncheckedGet");
	*(void **)&tstate_this = sym("PyGILState_GetThisThreadState");
	*(void **)&is_initialized = sym("Py_IsInitialized");
	tr_pycode_type = (uintptr_t)sym("PyCode_Type");
	str_type = (uintptr_t)sym("PyUnicode_Type");
	bytes_type = (uintptr_t)sym("PyBytes_Type");
	void *eval = sym("_PyEval_EvalFrameDefault");
	Dl_info di;
	const ElfW(Sym) *es = NULL;
	if (eval && dladdr1(eval, &di, (void **)&es, RTLD_DL_SYMENT) && es && es->st_size) {
		eval_lo = (uintptr_t)eval;
		eval_hi = eval_lo + es->st_size;
	}
	if (!tstate_this || !is_initialized || !tr_pycode_type || !str_type || !bytes_type) {
		tr_pycode_type = 0;
		return false;
	}
	__atomic_store_n(&tr_pystacks, 1, __ATOMIC_RELEASE);
	return true;
}

static const char *thread_state(void)
{
	void *t = tstate_current ? tstate_current() : NULL;
	return t ? t : tstate_this();
}

/* The instruction's offset in code units. */
static uint64_t units(const char *f, uintptr_t code)
{
	if (L->lasti_kind == TR_LASTI_PTR) {
		uintptr_t ip = AT(f, L->f_lasti, uintptr_t), start = code + L->co_code;
		return ip > start ? (ip - start) / 2 : 0;
	}
	int lasti = AT(f, L->f_lasti, int);
	if (lasti < 0)
		return 0; /* not started */
	return L->lasti_kind == TR_LASTI_BYTES ? (uint64_t)lasti / 2 : (uint64_t)lasti;
}

/* The thread's Python frames, innermost first, at most max; ends[i] is set
 * on the outermost frame of each evaluation loop. */
static int walk(void **out, uint8_t *ends, int max)
{
	if (!is_initialized())
		return 0;
	const char *ts = thread_state();
	if (!ts)
		return 0;
	const char *f = AT(ts, L->ts_frame, const char *);
	if (f && L->cf_current != TR_PYL_NONE)
		f = AT(f, L->cf_current, const char *);
	int n = 0;
	for (int steps = 0; f && n < max && steps < 2 * max + 2; steps++) {
		const char *back = AT(f, L->f_back, const char *);
		if (L->f_owner != TR_PYL_NONE && AT(f, L->f_owner, char) == TR_FRAME_OWNED_BY_CSTACK) {
			if (n) /* a loop's entry: the frame inside it is its outermost */
				ends[n - 1] = 1;
			f = back;
			continue;
		}
		uintptr_t code = AT(f, L->f_code, uintptr_t);
		if (!code || AT(code, TR_OB_TYPE, uintptr_t) != tr_pycode_type)
			break; /* not a frame as this layout knows it: stop here */
		out[n] = (void *)(uintptr_t)tr_pyf(code, units(f, code));
		ends[n] = L->minor <= 10 || (L->f_is_entry != TR_PYL_NONE && AT(f, L->f_is_entry, char));
		n++;
		f = back;
	}
	if (n)
		ends[n - 1] = 1;
	return n;
}

/* Native frames stay where they are until the second pass moves them up:
 * each becomes one frame of the result, or a group of at least one Python
 * frame, so none moves down, and frames is merged into in place, from the
 * back (a copy from a buffer took a fifth of this function's time: GCC
 * makes it a rep movsq, slow to start for a few frames). */
int tr_pystack_merge(void **frames, int n, int depth)
{
	uint8_t ends[TR_MAX_DEPTH];
	if (depth > TR_MAX_DEPTH)
		depth = TR_MAX_DEPTH;
	if (!n) /* Python frames only (--native-stacks off): walked into place */
		return walk(frames, ends, depth);
	void *py[TR_MAX_DEPTH];
	int np = walk(py, ends, depth);
	if (!np)
		return n;
	/* first pass: native frame i stays (from[i] < 0) or gives way to the
	 * Python frames py[from[i]] to py[to[i] - 1] */
	int16_t from[TR_MAX_DEPTH], to[TR_MAX_DEPTH];
	int o = 0, j = 0, m = 0;
	for (; m < n && o < depth; m++) {
		uintptr_t ip = (uintptr_t)frames[m];
		if (j == np || ip <= eval_lo || ip > eval_hi) { /* return addresses follow their call */
			from[m] = -1;
			o++;
			continue;
		}
		from[m] = (int16_t)j;
		for (bool end = false; !end && j < np && o < depth; j++, o++)
			end = ends[j];
		to[m] = (int16_t)j;
	}
	const int tail = np - j < depth - o ? np - j : depth - o;
	const int total = o + tail;
	/* second pass, from the back */
	int p = total;
	for (int k = j + tail - 1; k >= j; k--)
		frames[--p] = py[k];
	for (int i = m - 1; i >= 0; i--) {
		if (from[i] < 0)
			frames[--p] = frames[i];
		else
			for (int k = to[i] - 1; k >= from[i]; k--)
				frames[--p] = py[k];
	}
	return total;
}

/* ---- code objects ---- */

#define NAME_MAX_BYTES 4096
static char namebuf[3][NAME_MAX_BYTES];

/* UTF-8 of code point c into p (room for 4). */
static size_t put_utf8(char *p, uint32_t c)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xc0 | c >> 6), p[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xe0 | c >> 12), p[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		p[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | c >> 18), p[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((c >> 6) & 0x3f)), p[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* A str object's text as UTF-8: its own bytes when it is ASCII, else
 * converted into buf (cut at a character that does not fit). */
static tf_bytes str_bytes(uintptr_t s, char *buf)
{
	static const char unknown[] = "?";
	if (!s || AT(s, TR_OB_TYPE, uintptr_t) != str_type)
		return (tf_bytes){unknown, 1};
	uint32_t state = AT(s, TR_STR_STATE, uint32_t);
	unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	int64_t len = AT(s, TR_STR_LENGTH, int64_t);
	if (!compact || len < 0)
		return (tf_bytes){unknown, 1};
	if (ascii)
		return (tf_bytes){(const char *)(s + L->str_ascii), (size_t)len};
	const char *data = (const char *)(s + L->str_compact);
	size_t o = 0;
	for (int64_t i = 0; i < len && o + 4 <= NAME_MAX_BYTES; i++) {
		uint32_t c = kind == 1 ? ((const uint8_t *)data)[i]
			   : kind == 2 ? ((const uint16_t *)data)[i]
				       : ((const uint32_t *)data)[i];
		o += put_utf8(buf + o, c);
	}
	return (tf_bytes){buf, o};
}

bool tr_pystack_code(uintptr_t code, tf_py_code *out)
{
	if (!L || !code || AT(code, TR_OB_TYPE, uintptr_t) != tr_pycode_type)
		return false;
	int first = AT(code, L->co_firstlineno, int);
	out->first_line = first > 0 ? (uint64_t)first : 0;
	out->filename = str_bytes(AT(code, L->co_filename, uintptr_t), namebuf[0]);
	out->name = str_bytes(AT(code, L->co_name, uintptr_t), namebuf[1]);
	out->qualname = L->co_qualname == TR_PYL_NONE
			    ? (tf_bytes){"", 0}
			    : str_bytes(AT(code, L->co_qualname, uintptr_t), namebuf[2]);
	uintptr_t lines = AT(code, L->co_lines, uintptr_t);
	int64_t size = lines && AT(lines, TR_OB_TYPE, uintptr_t) == bytes_type
			   ? AT(lines, TR_BYTES_SIZE, int64_t)
			   : -1;
	if (size >= 0) {
		out->lines_format = L->lines_format;
		out->lines = (tf_bytes){(const char *)(lines + TR_BYTES_DATA), (size_t)size};
	} else {
		out->lines_format = 0;
		out->lines = (tf_bytes){"", 0};
	}
	return true;
}
