/*
 * zt_bench: the C baseline of rxzt's benchmark (`deno task bench`).
 *
 * Bulk TCP transfers over a ZeroTier network through libzt's C API, to
 * compare rxzt against. bench/run.ts builds it at run time against the user's
 * own libzt (never shipped with rxzt):
 *
 *   cc -O2 -o zt_bench bench/zt_bench.c -I<include> -L<lib> -lzt -Wl,-rpath,<lib>
 *
 * Usage:
 *   zt_bench <planet-file> <network-id-hex> server <port> [connections]
 *   zt_bench <planet-file> <network-id-hex> client <ip> <port> <bytes> [runs [warmup-bytes]]
 *   zt_bench <planet-file> <network-id-hex> echo <port> [<ip> <port> <bytes-per-second>]
 *
 * The server accepts one connection (or <connections>, one after the other),
 * reads until end of stream counting bytes, answers with the count (8 bytes,
 * big-endian), and exits after the last. The client connects (retrying for
 * about 30 s), waits until its peer is reached directly (not through the
 * root), sends <bytes>, half-closes and reads the count back; with <runs> it
 * does that <runs> times, each on a new connection, after an unmeasured
 * transfer of <warmup-bytes> if given. Each transfer prints one JSON line on
 * stdout (the server's first line says it is listening); diagnostics go to
 * stderr. With ZT_BENCH_STEP=1 the client says {"ready":true} after its
 * warm-up and starts each measured transfer when a line arrives on stdin
 * ("go", or "go <ip> <port>" for another destination than its arguments').
 *
 * The client sends the way rxzt does: a non-blocking socket, waiting in
 * zts_bsd_poll when libzt's send buffer is full. (With blocking zts_bsd_send
 * calls, ZT_BENCH_BLOCKING_SEND=1, libzt's TCP stalled on retransmission
 * timeouts far more often in our runs: 5-14 MB/s against 33-113 MB/s.) The
 * server reads with blocking zts_bsd_recv calls.
 *
 * Echo mode (tier 3's C peer for rxzt's liveness tests) serves an echo on
 * <port>: every byte read is written back; at end of stream it half-closes.
 * With a destination it also dials it and streams a pattern at
 * <bytes-per-second> while checking that every byte echoed back is the byte it
 * sent at that offset (a pattern of 32-bit words, so a lost or repeated block
 * shows). Lines on stdin: "status" prints the counts so far; "finish" stops
 * sending, half-closes, reads the echo to its end and prints the result. The
 * echo server prints a line per connection that ends.
 *
 * CPU time comes from getrusage(RUSAGE_SELF), which covers every thread of
 * the process (libzt's own threads included), taken around the transfer.
 */
#define _GNU_SOURCE
#include <ZeroTierSockets.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define ZT_PORT 9993
#define BUF_SIZE (256 * 1024)
/* A gap between receives this long (s) counts as a stall. */
#define STALL_S 0.25
#define CONNECT_DEADLINE_S 30.0
#define DIRECT_WAIT_S 10.0

static atomic_int leaf_direct = 0;
/* ZT_BENCH_BLOCKING_SEND=1: the client sends with blocking zts_bsd_send calls instead. */
static int blocking_send = 0;

