/*
 * instructions.c - instruction counts of (1) under valgrind's callgrind.
 *
 * Each worker's --hot-only under callgrind, collection on only around the
 * loop, one dump per size. Owns the rows' instr[]: instructions per
 * alloc+free pair, per size.
 */
#include "driver.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

bool have_valgrind(void)
{
    return system("valgrind --version >/dev/null 2>&1") == 0;
}

void count_instructions(bench_run *run)
{
    const bench_options *o = &run->opt;
    char dir[1024];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fixalloc-bench-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : P_tmpdir);
    if (mkdtemp(dir) == NULL) {
        perror("bench: mkdtemp");
        return;
    }
    char sizes[128] = "";
    for (size_t z = 0; z < o->nsizes; z++) {
        size_t l = strlen(sizes);
        snprintf(sizes + l, sizeof sizes - l, "%s%zu", z ? "," : "",
                 o->sizes[z]);
    }
    char n[32];
    snprintf(n, sizeof n, "%zu", o->instr_n);
    setenv("FIXALLOC_TRACK", "0", 1); /* the production fast path */
    for (size_t i = 0; i < run->nrows; i++) {
        row *r = &run->rows[i];
        if (!r->up || !applicable(r, WL_HOT)) {
            continue;
        }
        char outfile[PATH_MAX];
        snprintf(outfile, sizeof outfile, "--callgrind-out-file=%s/%s", dir,
                 r->id);
        char *prefix[] = {(char *)"valgrind",
                          (char *)"--tool=callgrind",
                          (char *)"--collect-atstart=no",
                          (char *)"--dump-line=no",
                          outfile,
                          NULL};
        char *extra[] = {(char *)"--hot-only", n, sizes, NULL};
        int res_fd;
        int devnull = open("/dev/null", O_WRONLY);
        int saved = dup(2);
        dup2(devnull, 2); /* valgrind's chatter */
        pid_t pid = spawn(run, r, extra, prefix, NULL, &res_fd);
        dup2(saved, 2);
        close(saved);
        close(devnull);
        char buf[256];
        while (read(res_fd, buf, sizeof buf) > 0) {
        }
        close(res_fd);
        int status;
        waitpid(pid, &status, 0);
        /* Dumps: <file>.1, .2, ... one per size, in order. */
        for (size_t z = 0; z < o->nsizes; z++) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/%s.%zu", dir, r->id, z + 1);
            FILE *f = fopen(path, "r");
            if (f == NULL) {
                continue;
            }
            char line[512];
            double total = -1;
            while (fgets(line, sizeof line, f) != NULL) {
                if (strncmp(line, "totals:", 7) == 0 ||
                    strncmp(line, "summary:", 8) == 0) {
                    total = strtod(strchr(line, ':') + 1, NULL);
                }
            }
            fclose(f);
            unlink(path);
            if (total >= 0) {
                r->instr[z] = total / (double)o->instr_n;
            }
        }
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", dir, r->id);
        unlink(path);
    }
    rmdir(dir);
}
