// sessions: short HTTP stream sessions against 127.0.0.1 (B2 session rate, B4f joins, limit checks).
// Each session: new TCP connection, "GET PATH HTTP/1.1" with Connection: close, read the response
// head and BODY bytes of body (or until EOF), optionally hold the connection HOLD ms, close.
// Closed loop (-c CONC sessions always in flight) or open loop (-r RATE new sessions per second).
//
// usage: sessions -p PORT [-d SECS] [-c CONC | -r RATE] [-b BODY] [-H HOLD_MS] [-A AGENT] PATH [PATH...]
//   paths are used in turn. Prints one line:
//   sessions secs=.. started=.. done=.. ok=.. per_s=.. st200=.. st_other=.. (codes) short=.. errors=..
//   lat_ms p50/p99/max (connect start -> BODY bytes read), ttfb_ms p50/p99/max (connect start ->
//   first body byte), ts_first_0x47=.. pat_first=.. aligned=.. (first body bytes of 200 answers:
//   byte 0 is 0x47, first packet's PID is 0, bytes 188/376 are 0x47 when read), max_admitted=..
//   (most 200 answers open at the same time, as this client sees them: a server that enforces a
//   limit of K connections can never let this exceed K, because a slot is only freed after the
//   client has closed).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { FREE, CONNECTING, READING, HOLDING };
typedef struct {
    int fd, state, status, hdr_done, admitted;
    long long serial; // distinct per session: its User-Agent is AGENT/serial
    int chunked, ch_state; long long ch_left; // chunked transfer decoding: 0 size line, 1 data, 2 CRLF after data
    double t_start, t_first, t_done;
    long long body;
    char head[4096];
    int head_len;
    unsigned char first[400];
    int first_len;
} sess_t;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

static int port = 0, conc = 64, n_paths = 0, ep;
static double rate = 0, dur = 10, hold_ms = 0;
static long long body_want = 65536;
static char **paths;
static const char *agent = "sessions-bench";
static sess_t *S;
static int n_slots;
static struct sockaddr_in sa;
static long long started = 0, done_n = 0, ok = 0, st200 = 0, short_n = 0, errors = 0, connect_err = 0;
static long long codes[600];
static long long ts_ok = 0, ts_bad = 0, pat_first = 0, aligned = 0, misaligned = 0;
static int admitted_now = 0, max_admitted = 0;
static int path_i = 0;
static double t_end;
static char buf[1 << 18];

typedef struct { double *v; long long n, cap; } vec_t;
static vec_t lat, ttfb;
static void push(vec_t *a, double x) {
    if (a->n >= a->cap) { a->cap = a->cap ? a->cap * 2 : 65536; a->v = realloc(a->v, a->cap * sizeof(double)); }
    a->v[a->n++] = x;
}

static void finish(sess_t *s, int err) {
    double t = now();
    if (s->admitted) { admitted_now--; s->admitted = 0; }
    if (s->fd >= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, 0); close(s->fd); }
    s->fd = -1; s->state = FREE;
    if (t > t_end) return; // only sessions that ended inside the window count
    done_n++;
    if (err) { errors++; return; }
    if (s->status >= 0 && s->status < 600) codes[s->status]++;
    if (s->status == 200) {
        st200++;
        if (s->body >= body_want) { ok++; push(&lat, (s->t_done - s->t_start) * 1e3); }
        else short_n++;
        if (s->first_len > 0) {
            if (s->first[0] == 0x47) ts_ok++; else ts_bad++;
            if (s->first_len >= 3 && s->first[0] == 0x47 && (((s->first[1] & 0x1f) << 8) | s->first[2]) == 0) pat_first++;
            if (s->first_len >= 377) { if (s->first[188] == 0x47 && s->first[376] == 0x47) aligned++; else misaligned++; }
        }
    }
}

