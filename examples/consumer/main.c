/*
 * main.c - a small program built against the installed fixalloc: a
 * priority list of messages whose nodes come from one pool.
 */
#include <fixalloc.h>

#include <stdio.h>
#include <string.h>

typedef struct message {
    struct message *next;
    int priority;
    char text[52];
} message;

static void count_live(void *obj, void *arg)
{
    (void)obj;
    ++*(size_t *)arg;
}

int main(void)
{
    fa_pool pool;
    fa_config cfg = {.size = sizeof(message), .name = "messages"};
    if (fa_pool_init(&pool, &cfg) != 0) {
        return 1;
    }
    message *head = NULL;
    for (int i = 0; i < 1000; i++) {
        message *m = fa_pool_alloc(&pool);
        if (m == NULL) {
            return 1;
        }
        m->priority = i % 7;
        snprintf(m->text, sizeof m->text, "message %d", i);
        m->next = head;
        head = m;
    }
    /* Drop every message of priority 0. */
    for (message **link = &head; *link != NULL;) {
        message *m = *link;
        if (m->priority == 0) {
            *link = m->next;
            fa_pool_free(&pool, m);
        } else {
            link = &m->next;
        }
    }
    size_t live = 0;
    fa_pool_walk(&pool, count_live, &live);
    fa_stats st;
    fa_pool_stats(&pool, &st);
    int ok = live == 857 && st.live == 857 && fa_pool_check(&pool) &&
             strcmp(head->text, "message 999") == 0;
    fa_pool_destroy(&pool);
    printf("consumer: %s (%zu live)\n", ok ? "ok" : "FAILED", live);
    return ok ? 0 : 1;
}
