#ifndef TRESTLE_CLIBUV_SHIM_H
#define TRESTLE_CLIBUV_SHIM_H
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>

static inline int trestle_set_reuseport(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 ? 0 : -errno;
}
static inline void trestle_write_stderr(const char *s, size_t n) {
    (void)fwrite(s, 1, n, stderr);
    fflush(stderr);
}
#endif
