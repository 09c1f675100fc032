// Fan-out cost by kernel path (issue 14 item 4, B4): CPU per GB delivered from one channel's
// chunks to N loopback TCP sockets, the way a relay hands every chunk to every viewer, by
//
//   write   write() of the chunk from a user buffer to each socket (what tvgate does: hyper's
//           writev of refcounted Bytes; the kernel copies user -> socket once per viewer)
//   splice  the chunk written once per channel into a pipe; per viewer tee() (page references,
//           no copy) into that viewer's pipe and splice() from it into the socket (nginx-like:
//           the socket takes the pipe's pages)
//   zc      send(MSG_ZEROCOPY) of the user buffer, completions reaped from each socket's error
//           queue (on loopback the kernel copies anyway when it delivers: SO_EE_CODE_ZEROCOPY_COPIED)
//
// One process sends (pinned by the caller, e.g. `taskset -c 0`), a forked child reads and discards
// everything (epoll over the N client sockets; pin it elsewhere with RECV_CPU). The sender runs
// rounds (one chunk to every viewer, blocking sockets) for SECS seconds after a warm-up, then
// prints its own CPU (getrusage: user+sys of the sender only, not the softirq the kernel may
// account apart) and the busy jiffies of its core from /proc/stat over the same window
// (user+nice+system+irq+softirq: includes the loopback receive softirq, and other processes on
// that core: indicative on a shared box), each per GB delivered.
//
//   gcc -O2 -o /tmp/fanout_zc bench/fanout_zc.c
//   taskset -c 0 /tmp/fanout_zc MODE N [CHUNK_KIB=64] [SECS=5] [RECV_CPU=1]
//
// Output, one line: mode= n= chunk= bytes= secs= gbps= sender_cpu_s= cpu_s_per_gb=
// core_busy_s= core_busy_s_per_gb= recv_cpu_s_per_gb= zc_copied= (bench/fanout_zc.sh runs the grid.)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

static void die(const char *what) {
    perror(what);
    exit(1);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double rusage_cpu(int who) {
    struct rusage r;
    getrusage(who, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

// Busy jiffies (user+nice+system+irq+softirq) of one core, from /proc/stat.
static long long core_busy(int cpu) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    char line[512], want[16];
    snprintf(want, sizeof want, "cpu%d ", cpu);
    long long sum = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) == 0) {
            long long u, n, s, idle, io, irq, sirq;
            if (sscanf(line + strlen(want), "%lld %lld %lld %lld %lld %lld %lld", &u, &n, &s, &idle, &io, &irq,
                       &sirq) == 7)
                sum = u + n + s + irq + sirq;
            break;
        }
    }
    fclose(f);
    return sum;
}

static void reader(int *fds, int n, int cpu) {
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) die("epoll_ctl");
    }
    static char buf[1 << 18];
    struct epoll_event evs[256];
    int open = n;
    while (open > 0) {
        int k = epoll_wait(ep, evs, 256, -1);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int j = 0; j < k; j++) {
            int fd = fds[evs[j].data.u32];
            for (;;) {
                ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (r > 0) continue;
                if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    close(fd);
                    open--;
                }
                break;
            }
        }
    }
    _exit(0);
}

static void write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t r = write(fd, p, len);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        p += r;
        len -= (size_t)r;
    }
}

// Reaps MSG_ZEROCOPY completions of one socket; counts those the kernel had to copy.
static long reap(int fd, long *copied) {
    long done = 0;
    for (;;) {
        char ctrl[128];
        struct msghdr m = {.msg_control = ctrl, .msg_controllen = sizeof ctrl};
        if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR) return done;
            die("recvmsg errqueue");
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            struct sock_extended_err *e = (struct sock_extended_err *)CMSG_DATA(c);
            if (e->ee_origin != SO_EE_ORIGIN_ZEROCOPY) continue;
            done += (long)(e->ee_data - e->ee_info + 1);
            if (e->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) *copied += (long)(e->ee_data - e->ee_info + 1);
        }
    }
}

static void send_zc(int fd, const char *p, size_t len, long *copied) {
    while (len > 0) {
        ssize_t r = send(fd, p, len, MSG_ZEROCOPY);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS) { // optmem full of pending notifications: reap and retry
                reap(fd, copied);
                continue;
            }
            die("send MSG_ZEROCOPY");
        }
        p += r;
        len -= (size_t)r;
    }
}

