/*
 * spawn — runs one command and reports its wall time and resource use, for bench/run
 * (a benchmark helper, not part of `meson test`; bench/run compiles it with cc).
 *
 *   spawn REPORT COMMAND [ARG...]
 *
 * Writes "wall_s user_s sys_s maxrss_kib exit_status" to REPORT and exits with the
 * command's status. The command is forked from this small process rather than from
 * Python, because Linux counts the RSS a process had before exec in its peak RSS
 * (ru_maxrss): a child forked from the benchmark script would report at least the
 * script's own 30 MiB.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawn REPORT COMMAND [ARG...]\n");
        return 2;
    }
    FILE *rep = fopen(argv[1], "w");
    if (rep == NULL) {
        perror(argv[1]);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(rep, "%.6f %ld.%06ld %ld.%06ld %ld %d\n", wall, (long)ru.ru_utime.tv_sec,
            (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
            ru.ru_maxrss, code);
    if (fclose(rep) != 0) {
        perror(argv[1]);
        return 2;
    }
    return code;
}