static void vnote(const char* fmt, va_list ap)
{
    fprintf(stderr, "zt_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    fflush(stderr);
}

static void die(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(fmt, ap);
    va_end(ap);
    _exit(1);
}

static void note(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(fmt, ap);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec
           + (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Runs on libzt's event thread: only flags, nothing that blocks. */
static void on_event(void* ptr)
{
    zts_event_msg_t* msg = (zts_event_msg_t*)ptr;
    if (msg->event_code == ZTS_EVENT_PEER_DIRECT && msg->peer && msg->peer->role == ZTS_PEER_ROLE_LEAF) {
        atomic_store(&leaf_direct, 1);
    }
}

static void* read_file(const char* path, unsigned int* len)
{
    FILE* f = fopen(path, "rb");
    if (! f) {
        die("cannot open planet file %s: %s", path, strerror(errno));
    }
    static unsigned char data[65536];
    size_t n = fread(data, 1, sizeof(data), f);
    fclose(f);
    if (n == 0) {
        die("planet file %s is empty", path);
    }
    *len = (unsigned int)n;
    return data;
}

/*
 * libzt 1.8 starts its event thread before it marks callbacks as running; a
 * thread that checks first exits and no events arrive (rxzt works around this
 * the same way). The mark is one bit of ZeroTier::service_state.
 */
static void mark_callbacks_running(void)
{
    unsigned char* state = (unsigned char*)dlsym(RTLD_DEFAULT, "_ZN8ZeroTier13service_stateE");
    if (state) {
        *state |= 0x08;
    }
    else {
        note("service_state not found; events may not arrive");
    }
}

static void start_node(const char* planet_path, uint64_t net_id)
{
    unsigned int len = 0;
    void* roots = read_file(planet_path, &len);
    if (zts_init_set_event_handler(on_event) != ZTS_ERR_OK) {
        die("zts_init_set_event_handler failed");
    }
    if (zts_init_set_roots(roots, len) != ZTS_ERR_OK) {
        die("zts_init_set_roots failed");
    }
    /* ZT_BENCH_PORT: another ZeroTier port, for a C node beside an rxzt node in one namespace. */
    const char* port_env = getenv("ZT_BENCH_PORT");
    unsigned short zt_port = port_env ? (unsigned short)atoi(port_env) : ZT_PORT;
    if (zts_init_set_port(zt_port) != ZTS_ERR_OK) {
        die("zts_init_set_port failed");
    }
    zts_init_allow_port_mapping(0);
    zts_init_allow_secondary_port(0);
    zts_init_allow_id_cache(0);
    zts_init_allow_peer_cache(0);
    zts_init_allow_net_cache(0);
    zts_init_allow_roots_cache(0);
    mark_callbacks_running();
    if (zts_node_start() != ZTS_ERR_OK) {
        die("zts_node_start failed");
    }
    double deadline = now_s() + 45.0;
    while (! zts_node_is_online()) {
        if (now_s() > deadline) {
            die("node not online after 45 s");
        }
        sleep_ms(20);
    }
    note("node %010" PRIx64 " online", zts_node_get_id());
    if (zts_net_join(net_id) != ZTS_ERR_OK) {
        die("zts_net_join failed");
    }
    while (! zts_net_transport_is_ready(net_id) || ! zts_addr_is_assigned(net_id, ZTS_AF_INET)) {
        if (now_s() > deadline) {
            die("network %016" PRIx64 " not ready after 45 s", net_id);
        }
        sleep_ms(20);
    }
}

/* Sends all of buf; on a non-blocking socket, waits in zts_bsd_poll whenever the stack is full. */
static void send_all(int fd, const unsigned char* buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = zts_bsd_send(fd, buf + off, len - off, 0);
        if (n < 0 && zts_errno == ZTS_EAGAIN) {
            struct zts_pollfd p = { .fd = fd, .events = ZTS_POLLOUT, .revents = 0 };
            zts_bsd_poll(&p, 1, 100);
            continue;
        }
        if (n < 0) {
            die("zts_bsd_send: rc %zd errno %d", n, zts_errno);
        }
        off += (size_t)n;
    }
}

static void set_nonblocking(int fd, int on)
{
    int flags = zts_bsd_fcntl(fd, ZTS_F_GETFL, 0);
    if (flags < 0) {
        flags = 0;
    }
    if (zts_bsd_fcntl(fd, ZTS_F_SETFL, on ? (flags | ZTS_O_NONBLOCK) : (flags & ~ZTS_O_NONBLOCK)) < 0) {
        die("zts_bsd_fcntl: errno %d", zts_errno);
    }
}

static void put_be64(unsigned char* p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char* p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static int run_server(uint64_t net_id, unsigned short port, int connections)
{
    char addr[ZTS_IP_MAX_STR_LEN] = { 0 };
    zts_addr_get_str(net_id, ZTS_AF_INET, addr, sizeof(addr));
    int lfd = zts_bsd_socket(ZTS_AF_INET, ZTS_SOCK_STREAM, 0);
    if (lfd < 0) {
        die("zts_bsd_socket: rc %d errno %d", lfd, zts_errno);
    }
    struct zts_sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_len = sizeof(sin);
    sin.sin_family = ZTS_AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = 0; /* any */
    if (zts_bsd_bind(lfd, (struct zts_sockaddr*)&sin, sizeof(sin)) < 0) {
        die("zts_bsd_bind: errno %d", zts_errno);
    }
    if (zts_bsd_listen(lfd, 1) < 0) {
        die("zts_bsd_listen: errno %d", zts_errno);
    }
    printf("{\"ready\":true,\"nodeId\":\"%010" PRIx64 "\",\"address\":\"%s\"}\n", zts_node_get_id(), addr);
    fflush(stdout);

    unsigned char* buf = malloc(BUF_SIZE);
    for (int c = 0; c < connections; c++) {
        struct zts_sockaddr_storage peer;
        zts_socklen_t peer_len = sizeof(peer);
        int fd = zts_bsd_accept(lfd, (struct zts_sockaddr*)&peer, &peer_len);
        if (fd < 0) {
            die("zts_bsd_accept: rc %d errno %d", fd, zts_errno);
        }
        double cpu0 = cpu_s();
        double t0 = now_s();
        uint64_t total = 0;
        /* Stalls: gaps of STALL_S or more between receives (libzt's TCP recovering by timeout). */
        int stalls = 0;
        double stalled = 0;
        /* Shorter gaps (2-10 ms, 10-250 ms): a reader this late lets lwIP's receive queue fill. */
        int gaps2 = 0, gaps10 = 0;
        char stall_at[256] = "";
        double last = now_s();
        for (;;) {
            ssize_t n = zts_bsd_recv(fd, buf, BUF_SIZE, 0);
            if (n == 0) {
                break;
            }
            if (n < 0) {
                die("zts_bsd_recv: rc %zd errno %d", n, zts_errno);
            }
            total += (uint64_t)n;
            double t = now_s();
            if (t - last >= STALL_S) {
                stalls++;
                stalled += t - last;
                size_t len = strlen(stall_at);
                if (len < sizeof(stall_at) - 32) {
                    snprintf(stall_at + len, sizeof(stall_at) - len, "%s%.1f", len ? "," : "", (double)(total - n) / 1e6);
                }
            } else if (t - last >= 0.010) {
                gaps10++;
            } else if (t - last >= 0.002) {
                gaps2++;
            }
            last = t;
        }
        unsigned char reply[8];
        put_be64(reply, total);
        send_all(fd, reply, sizeof(reply));
        zts_bsd_shutdown(fd, ZTS_SHUT_WR);
        double t1 = now_s();
        double cpu1 = cpu_s();
        /* Wait for the client to close after reading the count, so the reply is not lost when we exit. */
        double deadline = now_s() + 10.0;
        while (now_s() < deadline) {
            if (zts_bsd_recv(fd, buf, BUF_SIZE, 0) <= 0) {
                break;
            }
        }
        zts_bsd_close(fd);
        printf("{\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"cpu\":%.6f,\"stalls\":%d,\"stalled\":%.3f,"
               "\"gaps2\":%d,\"gaps10\":%d,\"stallAt\":[%s]}\n",
               total, t1 - t0, cpu1 - cpu0, stalls, stalled, gaps2, gaps10, stall_at);
        fflush(stdout);
    }
    zts_bsd_close(lfd);
    return 0;
}

static int connect_with_retry(const char* ip, unsigned short port)
{
    struct zts_sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_len = sizeof(sin);
    sin.sin_family = ZTS_AF_INET;
    sin.sin_port = htons(port);
    if (zts_inet_pton(ZTS_AF_INET, ip, &sin.sin_addr) != 1) {
        die("not an IPv4 address: %s", ip);
    }
    double deadline = now_s() + CONNECT_DEADLINE_S;
    for (int attempt = 1;; attempt++) {
        int fd = zts_bsd_socket(ZTS_AF_INET, ZTS_SOCK_STREAM, 0);
        if (fd < 0) {
            die("zts_bsd_socket: rc %d errno %d", fd, zts_errno);
        }
        if (zts_bsd_connect(fd, (struct zts_sockaddr*)&sin, sizeof(sin)) == 0) {
            note("connected to %s:%u (attempt %d)", ip, port, attempt);
            return fd;
        }
        int err = zts_errno;
        zts_bsd_close(fd);
        if (now_s() > deadline) {
            die("cannot connect to %s:%u within %.0f s (errno %d)", ip, port, CONNECT_DEADLINE_S, err);
        }
        sleep_ms(200);
    }
}

/* One transfer on a new connection; returns wall and CPU seconds from connected to reply read. */
static void transfer(const char* ip, unsigned short port, uint64_t bytes, const unsigned char* buf, double* seconds,
                     double* cpu)
{
    int fd = connect_with_retry(ip, port);
    /* Measure over the direct path, as the rxzt side does: the root's relay is not the subject. */
    double direct_deadline = now_s() + DIRECT_WAIT_S;
    while (! atomic_load(&leaf_direct) && now_s() < direct_deadline) {
        sleep_ms(5);
    }
    if (! blocking_send) {
        set_nonblocking(fd, 1);
    }
    double cpu0 = cpu_s();
    double t0 = now_s();
    uint64_t sent = 0;
    while (sent < bytes) {
        size_t n = bytes - sent < BUF_SIZE ? (size_t)(bytes - sent) : BUF_SIZE;
        send_all(fd, buf, n);
        sent += n;
    }
    if (! blocking_send) {
        set_nonblocking(fd, 0);
    }
    if (zts_bsd_shutdown(fd, ZTS_SHUT_WR) < 0) {
        die("zts_bsd_shutdown: errno %d", zts_errno);
    }
    unsigned char reply[8];
    size_t got = 0;
    while (got < sizeof(reply)) {
        ssize_t n = zts_bsd_recv(fd, reply + got, sizeof(reply) - got, 0);
        if (n <= 0) {
            die("reply cut short after %zu bytes (rc %zd errno %d)", got, n, zts_errno);
        }
        got += (size_t)n;
    }
    *seconds = now_s() - t0;
    *cpu = cpu_s() - cpu0;
    uint64_t count = get_be64(reply);
    if (count != bytes) {
        die("server counted %" PRIu64 " bytes, %" PRIu64 " were sent", count, bytes);
    }
    zts_bsd_close(fd);
}

static int run_client(const char* ip, unsigned short port, uint64_t bytes, int runs, uint64_t warmup)
{
    unsigned char* buf = malloc(BUF_SIZE);
    for (size_t i = 0; i < BUF_SIZE; i++) {
        buf[i] = (unsigned char)(i * 131u + 7u);
    }
    double seconds, cpu;
    if (warmup > 0) {
        transfer(ip, port, warmup, buf, &seconds, &cpu);
        note("warm-up: %" PRIu64 " bytes in %.3f s", warmup, seconds);
    }
    int direct = atomic_load(&leaf_direct);
    if (! direct) {
        note("no PEER_DIRECT event for the server; the path may be relayed");
    }
    /* ZT_BENCH_STEP=1: wait for a line on stdin before each measured transfer, so a driver can
     * interleave these runs with others. */
    int step = getenv("ZT_BENCH_STEP") != NULL;
    if (step) {
        printf("{\"ready\":true}\n");
        fflush(stdout);
    }
    for (int r = 0; r < runs; r++) {
        char line[96];
        char to_ip[64];
        unsigned int to_port = 0;
        const char* dest = ip;
        unsigned short dest_port = port;
        if (step && fgets(line, sizeof(line), stdin) == NULL) {
            break;
        }
        /* "go <ip> <port>" sends this transfer elsewhere (one client feeds several receivers) */
        if (step && sscanf(line, "go %63s %u", to_ip, &to_port) == 2 && to_port > 0 && to_port < 65536) {
            dest = to_ip;
            dest_port = (unsigned short)to_port;
        }
        transfer(dest, dest_port, bytes, buf, &seconds, &cpu);
        printf("{\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"cpu\":%.6f,\"direct\":%s}\n", bytes, seconds, cpu,
               atomic_load(&leaf_direct) ? "true" : "false");
        fflush(stdout);
    }
    return 0;
}


/* ---- echo mode ---------------------------------------------------------- */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* One JSON line on stdout, whole, whichever thread prints it. */
static void emit(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    vprintf(fmt, ap);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}

/* Byte `offset` of the echo client's stream: little-endian 32-bit words w(j) = j * 2654435761 ^ (j >> 7). */
static unsigned char pattern_at(uint64_t offset)
{
    uint64_t j = offset >> 2;
    uint32_t w = (uint32_t)(j * 2654435761u) ^ (uint32_t)(j >> 7);
    return (unsigned char)(w >> (8 * (offset & 3)));
}

/* libzt's errno is a process-wide global; lwIP also sets the calling thread's own. */
static int last_error(void)
{
    return errno ? errno : zts_errno;
}

static void* echo_connection(void* arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char* buf = malloc(64 * 1024);
    uint64_t bytes = 0;
    int err = 0;
    for (;;) {
        errno = 0;
        ssize_t n = zts_bsd_recv(fd, buf, 64 * 1024, 0);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            err = last_error();
            break;
        }
        for (ssize_t off = 0; off < n && ! err;) {
            errno = 0;
            ssize_t m = zts_bsd_send(fd, buf + off, (size_t)(n - off), 0);
            if (m < 0) {
                err = last_error();
            }
            else {
                off += m;
            }
        }
        if (err) {
            break;
        }
        bytes += (uint64_t)n;
    }
    if (! err) {
        zts_bsd_shutdown(fd, ZTS_SHUT_WR);
    }
    zts_bsd_close(fd);
    free(buf);
    emit("{\"echoed\":%" PRIu64 ",\"end\":\"%s\",\"errno\":%d}\n", bytes, err ? "error" : "eof", err);
    return NULL;
}

static void* echo_accept_loop(void* arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = zts_bsd_accept(lfd, NULL, NULL);
        if (fd < 0) {
            sleep_ms(50);
            continue;
        }
        pthread_t t;
        pthread_create(&t, NULL, echo_connection, (void*)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

static struct {
    int fd;
    uint64_t rate;
    atomic_uint_fast64_t sent;
    atomic_uint_fast64_t received;
    atomic_uint_fast64_t mismatches;
    atomic_int error;
    atomic_int finishing;
    atomic_int ended;
} echo_client;

static void* echo_send_loop(void* arg)
{
    (void)arg;
    unsigned char chunk[16 * 1024];
    double t0 = now_s();
    while (! atomic_load(&echo_client.finishing)) {
        uint64_t sent = atomic_load(&echo_client.sent);
        if ((double)sent > (now_s() - t0) * (double)echo_client.rate) {
            sleep_ms(10);
            continue;
        }
        for (size_t i = 0; i < sizeof(chunk); i++) {
            chunk[i] = pattern_at(sent + i);
        }
        for (size_t off = 0; off < sizeof(chunk);) {
            errno = 0;
            ssize_t m = zts_bsd_send(echo_client.fd, chunk + off, sizeof(chunk) - off, 0);
            if (m < 0) {
                atomic_store(&echo_client.error, last_error());
                return NULL;
            }
            off += (size_t)m;
        }
        atomic_store(&echo_client.sent, sent + sizeof(chunk));
    }
    zts_bsd_shutdown(echo_client.fd, ZTS_SHUT_WR);
    return NULL;
}

static void* echo_receive_loop(void* arg)
{
    (void)arg;
    unsigned char buf[64 * 1024];
    for (;;) {
        errno = 0;
        ssize_t n = zts_bsd_recv(echo_client.fd, buf, sizeof(buf), 0);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            atomic_store(&echo_client.error, last_error());
            break;
        }
        uint64_t at = atomic_load(&echo_client.received);
        uint64_t bad = 0;
        for (ssize_t i = 0; i < n; i++) {
            bad += buf[i] != pattern_at(at + (uint64_t)i);
        }
        atomic_fetch_add(&echo_client.mismatches, bad);
        atomic_store(&echo_client.received, at + (uint64_t)n);
    }
    atomic_store(&echo_client.ended, 1);
    return NULL;
}

static void print_echo_client(const char* what)
{
    uint64_t sent = atomic_load(&echo_client.sent);
    uint64_t received = atomic_load(&echo_client.received);
    uint64_t mismatches = atomic_load(&echo_client.mismatches);
    int error = atomic_load(&echo_client.error);
    emit("{\"%s\":true,\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"mismatches\":%" PRIu64
         ",\"errno\":%d,\"ended\":%s,\"intact\":%s}\n",
         what, sent, received, mismatches, error, atomic_load(&echo_client.ended) ? "true" : "false",
         error == 0 && mismatches == 0 && received == sent ? "true" : "false");
}

static int run_echo(unsigned short port, const char* ip, unsigned short dest_port, uint64_t rate)
{
    int lfd = zts_bsd_socket(ZTS_AF_INET, ZTS_SOCK_STREAM, 0);
    struct zts_sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_len = sizeof(sin);
    sin.sin_family = ZTS_AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = 0;
    if (lfd < 0 || zts_bsd_bind(lfd, (struct zts_sockaddr*)&sin, sizeof(sin)) < 0 || zts_bsd_listen(lfd, 16) < 0) {
        die("cannot listen on port %u: errno %d", port, zts_errno);
    }
    pthread_t accepting;
    pthread_create(&accepting, NULL, echo_accept_loop, (void*)(intptr_t)lfd);
    emit("{\"listening\":%u,\"nodeId\":\"%010" PRIx64 "\"}\n", port, zts_node_get_id());
    pthread_t sending, receiving;
    if (ip) {
        echo_client.fd = connect_with_retry(ip, dest_port);
        echo_client.rate = rate;
        pthread_create(&sending, NULL, echo_send_loop, NULL);
        pthread_create(&receiving, NULL, echo_receive_loop, NULL);
        emit("{\"dialled\":\"%s\",\"port\":%u}\n", ip, dest_port);
    }
    char line[64];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "status", 6) == 0 && ip) {
            print_echo_client("status");
        }
        else if (strncmp(line, "finish", 6) == 0 && ip) {
            atomic_store(&echo_client.finishing, 1);
            pthread_join(sending, NULL);
            pthread_join(receiving, NULL);
            zts_bsd_close(echo_client.fd);
            print_echo_client("finished");
        }
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: zt_bench <planet-file> <network-id-hex> server <port> [connections]\n"
            "       zt_bench <planet-file> <network-id-hex> client <ip> <port> <bytes> [runs [warmup-bytes]]\n"
            "       zt_bench <planet-file> <network-id-hex> echo <port> [<ip> <port> <bytes-per-second>]\n");
    exit(2);
}

