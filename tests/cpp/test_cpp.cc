/*
 * test_cpp.cc - tests of include/fixalloc.hpp: fa::pool_allocator with the
 * standard node containers (one thread, several, an element freed by a
 * thread other than the one that allocated it), fa::pool_resource with
 * std::pmr containers, fa::object_pool. Prints one line per failed check
 * and, last, "N passed, M failed"; exits 1 when any check failed.
 */
#include <fixalloc.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <memory_resource>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

int passed = 0;
int failed = 0;
std::mutex check_lock;

void check(bool ok, const char *what, const char *file, int line)
{
    std::lock_guard<std::mutex> g(check_lock);
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::printf("FAILED %s:%d: %s\n", file, line, what);
    }
}
#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

template <class T> using alloc = fa::pool_allocator<T>;

bool aligned(const void *p, std::size_t a)
{
    return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

/* ---- fa::pool_allocator ---- */

struct node24 {
    void *a, *b;
    long key;
};
struct alignas(64) line {
    char bytes[64];
};
struct alignas(8192) page {
    char bytes[8192];
};

void test_allocator_traits()
{
    using A = alloc<int>;
    using traits = std::allocator_traits<A>;
    static_assert(std::is_same_v<traits::rebind_alloc<double>, alloc<double>>);
    static_assert(traits::is_always_equal::value);
    static_assert(std::is_nothrow_default_constructible_v<A>);
    A a;
    alloc<double> b(a);
    CHECK(a == A(b));
    CHECK(!(a != A(b)));
}

void test_allocator_single_objects()
{
    alloc<node24> a;
    fa_cache *c = alloc<node24>::cache();
    CHECK(c != nullptr);
    fa_cache_counters before;
    fa_cache_stats(c, &before);
    std::vector<node24 *> v;
    bool all_aligned = true;
    for (int i = 0; i < 10000; i++) {
        node24 *p = a.allocate(1);
        all_aligned = all_aligned && aligned(p, alignof(node24));
        p->key = i;
        v.push_back(p);
    }
    CHECK(all_aligned);
    fa_cache_counters mid;
    fa_cache_stats(c, &mid);
    CHECK(mid.live == before.live + 10000);
    bool keys = true;
    for (int i = 0; i < 10000; i++) {
        keys = keys && v[static_cast<std::size_t>(i)]->key == i;
    }
    CHECK(keys);
    /* Another allocator of the same size shares the cache. */
    alloc<long[3]> other;
    CHECK(alloc<long[3]>::cache() == c);
    other.deallocate(reinterpret_cast<long(*)[3]>(v.back()), 1);
    v.pop_back();
    for (node24 *p : v) {
        a.deallocate(p, 1);
    }
    fa_cache_counters after;
    fa_cache_stats(c, &after);
    CHECK(after.live == before.live);
}

void test_allocator_arrays_and_alignment()
{
    alloc<int> ai;
    int *arr = ai.allocate(1000);
    CHECK(aligned(arr, alignof(int)));
    CHECK(fa_usable_size(arr) >= 1000 * sizeof(int));
    std::fill(arr, arr + 1000, 7);
    ai.deallocate(arr, 1000);
    int *none = ai.allocate(0);
    CHECK(none != nullptr);
    ai.deallocate(none, 0);

    alloc<line> al;
    line *one = al.allocate(1);
    line *many = al.allocate(5);
    CHECK(aligned(one, 64));
    CHECK(aligned(many, 64));
    al.deallocate(one, 1);
    al.deallocate(many, 5);

    /* Aligned above FA_ALIGN_MAX: the heap, fa_aligned_alloc. */
    alloc<page> ap;
    CHECK(alloc<page>::cache() == nullptr);
    page *pg = ap.allocate(1);
    CHECK(aligned(pg, 8192));
    pg->bytes[8191] = 1;
    ap.deallocate(pg, 1);

    /* Odd sizes aligned to 16 (the heap aligns some sizes to 8 only). */
    struct alignas(16) s48 {
        char b[48];
    };
    alloc<s48> a48;
    bool all_aligned = true;
    for (std::size_t n : {1u, 2u, 3u, 7u}) {
        s48 *p = a48.allocate(n);
        all_aligned = all_aligned && aligned(p, 16);
        a48.deallocate(p, n);
    }
    CHECK(all_aligned);

    bool threw = false;
    try {
        (void)ai.allocate(std::numeric_limits<std::size_t>::max() / 2);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
}

template <class Map> void fill_and_compare_map(Map &m, unsigned seed)
{
    std::map<int, int> ref;
    std::mt19937 rng(seed);
    for (int i = 0; i < 20000; i++) {
        int k = static_cast<int>(rng() % 5000);
        if (rng() % 3 == 0) {
            m.erase(k);
            ref.erase(k);
        } else {
            m[k] = i;
            ref[k] = i;
        }
    }
    bool same = m.size() == ref.size();
    for (const auto &kv : ref) {
        auto it = m.find(kv.first);
        same = same && it != m.end() && it->second == kv.second;
    }
    CHECK(same);
}

void test_containers()
{
    std::list<int, alloc<int>> l;
    for (int i = 0; i < 10000; i++) {
        l.push_back(i);
    }
    l.remove_if([](int x) { return x % 3 == 0; });
    CHECK(l.size() == 6666);
    CHECK(l.front() == 1 && l.back() == 9998);
    std::list<int, alloc<int>> l2;
    l2.splice(l2.end(), l, l.begin(), std::next(l.begin(), 100));
    CHECK(l2.size() == 100 && l.size() == 6566);
    l.sort(std::greater<int>());
    CHECK(l.front() == 9998);

    std::map<int, int, std::less<int>, alloc<std::pair<const int, int>>> m;
    fill_and_compare_map(m, 1);

    std::set<std::string, std::less<std::string>, alloc<std::string>> s;
    for (int i = 0; i < 5000; i++) {
        s.insert("key number " + std::to_string(i % 1234));
    }
    CHECK(s.size() == 1234);
    CHECK(s.count("key number 77") == 1);

    std::unordered_map<int, std::string, std::hash<int>, std::equal_to<int>,
                       alloc<std::pair<const int, std::string>>>
        u;
    for (int i = 0; i < 20000; i++) {
        u[i] = std::to_string(i);
    }
    for (int i = 0; i < 20000; i += 2) {
        u.erase(i);
    }
    CHECK(u.size() == 10000);
    CHECK(u.at(4321) == "4321");
    u.rehash(100000); /* the bucket array: an array from the heap */
    CHECK(u.at(9999) == "9999");

    /* Move and swap between containers: allocators always equal. */
    decltype(m) m2 = std::move(m);
    decltype(m) m3;
    m3.swap(m2);
    CHECK(!m3.empty());

    std::vector<double, alloc<double>> v(1000, 1.5);
    v.resize(100000, 2.5);
    CHECK(v[999] == 1.5 && v[99999] == 2.5);
}

/* Containers in several threads at once, and lists handed from the thread
 * that built them to another that frees them. */
void test_threads()
{
    const int nthreads = 4;
    std::vector<std::thread> ts;
    std::vector<int> ok(static_cast<std::size_t>(nthreads), 0);
    for (int t = 0; t < nthreads; t++) {
        ts.emplace_back([t, &ok] {
            std::map<int, int, std::less<int>,
                     alloc<std::pair<const int, int>>>
                m;
            std::list<long, alloc<long>> l;
            std::unordered_map<int, int, std::hash<int>, std::equal_to<int>,
                               alloc<std::pair<const int, int>>>
                u;
            for (int i = 0; i < 20000; i++) {
                m[(i * 7 + t) % 3000] = i;
                l.push_back(i);
                u[i % 2000] = i;
                if (i % 5 == 0) {
                    l.pop_front();
                    m.erase((i * 3) % 3000);
                }
            }
            ok[static_cast<std::size_t>(t)] =
                l.size() == 16000 && u.size() == 2000 && !m.empty();
        });
    }
    for (auto &th : ts) {
        th.join();
    }
    CHECK(std::count(ok.begin(), ok.end(), 1) == nthreads);

    /* Producer-consumer: lists built in one thread, destroyed in another;
     * single nodes allocated in one thread, freed in another. */
    using list = std::list<int, alloc<int>>;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<list> queue;
    std::deque<node24 *> nodes;
    bool done = false;
    fa_cache *c = alloc<node24>::cache();
    fa_cache_counters before;
    fa_cache_stats(c, &before);
    std::thread producer([&] {
        alloc<node24> a;
        for (int r = 0; r < 200; r++) {
            list l;
            for (int i = 0; i < 500; i++) {
                l.push_back(r * 500 + i);
            }
            node24 *n = a.allocate(1);
            n->key = r;
            std::lock_guard<std::mutex> g(mu);
            queue.push_back(std::move(l));
            nodes.push_back(n);
            cv.notify_one();
        }
        std::lock_guard<std::mutex> g(mu);
        done = true;
        cv.notify_one();
    });
    long sum = 0;
    long keys = 0;
    std::thread consumer([&] {
        alloc<node24> a;
        for (;;) {
            std::unique_lock<std::mutex> g(mu);
            cv.wait(g, [&] { return !queue.empty() || done; });
            if (queue.empty() && done) {
                break;
            }
            list l = std::move(queue.front());
            queue.pop_front();
            node24 *n = nodes.front();
            nodes.pop_front();
            g.unlock();
            for (int x : l) {
                sum += x;
            }
            keys += n->key;
            a.deallocate(n, 1); /* freed in another thread */
        }                       /* l destroyed here: nodes freed here */
    });
    producer.join();
    consumer.join();
    const long total = 200L * 500;
    CHECK(sum == total * (total - 1) / 2);
    CHECK(keys == 199L * 200 / 2);
    fa_cache_counters after;
    fa_cache_stats(c, &after);
    CHECK(after.live == before.live);
    CHECK(after.remote_frees > before.remote_frees);
}

/* ---- fa::pool_resource ---- */

void test_resource()
{
    fa::pool_resource res("test resource");
    fa_heap_counters st;
    {
        std::pmr::vector<int> v(&res);
        std::pmr::map<int, std::pmr::string> m(&res);
        std::pmr::list<double> l(&res);
        std::pmr::unordered_map<int, int> u(&res);
        for (int i = 0; i < 10000; i++) {
            v.push_back(i);
            m.emplace(i, std::pmr::string("a string long enough to be "
                                          "allocated, number ") +
                             std::to_string(i).c_str());
            l.push_back(i * 0.5);
            u[i] = -i;
        }
        for (int i = 0; i < 10000; i += 2) {
            m.erase(i);
            u.erase(i);
        }
        CHECK(v.size() == 10000 && v[9999] == 9999);
        CHECK(m.size() == 5000 && m.at(9999).size() > 40);
        CHECK(m.at(9999).get_allocator().resource() == &res);
        CHECK(u.size() == 5000 && u.at(1) == -1);
        fa_heap_stats(res.heap(), &st);
        CHECK(st.live > 20000);
        CHECK(fa_heap_of(v.data()) == res.heap());
        CHECK(fa_heap_check(res.heap()));
    }
    fa_heap_stats(res.heap(), &st);
    CHECK(st.live == 0);

    /* Alignments: natural, 16 on sizes the heap aligns to 8, above. */
    std::vector<std::pair<void *, std::pair<std::size_t, std::size_t>>> blocks;
    bool all_aligned = true;
    for (std::size_t align : {1u, 8u, 16u, 64u, 4096u, 65536u}) {
        for (std::size_t bytes : {1u, 8u, 20u, 24u, 40u, 56u, 100u, 5000u,
                                  100000u}) {
            void *p = res.allocate(bytes, align);
            all_aligned = all_aligned && aligned(p, align);
            std::memset(p, 0xab, bytes);
            blocks.push_back({p, {bytes, align}});
        }
    }
    CHECK(all_aligned);
    for (auto &b : blocks) {
        res.deallocate(b.first, b.second.first, b.second.second);
    }
    fa_heap_stats(res.heap(), &st);
    CHECK(st.live == 0);
    CHECK(res.trim() > 0);

    fa::pool_resource other;
    CHECK(res.is_equal(res));
    CHECK(!res.is_equal(other));
    CHECK(res != other);
    std::pmr::unsynchronized_pool_resource up;
    CHECK(!res.is_equal(up));

    /* A capped heap runs out: std::bad_alloc. */
    fa_heap_config cfg{};
    cfg.max_bytes = 1 << 20;
    cfg.name = "capped";
    fa::pool_resource capped(&cfg);
    bool threw = false;
    try {
        (void)capped.allocate(8u << 20, 16);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);

    /* Destroying the resource releases everything it still holds. */
    auto *leaky = new fa::pool_resource("leaky");
    std::pmr::vector<std::pmr::string> *v =
        new std::pmr::vector<std::pmr::string>(leaky);
    for (int i = 0; i < 1000; i++) {
        v->emplace_back(200, 'x');
    }
    ::operator delete(v); /* its elements are never freed one by one */
    delete leaky;
    CHECK(true);

    /* One resource used by several threads at once. */
    fa::pool_resource shared("shared");
    std::vector<std::thread> ts;
    std::vector<int> ok(4, 0);
    for (std::size_t t = 0; t < 4; t++) {
        ts.emplace_back([&shared, &ok, t] {
            std::pmr::map<int, int> m(&shared);
            for (int i = 0; i < 20000; i++) {
                m[i % 1000] = i;
                if (i % 3 == 0) {
                    m.erase((i * 7) % 1000);
                }
            }
            ok[t] = !m.empty();
        });
    }
    for (auto &th : ts) {
        th.join();
    }
    CHECK(std::count(ok.begin(), ok.end(), 1) == 4);
    fa_heap_stats(shared.heap(), &st);
    CHECK(st.live == 0);
}

/* ---- fa::object_pool ---- */

int alive = 0;

struct widget {
    std::string name;
    int id;
    widget(std::string n, int i) : name(std::move(n)), id(i)
    {
        if (i < 0) {
            throw std::runtime_error("negative id");
        }
        ++alive;
    }
    ~widget() { --alive; }
};

void test_object_pool()
{
    fa::object_pool<widget> pool("widgets");
    std::vector<widget *> ws;
    for (int i = 0; i < 5000; i++) {
        ws.push_back(pool.make("widget " + std::to_string(i), i));
    }
    CHECK(alive == 5000);
    CHECK(pool.live() == 5000);
    CHECK(ws[1234]->id == 1234 && ws[1234]->name == "widget 1234");
    CHECK(aligned(ws[7], alignof(widget)));
    bool threw = false;
    try {
        (void)pool.make("bad", -1);
    } catch (const std::runtime_error &) {
        threw = true;
    }
    CHECK(threw);
    CHECK(pool.live() == 5000); /* the slot went back */
    for (std::size_t i = 0; i < ws.size(); i += 2) {
        pool.destroy(ws[i]);
    }
    pool.destroy(nullptr);
    CHECK(alive == 2500 && pool.live() == 2500);
    for (std::size_t i = 1; i < ws.size(); i += 2) {
        pool.destroy(ws[i]);
    }
    CHECK(alive == 0 && pool.live() == 0);
    CHECK(pool.stats().peak_live == 5001); /* with the failed make's slot */
    CHECK(pool.trim() > 0);
    CHECK(fa_pool_check(pool.get()));

    /* Checked mode: a double destroy is reported, not undefined. */
    static int reports = 0;
    fa_error_handler old = fa_set_error_handler(
        [](const fa_error *err) { reports += err->kind == FA_ERR_DOUBLE_FREE; });
    {
        fa::object_pool<long> checked("checked longs", FA_CHECKED);
        long *p = checked.make(5);
        CHECK(*p == 5);
        checked.destroy(p);
        fa_pool_free(checked.get(), p);
        CHECK(reports == 1);
    }
    fa_set_error_handler(old);

    threw = false;
    try {
        fa::object_pool<int> bad("bad", 0x80u);
    } catch (const std::invalid_argument &) {
        threw = true;
    }
    CHECK(threw);

    /* The destructor destroys the pool with objects still live. */
    {
        fa::object_pool<std::pair<int, int>> pairs;
        for (int i = 0; i < 1000; i++) {
            (void)pairs.make(i, i);
        }
    }
    CHECK(true);
}

} // namespace

int main()
{
    test_allocator_traits();
    test_allocator_single_objects();
    test_allocator_arrays_and_alignment();
    test_containers();
    test_threads();
    test_resource();
    test_object_pool();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
