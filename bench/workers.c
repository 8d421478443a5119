/*
 * workers.c - the worker processes and the request protocol.
 *
 * Owns the rows' processes: finding the worker executables next to the
 * driver, starting one --serve worker per implementation selected and
 * reading its "ready" line (capabilities, version, names), the
 * command/reply exchange with it (one line each way: begin, run, end,
 * quit), and stopping it. Fresh-process runs (rounds.c) and callgrind runs
 * (instructions.c) are started with spawn() too.
 */
#include "driver.h"
#include "bench_config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

void find_exe_dir(bench_run *run)
{
    ssize_t n =
        readlink("/proc/self/exe", run->exe_dir, sizeof run->exe_dir - 1);
    if (n <= 0) {
        perror("bench: readlink /proc/self/exe");
        exit(1);
    }
    run->exe_dir[n] = '\0';
    char *slash = strrchr(run->exe_dir, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
}

/* Starts `exe --impl id --cpu A,B extra...`, with its stdin from a pipe
 * (*cmd_fd, or /dev/null when cmd_fd is NULL) and its fd 3 into a pipe
 * (*res_fd); its stdout goes to our stderr. With `prefix` (valgrind ...)
 * the command is run under it. Returns the pid. */
pid_t spawn(const bench_run *run, const row *r, char *const *extra,
            char *const *prefix, int *cmd_fd, int *res_fd)
{
    char path[PATH_MAX + 64], cpus[32];
    snprintf(path, sizeof path, "%s/%s", run->exe_dir, r->exe);
    snprintf(cpus, sizeof cpus, "%d,%d", run->opt.cpu_main,
             run->opt.cpu_helper);
    char *argv[48];
    size_t k = 0;
    for (; prefix != NULL && *prefix != NULL; prefix++) {
        argv[k++] = *prefix;
    }
    argv[k++] = path;
    argv[k++] = (char *)"--impl";
    argv[k++] = (char *)(uintptr_t)r->id;
    argv[k++] = (char *)"--cpu";
    argv[k++] = cpus;
    for (; *extra != NULL && k < 46; extra++) {
        argv[k++] = *extra;
    }
    argv[k] = NULL;
    int in[2] = {-1, -1}, res[2];
    if ((cmd_fd != NULL && pipe(in) != 0) || pipe(res) != 0) {
        perror("bench: pipe");
        exit(1);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench: fork");
        exit(1);
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(cmd_fd != NULL ? in[0] : null, 0);
        dup2(2, 1);
        dup2(res[1], 3);
        for (int fd = 4; fd < 256; fd++) {
            close(fd);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "bench: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (cmd_fd != NULL) {
        close(in[0]);
        *cmd_fd = in[1];
    }
    close(res[1]);
    *res_fd = res[0];
    return pid;
}

/* Reads one line from fd into line (buffered in buf/len), waiting at most
 * timeout_s. Returns false on EOF, error or timeout. */
bool read_line(int fd, char *buf, size_t *len, size_t cap, char *line,
               size_t line_cap, int timeout_s)
{
    for (;;) {
        char *nl = memchr(buf, '\n', *len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - buf);
            size_t c = n < line_cap - 1 ? n : line_cap - 1;
            memcpy(line, buf, c);
            line[c] = '\0';
            memmove(buf, nl + 1, *len - n - 1);
            *len -= n + 1;
            return true;
        }
        if (*len == cap) {
            *len = 0; /* an absurd line: drop it */
        }
        struct pollfd p = {fd, POLLIN, 0};
        int k = poll(&p, 1, timeout_s * 1000);
        if (k <= 0) {
            return false;
        }
        ssize_t got = read(fd, buf + *len, cap - *len);
        if (got <= 0) {
            return false;
        }
        *len += (size_t)got;
    }
}

/* Describes how process pid ended (it has exited or is killed now). */
void reap(pid_t pid, char *why, size_t cap, const char *what)
{
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(why, cap, "%s: no answer in time (killed)", what);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, cap, "%s: killed by signal %d (%s)", what,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
        snprintf(why, cap, "%s: exited with status %d", what,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}
static void row_down(row *r, const char *what)
{
    if (!r->up) {
        return;
    }
    r->up = false;
    close(r->cmd_fd);
    close(r->res_fd);
    reap(r->pid, r->why, sizeof r->why, what);
    fprintf(stderr, "bench: %s stopped: %s\n", r->id, r->why);
}

/* Sends a command and reads the reply line; false when the worker died. */
bool ask(row *r, const char *cmd, char *reply_line, size_t cap, int timeout_s)
{
    size_t n = strlen(cmd);
    if (write(r->cmd_fd, cmd, n) != (ssize_t)n) {
        row_down(r, "worker");
        return false;
    }
    if (!read_line(r->res_fd, r->buf, &r->buf_len, sizeof r->buf, reply_line,
                   cap, timeout_s)) {
        row_down(r, "worker");
        return false;
    }
    return true;
}

static bool selected(const bench_run *run, const char *id)
{
    const bench_options *o = &run->opt;
    if (o->impls == NULL) {
        return true;
    }
    size_t n = strlen(id);
    for (const char *p = o->impls; (p = strstr(p, id)) != NULL; p += n) {
        if ((p == o->impls || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
            return true;
        }
    }
    return false;
}

/* Copies tab-separated field k of s into dst. */
static void field(const char *s, int k, char *dst, size_t cap)
{
    for (; k > 0 && s != NULL; k--) {
        s = strchr(s, '\t');
        s = s != NULL ? s + 1 : NULL;
    }
    size_t n = 0;
    if (s != NULL) {
        n = strcspn(s, "\t\n");
    }
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, s != NULL ? s : "", n);
    dst[n] = '\0';
}

void start_workers(bench_run *run)
{
    signal(SIGPIPE, SIG_IGN);
    for (size_t k = 0; k < sizeof bench_workers / sizeof bench_workers[0];
         k++) {
        if (!selected(run, bench_workers[k].impl) || run->nrows == MAX_ROWS) {
            continue;
        }
        row *r = &run->rows[run->nrows++];
        memset(r, 0, sizeof *r);
        r->exe = bench_workers[k].exe;
        r->id = bench_workers[k].impl;
        snprintf(r->name, sizeof r->name, "%s", r->id);
        for (size_t z = 0; z < MAX_SIZES; z++) {
            r->instr[z] = -1;
        }
        char *extra[] = {(char *)"--serve", NULL};
        r->pid = spawn(run, r, extra, NULL, &r->cmd_fd, &r->res_fd);
        r->up = true;
        char line[512];
        if (!read_line(r->res_fd, r->buf, &r->buf_len, sizeof r->buf, line,
                       sizeof line, 120)) {
            row_down(r, "worker at start");
            continue;
        }
        if (strncmp(line, "ready\t", 6) == 0) {
            char f[128];
            field(line, 1, f, sizeof f);
            r->caps = (unsigned)strtoul(f, NULL, 10);
            field(line, 2, r->version, sizeof r->version);
            field(line, 3, r->name, sizeof r->name);
            field(line, 4, r->trim_call, sizeof r->trim_call);
            field(line, 5, r->trim_none, sizeof r->trim_none);
        } else {
            snprintf(r->why, sizeof r->why, "%.300s",
                     strncmp(line, "unavailable ", 12) == 0 ? line + 12 : line);
            r->up = false;
            close(r->cmd_fd);
            close(r->res_fd);
            waitpid(r->pid, NULL, 0);
            fprintf(stderr, "bench: %s: %s\n", r->id, r->why);
        }
    }
}

void stop_workers(bench_run *run)
{
    for (size_t i = 0; i < run->nrows; i++) {
        const row *r = &run->rows[i];
        if (r->up && r->pid > 0) {
            if (write(r->cmd_fd, "quit\n", 5) < 0) {
                /* it is gone anyway */
            }
            close(r->cmd_fd);
            close(r->res_fd);
            waitpid(r->pid, NULL, 0);
        }
    }
}

int row_of(const bench_run *run, const char *id)
{
    for (size_t i = 0; i < run->nrows; i++) {
        if (strcmp(run->rows[i].id, id) == 0) {
            return (int)i;
        }
    }
    return -1;
}
