// Experiment shim (bench/README.md, B2 per session): replaces the TCP_NOTSENT_LOWAT value a process sets
// with $SHIM_LOWAT, to try another value without a rebuild.
//   gcc -O2 -shared -fPIC -o /tmp/lowat.so bench/lowat_shim.c -ldl
//   SHIM_LOWAT=16384 LD_PRELOAD=/tmp/lowat.so TVGATE_BIN=... bench/b2_sessions.sh
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
    static int (*real)(int, int, int, const void *, socklen_t);
    if (!real) real = dlsym(RTLD_NEXT, "setsockopt");
    if (level == IPPROTO_TCP && name == TCP_NOTSENT_LOWAT && getenv("SHIM_LOWAT")) {
        int v = atoi(getenv("SHIM_LOWAT"));
        return real(fd, level, name, &v, sizeof v);
    }
    return real(fd, level, name, val, len);
}
