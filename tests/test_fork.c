/*
 * test_fork.c - the tests' fork loop (test_util.h, "Fork").
 */
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

void tu_fork_repeatedly(int forks, int (*child)(void *arg), void *arg)
{
    for (int i = 0; i < forks; i++) {
        tu_sleep_ms(1);
        fflush(NULL);
        pid_t pid = fork();
        TU_INT_GE(pid, 0);
        if (pid == 0) {
            _exit(child(arg));
        }
        int status = 0;
        TU_INT_EQ(waitpid(pid, &status, 0), pid);
        TU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "fork %d: child failed: status %#x", i, status);
    }
}
