/*
 * fork_threads.c - fork in a multi-threaded program on the drop-in malloc:
 * while threads allocate and free objects of every size, the main thread
 * forks again and again; each child allocates from every size class and a
 * large block, checks the default heap (fa_heap_check), and ends with exec
 * of a program (fork then exec), or with exit. Prints "ok".
 */
#include <fixalloc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_bool stop;

static void *churn(void *arg)
{
    size_t salt = (size_t)(uintptr_t)arg;
    void *keep[64] = {NULL};
    for (size_t i = 0; !atomic_load(&stop); i++) {
        size_t k = (i * 7 + salt) % 64;
        free(keep[k]);
        keep[k] = malloc(1 + (i * 2654435761u + salt) % 70000);
        if (keep[k] != NULL) {
            memset(keep[k], 0x41, 1);
        }
    }
    for (int k = 0; k < 64; k++) {
        free(keep[k]);
    }
    return NULL;
}

static int child(int round)
{
    void *v[80];
    int n = 0;
    for (size_t size = 8; size <= 32768; size += size / 4 + 1) {
        v[n] = malloc(size);
        if (v[n] == NULL) {
            return 1;
        }
        memset(v[n], 0x5a, size);
        n++;
    }
    void *big = malloc(1 << 20);
    if (big == NULL) {
        return 2;
    }
    memset(big, 1, 1 << 20);
    for (int i = 0; i < n; i++) {
        free(v[i]);
    }
    free(big);
    if (!fa_heap_check(fa_heap_default())) {
        return 3;
    }
    if (round % 2 == 0) {
        execl("/bin/true", "true", (char *)NULL);
        return 4;
    }
    return 0;
}

int main(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
    }
    int bad = 0;
    for (int round = 0; round < 30; round++) {
        usleep(2000);
        pid_t pid = fork();
        if (pid == 0) {
            _exit(child(round));
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "round %d: child status %#x\n", round, status);
            bad = 1;
        }
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
    }
    printf("%s\n", bad ? "failed" : "ok");
    return bad;
}