int main(int argc, char** argv)
{
    if (argc < 5) {
        usage();
    }
    uint64_t net_id = strtoull(argv[2], NULL, 16);
    if (net_id == 0) {
        die("bad network id %s", argv[2]);
    }
    int rc;
    if (strcmp(argv[3], "server") == 0 && (argc == 5 || argc == 6)) {
        unsigned short port = (unsigned short)atoi(argv[4]);
        int connections = argc == 6 ? atoi(argv[5]) : 1;
        if (connections < 1) {
            usage();
        }
        start_node(argv[1], net_id);
        rc = run_server(net_id, port, connections);
    }
    else if (strcmp(argv[3], "client") == 0 && argc >= 7 && argc <= 9) {
        const char* mode = getenv("ZT_BENCH_BLOCKING_SEND");
        blocking_send = mode != NULL && strcmp(mode, "1") == 0;
        unsigned short port = (unsigned short)atoi(argv[5]);
        uint64_t bytes = strtoull(argv[6], NULL, 10);
        int runs = argc >= 8 ? atoi(argv[7]) : 1;
        uint64_t warmup = argc == 9 ? strtoull(argv[8], NULL, 10) : 0;
        if (runs < 1 || bytes == 0) {
            usage();
        }
        start_node(argv[1], net_id);
        rc = run_client(argv[4], port, bytes, runs, warmup);
    }
    else if (strcmp(argv[3], "echo") == 0 && (argc == 5 || argc == 8)) {
        unsigned short port = (unsigned short)atoi(argv[4]);
        const char* ip = argc == 8 ? argv[5] : NULL;
        unsigned short dest_port = argc == 8 ? (unsigned short)atoi(argv[6]) : 0;
        uint64_t rate = argc == 8 ? strtoull(argv[7], NULL, 10) : 0;
        if (port == 0 || (ip && (dest_port == 0 || rate == 0))) {
            usage();
        }
        start_node(argv[1], net_id);
        rc = run_echo(port, ip, dest_port, rate);
    }
    else {
        usage();
        return 2;
    }
    /* libzt's threads are still running; leave without running its static destructors. */
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
}
