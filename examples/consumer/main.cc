/*
 * main.cc - the C++ consumer: a map on fa::pool_allocator, a pmr vector on
 * fa::pool_resource and an fa::object_pool, built against the installed
 * fixalloc.hpp.
 */
#include <fixalloc.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

struct order {
    std::string item;
    int quantity;
    order(std::string i, int q) : item(std::move(i)), quantity(q) {}
};

int main()
{
    std::map<int, int, std::less<int>,
             fa::pool_allocator<std::pair<const int, int>>>
        counts;
    for (int i = 0; i < 1000; i++) {
        counts[i % 100] += i;
    }

    fa::pool_resource arena("consumer");
    std::pmr::vector<int> v(&arena);
    for (int i = 0; i < 1000; i++) {
        v.push_back(i);
    }

    fa::object_pool<order> orders("orders");
    order *o = orders.make("widget", 3);
    bool ok = counts.size() == 100 && counts[99] == 99 * 10 + 100 * 45 &&
              v.back() == 999 && o->quantity == 3 && orders.live() == 1;
    orders.destroy(o);
    ok = ok && orders.live() == 0;
    std::printf("consumer (C++): %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
