/*
 * preload_run.c - runs one program, optionally with a library in
 * LD_PRELOAD, and prints its wall time and peak RSS: the launcher of the
 * "programs under LD_PRELOAD" section (preload.sh).
 *
 *   preload_run [-p LIB] [-o OUT] [-e ERR] [-c CPU] -- PROGRAM ARGS...
 *
 * The child's stdout goes to OUT and its stderr to ERR (default: both
 * /dev/null), LD_PRELOAD=LIB is set in the child only (none without -p),
 * and -c pins the child to CPU. Prints one line on stdout:
 *
 *   SECONDS MAXRSS_KIB STATUS
 *
 * SECONDS is the wall time from fork to wait4's return (monotonic clock),
 * MAXRSS_KIB is wait4's ru_maxrss: the peak RSS of the child or of any of
 * its waited-for descendants, whichever is highest (a shell pipeline's
 * largest process; gcc's cc1). STATUS is the exit status, or 128 + the
 * signal number. Exits 0 when the program ran, whatever its status; 2 on a
 * usage or system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "usage: preload_run [-p LIB] [-o OUT] [-e ERR] "
                    "[-c CPU] -- PROGRAM ARGS...\n");
    exit(2);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In the child: opens PATH onto FD, or dies. */
static void redirect(const char *path, int fd)
{
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (f < 0 || dup2(f, fd) < 0) {
        fprintf(stderr, "preload_run: %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    if (f != fd) {
        close(f);
    }
}

int main(int argc, char **argv)
{
    const char *lib = NULL;
    const char *out = "/dev/null";
    const char *err = "/dev/null";
    long cpu = -1;
    int opt;
    while ((opt = getopt(argc, argv, "+p:o:e:c:")) != -1) {
        switch (opt) {
        case 'p': lib = optarg; break;
        case 'o': out = optarg; break;
        case 'e': err = optarg; break;
        case 'c': cpu = strtol(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (optind >= argc) {
        usage();
    }
    char **cmd = argv + optind;

    double start = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("preload_run: fork");
        return 2;
    }
    if (pid == 0) {
        redirect(out, 1);
        redirect(err, 2);
        if (cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET((size_t)cpu, &set);
            if (sched_setaffinity(0, sizeof set, &set) != 0) {
                fprintf(stderr, "preload_run: cpu %ld: %s\n", cpu,
                        strerror(errno));
            }
        }
        if (lib != NULL) {
            setenv("LD_PRELOAD", lib, 1);
        } else {
            unsetenv("LD_PRELOAD");
        }
        execvp(cmd[0], cmd);
        fprintf(stderr, "preload_run: %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("preload_run: wait4");
            return 2;
        }
    }
    double seconds = now() - start;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("%.4f %ld %d\n", seconds, ru.ru_maxrss, code);
    return 0;
}