static void start_one(sess_t *s) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { perror("socket"); exit(1); }
    memset(s, 0, sizeof *s);
    s->fd = fd; s->status = -1; s->t_start = now();
    s->serial = ++started;
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (r < 0 && errno != EINPROGRESS) { connect_err++; s->state = CONNECTING; finish(s, 1); return; }
    s->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void on_writable(sess_t *s) {
    int e = 0; socklen_t l = sizeof e;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e) { connect_err++; finish(s, 1); return; }
    char req[1200];
    const char *p = paths[path_i++ % n_paths];
    // A distinct User-Agent per session: tvgate treats a connection from the same address and
    // player as a reconnect that replaces the older one.
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: %s/%lld\r\nConnection: close\r\n\r\n", p, agent, s->serial);
    if (write(s->fd, req, n) != n) { finish(s, 1); return; }
    s->state = READING;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static void got_body(sess_t *s, const char *p, long long n) {
    if (n <= 0) return;
    if (s->body == 0) s->t_first = now();
    if (s->body == 0 && s->t_first <= t_end) push(&ttfb, (s->t_first - s->t_start) * 1e3);
    int room = (int)sizeof s->first - s->first_len;
    if (room > 0) { int k = n < room ? (int)n : room; memcpy(s->first + s->first_len, p, k); s->first_len += k; }
    s->body += n;
}

// Feeds body bytes, removing the chunked transfer framing when the answer is chunked.
static void body_bytes(sess_t *s, const char *p, long long n) {
    if (!s->chunked) { got_body(s, p, n); return; }
    while (n > 0) {
        if (s->ch_state == 0) { // size line: hex digits, optional extensions, CRLF
            char c = *p++; n--;
            if (c == '\n') { s->ch_state = s->ch_left > 0 ? 1 : 3; }
            else if (c >= '0' && c <= '9') s->ch_left = s->ch_left * 16 + (c - '0');
            else if ((c | 32) >= 'a' && (c | 32) <= 'f') s->ch_left = s->ch_left * 16 + ((c | 32) - 'a' + 10);
            else s->ch_state = 4; // extension: skip to end of line
        } else if (s->ch_state == 4) { if (*p++ == '\n') s->ch_state = s->ch_left > 0 ? 1 : 3; n--; }
        else if (s->ch_state == 1) {
            long long k = n < s->ch_left ? n : s->ch_left;
            got_body(s, p, k); p += k; n -= k; s->ch_left -= k;
            if (s->ch_left == 0) s->ch_state = 2;
        } else if (s->ch_state == 2) { if (*p++ == '\n') { s->ch_state = 0; s->ch_left = 0; } n--; }
        else { n = 0; } // 3: last chunk seen
    }
}

static void on_readable(sess_t *s) {
    for (int rep = 0; rep < 8; rep++) {
        ssize_t r = read(s->fd, buf, sizeof buf);
        if (r < 0) { if (errno == EAGAIN) return; finish(s, s->status < 0); return; }
        if (r == 0) { s->t_done = now(); finish(s, s->status < 0); return; }
        const char *p = buf; long long n = r;
        if (!s->hdr_done) {
            int k = (int)(n < (long long)(sizeof s->head - 1 - s->head_len) ? n : (long long)(sizeof s->head - 1 - s->head_len));
            memcpy(s->head + s->head_len, p, k); s->head_len += k; s->head[s->head_len] = 0;
            char *end = strstr(s->head, "\r\n\r\n");
            if (!end) { if (s->head_len >= (int)sizeof s->head - 1) { finish(s, 1); return; } continue; }
            s->hdr_done = 1;
            int hl = (int)(end + 4 - s->head);
            s->status = atoi(s->head + 9);
            s->head[hl] = 0;
            for (char *q = s->head; *q; q++) if (*q >= 'A' && *q <= 'Z') *q += 32;
            s->chunked = strstr(s->head, "transfer-encoding: chunked") != NULL;
            if (s->status == 200) { s->admitted = 1; admitted_now++; if (admitted_now > max_admitted) max_admitted = admitted_now; }
            // body bytes in this read = those after the head
            long long consumed_before = s->head_len - k; // head bytes from earlier reads
            long long body_off = hl - consumed_before;
            p += body_off; n -= body_off;
        }
        body_bytes(s, p, n);
        if (s->body >= body_want) {
            s->t_done = now();
            if (s->status == 200 && hold_ms > 0) {
                s->state = HOLDING;
                epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, 0);
                return;
            }
            finish(s, 0);
            return;
        }
    }
}

