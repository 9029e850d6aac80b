// symprog.cc - allocation sites for the symbolizer's tests (tests/e2e/
// test_symbols.sh): a namespaced class template whose demangled name holds
// '<' and '&', and an always-inline function that calls malloc, so that
// with -O2 the allocating frame is an inlined one.  Most blocks are freed
// and a few scattered ones kept, so that arenas stay pinned by this stack.
// Built with -DSYMPROG_ALT it is the same program with another build-id.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace ns {

static inline __attribute__((always_inline)) void *grab(size_t n)
{
	void *p = std::malloc(n); // SYMPROG-INLINED-LINE
	if (!p)
		std::abort();
	std::memset(p, 1, n);
	return p;
}

template <typename T> struct Box {
	static void *make(size_t n);
};

template <typename T> __attribute__((noinline)) void *Box<T>::make(size_t n)
{
	return grab(n); // SYMPROG-CALL-LINE
}

} // namespace ns

static volatile size_t block_size = 64; // volatile: no copy of make() specialised for it

int main()
{
	enum { N = 60000, KEEP_EVERY = 997 };
	static void *blocks[N];
	for (int i = 0; i < N; i++)
		blocks[i] = ns::Box<std::pair<int, char> &>::make(block_size);
	size_t kept = 0;
	for (int i = 0; i < N; i++) {
		if (i % KEEP_EVERY)
			std::free(blocks[i]);
		else
			kept++;
	}
#ifdef SYMPROG_ALT
	std::printf("alt: %zu blocks kept\n", kept);
#else
	std::printf("%zu blocks kept\n", kept);
#endif
	return 0;
}
