// cxx.cc - C++ new/delete, containers and strings: the tracer sees them
// through malloc/free.  Prints what it did, so a test can compare the
// traced and untraced runs.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

int main()
{
	std::map<int, std::string> m;
	for (int i = 0; i < 5000; i++)
		m[i] = std::string(20 + i % 50, 'x');
	std::vector<std::unique_ptr<int[]>> v;
	for (int i = 0; i < 1000; i++)
		v.emplace_back(new int[16 + i % 16]);
	auto *p = new double[1000];
	delete[] p;
	std::printf("%zu %zu\n", m.size(), v.size());
	return 0;
}