int main(int argc, char **argv) {
    int o;
    while ((o = getopt(argc, argv, "p:d:c:r:b:H:A:")) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'd': dur = atof(optarg); break;
        case 'c': conc = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'b': body_want = atoll(optarg); break;
        case 'H': hold_ms = atof(optarg); break;
        case 'A': agent = optarg; break;
        default: fprintf(stderr, "usage: %s -p PORT [-d S] [-c CONC|-r RATE] [-b BODY] [-H HOLD_MS] [-A AGENT] PATH...\n", argv[0]); return 2;
        }
    }
    if (!port || optind >= argc) { fprintf(stderr, "need -p PORT and a PATH\n"); return 2; }
    paths = argv + optind; n_paths = argc - optind;
    struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl); rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl);
    sa.sin_family = AF_INET; sa.sin_port = htons(port); inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    n_slots = rate > 0 ? (int)(rate * 10) + 64 : conc; // open loop: room for 10 s worth of slow sessions
    if (n_slots > 15000) n_slots = 15000;
    S = calloc(n_slots, sizeof(sess_t));
    for (int i = 0; i < n_slots; i++) { S[i].fd = -1; S[i].state = FREE; }
    ep = epoll_create1(0);
    double t0 = now(); t_end = t0 + dur;
    long long opened = 0;
    struct epoll_event evs[512];
    while (1) {
        double t = now();
        if (t >= t_end) break;
        if (rate > 0) {
            long long due = (long long)((t - t0) * rate) + 1;
            while (opened < due) {
                int i; for (i = 0; i < n_slots && S[i].state != FREE; i++);
                if (i == n_slots) { errors++; opened++; continue; } // no free slot: count as failed join
                start_one(&S[i]); opened++;
            }
        } else {
            for (int i = 0; i < n_slots; i++) if (S[i].state == FREE) start_one(&S[i]);
        }
        for (int i = 0; i < n_slots; i++)
            if (S[i].state == HOLDING && t - S[i].t_done >= hold_ms / 1e3) finish(&S[i], 0);
        int k = epoll_wait(ep, evs, 512, 1);
        for (int e = 0; e < k; e++) {
            sess_t *s = evs[e].data.ptr;
            if (s->state == CONNECTING) { if (evs[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(s); }
            else if (s->state == READING) on_readable(s);
        }
    }
    double secs = now() - t0;
    for (int i = 0; i < n_slots; i++) if (S[i].fd >= 0) { close(S[i].fd); S[i].fd = -1; }
    qsort(lat.v, lat.n, sizeof(double), cmpd);
    qsort(ttfb.v, ttfb.n, sizeof(double), cmpd);
#define PCT(a, n, q) ((n) ? (a)[(long long)((q) * ((n) - 1))] : -1.0)
    printf("sessions secs=%.2f started=%lld done=%lld ok=%lld per_s=%.1f st200=%lld short=%lld errors=%lld connect_err=%lld",
           secs, started, done_n, ok, ok / secs, st200, short_n, errors, connect_err);
    for (int c = 100; c < 600; c++) if (codes[c] && c != 200) printf(" st%d=%lld", c, codes[c]);
    printf(" lat_p50_ms=%.2f lat_p99_ms=%.2f lat_max_ms=%.2f ttfb_p50_ms=%.2f ttfb_p99_ms=%.2f ttfb_max_ms=%.2f ts_first_0x47=%lld ts_first_other=%lld pat_first=%lld aligned=%lld misaligned=%lld max_admitted=%d\n",
           PCT(lat.v, lat.n, 0.5), PCT(lat.v, lat.n, 0.99), lat.n ? lat.v[lat.n - 1] : -1.0,
           PCT(ttfb.v, ttfb.n, 0.5), PCT(ttfb.v, ttfb.n, 0.99), ttfb.n ? ttfb.v[ttfb.n - 1] : -1.0,
           ts_ok, ts_bad, pat_first, aligned, misaligned, max_admitted);
    return 0;
}