static void splice_all(int from, int to, size_t len) {
    while (len > 0) {
        ssize_t r = splice(from, NULL, to, NULL, len, SPLICE_F_MOVE);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("splice");
        }
        if (r == 0) {
            fprintf(stderr, "splice: pipe empty\n");
            exit(1);
        }
        len -= (size_t)r;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s write|splice|zc N [CHUNK_KIB] [SECS] [RECV_CPU]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int n = atoi(argv[2]);
    size_t chunk = (size_t)(argc > 3 ? atoi(argv[3]) : 64) << 10;
    double secs = argc > 4 ? atof(argv[4]) : 5;
    int recv_cpu = argc > 5 ? atoi(argv[5]) : 1;
    int m_write = !strcmp(mode, "write"), m_splice = !strcmp(mode, "splice"), m_zc = !strcmp(mode, "zc");
    if (n <= 0 || !(m_write || m_splice || m_zc)) {
        fprintf(stderr, "bad mode or N\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    int lst = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (lst < 0 || bind(lst, (struct sockaddr *)&a, sizeof a) < 0 || listen(lst, 4096) < 0 ||
        getsockname(lst, (struct sockaddr *)&a, &al) < 0)
        die("listen");
    int *cli = calloc(n, sizeof *cli), *srv = calloc(n, sizeof *srv);
    int *vp_r = calloc(n, sizeof(int)), *vp_w = calloc(n, sizeof(int));
    for (int i = 0; i < n; i++) {
        cli[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&a, sizeof a) < 0) die("connect");
        srv[i] = accept(lst, NULL, NULL);
        if (srv[i] < 0) die("accept");
        int one = 1;
        if (m_zc && setsockopt(srv[i], SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) < 0) die("SO_ZEROCOPY");
        if (m_splice) {
            int p[2];
            if (pipe(p) < 0) die("pipe (viewer)");
            if (fcntl(p[1], F_SETPIPE_SZ, (int)chunk) < (int)chunk) die("F_SETPIPE_SZ (viewer)");
            vp_r[i] = p[0];
            vp_w[i] = p[1];
        }
    }
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        for (int i = 0; i < n; i++) close(srv[i]);
        reader(cli, n, recv_cpu);
    }
    for (int i = 0; i < n; i++) close(cli[i]);

    char *buf = aligned_alloc(4096, chunk);
    memset(buf, 0x47, chunk);
    int ch[2] = {-1, -1}, devnull = open("/dev/null", O_WRONLY);
    if (m_splice) {
        if (pipe(ch) < 0) die("pipe (channel)");
        if (fcntl(ch[1], F_SETPIPE_SZ, (int)chunk) < (int)chunk) die("F_SETPIPE_SZ (channel)");
    }
    int my_cpu = sched_getcpu();
    long zc_copied = 0;
    unsigned long long bytes = 0;
    double t0 = 0, c0 = 0;
    long long b0 = 0;
    long round = 0;
    const long warm = 20;
    for (;; round++) {
        if (round == warm) {
            t0 = now_s();
            c0 = rusage_cpu(RUSAGE_SELF);
            b0 = core_busy(my_cpu);
            bytes = 0;
        }
        if (round > warm && now_s() - t0 >= secs) break;
        buf[round % chunk] = (char)round; // the channel's next chunk (its arrival is not measured)
        if (m_splice) write_all(ch[1], buf, chunk);
        for (int i = 0; i < n; i++) {
            if (m_write) {
                write_all(srv[i], buf, chunk);
            } else if (m_splice) {
                size_t got = 0;
                while (got < chunk) { // tee takes page references, the channel pipe keeps its data
                    ssize_t r = tee(ch[0], vp_w[i], chunk - got, 0);
                    if (r <= 0) die("tee");
                    got += (size_t)r;
                    if (got < chunk) { // a partial tee: never seen with a chunk-sized pipe
                        fprintf(stderr, "partial tee\n");
                        exit(1);
                    }
                }
                splice_all(vp_r[i], srv[i], chunk);
            } else {
                send_zc(srv[i], buf, chunk, &zc_copied);
                reap(srv[i], &zc_copied);
            }
        }
        if (m_splice) splice_all(ch[0], devnull, chunk); // the channel's chunk is consumed
        bytes += (unsigned long long)chunk * (unsigned long long)n;
    }
    double wall = now_s() - t0, cpu = rusage_cpu(RUSAGE_SELF) - c0;
    double busy = (core_busy(my_cpu) - b0) / (double)sysconf(_SC_CLK_TCK);
    for (int i = 0; i < n; i++) {
        if (m_zc) reap(srv[i], &zc_copied);
        close(srv[i]);
    }
    int st;
    waitpid(child, &st, 0);
    double recv_cpu_s = rusage_cpu(RUSAGE_CHILDREN); // the reader ran only during warm-up + window
    double gb = bytes / 1e9;
    printf("mode=%s n=%d chunk=%zu bytes=%llu secs=%.2f gbps=%.2f sender_cpu_s=%.3f cpu_s_per_gb=%.3f "
           "core_busy_s=%.2f core_busy_s_per_gb=%.3f recv_cpu_s_per_gb=%.3f zc_copied=%ld sender_core=%d\n",
           mode, n, chunk, bytes, wall, gb / wall, cpu, cpu / gb, busy, busy / gb, recv_cpu_s / gb, zc_copied,
           my_cpu);
    return 0;
}
