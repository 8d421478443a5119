// align16.cc - every block of more than 8 bytes from malloc, calloc,
// realloc and operator new is aligned to 16 bytes, as glibc's are: the
// compilers count on it (clang stores a new'd 40-byte object with 16-byte
// vector moves). Prints one line per entry point with its misaligned
// blocks (0 each); run plainly and under the drop-in malloc by run.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

namespace
{

bool misaligned(const void *p, std::size_t n)
{
    return n > 8 && (reinterpret_cast<std::uintptr_t>(p) & 15) != 0;
}

} // namespace

int main()
{
    unsigned bad_malloc = 0, bad_calloc = 0, bad_realloc = 0, bad_new = 0;
    std::vector<void *> keep;
    for (std::size_t n = 1; n <= 2048; n++) {
        for (int k = 0; k < 4; k++) { // several objects of each class
            void *a = std::malloc(n);
            void *b = std::calloc(1, n);
            void *c = std::realloc(nullptr, n / 2 + 1);
            c = std::realloc(c, n); // grows or stays: aligned either way
            void *d = ::operator new(n);
            void *e = ::operator new[](n);
            bad_malloc += misaligned(a, n);
            bad_calloc += misaligned(b, n);
            bad_realloc += misaligned(c, n);
            bad_new += misaligned(d, n) + misaligned(e, n);
            keep.push_back(a);
            keep.push_back(b);
            keep.push_back(c);
            ::operator delete(d);
            ::operator delete[](e);
        }
    }
    for (void *p : keep) {
        std::free(p);
    }
    std::printf("misaligned: malloc %u, calloc %u, realloc %u, new %u\n",
                bad_malloc, bad_calloc, bad_realloc, bad_new);
    return bad_malloc + bad_calloc + bad_realloc + bad_new != 0;
}
