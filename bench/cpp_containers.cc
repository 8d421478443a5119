/*
 * cpp_containers.cc - the C++ section of the benchmark: standard node
 * containers on each allocator a C++ program would pick.
 *
 *   bench_cpp_containers [--quick] [--rounds R] [--n N]
 *
 * Workloads, each on N int keys in a fixed random order (one thread):
 *   map            std::map<int, int>: insert every key, then erase every
 *                  key in another random order
 *   list           std::list<int>: push_back N, erase every other element,
 *                  then clear
 *   unordered_map  std::unordered_map<int, int> (reserved, so the bucket
 *                  array is one allocation): insert every key, then erase
 *                  every key in another order
 * Allocators: std::allocator (glibc malloc), fa::pool_allocator,
 * boost::fast_pool_allocator (when Boost.Pool is found at build time), and
 * std::pmr::unsynchronized_pool_resource and synchronized_pool_resource
 * (a new resource each run, as a container's scope would have). Each round
 * runs every (workload, allocator) pair once, in a rotating order; the
 * table gives the median over the rounds of the nanoseconds per element
 * (one insert and one erase), as markdown.
 */
#include <fixalloc.hpp>

#if defined(BENCH_HAVE_BOOST_POOL)
#include <boost/pool/pool_alloc.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <memory_resource>
#include <numeric>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace
{

std::vector<int> insert_order, erase_order;
volatile std::size_t sink;

template <class Map> void run_map(Map &m)
{
    for (int k : insert_order) {
        m.emplace(k, k);
    }
    sink = sink + m.size();
    for (int k : erase_order) {
        m.erase(k);
    }
}

template <class List> void run_list(List &l)
{
    for (int k : insert_order) {
        l.push_back(k);
    }
    bool odd = false;
    for (auto it = l.begin(); it != l.end();) {
        it = odd ? l.erase(it) : std::next(it);
        odd = !odd;
    }
    sink = sink + l.size();
    l.clear();
}

template <class Map> void run_umap(Map &m)
{
    m.reserve(insert_order.size());
    run_map(m);
}

template <class T> using fa_alloc = fa::pool_allocator<T>;
#if defined(BENCH_HAVE_BOOST_POOL)
template <class T> using boost_alloc = boost::fast_pool_allocator<T>;
#endif
using kv = std::pair<const int, int>;

/* One (workload, allocator) cell: a function running it once. */
struct cell {
    std::string workload, allocator;
    std::function<void()> run;
    std::vector<double> ns; /* per element, one per round */
};

template <template <class> class A>
void add_typed(std::vector<cell> &cells, const char *name)
{
    cells.push_back({"map",
                     name,
                     [] {
                         std::map<int, int, std::less<int>, A<kv>> m;
                         run_map(m);
                     },
                     {}});
    cells.push_back({"list",
                     name,
                     [] {
                         std::list<int, A<int>> l;
                         run_list(l);
                     },
                     {}});
    cells.push_back({"unordered_map",
                     name,
                     [] {
                         std::unordered_map<int, int, std::hash<int>,
                                            std::equal_to<int>, A<kv>>
                             m;
                         run_umap(m);
                     },
                     {}});
}

template <class Resource>
void add_pmr(std::vector<cell> &cells, const char *name)
{
    cells.push_back({"map",
                     name,
                     [] {
                         Resource r;
                         std::pmr::map<int, int> m(&r);
                         run_map(m);
                     },
                     {}});
    cells.push_back({"list",
                     name,
                     [] {
                         Resource r;
                         std::pmr::list<int> l(&r);
                         run_list(l);
                     },
                     {}});
    cells.push_back({"unordered_map",
                     name,
                     [] {
                         Resource r;
                         std::pmr::unordered_map<int, int> m(&r);
                         run_umap(m);
                     },
                     {}});
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

} // namespace

int main(int argc, char **argv)
{
    int rounds = 15;
    std::size_t n = 100000;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            rounds = 5;
            n = 20000;
        } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = std::atoi(argv[++i]);
        } else if (std::strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = static_cast<std::size_t>(std::atol(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: %s [--quick] [--rounds R] [--n N]\n",
                         argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || n < 2) {
        std::fprintf(stderr, "bench_cpp_containers: bad --rounds or --n\n");
        return 2;
    }
    insert_order.resize(n);
    std::iota(insert_order.begin(), insert_order.end(), 0);
    std::mt19937 rng(42);
    std::shuffle(insert_order.begin(), insert_order.end(), rng);
    erase_order = insert_order;
    std::shuffle(erase_order.begin(), erase_order.end(), rng);

    std::vector<cell> cells;
    add_typed<std::allocator>(cells, "std::allocator");
    add_typed<fa_alloc>(cells, "fa::pool_allocator");
#if defined(BENCH_HAVE_BOOST_POOL)
    add_typed<boost_alloc>(cells, "boost::fast_pool_allocator");
#endif
    add_pmr<std::pmr::unsynchronized_pool_resource>(cells,
                                                    "pmr::unsynchronized_pool");
    add_pmr<std::pmr::synchronized_pool_resource>(cells,
                                                  "pmr::synchronized_pool");

    /* A warm-up run of each, then the rounds, rotating the order. */
    for (auto &c : cells) {
        c.run();
    }
    for (int r = 0; r < rounds; r++) {
        for (std::size_t i = 0; i < cells.size(); i++) {
            cell &c = cells[(i + static_cast<std::size_t>(r)) % cells.size()];
            auto t0 = std::chrono::steady_clock::now();
            c.run();
            auto t1 = std::chrono::steady_clock::now();
            c.ns.push_back(
                std::chrono::duration<double, std::nano>(t1 - t0).count() /
                static_cast<double>(n));
        }
    }

    std::vector<std::string> workloads, allocators;
    for (auto &c : cells) {
        if (std::find(workloads.begin(), workloads.end(), c.workload) ==
            workloads.end()) {
            workloads.push_back(c.workload);
        }
        if (std::find(allocators.begin(), allocators.end(), c.allocator) ==
            allocators.end()) {
            allocators.push_back(c.allocator);
        }
    }
    std::printf("## C++ containers: ns per element (insert + erase), "
                "median of %d rounds, %zu keys\n\n",
                rounds, n);
    std::printf("| allocator |");
    for (auto &w : workloads) {
        std::printf(" %s |", w.c_str());
    }
    std::printf("\n| --- |");
    for (std::size_t i = 0; i < workloads.size(); i++) {
        std::printf(" ---: |");
    }
    std::printf("\n");
    for (auto &a : allocators) {
        std::printf("| %s |", a.c_str());
        for (auto &w : workloads) {
            for (auto &c : cells) {
                if (c.allocator == a && c.workload == w) {
                    std::printf(" %.1f |", median(c.ns));
                }
            }
        }
        std::printf("\n");
    }
#if !defined(BENCH_HAVE_BOOST_POOL)
    std::printf("\n(boost::fast_pool_allocator: Boost.Pool not found at "
                "build time: apt-get install libboost-dev)\n");
#endif
    return 0;
}
