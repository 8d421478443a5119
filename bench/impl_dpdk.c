/*
 * impl_dpdk.c - adapter: DPDK's rte_mempool with a per-lcore cache of 256
 * objects (the usual setting), default flags.
 *
 * The EAL starts without hugepages, PCI or shared configuration:
 *   --no-huge --no-shconf --no-pci --no-telemetry --iova-mode=va -l CPU -m MB
 * That is DPDK's in-memory mode as far as it exists without hugepages:
 * --in-memory itself means "no shared config, and unlink the hugepage
 * files", and the EAL refuses it together with --no-huge ("Option
 * --legacy-mem is not compatible with --in-memory"; --no-huge implies
 * legacy memory). -m reserves the memory up front (untouched): the worker
 * passes what the workload needs. Every thread other than the EAL's main
 * one registers itself (rte_thread_register) to get an lcore id, and so a
 * cache. rte_mempool_get and rte_mempool_put are inline functions of the
 * header: they are wrapped out of line here, so the workload loop makes one
 * call per operation as it does for every implementation. A mempool's
 * memory is fixed when it is made (populated for every object), so there
 * is no trim.
 */
#include "bench.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_version.h>
#include <sched.h>
#include <stdio.h>

#define DPDK_CACHE 256

static const char *dpdk_setup(size_t mem_hint)
{
    static char why[256];
    char cpu[16], mem[32];
    /* The EAL pins its main thread to the lcore's CPU: give it the CPU the
     * worker pins to anyway, the first allowed one when nothing is set. */
    cpu_set_t set;
    int first = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = CPU_SETSIZE - 1; c >= 0; c--) {
            if (CPU_ISSET((size_t)c, &set)) {
                first = c;
            }
        }
    }
    snprintf(cpu, sizeof cpu, "%d", first);
    size_t mb = mem_hint / (1024 * 1024) * 5 / 4 + 512;
    snprintf(mem, sizeof mem, "%zu", mb < 1024 ? 1024 : mb);
    char *argv[] = {(char *)"bench-dpdk",
                    (char *)"--no-huge",
                    (char *)"--no-shconf",
                    (char *)"--no-pci",
                    (char *)"--no-telemetry",
                    (char *)"--iova-mode=va",
                    (char *)"--log-level=*:error",
                    (char *)"-l",
                    cpu,
                    (char *)"-m",
                    mem,
                    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    if (rte_eal_init(argc, argv) < 0) {
        snprintf(why, sizeof why,
                 "rte_eal_init(--no-huge --no-shconf --no-pci -m %s) failed: "
                 "%s",
                 mem, rte_strerror(rte_errno));
        return why;
    }
    return NULL;
}

static void dpdk_thread_start(void)
{
    if (rte_thread_register() != 0) {
        fprintf(stderr, "bench-dpdk: rte_thread_register: %s (no cache)\n",
                rte_strerror(rte_errno));
    }
}

static const char *dpdk_version(void)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", RTE_VER_YEAR, RTE_VER_MONTH,
             RTE_VER_MINOR);
    return buf;
}

static void *dpdk_init(size_t size, size_t max_live)
{
    static unsigned seq;
    char name[RTE_MEMPOOL_NAMESIZE];
    snprintf(name, sizeof name, "bench%u", seq++);
    /* Room for the objects live, the ring in flight and what the lcore
     * caches hold (up to 1.5 x 256 each). */
    unsigned n = (unsigned)(max_live + 8192);
    struct rte_mempool *mp =
        rte_mempool_create(name, n, (unsigned)size, DPDK_CACHE, 0, NULL, NULL,
                           NULL, NULL, SOCKET_ID_ANY, 0);
    if (mp == NULL) {
        fprintf(stderr, "bench-dpdk: rte_mempool_create(%u x %zu B): %s\n", n,
                size, rte_strerror(rte_errno));
    }
    return mp;
}

static void dpdk_destroy(void *state)
{
    rte_mempool_free(state);
}

__attribute__((noinline)) static void *dpdk_alloc(void *state)
{
    void *obj;
    if (rte_mempool_get(state, &obj) != 0) {
        return NULL;
    }
    return obj;
}

__attribute__((noinline)) static void dpdk_free(void *state, void *obj)
{
    rte_mempool_put(state, obj);
}

static size_t dpdk_slot(void *state)
{
    const struct rte_mempool *mp = state;
    return (size_t)mp->header_size + mp->elt_size + mp->trailer_size;
}

BENCH_FIXED_WORKLOADS(dpdk, "DPDK rte_mempool", dpdk_alloc, dpdk_free, NULL)

const bench_impl bench_impl_dpdk = {
    .id = "dpdk",
    .name = "DPDK mempool",
    .caps = BENCH_FIXED | BENCH_SHARED | BENCH_REMOTE,
    .setup = dpdk_setup,
    .thread_start = dpdk_thread_start,
    .version = dpdk_version,
    .init = dpdk_init,
    .destroy = dpdk_destroy,
    .alloc = dpdk_alloc,
    .free = dpdk_free,
    .trim_none = "a mempool's memory is fixed at creation",
    .slot = dpdk_slot,
    BENCH_FIXED_RUNS(dpdk),
};
