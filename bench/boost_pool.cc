// boost_pool.cc - the C++ half of the Boost.Pool adapter: boost::pool<>
// behind four C functions. malloc() and free() of boost::pool<> are inline
// templates; they are wrapped out of line here, so the workload loop makes
// one call per operation as it does for every implementation.
#include <boost/pool/pool.hpp>
#include <boost/version.hpp>

#include <cstdio>
#include <new>

using bench_boost_pool = boost::pool<>;

extern "C" {

void *bench_boost_create(size_t size)
{
    return new (std::nothrow) bench_boost_pool(size);
}

void bench_boost_destroy(void *state)
{
    delete static_cast<bench_boost_pool *>(state);
}

__attribute__((noinline)) void *bench_boost_alloc(void *state)
{
    return static_cast<bench_boost_pool *>(state)->malloc();
}

__attribute__((noinline)) void bench_boost_free(void *state, void *obj)
{
    static_cast<bench_boost_pool *>(state)->free(obj);
}

const char *bench_boost_version(void)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", BOOST_VERSION / 100000,
             BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
    return buf;
}

} // extern "C"
