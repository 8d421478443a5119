/*
 * fixalloc.hpp - C++17 allocators over fixalloc (fixalloc.h is the
 * contract; this header only adapts it).
 *
 *   fa::pool_allocator<T>  a standard Allocator: single objects (allocate(1),
 *                          what node containers ask for) come from a
 *                          thread-safe fa_cache of T's size and alignment,
 *                          arrays from the default heap (fa_malloc);
 *                          stateless, so any two instances are equal and an
 *                          object may be freed through any of them, in any
 *                          thread.
 *   fa::pool_resource      a std::pmr::memory_resource over an fa_heap of its
 *                          own; destroying it destroys the heap, releasing
 *                          everything it gave out at once.
 *   fa::object_pool<T>     a typed pool over fa_pool for one thread:
 *                          make(args...) constructs, destroy(p) destroys.
 *
 * Failure to allocate throws std::bad_alloc. fixalloc(7) and the
 * fa_pool(3), fa_cache(3) and fa_heap(3) man pages describe the calls used.
 */
#ifndef FIXALLOC_HPP
#define FIXALLOC_HPP

#include <fixalloc.h>

#include <cerrno>
#include <cstddef>
#include <limits>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

/* fixalloc.h's limits are C casts: no -Wold-style-cast for their uses. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#endif

namespace fa {

namespace detail {

/* The alignment fa_malloc(n) and fa_heap_malloc(h, n) guarantee: 16, but
 * 8 for requests of at most 8, 17-24, 33-40 and 49-56 bytes (fixalloc.h,
 * "The heap"). */
constexpr std::size_t heap_align(std::size_t n) noexcept
{
    return (n <= 8 || (n >= 17 && n <= 24) || (n >= 33 && n <= 40) ||
            (n >= 49 && n <= 56))
               ? 8
               : 16;
}

/* The process's one cache of objects of Size bytes aligned to Align,
 * created on first use (thread-safe) and never destroyed, so that objects
 * outlive any allocator instance. NULL when it could not be created
 * (FA_CACHE_MAX caches exist): callers then use the default heap. */
template <std::size_t Size, std::size_t Align> fa_cache *cache_for() noexcept
{
    static fa_cache *const cache = [] {
        fa_config cfg{};
        cfg.size = Size;
        cfg.align = Align;
        cfg.name = "fa::pool_allocator";
        return fa_cache_create(&cfg);
    }();
    return cache;
}

/* n bytes aligned to align from the default heap; NULL when out. */
inline void *heap_alloc(std::size_t n, std::size_t align) noexcept
{
    if (align <= heap_align(n)) {
        return fa_malloc(n);
    }
    return fa_aligned_alloc(align, n);
}

/* Frees what heap_alloc(n, align) returned. */
inline void heap_free(void *p, std::size_t n, std::size_t align) noexcept
{
    if (align <= heap_align(n)) {
        fa_free_sized(p, n);
    } else {
        fa_free(p);
    }
}

} // namespace detail

/*
 * A standard Allocator for node-based containers (std::list, std::map,
 * std::set, std::unordered_map, ...). allocate(1) takes one object from a
 * thread-safe fa_cache shared by every pool_allocator of the same object
 * size and alignment; allocate(n) for other n takes n * sizeof(T) bytes
 * from the default heap. Stateless: instances are interchangeable, across
 * threads too (is_always_equal), so containers may be moved, swapped and
 * spliced freely, and an element allocated in one thread may be freed in
 * another.
 */
template <class T> class pool_allocator {
public:
    using value_type = T;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using propagate_on_container_move_assignment = std::true_type;
    using is_always_equal = std::true_type;

    template <class U> struct rebind {
        using other = pool_allocator<U>;
    };

    constexpr pool_allocator() noexcept = default;
    template <class U>
    constexpr pool_allocator(const pool_allocator<U> &) noexcept
    {
    }

    [[nodiscard]] T *allocate(std::size_t n)
    {
        if (n == 1 && cached) {
            if (fa_cache *c = cache()) {
                if (void *p = fa_cache_alloc(c)) {
                    return static_cast<T *>(p);
                }
                throw std::bad_alloc();
            }
        }
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
            throw std::bad_array_new_length();
        }
        if (void *p = detail::heap_alloc(n * sizeof(T), alignof(T))) {
            return static_cast<T *>(p);
        }
        throw std::bad_alloc();
    }

    void deallocate(T *p, std::size_t n) noexcept
    {
        if (n == 1 && cached) {
            if (fa_cache *c = cache()) {
                fa_cache_free(c, p);
                return;
            }
        }
        detail::heap_free(p, n * sizeof(T), alignof(T));
    }

    /* The cache single objects come from (NULL if it could not be
     * created, or for a T above FA_SMALL_MAX bytes or aligned above
     * FA_ALIGN_MAX): for fa_cache_stats, fa_cache_trim. */
    static fa_cache *cache() noexcept
    {
        if constexpr (cached) {
            return detail::cache_for<sizeof(T), alignof(T)>();
        } else {
            return nullptr;
        }
    }

private:
    /* Single objects of a size the heap keeps in size classes, of an
     * alignment a pool takes, come from a cache of their own. */
    static constexpr bool cached =
        sizeof(T) <= FA_SMALL_MAX && alignof(T) <= FA_ALIGN_MAX;
};

template <class T, class U>
constexpr bool operator==(const pool_allocator<T> &,
                          const pool_allocator<U> &) noexcept
{
    return true;
}
template <class T, class U>
constexpr bool operator!=(const pool_allocator<T> &,
                          const pool_allocator<U> &) noexcept
{
    return false;
}

