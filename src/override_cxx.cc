/*
 * override_cxx.cc - libfixalloc-malloc: C++ operator new and delete.
 * docs/design.md, "The override".
 */
#include "fixalloc.h"

#include <cstddef>
#include <cstdlib>
#include <new>

#define FA_OVERRIDE __attribute__((visibility("default")))

namespace
{

// The standard's loop: the new-handler may free memory and return, or
// throw; without one, std::bad_alloc.
void *allocate(std::size_t n)
{
    for (;;) {
        void *p = fa_malloc(n);
        if (p != nullptr) {
            return p;
        }
        std::new_handler h = std::get_new_handler();
        if (h == nullptr) {
            throw std::bad_alloc();
        }
        h();
    }
}

void *allocate(std::size_t n, std::align_val_t align)
{
    for (;;) {
        void *p = fa_aligned_alloc(static_cast<std::size_t>(align), n);
        if (p != nullptr) {
            return p;
        }
        std::new_handler h = std::get_new_handler();
        if (h == nullptr) {
            throw std::bad_alloc();
        }
        h();
    }
}

template <typename F> void *nothrow(F f) noexcept
{
    try {
        return f();
    } catch (...) {
        return nullptr;
    }
}

} // namespace

FA_OVERRIDE void *operator new(std::size_t n)
{
    return allocate(n);
}
FA_OVERRIDE void *operator new[](std::size_t n)
{
    return allocate(n);
}
FA_OVERRIDE void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
    return nothrow([n] { return allocate(n); });
}
FA_OVERRIDE void *operator new[](std::size_t n, const std::nothrow_t &) noexcept
{
    return nothrow([n] { return allocate(n); });
}
FA_OVERRIDE void *operator new(std::size_t n, std::align_val_t a)
{
    return allocate(n, a);
}
FA_OVERRIDE void *operator new[](std::size_t n, std::align_val_t a)
{
    return allocate(n, a);
}
FA_OVERRIDE void *operator new(std::size_t n, std::align_val_t a,
                               const std::nothrow_t &) noexcept
{
    return nothrow([n, a] { return allocate(n, a); });
}
FA_OVERRIDE void *operator new[](std::size_t n, std::align_val_t a,
                                 const std::nothrow_t &) noexcept
{
    return nothrow([n, a] { return allocate(n, a); });
}

// Every delete goes through free, which tells the library's objects from
// any other pointer.
FA_OVERRIDE void operator delete(void *p) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete[](void *p) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete(void *p, std::size_t) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete[](void *p, std::size_t) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete(void *p, const std::nothrow_t &) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete[](void *p, const std::nothrow_t &) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete(void *p, std::align_val_t) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete[](void *p, std::align_val_t) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete(void *p, std::size_t,
                                 std::align_val_t) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete[](void *p, std::size_t,
                                   std::align_val_t) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete(void *p, std::align_val_t,
                                 const std::nothrow_t &) noexcept
{
    std::free(p);
}
FA_OVERRIDE void operator delete[](void *p, std::align_val_t,
                                   const std::nothrow_t &) noexcept
{
    std::free(p);
}
