/*
 * list.h - the one intrusive doubly linked list of the library.
 * docs/design.md, "The intrusive list".
 */
#ifndef FIXALLOC_LIST_H
#define FIXALLOC_LIST_H

#include <stddef.h>

typedef struct fa_list_node {
    struct fa_list_node *next, *prev;
} fa_list_node;

/* The element that embeds `node` as its member `field`. */
#define fa_list_entry(node, type, field)                                       \
    ((type *)(void *)((char *)(node)-offsetof(type, field)))

static inline void fa_list_push(fa_list_node **head, fa_list_node *n)
{
    n->prev = NULL;
    n->next = *head;
    if (*head != NULL) {
        (*head)->prev = n;
    }
    *head = n;
}

static inline void fa_list_remove(fa_list_node **head, fa_list_node *n)
{
    if (n->prev != NULL) {
        n->prev->next = n->next;
    } else {
        *head = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    }
    n->next = n->prev = NULL;
}

#endif /* FIXALLOC_LIST_H */