/*
 * A polymorphic memory resource over a heap of its own (fa_heap_create):
 * thread-safe, like the heap. Equal only to itself. Destroying it destroys
 * the heap: every block it gave out is released at once, so the containers
 * using it must be gone first (or be left unused: their memory is gone).
 * At most 16 heaps, the default heap included, exist at once
 * (FA_CACHE_MAX / FA_SIZE_CLASSES): the constructor throws std::bad_alloc
 * past that.
 */
class pool_resource : public std::pmr::memory_resource {
public:
    pool_resource() : heap_(create(nullptr)) {}

    /* A heap with this config (NULL: defaults; fixalloc.h fa_heap_config:
     * flags FA_ZERO, FA_CHECKED, FA_HARDENED, max_bytes, source, name). */
    explicit pool_resource(const fa_heap_config *cfg) : heap_(create(cfg)) {}

    /* A heap named `name` (not copied: it must outlive the resource) with
     * flags FA_ZERO, FA_CHECKED, FA_HARDENED. */
    explicit pool_resource(const char *name, unsigned flags = 0)
        : heap_(create(name, flags))
    {
    }

    pool_resource(const pool_resource &) = delete;
    pool_resource &operator=(const pool_resource &) = delete;

    ~pool_resource() override { fa_heap_destroy(heap_); }

    /* The heap, for fa_heap_stats, fa_heap_trim, fa_heap_check. */
    fa_heap *heap() const noexcept { return heap_; }

    /* Gives free chunks back to the source (fa_heap_trim). */
    std::size_t trim() noexcept { return fa_heap_trim(heap_); }

protected:
    void *do_allocate(std::size_t bytes, std::size_t align) override
    {
        void *p = align <= detail::heap_align(bytes)
                      ? fa_heap_malloc(heap_, bytes)
                      : fa_heap_aligned_alloc(heap_, align, bytes);
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return p;
    }

    void do_deallocate(void *p, std::size_t bytes,
                       std::size_t align) override
    {
        if (align <= detail::heap_align(bytes)) {
            fa_free_sized(p, bytes);
        } else {
            fa_free(p);
        }
    }

    bool do_is_equal(const std::pmr::memory_resource &other)
        const noexcept override
    {
        return this == &other;
    }

private:
    static fa_heap *create(const fa_heap_config *cfg)
    {
        fa_heap *h = fa_heap_create(cfg);
        if (h == nullptr) {
            throw std::bad_alloc();
        }
        return h;
    }

    static fa_heap *create(const char *name, unsigned flags)
    {
        fa_heap_config cfg{};
        cfg.name = name;
        cfg.flags = flags;
        return create(&cfg);
    }

    fa_heap *heap_;
};

/*
 * A pool of objects of type T for one thread at a time (fa_pool is not
 * synchronized): make(args...) takes a slot and constructs a T in it,
 * destroy(p) runs ~T and gives the slot back. The destructor destroys the
 * pool: objects still live are released without their destructors running
 * (destroy them first when they own resources). Neither copyable nor
 * movable: the pool's chunks point back at it.
 */
template <class T> class object_pool {
    static_assert(alignof(T) <= FA_ALIGN_MAX,
                  "fa::object_pool: T is aligned above FA_ALIGN_MAX");

public:
    /* name (not copied; NULL: "unnamed"), flags (FA_CHECKED, FA_HARDENED,
     * FA_ZERO) and chunk_size (0: the default) as in fa_config. Throws
     * std::invalid_argument for a config fa_pool_init refuses,
     * std::bad_alloc when it is out of memory. */
    explicit object_pool(const char *name = nullptr, unsigned flags = 0,
                         std::size_t chunk_size = 0)
    {
        fa_config cfg{};
        cfg.size = sizeof(T);
        cfg.align = alignof(T);
        cfg.chunk_size = chunk_size;
        cfg.flags = flags;
        cfg.name = name;
        int err = fa_pool_init(&pool_, &cfg);
        if (err == ENOMEM) {
            throw std::bad_alloc();
        }
        if (err != 0) {
            throw std::invalid_argument("fa::object_pool: fa_pool_init "
                                        "refused the config");
        }
    }

    object_pool(const object_pool &) = delete;
    object_pool &operator=(const object_pool &) = delete;

    ~object_pool() { fa_pool_destroy(&pool_); }

    /* A new T(args...); std::bad_alloc when the pool has no memory. If the
     * constructor throws, the slot goes back and the exception on. */
    template <class... Args> [[nodiscard]] T *make(Args &&...args)
    {
        void *slot = fa_pool_alloc(&pool_);
        if (slot == nullptr) {
            throw std::bad_alloc();
        }
        try {
            return ::new (slot) T(std::forward<Args>(args)...);
        } catch (...) {
            fa_pool_free(&pool_, slot);
            throw;
        }
    }

    /* Runs ~T on p and frees its slot; NULL is a no-op. */
    void destroy(T *p) noexcept
    {
        if (p != nullptr) {
            p->~T();
            fa_pool_free(&pool_, p);
        }
    }

    /* Counters (fa_pool_stats): live, peak_live, chunks, bytes_held... */
    fa_stats stats() const noexcept
    {
        fa_stats st;
        fa_pool_stats(&pool_, &st);
        return st;
    }

    /* Objects made and not destroyed. */
    std::size_t live() const noexcept { return stats().live; }

    /* Gives chunks whose slots are all free back (fa_pool_trim). */
    std::size_t trim() noexcept { return fa_pool_trim(&pool_); }

    /* The underlying pool, for the other fa_pool_* calls. */
    fa_pool *get() noexcept { return &pool_; }

private:
    fa_pool pool_;
};

} // namespace fa

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif /* FIXALLOC_HPP */
