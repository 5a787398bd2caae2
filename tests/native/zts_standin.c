/*
 * zts_standin.c -- a STAND-IN (test double) for libzt, built for rxzt's CI.
 *
 * THIS IS NOT libzt. It contains no ZeroTier, no virtual network and no
 * crypto. It implements only the subset of the libzt 1.8 C ABI (LP64) that
 * rxzt calls, with fake but self-consistent behaviour, so CI can exercise
 * Deno.dlopen, callbacks arriving on a foreign thread, non-blocking calls and
 * struct decoding without the real library. Its zts_bsd_* socket calls are
 * mapped onto the HOST's own sockets (see "BSD sockets" below), so streams can
 * be tested over the host's loopback. Own struct names and own code: nothing
 * is copied from libzt, ZeroTierOne or lwIP, and no header of theirs is needed
 * to build it.
 *
 * Build:  cc -shared -fPIC -O1 -pthread -o libzt_standin.so tests/native/zts_standin.c
 *
 * Rules of real libzt that it mimics (callers depend on them):
 *  - zts_init_* return -2 (ERR_SERVICE) while the node runs; zts_node_free is
 *    final: every call needing the service returns -2 afterwards.
 *  - events come from a separate thread that polls a bounded queue (1024)
 *    every ~10 ms; a message and its payload are scrubbed (0xDD) and freed as
 *    soon as the handler returns.
 *  - peer payloads are laid out like real libzt fills them (count at byte 76,
 *    garbage where the header's path_count is).
 *  - exact-length rules: zts_id_new and zts_id_pair_is_valid want len == 384,
 *    zts_addr_get_all wants *count == 16, zts_net_get_name wants len == 127,
 *    zts_addr_compute_*_str want len == 46; sockaddr len bytes are 0.
 *
 * Fake root-set blob written by zts_util_sign_root_set (not a real World):
 *   u8 0x01, u64 id BE, u64 ts BE, then per root: u16 BE len + public id,
 *   each endpoint as u16 BE len + text, then u16 0 ending that root.
 *
 * Event messages: `len` is set only for cache events (byte count), else 0.
 *
 * Test-only control API (exported by the stand-in only; no-ops unless running):
 *   void     standin_emit(int code, uint64_t id)          one event, payload by kind
 *   void     standin_emit_burst(int code, uint64_t id, int n)   n at once (1024 cap)
 *   uint64_t standin_dropped_events(void)                 cumulative, never reset
 *   uint64_t standin_delivered_events(void)               handler calls, cumulative
 *   uint64_t standin_event_thread_id(void)                pthread_self() of event thread
 *   uint64_t standin_current_thread_id(void)              pthread_self() of the caller
 *   int      standin_handler_thread_is_caller(void)       1 on the event thread
 *   void     standin_set_online(int online)               NODE_ONLINE/OFFLINE + state
 *   void     standin_peer_sequence(uint64_t peer, int direct)   PEER_DIRECT/RELAY
 *   int      standin_open_sockets(void)                   open zts_bsd_* sockets (any state)
 *
 * BSD sockets (zts_bsd_*): each call goes to a real host socket, translating
 * libzt's constants, sockaddrs (BSD layout with a length byte), option values,
 * poll bits and errno numbers (lwIP's) both ways. Rules mimicked:
 *  - -2 (ERR_SERVICE) unless the node runs (started, not stopped, not freed);
 *    zts_bsd_close works regardless (stand-in choice: real libzt's close also
 *    checks the service), except that, as in lwIP, a non-blocking TCP socket
 *    with SO_LINGER > 0 and unacknowledged data fails with EWOULDBLOCK and stays open. Stopping the node does not close sockets.
 *  - -3 (ERR_ARG) where libzt's wrapper checks: NULL buf (send/recv/recvfrom/
 *    sendto, whatever the length; Deno passes NULL for an empty buffer), NULL
 *    addr or addrlen outside [16, 28] (connect/bind/sendto; getsockname and
 *    getpeername check *addrlen, and here also a NULL addrlen).
 *  - otherwise -1 with the global zts_errno and the calling thread's errno set
 *    (lwIP numbering; EPIPE is reported as ENOTCONN 107); zts_errno is left
 *    alone on success.
 *  - descriptors are the host's numbers, but only those made here are valid
 *    (others: EBADF); at most 1024 open at once (then ENFILE; accept closes the
 *    connection it could not register, as lwIP does).
 *  - sockets are blocking until F_SETFL O_NONBLOCK; F_GETFL also reports
 *    O_RDONLY (2) / O_WRONLY (4) until that side is shut down locally; F_SETFL
 *    ignores those bits and rejects any other with ENOSYS.
 *  - sends never raise SIGPIPE. Sockaddr mismatching the socket's family:
 *    EINVAL; unknown family: EAFNOSUPPORT. sendto on TCP ignores the address;
 *    recvfrom on TCP reports the peer. shutdown on UDP: EOPNOTSUPP. connect on
 *    a connected TCP socket: EISCONN (Linux would accept one more after a
 *    non-blocking connect completed). After a TCP recv returned 0 (end of
 *    stream), later ones fail with ENOTCONN, as in lwIP. A refused connect reports ECONNRESET
 *    (from connect and SO_ERROR), as lwIP does for the RST answering a SYN.
 *  - zts_bsd_poll blocks up to timeout_ms (-1: forever) and may be called from
 *    any thread. A descriptor that is not (or no longer) a stand-in socket makes
 *    it return -1 (EBADF) with POLLNVAL on that entry, as lwIP does; closing a
 *    socket wakes a poll waiting on it. revents are the host's, translated
 *    (Linux reports POLLHUP, which lwIP never does).
 *  - a TCP socket that was never connected nor listening (rxzt's I/O thread
 *    keeps one in its polls as a wake socket) is, as in lwIP: shut down without
 *    complaint (Linux: ENOTCONN), readable from then on, and a poll waiting on
 *    it returns; before that a poll never reports it (Linux: POLLHUP).
 *  - options: SOL_SOCKET REUSEADDR/KEEPALIVE/BROADCAST/LINGER/SNDBUF/RCVBUF/
 *    SNDTIMEO/RCVTIMEO (struct {long sec; long usec;}) and, read-only,
 *    ERROR (translated errno)/TYPE/ACCEPTCONN; IPPROTO_TCP NODELAY/KEEPIDLE/
 *    KEEPINTVL/KEEPCNT; IPPROTO_IP TOS/TTL; IPPROTO_IPV6 V6ONLY. Others:
 *    ENOPROTOOPT. Values follow the host (Linux doubles SO_RCVBUF).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SD_API __attribute__((visibility("default")))

/* ------------------------------------------------------------------------ */
/* Constants                                                                */
/* ------------------------------------------------------------------------ */

enum {
    SD_OK = 0,
    SD_ERR_SOCKET = -1,
    SD_ERR_SERVICE = -2,
    SD_ERR_ARG = -3,
    SD_ERR_NO_RESULT = -4,
    SD_ERR_GENERAL = -5
};

enum {
    EV_NODE_UP = 200, EV_NODE_ONLINE = 201, EV_NODE_OFFLINE = 202, EV_NODE_DOWN = 203,
    EV_NODE_FATAL_ERROR = 204,
    EV_NET_NOT_FOUND = 210, EV_NET_CLIENT_TOO_OLD = 211, EV_NET_REQ_CONFIG = 212,
    EV_NET_OK = 213, EV_NET_ACCESS_DENIED = 214, EV_NET_READY_IP4 = 215,
    EV_NET_READY_IP6 = 216, EV_NET_READY_IP4_IP6 = 217, EV_NET_DOWN = 218,
    EV_NET_UPDATE = 219,
    EV_STACK_UP = 220, EV_STACK_DOWN = 221,
    EV_NETIF_UP = 230, EV_NETIF_DOWN = 231, EV_NETIF_REMOVED = 232,
    EV_NETIF_LINK_UP = 233, EV_NETIF_LINK_DOWN = 234,
    EV_PEER_DIRECT = 240, EV_PEER_RELAY = 241, EV_PEER_UNREACHABLE = 242,
    EV_PEER_PATH_DISCOVERED = 243, EV_PEER_PATH_DEAD = 244,
    EV_ROUTE_ADDED = 250, EV_ROUTE_REMOVED = 251,
    EV_ADDR_ADDED_IP4 = 260, EV_ADDR_REMOVED_IP4 = 261,
    EV_ADDR_ADDED_IP6 = 262, EV_ADDR_REMOVED_IP6 = 263,
    EV_STORE_ID_SECRET = 270, EV_STORE_ID_PUBLIC = 271, EV_STORE_PLANET = 272,
    EV_STORE_PEER = 273, EV_STORE_NETWORK = 274
};

enum { NST_REQUESTING = 0, NST_OK = 1, NST_ACCESS_DENIED = 2, NST_NOT_FOUND = 3 };
enum { NTYPE_PRIVATE = 0, NTYPE_PUBLIC = 1 };
enum { ROLE_LEAF = 0, ROLE_MOON = 1, ROLE_PLANET = 2 };

#define FAM4 2
#define FAM6 10

#define ID_BUF_LEN       384 /* identity buffer length libzt insists on */
#define ID_SECRET_LEN    270 /* 10 + ":0:" + 128 + ":" + 128 */
#define ID_PUBLIC_LEN    141 /* 10 + ":0:" + 128 */
#define IP_STR_LEN       46
#define NET_NAME_LEN     127
#define MAX_ADDRS        16
#define MAX_ROUTES       32
#define MAX_PATHS        64
#define MAX_MCAST        1024
#define MAX_NETS         32
#define QUEUE_MAX        1024
#define POLL_MS          10
#define KEY_LEN          128
#define MAX_ROOTS        16
#define MAX_ENDPOINTS    32

#define VER_MAJOR 1
#define VER_MINOR 8
#define VER_REV   4

/* ------------------------------------------------------------------------ */
/* ABI structs (own definitions, layouts checked below)                     */
/* ------------------------------------------------------------------------ */

typedef struct sd_sockaddr {
    uint8_t len;
    uint8_t family;
    uint16_t port; /* network byte order; for assigned addresses: prefix bits */
    union {
        struct {
            uint8_t addr[4];
            uint8_t unused[20];
        } v4;
        struct {
            uint32_t flowinfo;
            uint8_t addr[16];
            uint32_t scope;
        } v6;
    } u;
} sd_sockaddr;

typedef struct sd_node_payload {
    uint64_t node_id;
    uint16_t port_primary;
    uint16_t port_secondary;
    uint16_t port_tertiary;
    uint8_t ver_major;
    uint8_t ver_minor;
    uint8_t ver_rev;
} sd_node_payload;

typedef struct sd_addr_payload {
    uint64_t net_id;
    sd_sockaddr addr;
} sd_addr_payload;

typedef struct sd_netif_payload {
    uint64_t net_id;
    uint64_t mac;
    int mtu;
} sd_netif_payload;

typedef struct sd_route_payload {
    sd_sockaddr target;
    sd_sockaddr via;
    uint16_t flags;
    uint16_t metric;
} sd_route_payload;

typedef struct sd_mcast_entry {
    uint64_t mac;
    uint32_t adi;
} sd_mcast_entry;

typedef struct sd_net_payload {
    uint64_t net_id;
    uint64_t mac;
    char name[NET_NAME_LEN + 1];
    int status;
    int type;
    unsigned int mtu;
    int dhcp;
    int bridge;
    int broadcast_enabled;
    int port_error;
    unsigned long netconf_rev;
    unsigned int assigned_addr_count;
    sd_sockaddr assigned_addrs[MAX_ADDRS];
    unsigned int route_count;
    sd_route_payload routes[MAX_ROUTES];
    unsigned int multicast_sub_count;
    sd_mcast_entry multicast_subs[MAX_MCAST];
} sd_net_payload;

typedef struct sd_event_msg {
    int16_t event_code;
    sd_node_payload* node;
    sd_net_payload* network;
    sd_netif_payload* netif;
    sd_route_payload* route;
    void* peer; /* raw bytes, see PEER_* below */
    sd_addr_payload* addr;
    void* cache;
    int len;
} sd_event_msg;

/* Peer payload, laid out as real libzt fills it (not as its header says). */
#define PEER_SIZE        7720
#define PEER_OFF_ID      0
#define PEER_OFF_VMAJ    8
#define PEER_OFF_VMIN    12
#define PEER_OFF_VREV    16
#define PEER_OFF_LATENCY 20
#define PEER_OFF_ROLE    24
#define PEER_OFF_JUNK    28 /* header's path_count + pad: garbage */
#define PEER_OFF_PATHS   40
#define PEER_PATH_STRIDE 120
#define PEER_OFF_COUNT   76 /* the real path count (u32) */

#define SD_CHECK(cond) _Static_assert(cond, #cond)
SD_CHECK(sizeof(sd_sockaddr) == 28);
SD_CHECK(offsetof(sd_sockaddr, family) == 1);
SD_CHECK(offsetof(sd_sockaddr, port) == 2);
SD_CHECK(offsetof(sd_sockaddr, u.v4.addr) == 4);
SD_CHECK(offsetof(sd_sockaddr, u.v6.flowinfo) == 4);
SD_CHECK(offsetof(sd_sockaddr, u.v6.addr) == 8);
SD_CHECK(offsetof(sd_sockaddr, u.v6.scope) == 24);
SD_CHECK(sizeof(sd_event_msg) == 72);
SD_CHECK(offsetof(sd_event_msg, node) == 8);
SD_CHECK(offsetof(sd_event_msg, network) == 16);
SD_CHECK(offsetof(sd_event_msg, netif) == 24);
SD_CHECK(offsetof(sd_event_msg, route) == 32);
SD_CHECK(offsetof(sd_event_msg, peer) == 40);
SD_CHECK(offsetof(sd_event_msg, addr) == 48);
SD_CHECK(offsetof(sd_event_msg, cache) == 56);
SD_CHECK(offsetof(sd_event_msg, len) == 64);
SD_CHECK(sizeof(sd_node_payload) == 24);
SD_CHECK(offsetof(sd_node_payload, port_primary) == 8);
SD_CHECK(offsetof(sd_node_payload, port_secondary) == 10);
SD_CHECK(offsetof(sd_node_payload, port_tertiary) == 12);
SD_CHECK(offsetof(sd_node_payload, ver_major) == 14);
SD_CHECK(offsetof(sd_node_payload, ver_minor) == 15);
SD_CHECK(offsetof(sd_node_payload, ver_rev) == 16);
SD_CHECK(sizeof(sd_addr_payload) == 40);
SD_CHECK(offsetof(sd_addr_payload, addr) == 8);
SD_CHECK(sizeof(sd_netif_payload) == 24);
SD_CHECK(offsetof(sd_netif_payload, mac) == 8);
SD_CHECK(offsetof(sd_netif_payload, mtu) == 16);
SD_CHECK(sizeof(sd_route_payload) == 60);
SD_CHECK(offsetof(sd_route_payload, via) == 28);
SD_CHECK(offsetof(sd_route_payload, flags) == 56);
SD_CHECK(offsetof(sd_route_payload, metric) == 58);
SD_CHECK(sizeof(sd_net_payload) == 18952);
SD_CHECK(offsetof(sd_net_payload, mac) == 8);
SD_CHECK(offsetof(sd_net_payload, name) == 16);
SD_CHECK(offsetof(sd_net_payload, status) == 144);
SD_CHECK(offsetof(sd_net_payload, type) == 148);
SD_CHECK(offsetof(sd_net_payload, mtu) == 152);
SD_CHECK(offsetof(sd_net_payload, dhcp) == 156);
SD_CHECK(offsetof(sd_net_payload, bridge) == 160);
SD_CHECK(offsetof(sd_net_payload, broadcast_enabled) == 164);
SD_CHECK(offsetof(sd_net_payload, port_error) == 168);
SD_CHECK(offsetof(sd_net_payload, netconf_rev) == 176);
SD_CHECK(offsetof(sd_net_payload, assigned_addr_count) == 184);
SD_CHECK(offsetof(sd_net_payload, assigned_addrs) == 188);
SD_CHECK(offsetof(sd_net_payload, route_count) == 636);
SD_CHECK(offsetof(sd_net_payload, routes) == 640);
SD_CHECK(offsetof(sd_net_payload, multicast_sub_count) == 2560);
SD_CHECK(offsetof(sd_net_payload, multicast_subs) == 2568);
SD_CHECK(sizeof(sd_mcast_entry) == 16);
SD_CHECK(PEER_OFF_PATHS + MAX_PATHS * PEER_PATH_STRIDE == PEER_SIZE);
SD_CHECK(PEER_OFF_COUNT >= PEER_OFF_PATHS + (int)sizeof(sd_sockaddr));

/* ------------------------------------------------------------------------ */
/* Internal state                                                           */
/* ------------------------------------------------------------------------ */

/* One queued event: the message handed to the handler plus its payload. */
typedef struct sd_item {
    struct sd_item* next;
    uint64_t due_ms;  /* for the timer list */
    int action;       /* side effect applied when the item comes due */
    uint64_t net_tag; /* network an item belongs to (0: none) */
    sd_event_msg* msg;
    void* payload;
    size_t payload_size;
} sd_item;

enum { ACT_NONE = 0, ACT_GO_ONLINE, ACT_NET_APPLY };

typedef struct sd_netcfg {
    int status;
    int type;
    unsigned int mtu;
    char name[NET_NAME_LEN + 1];
    unsigned long rev;
    unsigned int naddrs;
    sd_sockaddr addrs[MAX_ADDRS];
    unsigned int nroutes;
    sd_route_payload routes[MAX_ROUTES];
} sd_netcfg;

typedef struct sd_net {
    int used;
    uint64_t id;
    uint64_t mac;
    sd_netcfg cur;    /* what queries answer */
    sd_netcfg target; /* applied when NETWORK_OK/NOT_FOUND/... comes due */
} sd_net;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

/* lifecycle */
static int g_running;  /* node started and not stopped */
static int g_freed;    /* zts_node_free was called: final */
static int g_online;

/* init options */
static void (*g_handler)(void*);
static char g_storage[1024];
static int g_has_storage;
static char g_mem_identity[ID_BUF_LEN];
static int g_has_mem_identity;
static unsigned short g_port_cfg;
static int g_port_cfg_set;
static unsigned short g_rand_lo, g_rand_hi;
static int g_rand_set;
static unsigned int g_allow_secondary = 1;
static unsigned int g_allow_port_mapping = 1;
static unsigned int g_allow_net_cache = 1;
static unsigned int g_allow_peer_cache = 1;
static unsigned int g_allow_roots_cache = 1;
static unsigned int g_allow_id_cache = 1;
static int g_low_bandwidth;

/* node */
static uint64_t g_node_id;
static unsigned short g_port, g_port2, g_port3;
static char g_id_secret[ID_BUF_LEN];
static char g_id_public[ID_BUF_LEN];
static sd_net g_nets[MAX_NETS];

/* event machinery */
static sd_item* g_timers;      /* sorted by due_ms */
static sd_item* g_q_head;      /* delivery queue, FIFO, bounded */
static sd_item* g_q_tail;
static unsigned int g_q_len;
static uint64_t g_dropped;
static uint64_t g_delivered;
static pthread_t g_thread;
static int g_thread_made;      /* created and neither joined nor detached */
static int g_thread_alive;     /* set by the thread, cleared when it leaves */
static int g_thread_quit;
static int g_in_handler;
static uint64_t g_thread_tid;

SD_API int zts_errno = 0;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void random_bytes(void* dst, size_t n)
{
    static uint64_t fallback;
    FILE* f = fopen("/dev/urandom", "rb");
    size_t got = 0;
    if (f) {
        got = fread(dst, 1, n, f);
        fclose(f);
    }
    if (got == n) {
        return;
    }
    if (!fallback) {
        fallback = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    }
    for (size_t i = got; i < n; i++) {
        fallback ^= fallback << 13;
        fallback ^= fallback >> 7;
        fallback ^= fallback << 17;
        ((uint8_t*)dst)[i] = (uint8_t)fallback;
    }
}

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int all_hex(const char* s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* "<10 hex>:0:<128 hex>:<128 hex>" */
static int secret_identity_ok(const char* s, size_t n)
{
    if (n != ID_SECRET_LEN) {
        return 0;
    }
    return all_hex(s, 10) && s[10] == ':' && s[11] == '0' && s[12] == ':' && all_hex(s + 13, 128)
           && s[141] == ':' && all_hex(s + 142, 128);
}

static void make_identity(char* out /* >= ID_SECRET_LEN + 1 */)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[5 + 64 + 64];
    random_bytes(raw, sizeof raw);
    /* 40-bit address: never 0, never starting with 0xff (reserved) */
    if (raw[0] == 0xff) {
        raw[0] = 0x7e;
    }
    if (!(raw[0] | raw[1] | raw[2] | raw[3] | raw[4])) {
        raw[4] = 1;
    }
    char* p = out;
    for (int i = 0; i < 5; i++) {
        *p++ = hex[raw[i] >> 4];
        *p++ = hex[raw[i] & 15];
    }
    *p++ = ':';
    *p++ = '0';
    *p++ = ':';
    for (int i = 5; i < 5 + 64; i++) {
        *p++ = hex[raw[i] >> 4];
        *p++ = hex[raw[i] & 15];
    }
    *p++ = ':';
    for (int i = 5 + 64; i < 5 + 128; i++) {
        *p++ = hex[raw[i] >> 4];
        *p++ = hex[raw[i] & 15];
    }
    *p = '\0';
}

static void sa_set4(sd_sockaddr* sa, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    memset(sa, 0, sizeof *sa);
    sa->len = 0; /* real libzt leaves the length byte 0 */
    sa->family = FAM4;
    sa->port = htons(port);
    sa->u.v4.addr[0] = a;
    sa->u.v4.addr[1] = b;
    sa->u.v4.addr[2] = c;
    sa->u.v4.addr[3] = d;
}

static void sa_set6(sd_sockaddr* sa, const uint8_t addr[16], uint16_t port)
{
    memset(sa, 0, sizeof *sa);
    sa->len = 0;
    sa->family = FAM6;
    sa->port = htons(port);
    memcpy(sa->u.v6.addr, addr, 16);
}

/* fc | 32 bits of (nwid ^ nwid>>32) | 40-bit node | 0... | 01 */
static void addr_6plane(uint64_t nwid, uint64_t node, uint8_t out[16])
{
    uint32_t x = (uint32_t)((nwid ^ (nwid >> 32)) & 0xffffffffu);
    memset(out, 0, 16);
    out[0] = 0xfc;
    for (int i = 0; i < 4; i++) {
        out[1 + i] = (uint8_t)(x >> (24 - 8 * i));
    }
    for (int i = 0; i < 5; i++) {
        out[5 + i] = (uint8_t)(node >> (32 - 8 * i));
    }
    out[15] = 0x01;
}

/* fd | 64-bit nwid | 99 93 | 40-bit node */
static void addr_rfc4193(uint64_t nwid, uint64_t node, uint8_t out[16])
{
    out[0] = 0xfd;
    for (int i = 0; i < 8; i++) {
        out[1 + i] = (uint8_t)(nwid >> (56 - 8 * i));
    }
    out[9] = 0x99;
    out[10] = 0x93;
    for (int i = 0; i < 5; i++) {
        out[11 + i] = (uint8_t)(node >> (32 - 8 * i));
    }
}

static uint64_t fake_mac(uint64_t nwid, uint64_t node)
{
    uint64_t first = ((nwid & 0xfe) | 0x02) & 0xff;
    return (first << 40) | ((node ^ (nwid >> 8)) & 0xffffffffffull);
}

static int payload_kind_of(int code)
{
    if (code >= 200 && code <= 204) return 'n';
    if (code >= 210 && code <= 219) return 'w';
    if (code >= 230 && code <= 234) return 'i';
    if (code >= 240 && code <= 244) return 'p';
    if (code >= 250 && code <= 251) return 'r';
    if (code >= 260 && code <= 263) return 'a';
    if (code >= 270 && code <= 274) return 'c';
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Event items                                                              */
/* ------------------------------------------------------------------------ */

static void item_free(sd_item* it, int scrub)
{
    if (!it) {
        return;
    }
    if (it->msg) {
        if (scrub) {
            memset(it->msg, 0xDD, sizeof *it->msg);
        }
        free(it->msg);
    }
    if (it->payload) {
        if (scrub) {
            memset(it->payload, 0xDD, it->payload_size);
        }
        free(it->payload);
    }
    free(it);
}

static void list_free(sd_item* it)
{
    while (it) {
        sd_item* next = it->next;
        item_free(it, 1);
        it = next;
    }
}

static sd_item* item_new(int code, void* payload, size_t size)
{
    sd_item* it = calloc(1, sizeof *it);
    sd_event_msg* m = calloc(1, sizeof *m);
    if (!it || !m) {
        free(it);
        free(m);
        free(payload);
        return NULL;
    }
    m->event_code = (int16_t)code;
    it->msg = m;
    it->payload = payload;
    it->payload_size = payload ? size : 0;
    switch (payload_kind_of(code)) {
        case 'n': m->node = payload; break;
        case 'w': m->network = payload; break;
        case 'i': m->netif = payload; break;
        case 'p': m->peer = payload; break;
        case 'r': m->route = payload; break;
        case 'a': m->addr = payload; break;
        case 'c':
            m->cache = payload;
            m->len = (int)it->payload_size;
            break;
        default: break;
    }
    return it;
}

/* Payload builders (call with g_mu held; they read node state). */

static void* pl_node(void)
{
    sd_node_payload* p = calloc(1, sizeof *p);
    if (p) {
        p->node_id = g_node_id;
        p->port_primary = g_port;
        p->port_secondary = g_port2;
        p->port_tertiary = g_port3;
        p->ver_major = VER_MAJOR;
        p->ver_minor = VER_MINOR;
        p->ver_rev = VER_REV;
    }
    return p;
}

static void* pl_net(uint64_t nwid, uint64_t mac, const sd_netcfg* cfg)
{
    sd_net_payload* p = calloc(1, sizeof *p);
    if (!p) {
        return NULL;
    }
    p->net_id = nwid;
    if (cfg) {
        p->mac = mac;
        memcpy(p->name, cfg->name, sizeof p->name);
        p->status = cfg->status;
        p->type = cfg->type;
        p->mtu = cfg->mtu;
        p->broadcast_enabled = cfg->status == NST_OK;
        p->netconf_rev = cfg->rev;
        p->assigned_addr_count = cfg->naddrs;
        memcpy(p->assigned_addrs, cfg->addrs, sizeof(sd_sockaddr) * cfg->naddrs);
        p->route_count = cfg->nroutes;
        memcpy(p->routes, cfg->routes, sizeof(sd_route_payload) * cfg->nroutes);
    }
    return p;
}

static void* pl_addr(uint64_t nwid, const sd_sockaddr* sa)
{
    sd_addr_payload* p = calloc(1, sizeof *p);
    if (p) {
        p->net_id = nwid;
        p->addr = *sa;
    }
    return p;
}

static void* pl_route(const sd_route_payload* r)
{
    sd_route_payload* p = calloc(1, sizeof *p);
    if (p) {
        *p = *r;
    }
    return p;
}

static void* pl_netif(uint64_t nwid, uint64_t mac, int mtu)
{
    sd_netif_payload* p = calloc(1, sizeof *p);
    if (p) {
        p->net_id = nwid;
        p->mac = mac;
        p->mtu = mtu;
    }
    return p;
}

static void put_u32(uint8_t* b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put_i32(uint8_t* b, size_t off, int32_t v) { memcpy(b + off, &v, 4); }

static void* pl_peer(uint64_t peer, int role, int latency, unsigned int npaths, const sd_sockaddr* paths)
{
    uint8_t* b = malloc(PEER_SIZE);
    if (!b) {
        return NULL;
    }
    memset(b, 0, PEER_OFF_PATHS);
    memset(b + PEER_OFF_JUNK, 0xA5, PEER_OFF_PATHS - PEER_OFF_JUNK);
    memset(b + PEER_OFF_PATHS, 0xA5, PEER_SIZE - PEER_OFF_PATHS);
    memcpy(b + PEER_OFF_ID, &peer, 8);
    put_i32(b, PEER_OFF_VMAJ, VER_MAJOR);
    put_i32(b, PEER_OFF_VMIN, VER_MINOR);
    put_i32(b, PEER_OFF_VREV, VER_REV);
    put_i32(b, PEER_OFF_LATENCY, latency);
    put_i32(b, PEER_OFF_ROLE, role);
    if (npaths > MAX_PATHS) {
        npaths = MAX_PATHS;
    }
    for (unsigned int i = 0; i < npaths; i++) {
        memcpy(b + PEER_OFF_PATHS + i * PEER_PATH_STRIDE, &paths[i], sizeof(sd_sockaddr));
    }
    put_u32(b, PEER_OFF_COUNT, npaths);
    return b;
}

static void* pl_cache(const void* data, size_t len)
{
    void* p = malloc(len ? len : 1);
    if (p && len) {
        memcpy(p, data, len);
    }
    return p;
}

static void test_paths(sd_sockaddr out[2])
{
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
    sa_set4(&out[0], 192, 0, 2, 10, 9993);
    sa_set6(&out[1], v6, 9993);
}

static sd_item* mk_peer_item(int code, uint64_t peer, int role, unsigned int npaths, const sd_sockaddr* paths)
{
    return item_new(code, pl_peer(peer, role, 7, npaths, paths), PEER_SIZE);
}

/* ------------------------------------------------------------------------ */
/* Queues (g_mu held)                                                       */
/* ------------------------------------------------------------------------ */

/* Into the bounded delivery queue; over QUEUE_MAX the item is dropped. */
static void q_push(sd_item* it)
{
    if (!it) {
        g_dropped++;
        return;
    }
    if (g_q_len >= QUEUE_MAX) {
        g_dropped++;
        item_free(it, 1);
        return;
    }
    it->next = NULL;
    if (g_q_tail) {
        g_q_tail->next = it;
    }
    else {
        g_q_head = it;
    }
    g_q_tail = it;
    g_q_len++;
}

/* Schedule an item: it reaches the delivery queue after delay_ms. */
static void timer_add(sd_item* it, uint64_t base, uint64_t delay_ms, int action, uint64_t net_tag)
{
    if (!it) {
        return;
    }
    it->due_ms = base + delay_ms;
    it->action = action;
    it->net_tag = net_tag;
    sd_item** pp = &g_timers;
    while (*pp && (*pp)->due_ms <= it->due_ms) {
        pp = &(*pp)->next;
    }
    it->next = *pp;
    *pp = it;
}

static void timers_purge_net(uint64_t nwid)
{
    sd_item** pp = &g_timers;
    while (*pp) {
        if ((*pp)->net_tag == nwid) {
            sd_item* dead = *pp;
            *pp = dead->next;
            item_free(dead, 1);
        }
        else {
            pp = &(*pp)->next;
        }
    }
}

static void discard_all_events(void)
{
    list_free(g_timers);
    g_timers = NULL;
    list_free(g_q_head);
    g_q_head = g_q_tail = NULL;
    g_q_len = 0;
}

static sd_net* net_find(uint64_t nwid)
{
    for (int i = 0; i < MAX_NETS; i++) {
        if (g_nets[i].used && g_nets[i].id == nwid) {
            return &g_nets[i];
        }
    }
    return NULL;
}

static void apply_action(sd_item* it)
{
    if (it->action == ACT_GO_ONLINE) {
        g_online = 1;
    }
    else if (it->action == ACT_NET_APPLY) {
        sd_net* n = net_find(it->net_tag);
        if (n) {
            n->cur = n->target;
        }
    }
}

/* Move due timers into the delivery queue, applying their side effects. */
static void timers_fire(uint64_t now)
{
    while (g_timers && g_timers->due_ms <= now) {
        sd_item* it = g_timers;
        g_timers = it->next;
        apply_action(it);
        q_push(it);
    }
}

/* ------------------------------------------------------------------------ */
/* Event thread                                                             */
/* ------------------------------------------------------------------------ */

static void* event_thread(void* arg)
{
    (void)arg;
    pthread_mutex_lock(&g_mu);
    g_thread_tid = (uint64_t)pthread_self();
    while (!g_thread_quit) {
        if (g_running) {
            timers_fire(now_ms());
        }
        while (g_running && !g_thread_quit && g_q_head) {
            sd_item* it = g_q_head;
            g_q_head = it->next;
            if (!g_q_head) {
                g_q_tail = NULL;
            }
            g_q_len--;
            it->next = NULL;
            void (*h)(void*) = g_handler;
            if (h) {
                g_delivered++;
                g_in_handler = 1;
                pthread_mutex_unlock(&g_mu);
                h(it->msg);
                item_free(it, 1); /* a handler keeping the pointer reads 0xDD */
                pthread_mutex_lock(&g_mu);
                g_in_handler = 0;
            }
            else {
                item_free(it, 1);
            }
        }
        if (g_thread_quit) {
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
    }
    g_thread_alive = 0;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

/* Ask the event thread to leave. Joins it only if it is not inside the
 * handler (so this can never wait on the handler); otherwise detaches it.
 * Called with g_mu held; returns with g_mu held. */
static void thread_retire(int wait_ms_if_busy)
{
    if (!g_thread_made) {
        return;
    }
    g_thread_quit = 1;
    pthread_cond_broadcast(&g_cv);
    if (g_in_handler && wait_ms_if_busy > 0 && !pthread_equal(pthread_self(), g_thread)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms_if_busy / 1000;
        ts.tv_nsec += (long)(wait_ms_if_busy % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        while (g_thread_alive && g_in_handler) {
            if (pthread_cond_timedwait(&g_cv, &g_mu, &ts) == ETIMEDOUT) {
                break;
            }
        }
    }
    pthread_t t = g_thread;
    g_thread_made = 0;
    if (g_in_handler || pthread_equal(pthread_self(), t)) {
        pthread_detach(t);
        return;
    }
    pthread_mutex_unlock(&g_mu);
    pthread_join(t, NULL);
    pthread_mutex_lock(&g_mu);
}

static int thread_ensure(void)
{
    if (g_thread_made) {
        return 0;
    }
    g_thread_quit = 0;
    g_thread_alive = 1;
    if (pthread_create(&g_thread, NULL, event_thread, NULL) != 0) {
        g_thread_alive = 0;
        return -1;
    }
    g_thread_made = 1;
    g_thread_tid = (uint64_t)g_thread;
    return 0;
}

/* On dlclose / process exit: stop the thread so no code of ours runs after
 * unmapping. Waits a little if the thread is inside the handler. */
__attribute__((destructor)) static void standin_unload(void)
{
    pthread_mutex_lock(&g_mu);
    g_running = 0;
    thread_retire(200);
    /* a thread detached earlier (free called during a callback) may still be
     * finishing its callback: give it a moment */
    uint64_t deadline = now_ms() + 200;
    while (g_thread_alive && now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec += 1;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
    }
    discard_all_events();
    pthread_mutex_unlock(&g_mu);
}

/* ------------------------------------------------------------------------ */
/* Init functions                                                           */
/* ------------------------------------------------------------------------ */

/* Locks g_mu; returns an error code (and unlocks) if the node is running or
 * freed, else 0 with g_mu still held. */
static int lock_offline(void)
{
    pthread_mutex_lock(&g_mu);
    if (g_freed || g_running) {
        pthread_mutex_unlock(&g_mu);
        return SD_ERR_SERVICE;
    }
    return 0;
}

/* Locks g_mu; returns 0 with it held if the node runs, else unlocks. */
static int lock_running(void)
{
    pthread_mutex_lock(&g_mu);
    if (g_freed || !g_running) {
        pthread_mutex_unlock(&g_mu);
        return SD_ERR_SERVICE;
    }
    return 0;
}

/* evaluates v while still holding g_mu, then unlocks and returns it */
#define UNLOCK_RETURN(v)                                                                                               \
    do {                                                                                                               \
        __typeof__(v) ret_ = (v);                                                                                      \
        pthread_mutex_unlock(&g_mu);                                                                                   \
        return ret_;                                                                                                   \
    } while (0)

SD_API int zts_init_from_storage(const char* path)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    if (!path || strlen(path) >= sizeof g_storage - 32) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    strcpy(g_storage, path);
    g_has_storage = 1;
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_init_from_memory(const char* key, unsigned int len)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    if (!key || len == 0) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    size_t n = strnlen(key, len < ID_BUF_LEN ? len : ID_BUF_LEN);
    if (!secret_identity_ok(key, n)) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    memcpy(g_mem_identity, key, n);
    g_mem_identity[n] = '\0';
    g_has_mem_identity = 1;
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_init_set_event_handler(void (*cb)(void*))
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    if (!cb) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    g_handler = cb;
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_init_set_roots(const void* data, unsigned int len)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    UNLOCK_RETURN((!data || len == 0) ? SD_ERR_ARG : SD_OK);
}

SD_API int zts_init_set_port(unsigned short port)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    g_port_cfg = port;
    g_port_cfg_set = 1;
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_init_set_random_port_range(unsigned short start, unsigned short end)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    g_rand_lo = start;
    g_rand_hi = end;
    g_rand_set = 1;
    UNLOCK_RETURN(SD_OK);
}

#define SIMPLE_FLAG_SETTER(fn, var)                                                                                    \
    SD_API int fn(unsigned int allowed)                                                                                \
    {                                                                                                                  \
        int e = lock_offline();                                                                                        \
        if (e) {                                                                                                       \
            return e;                                                                                                  \
        }                                                                                                              \
        var = allowed ? 1u : 0u;                                                                                       \
        UNLOCK_RETURN(SD_OK);                                                                                          \
    }

SIMPLE_FLAG_SETTER(zts_init_allow_secondary_port, g_allow_secondary)
SIMPLE_FLAG_SETTER(zts_init_allow_port_mapping, g_allow_port_mapping)
SIMPLE_FLAG_SETTER(zts_init_allow_net_cache, g_allow_net_cache)
SIMPLE_FLAG_SETTER(zts_init_allow_peer_cache, g_allow_peer_cache)
SIMPLE_FLAG_SETTER(zts_init_allow_roots_cache, g_allow_roots_cache)
SIMPLE_FLAG_SETTER(zts_init_allow_id_cache, g_allow_id_cache)

SD_API int zts_init_set_low_bandwidth_mode(int enabled)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    g_low_bandwidth = enabled ? 1 : 0;
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_init_blacklist_if(const char* prefix, unsigned int len)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    UNLOCK_RETURN((!prefix || len == 0) ? SD_ERR_ARG : SD_OK);
}

/* ------------------------------------------------------------------------ */
/* Node                                                                     */
/* ------------------------------------------------------------------------ */

static int read_small_file(const char* path, char* buf, size_t cap, size_t* out_len)
{
    FILE* f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    size_t n = fread(buf, 1, cap, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        return -2; /* larger than cap */
    }
    *out_len = n;
    return 0;
}

static void write_small_file(const char* dir, const char* name, const char* data)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, strlen(data), f);
        fclose(f);
    }
}

static void pick_identity(void)
{
    if (g_has_mem_identity) {
        strcpy(g_id_secret, g_mem_identity);
        return;
    }
    if (g_has_storage) {
        char path[1100], buf[ID_BUF_LEN];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/identity.secret", g_storage);
        if (read_small_file(path, buf, sizeof buf - 1, &n) == 0) {
            while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
                n--;
            }
            if (secret_identity_ok(buf, n)) {
                memcpy(g_id_secret, buf, n);
                g_id_secret[n] = '\0';
                return;
            }
        }
    }
    make_identity(g_id_secret);
}

static unsigned short pick_port(void)
{
    if (g_port_cfg_set && g_port_cfg != 0) {
        return g_port_cfg;
    }
    if (g_port_cfg_set || g_rand_set) { /* port 0 or a range: random */
        unsigned lo = g_rand_set ? g_rand_lo : 20000, hi = g_rand_set ? g_rand_hi : 45000;
        if (hi < lo || lo == 0) {
            lo = 20000;
            hi = 45000;
        }
        uint32_t r;
        random_bytes(&r, sizeof r);
        return (unsigned short)(lo + r % (hi - lo + 1));
    }
    return 9993;
}

SD_API int zts_node_start(void)
{
    int e = lock_offline();
    if (e) {
        return e;
    }
    pick_identity();
    memcpy(g_id_public, g_id_secret, ID_PUBLIC_LEN);
    g_id_public[ID_PUBLIC_LEN] = '\0';
    char idhex[11];
    memcpy(idhex, g_id_secret, 10);
    idhex[10] = '\0';
    g_node_id = strtoull(idhex, NULL, 16);
    g_port = pick_port();
    g_port2 = g_allow_secondary ? (unsigned short)(20000 + (g_node_id % 40000)) : 0;
    g_port3 = 0;
    g_online = 0;
    memset(g_nets, 0, sizeof g_nets);
    discard_all_events();

    if (g_has_storage && g_allow_id_cache) {
        if (mkdir(g_storage, 0700) == 0 || errno == EEXIST) {
            write_small_file(g_storage, "identity.public", g_id_public);
            write_small_file(g_storage, "identity.secret", g_id_secret);
        }
    }
    if (thread_ensure() != 0) {
        UNLOCK_RETURN(SD_ERR_GENERAL);
    }
    g_running = 1;

    uint64_t t0 = now_ms();
    timer_add(item_new(EV_NODE_UP, pl_node(), sizeof(sd_node_payload)), t0, 0, ACT_NONE, 0);
    timer_add(item_new(EV_STORE_ID_PUBLIC, pl_cache(g_id_public, strlen(g_id_public)), strlen(g_id_public)), t0, 1,
              ACT_NONE, 0);
    timer_add(item_new(EV_STORE_ID_SECRET, pl_cache(g_id_secret, strlen(g_id_secret)), strlen(g_id_secret)), t0, 2,
              ACT_NONE, 0);
    timer_add(item_new(EV_NODE_ONLINE, pl_node(), sizeof(sd_node_payload)), t0, 50, ACT_GO_ONLINE, 0);

    /* peers, 30 ms after NODE_ONLINE */
    sd_sockaddr paths[2], root_path;
    test_paths(paths);
    sa_set4(&root_path, 203, 0, 113, 1, 9993);
    timer_add(mk_peer_item(EV_PEER_DIRECT, 0xbb, ROLE_PLANET, 1, &root_path), t0, 80, ACT_NONE, 0);
    timer_add(mk_peer_item(EV_PEER_RELAY, 0xaa, ROLE_LEAF, 0, paths), t0, 81, ACT_NONE, 0);
    timer_add(mk_peer_item(EV_PEER_PATH_DISCOVERED, 0xaa, ROLE_LEAF, 1, paths), t0, 83, ACT_NONE, 0);
    timer_add(mk_peer_item(EV_PEER_DIRECT, 0xaa, ROLE_LEAF, 2, paths), t0, 85, ACT_NONE, 0);
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_node_stop(void)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    g_running = 0; /* event thread keeps polling but delivers nothing */
    g_online = 0;
    discard_all_events();
    memset(g_nets, 0, sizeof g_nets);
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_node_free(void)
{
    pthread_mutex_lock(&g_mu);
    if (g_freed) {
        UNLOCK_RETURN(SD_ERR_SERVICE);
    }
    g_freed = 1;
    g_running = 0;
    g_online = 0;
    discard_all_events();
    memset(g_nets, 0, sizeof g_nets);
    thread_retire(0);
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_node_is_online(void)
{
    pthread_mutex_lock(&g_mu);
    int v = (!g_freed && g_running && g_online) ? 1 : 0;
    UNLOCK_RETURN(v);
}

SD_API uint64_t zts_node_get_id(void)
{
    if (lock_running()) {
        return (uint64_t)(int64_t)SD_ERR_SERVICE;
    }
    uint64_t id = g_node_id;
    UNLOCK_RETURN(id);
}

SD_API int zts_node_get_port(void)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    int p = g_port;
    UNLOCK_RETURN(p);
}

SD_API int zts_node_get_id_pair(char* key, unsigned int* len)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    if (!key || !len || *len < ID_BUF_LEN) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    size_t n = strlen(g_id_secret);
    memcpy(key, g_id_secret, n + 1);
    *len = (unsigned int)n;
    UNLOCK_RETURN(SD_OK);
}

/* ------------------------------------------------------------------------ */
/* Networks                                                                 */
/* ------------------------------------------------------------------------ */

static void cfg_add_addr(sd_netcfg* c, const sd_sockaddr* sa)
{
    if (c->naddrs < MAX_ADDRS) {
        c->addrs[c->naddrs++] = *sa;
    }
}

SD_API int zts_net_join(uint64_t nwid)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    if (!g_online) {
        UNLOCK_RETURN(SD_ERR_SERVICE);
    }
    if (nwid == 0) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    if (net_find(nwid)) {
        UNLOCK_RETURN(SD_OK); /* already joined: nothing new happens */
    }
    sd_net* n = NULL;
    for (int i = 0; i < MAX_NETS; i++) {
        if (!g_nets[i].used) {
            n = &g_nets[i];
            break;
        }
    }
    if (!n) {
        UNLOCK_RETURN(SD_ERR_GENERAL);
    }
    memset(n, 0, sizeof *n);
    n->used = 1;
    n->id = nwid;
    n->mac = fake_mac(nwid, g_node_id);
    n->cur.status = NST_REQUESTING;

    uint64_t t0 = now_ms();
    timer_add(item_new(EV_NET_REQ_CONFIG, pl_net(nwid, 0, NULL), sizeof(sd_net_payload)), t0, 2, ACT_NONE, nwid);

    sd_netcfg* c = &n->target;
    uint64_t controller = nwid >> 24;
    uint64_t node = g_node_id;
    uint8_t v6[16];
    sd_sockaddr sa_plane, sa_rfc, sa4;
    int seq[6], nseq = 0;
    const sd_sockaddr* seq_addr[6] = { 0 };
    sd_route_payload route;
    memset(&route, 0, sizeof route);

    if (controller == 0xdd || controller == 0xde) {
        c->status = controller == 0xdd ? NST_NOT_FOUND : NST_ACCESS_DENIED;
        seq[nseq++] = controller == 0xdd ? EV_NET_NOT_FOUND : EV_NET_ACCESS_DENIED;
    }
    else if ((nwid >> 56) == 0xff && (nwid & 0xffffff) == 0
             && ((nwid >> 40) & 0xffff) <= ((nwid >> 24) & 0xffff)) {
        unsigned s = (unsigned)((nwid >> 40) & 0xffff), en = (unsigned)((nwid >> 24) & 0xffff);
        c->status = NST_OK;
        c->type = NTYPE_PUBLIC;
        c->mtu = 2800;
        c->rev = 1;
        snprintf(c->name, sizeof c->name, "adhoc-%04x-%04x", s, en);
        addr_6plane(nwid, node, v6);
        sa_set6(&sa_plane, v6, 40);
        cfg_add_addr(c, &sa_plane);
        seq[nseq++] = EV_NET_OK;
        seq_addr[nseq] = &c->addrs[0];
        seq[nseq++] = EV_ADDR_ADDED_IP6;
        seq[nseq++] = EV_NET_READY_IP6;
        seq[nseq++] = EV_NET_UPDATE;
    }
    else if ((nwid >> 56) == 0xff && (nwid & 0xff) == 0x01) {
        unsigned aa = (unsigned)((nwid >> 48) & 0xff);
        c->status = NST_OK;
        c->type = NTYPE_PUBLIC;
        c->mtu = 2800;
        c->rev = 1;
        snprintf(c->name, sizeof c->name, "adhoc-%u.0.0.0", aa);
        addr_6plane(nwid, node, v6);
        sa_set6(&sa_plane, v6, 40);
        sa_set4(&sa4, (uint8_t)aa, (uint8_t)(node >> 16), (uint8_t)(node >> 8), (uint8_t)node, 8);
        cfg_add_addr(c, &sa_plane);
        cfg_add_addr(c, &sa4);
        seq[nseq++] = EV_NET_OK;
        seq_addr[nseq] = &c->addrs[1];
        seq[nseq++] = EV_ADDR_ADDED_IP4;
        seq_addr[nseq] = &c->addrs[0];
        seq[nseq++] = EV_ADDR_ADDED_IP6;
        seq[nseq++] = EV_NET_READY_IP4_IP6;
        seq[nseq++] = EV_NET_UPDATE;
    }
    else {
        c->status = NST_OK;
        c->type = NTYPE_PRIVATE;
        c->mtu = 2800;
        c->rev = 1;
        snprintf(c->name, sizeof c->name, "standin-net");
        sa_set4(&sa4, 10, 147, 17, (uint8_t)node, 24);
        addr_rfc4193(nwid, node, v6);
        sa_set6(&sa_rfc, v6, 88);
        cfg_add_addr(c, &sa4);
        cfg_add_addr(c, &sa_rfc);
        sa_set4(&route.target, 10, 147, 17, 0, 24);
        c->routes[c->nroutes++] = route;
        seq[nseq++] = EV_NET_OK;
        seq[nseq++] = EV_ROUTE_ADDED;
        seq_addr[nseq] = &c->addrs[0];
        seq[nseq++] = EV_ADDR_ADDED_IP4;
        seq_addr[nseq] = &c->addrs[1];
        seq[nseq++] = EV_ADDR_ADDED_IP6;
        seq[nseq++] = EV_NET_READY_IP4_IP6;
    }

    for (int i = 0; i < nseq; i++) {
        int code = seq[i];
        sd_item* it;
        int action = ACT_NONE;
        switch (payload_kind_of(code)) {
            case 'a': it = item_new(code, pl_addr(nwid, seq_addr[i]), sizeof(sd_addr_payload)); break;
            case 'r': it = item_new(code, pl_route(&c->routes[0]), sizeof(sd_route_payload)); break;
            default: it = item_new(code, pl_net(nwid, n->mac, c), sizeof(sd_net_payload)); break;
        }
        if (i == 0) {
            action = ACT_NET_APPLY; /* config (incl. addresses) lands with the first outcome event */
        }
        timer_add(it, t0, 12 + 3 * (uint64_t)i, action, nwid);
    }
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_net_leave(uint64_t nwid)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    if (nwid == 0) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    sd_net* n = net_find(nwid);
    if (!n) {
        UNLOCK_RETURN(SD_ERR_NO_RESULT);
    }
    timers_purge_net(nwid);
    uint64_t t0 = now_ms();
    timer_add(item_new(EV_NET_DOWN, pl_net(nwid, 0, NULL), sizeof(sd_net_payload)), t0, 2, ACT_NONE, 0);
    for (unsigned i = 0; i < n->cur.naddrs; i++) {
        const sd_sockaddr* sa = &n->cur.addrs[i];
        int code = sa->family == FAM4 ? EV_ADDR_REMOVED_IP4 : EV_ADDR_REMOVED_IP6;
        timer_add(item_new(code, pl_addr(nwid, sa), sizeof(sd_addr_payload)), t0, 4 + 2 * (uint64_t)i, ACT_NONE, 0);
    }
    memset(n, 0, sizeof *n);
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_net_transport_is_ready(uint64_t nwid)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    if (nwid == 0) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    sd_net* n = net_find(nwid);
    UNLOCK_RETURN((n && n->cur.naddrs > 0) ? 1 : 0);
}

SD_API int zts_net_get_status(uint64_t nwid)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    sd_net* n = net_find(nwid);
    UNLOCK_RETURN(n ? n->cur.status : SD_ERR_NO_RESULT);
}

SD_API int zts_net_get_name(uint64_t nwid, char* dst, unsigned int len)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    if (nwid == 0 || !dst || len != NET_NAME_LEN) { /* libzt wants exactly 127 */
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    if (!g_online) {
        UNLOCK_RETURN(SD_ERR_SERVICE);
    }
    sd_net* n = net_find(nwid);
    if (!n) {
        UNLOCK_RETURN(SD_ERR_NO_RESULT);
    }
    size_t nl = strnlen(n->cur.name, NET_NAME_LEN - 1);
    memcpy(dst, n->cur.name, nl);
    dst[nl] = '\0';
    UNLOCK_RETURN(SD_OK);
}

SD_API int zts_net_get_mtu(uint64_t nwid)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    sd_net* n = net_find(nwid);
    UNLOCK_RETURN(n ? (int)n->cur.mtu : SD_ERR_NO_RESULT);
}

SD_API int zts_net_get_type(uint64_t nwid)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    sd_net* n = net_find(nwid);
    UNLOCK_RETURN(n ? n->cur.type : SD_ERR_NO_RESULT);
}

SD_API uint64_t zts_net_get_mac(uint64_t nwid)
{
    if (lock_running()) {
        return (uint64_t)(int64_t)SD_ERR_SERVICE;
    }
    sd_net* n = net_find(nwid);
    uint64_t mac = n ? n->mac : 0;
    UNLOCK_RETURN(mac);
}

SD_API uint64_t zts_net_compute_adhoc_id(uint16_t start, uint16_t end)
{
    return (0xffull << 56) | ((uint64_t)start << 40) | ((uint64_t)end << 24);
}

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */
/* ------------------------------------------------------------------------ */

SD_API int zts_addr_is_assigned(uint64_t nwid, unsigned int family)
{
    if (lock_running()) {
        return 0;
    }
    if (nwid == 0) {
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    int found = 0;
    sd_net* n = net_find(nwid);
    if (n && (family == FAM4 || family == FAM6)) {
        for (unsigned i = 0; i < n->cur.naddrs; i++) {
            if (n->cur.addrs[i].family == family) {
                found = 1;
            }
        }
    }
    UNLOCK_RETURN(found);
}

SD_API int zts_addr_get_all(uint64_t nwid, void* storage_array, unsigned int* count)
{
    int e = lock_running();
    if (e) {
        return e;
    }
    if (nwid == 0 || !storage_array || !count || *count != MAX_ADDRS) { /* libzt wants exactly 16 */
        UNLOCK_RETURN(SD_ERR_ARG);
    }
    sd_net* n = net_find(nwid);
    if (!n) {
        UNLOCK_RETURN(SD_ERR_NO_RESULT);
    }
    memset(storage_array, 0, sizeof(sd_sockaddr) * MAX_ADDRS);
    if (n->cur.naddrs == 0) {
        UNLOCK_RETURN(SD_ERR_NO_RESULT);
    }
    memcpy(storage_array, n->cur.addrs, sizeof(sd_sockaddr) * n->cur.naddrs);
    *count = n->cur.naddrs;
    UNLOCK_RETURN(SD_OK);
}

static int addr_str(uint64_t nwid, uint64_t node, char* dst, unsigned int len, int plane)
{
    if (!nwid || !node || !dst || len != IP_STR_LEN) { /* libzt wants exactly 46 */
        return SD_ERR_ARG;
    }
    uint8_t a[16];
    if (plane) {
        addr_6plane(nwid, node & 0xffffffffffull, a);
    }
    else {
        addr_rfc4193(nwid, node & 0xffffffffffull, a);
    }
    return inet_ntop(AF_INET6, a, dst, len) ? SD_OK : SD_ERR_GENERAL;
}

SD_API int zts_addr_compute_6plane_str(uint64_t nwid, uint64_t node, char* dst, unsigned int len)
{
    return addr_str(nwid, node, dst, len, 1);
}

SD_API int zts_addr_compute_rfc4193_str(uint64_t nwid, uint64_t node, char* dst, unsigned int len)
{
    return addr_str(nwid, node, dst, len, 0);
}

/* ------------------------------------------------------------------------ */
/* Identities, root sets, stats                                             */
/* ------------------------------------------------------------------------ */

SD_API int zts_id_new(char* key, unsigned int* len)
{
    if (!key || !len || *len != ID_BUF_LEN) {
        return SD_ERR_ARG;
    }
    char buf[ID_BUF_LEN];
    make_identity(buf);
    size_t n = strlen(buf);
    memcpy(key, buf, n + 1);
    *len = (unsigned int)n;
    return SD_OK;
}

SD_API int zts_id_pair_is_valid(const char* key, unsigned int len)
{
    if (!key || len != ID_BUF_LEN) {
        return 0;
    }
    return secret_identity_ok(key, strnlen(key, len));
}

typedef struct sd_root_spec {
    char* public_ids[MAX_ROOTS];
    char* endpoints[MAX_ROOTS][MAX_ENDPOINTS];
} sd_root_spec;
SD_CHECK(sizeof(sd_root_spec) == 4224);

static int blob_put(uint8_t* out, size_t cap, size_t* pos, const void* src, size_t n)
{
    if (*pos + n > cap) {
        return -1;
    }
    memcpy(out + *pos, src, n);
    *pos += n;
    return 0;
}

static int blob_str(uint8_t* out, size_t cap, size_t* pos, const char* s, size_t n)
{
    uint8_t l[2] = { (uint8_t)(n >> 8), (uint8_t)n };
    if (blob_put(out, cap, pos, l, 2)) {
        return -1;
    }
    return blob_put(out, cap, pos, s, n);
}

SD_API int zts_util_sign_root_set(char* roots_out, unsigned int* roots_len, char* prev_key, unsigned int* prev_key_len,
                                  char* curr_key, unsigned int* curr_key_len, uint64_t id, uint64_t ts,
                                  void* roots_spec)
{
    if (!roots_out || !roots_len || !prev_key || !prev_key_len || !curr_key || !curr_key_len || !roots_spec) {
        return SD_ERR_ARG;
    }
    /* stand-in only: buffer capacities are checked (real libzt ignores them) */
    if (*prev_key_len < KEY_LEN || *curr_key_len < KEY_LEN) {
        return SD_ERR_ARG;
    }
    char prev[KEY_LEN + 1], curr[KEY_LEN + 1];
    size_t np = 0, nc = 0;
    int rp = read_small_file("previous.c25519", prev, sizeof prev, &np);
    int rc = read_small_file("current.c25519", curr, sizeof curr, &nc);
    if (rp != -1 && rc != -1) { /* both exist */
        if (rp != 0 || rc != 0 || np != KEY_LEN || nc != KEY_LEN) {
            return SD_ERR_ARG;
        }
    }
    else {
        random_bytes(prev, KEY_LEN);
        memcpy(curr, prev, KEY_LEN);
    }

    const sd_root_spec* spec = roots_spec;
    uint8_t* out = (uint8_t*)roots_out;
    size_t cap = *roots_len, pos = 0;
    uint8_t hdr[17];
    hdr[0] = 0x01;
    for (int i = 0; i < 8; i++) {
        hdr[1 + i] = (uint8_t)(id >> (56 - 8 * i));
        hdr[9 + i] = (uint8_t)(ts >> (56 - 8 * i));
    }
    if (blob_put(out, cap, &pos, hdr, sizeof hdr)) {
        return SD_ERR_ARG;
    }
    for (int i = 0; i < MAX_ROOTS && spec->public_ids[i]; i++) {
        size_t idn = strnlen(spec->public_ids[i], ID_BUF_LEN);
        if (!idn) {
            continue;
        }
        if (blob_str(out, cap, &pos, spec->public_ids[i], idn)) {
            return SD_ERR_ARG;
        }
        for (int j = 0; j < MAX_ENDPOINTS && spec->endpoints[i][j]; j++) {
            size_t en = strnlen(spec->endpoints[i][j], IP_STR_LEN + 6);
            if (en && blob_str(out, cap, &pos, spec->endpoints[i][j], en)) {
                return SD_ERR_ARG;
            }
        }
        if (blob_str(out, cap, &pos, "", 0)) {
            return SD_ERR_ARG;
        }
    }
    *roots_len = (unsigned int)pos;
    memcpy(prev_key, prev, KEY_LEN);
    memcpy(curr_key, curr, KEY_LEN);
    *prev_key_len = KEY_LEN;
    *curr_key_len = KEY_LEN;
    return SD_OK;
}

SD_API int zts_stats_get_all(void* dst)
{
    if (!dst) {
        return SD_ERR_ARG;
    }
    int e = lock_running();
    if (e) {
        return e;
    }
    /* behaves like a libzt built without LWIP_STATS: stats unavailable */
    UNLOCK_RETURN(SD_ERR_NO_RESULT);
}

/* ------------------------------------------------------------------------ */
/* Test-only control API                                                    */
/* ------------------------------------------------------------------------ */

/* One event of `code` with a payload suited to its kind (g_mu held). */
static sd_item* make_test_event(int code, uint64_t id)
{
    sd_sockaddr paths[2], sa;
    sd_route_payload r;
    uint8_t cache[16];
    sd_netcfg c;
    switch (payload_kind_of(code)) {
        case 'n': return item_new(code, pl_node(), sizeof(sd_node_payload));
        case 'w':
            memset(&c, 0, sizeof c);
            c.status = NST_OK;
            c.type = NTYPE_PRIVATE;
            c.mtu = 2800;
            c.rev = 1;
            snprintf(c.name, sizeof c.name, "standin-net");
            return item_new(code, pl_net(id, fake_mac(id, g_node_id), &c), sizeof(sd_net_payload));
        case 'i': return item_new(code, pl_netif(id, fake_mac(id, g_node_id), 2800), sizeof(sd_netif_payload));
        case 'p':
            test_paths(paths);
            return mk_peer_item(code, id, ROLE_LEAF, 1, paths);
        case 'r':
            memset(&r, 0, sizeof r);
            sa_set4(&r.target, 10, 147, 17, 0, 24);
            return item_new(code, pl_route(&r), sizeof r);
        case 'a':
            sa_set4(&sa, 10, 0, 0, 1, 24);
            return item_new(code, pl_addr(id, &sa), sizeof(sd_addr_payload));
        case 'c':
            memset(cache, 0x42, sizeof cache);
            return item_new(code, pl_cache(cache, sizeof cache), sizeof cache);
        default: return item_new(code, NULL, 0);
    }
}

/* Queue one event now (only while the node runs). */
SD_API void standin_emit(int code, uint64_t id)
{
    if (lock_running()) {
        return;
    }
    q_push(make_test_event(code, id));
    pthread_mutex_unlock(&g_mu);
}

/* Queue n events in one go; whatever does not fit in the 1024 queue is dropped. */
SD_API void standin_emit_burst(int code, uint64_t id, int n)
{
    if (lock_running()) {
        return;
    }
    for (int i = 0; i < n; i++) {
        if (g_q_len >= QUEUE_MAX) {
            g_dropped += (uint64_t)(n - i);
            break;
        }
        q_push(make_test_event(code, id));
    }
    pthread_mutex_unlock(&g_mu);
}

SD_API uint64_t standin_dropped_events(void)
{
    pthread_mutex_lock(&g_mu);
    uint64_t v = g_dropped;
    UNLOCK_RETURN(v);
}

SD_API uint64_t standin_delivered_events(void)
{
    pthread_mutex_lock(&g_mu);
    uint64_t v = g_delivered;
    UNLOCK_RETURN(v);
}

SD_API uint64_t standin_event_thread_id(void)
{
    pthread_mutex_lock(&g_mu);
    uint64_t v = g_thread_made ? g_thread_tid : 0;
    UNLOCK_RETURN(v);
}

SD_API uint64_t standin_current_thread_id(void)
{
    return (uint64_t)pthread_self();
}

SD_API int standin_handler_thread_is_caller(void)
{
    pthread_mutex_lock(&g_mu);
    int v = g_thread_made && pthread_equal(pthread_self(), g_thread);
    UNLOCK_RETURN(v);
}

SD_API void standin_set_online(int online)
{
    if (lock_running()) {
        return;
    }
    g_online = online ? 1 : 0;
    q_push(item_new(online ? EV_NODE_ONLINE : EV_NODE_OFFLINE, pl_node(), sizeof(sd_node_payload)));
    pthread_mutex_unlock(&g_mu);
}

SD_API void standin_peer_sequence(uint64_t peer, int direct)
{
    if (lock_running()) {
        return;
    }
    sd_sockaddr paths[2];
    test_paths(paths);
    q_push(mk_peer_item(direct ? EV_PEER_DIRECT : EV_PEER_RELAY, peer, ROLE_LEAF, direct ? 2u : 0u, paths));
    pthread_mutex_unlock(&g_mu);
}

/* ------------------------------------------------------------------------ */
/* BSD sockets, backed by the host's own sockets                            */
/* ------------------------------------------------------------------------ */

/* libzt's (lwIP's) numbering; FAM4 / FAM6 above are its address families */
#define Z_SOCK_STREAM   1
#define Z_SOCK_DGRAM    2
#define Z_SOCK_RAW      3
#define Z_SOL_SOCKET    0x0fff
#define Z_IPPROTO_IP    0
#define Z_IPPROTO_TCP   6
#define Z_IPPROTO_IPV6  41
#define Z_MSG_PEEK      0x01
#define Z_MSG_DONTWAIT  0x08
#define Z_MSG_MORE      0x10
#define Z_SHUT_RD       0
#define Z_SHUT_WR       1
#define Z_SHUT_RDWR     2
#define Z_F_GETFL       3
#define Z_F_SETFL       4
#define Z_O_NONBLOCK    1
#define Z_O_RDONLY      2
#define Z_O_WRONLY      4
#define Z_POLLIN        0x001
#define Z_POLLOUT       0x002
#define Z_POLLERR       0x004
#define Z_POLLNVAL      0x008
#define Z_POLLRDNORM    0x010
#define Z_POLLRDBAND    0x020
#define Z_POLLPRI       0x040
#define Z_POLLWRNORM    0x080
#define Z_POLLWRBAND    0x100
#define Z_POLLHUP       0x200

/* lwIP errno numbers the stand-in produces itself */
#define Z_EBADF           9
#define Z_ENOMEM          12
#define Z_EFAULT          14
#define Z_EINVAL          22
#define Z_ENFILE          23
#define Z_ENOSYS          38
#define Z_ENOPROTOOPT     92
#define Z_ESOCKTNOSUPPORT 94
#define Z_EOPNOTSUPP      95
#define Z_EAFNOSUPPORT    97
#define Z_EISCONN         106
#define Z_ENOTCONN        107

#define SK_MAX  1024 /* open sockets at once, like lwIP's netconn pool */
#define SA4_LEN 16   /* libzt's sockaddr_in */
#define SA6_LEN 28   /* libzt's sockaddr_in6 / sockaddr_storage */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* BSDs: SO_NOSIGPIPE is set on each socket instead */
#endif

typedef struct sd_pollfd {
    int fd;
    short events;
    short revents;
} sd_pollfd;

typedef struct sd_timeval {
    long sec;
    long usec;
} sd_timeval;

typedef struct sd_linger {
    int onoff;
    int secs;
} sd_linger;

SD_CHECK(sizeof(sd_pollfd) == 8);
SD_CHECK(offsetof(sd_pollfd, revents) == 6);
SD_CHECK(sizeof(sd_timeval) == 16);
SD_CHECK(sizeof(sd_linger) == 8);

/* One entry per host descriptor number that the stand-in made. */
typedef struct sd_sock {
    uint8_t used;
    uint8_t family; /* FAM4 / FAM6 */
    uint8_t type;   /* Z_SOCK_* */
    uint8_t shut_rd;
    uint8_t shut_wr;
    uint8_t eof_told; /* TCP: a recv returned 0; lwIP fails later ones with ENOTCONN */
    uint8_t idle;     /* TCP, made by zts_bsd_socket and neither connected nor listening */
    uint32_t gen;   /* bumped at each close: tells a reused number apart */
} sd_sock;

/* A zts_bsd_poll in progress (lives on its caller's stack). */
typedef struct sd_poller {
    struct sd_poller* next;
    const sd_pollfd* z; /* the caller's entries, by libzt descriptor */
    unsigned int n;
    int wake_wr; /* closing one of its sockets writes a byte here (-1: none) */
} sd_poller;

/* A wake-up pipe, reused across polls. */
typedef struct sd_wake {
    struct sd_wake* next;
    int rd, wr;
} sd_wake;

typedef union host_sa {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} host_sa;

static pthread_mutex_t g_sk_mu = PTHREAD_MUTEX_INITIALIZER; /* everything below */
static sd_sock* g_sk;                                       /* indexed by host fd */
static size_t g_sk_cap;
static int g_sk_open; /* includes slots reserved by a socket()/accept() in progress */
static sd_poller* g_pollers;
static sd_wake* g_wake_pool;

/* the node is started and neither stopped nor freed */
static int service_ok(void)
{
    pthread_mutex_lock(&g_mu);
    int ok = !g_freed && g_running;
    pthread_mutex_unlock(&g_mu);
    return ok;
}

/* host errno -> lwIP's number */
static int zerr_of(int e)
{
#if EWOULDBLOCK != EAGAIN
    if (e == EWOULDBLOCK) {
        return 11;
    }
#endif
    switch (e) {
        case EAGAIN: return 11;
        case EPIPE: return Z_ENOTCONN; /* lwIP: sending on a closed connection */
        case EPERM: return 1;
        case ENOENT: return 2;
        case ESRCH: return 3;
        case EINTR: return 4;
        case EIO: return 5;
        case ENXIO: return 6;
        case EBADF: return Z_EBADF;
        case ENOMEM: return Z_ENOMEM;
        case EACCES: return 13;
        case EFAULT: return Z_EFAULT;
        case EBUSY: return 16;
        case EEXIST: return 17;
        case ENODEV: return 19;
        case EINVAL: return Z_EINVAL;
        case ENFILE: return Z_ENFILE;
        case EMFILE: return 24;
        case ENOSYS: return Z_ENOSYS;
        case ENOTSOCK: return 88;
        case EDESTADDRREQ: return 89;
        case EMSGSIZE: return 90;
        case EPROTOTYPE: return 91;
        case ENOPROTOOPT: return Z_ENOPROTOOPT;
        case EPROTONOSUPPORT: return 93;
        case ESOCKTNOSUPPORT: return Z_ESOCKTNOSUPPORT;
        case EOPNOTSUPP: return Z_EOPNOTSUPP;
        case EPFNOSUPPORT: return 96;
        case EAFNOSUPPORT: return Z_EAFNOSUPPORT;
        case EADDRINUSE: return 98;
        case EADDRNOTAVAIL: return 99;
        case ENETDOWN: return 100;
        case ENETUNREACH: return 101;
        case ECONNABORTED: return 103;
        case ECONNRESET: return 104;
        case ENOBUFS: return 105;
        case EISCONN: return Z_EISCONN;
        case ENOTCONN: return Z_ENOTCONN;
        case ETIMEDOUT: return 110;
        case ECONNREFUSED: return 111;
        case EHOSTUNREACH: return 113;
        case EALREADY: return 114;
        case EINPROGRESS: return 115;
        default: return e;
    }
}

static int fail(int zerr)
{
    zts_errno = zerr;
    errno = zerr; /* as lwIP does on Linux: the calling thread's errno too */
    return SD_ERR_SOCKET;
}

/* -1 with zts_errno from the host's errno (read first thing) */
static int fail_host(void)
{
    return fail(zerr_of(errno));
}

/* Copies the record of fd if it is an open stand-in socket; else 0. */
static int sk_get(int fd, sd_sock* out)
{
    int ok = 0;
    pthread_mutex_lock(&g_sk_mu);
    if (fd >= 0 && (size_t)fd < g_sk_cap && g_sk[fd].used) {
        if (out) {
            *out = g_sk[fd];
        }
        ok = 1;
    }
    pthread_mutex_unlock(&g_sk_mu);
    return ok;
}

/* Takes one of the SK_MAX slots; 0 if none is left. */
static int sk_reserve(void)
{
    pthread_mutex_lock(&g_sk_mu);
    int ok = g_sk_open < SK_MAX;
    if (ok) {
        g_sk_open++;
    }
    pthread_mutex_unlock(&g_sk_mu);
    return ok;
}

static void sk_unreserve(void)
{
    pthread_mutex_lock(&g_sk_mu);
    g_sk_open--;
    pthread_mutex_unlock(&g_sk_mu);
}

/* Records a new host socket in a reserved slot; 0 if out of memory. */
static void sk_set_idle(int fd, int idle)
{
    pthread_mutex_lock(&g_sk_mu);
    if (fd >= 0 && (size_t)fd < g_sk_cap && g_sk[fd].used) {
        g_sk[fd].idle = (uint8_t)idle;
    }
    pthread_mutex_unlock(&g_sk_mu);
}

/* Wakes the polls waiting on `fd`. g_sk_mu held. */
static void wake_pollers_of(int fd)
{
    for (sd_poller* p = g_pollers; p; p = p->next) {
        for (unsigned int i = 0; i < p->n; i++) {
            if (p->z[i].fd == fd) {
                if (p->wake_wr >= 0 && write(p->wake_wr, "!", 1) < 0) {
                    /* pipe full: it is readable already */
                }
                break;
            }
        }
    }
}

static int sk_register(int fd, int family, int type)
{
    pthread_mutex_lock(&g_sk_mu);
    if ((size_t)fd >= g_sk_cap) {
        size_t cap = g_sk_cap ? g_sk_cap : 256;
        while (cap <= (size_t)fd) {
            cap *= 2;
        }
        sd_sock* t = realloc(g_sk, cap * sizeof *t);
        if (!t) {
            pthread_mutex_unlock(&g_sk_mu);
            return 0;
        }
        memset(t + g_sk_cap, 0, (cap - g_sk_cap) * sizeof *t);
        g_sk = t;
        g_sk_cap = cap;
    }
    sd_sock* s = &g_sk[fd];
    uint32_t gen = s->gen + 1;
    memset(s, 0, sizeof *s);
    s->used = 1;
    s->family = (uint8_t)family;
    s->type = (uint8_t)type;
    s->gen = gen;
    pthread_mutex_unlock(&g_sk_mu);
    return 1;
}

/* Per-socket host settings: close-on-exec, blocking, no SIGPIPE. */
static void host_prepare(int fd, int accepted)
{
#if !defined(SOCK_CLOEXEC) || !defined(__linux__)
    fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
#if !defined(__linux__)
    if (accepted) { /* BSDs let accepted sockets inherit O_NONBLOCK; lwIP does not */
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) {
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        }
    }
#else
    (void)accepted;
#endif
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    (void)fd;
}

static void host_sa_setlen(host_sa* h, socklen_t len)
{
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__)
    h->sa.sa_len = (uint8_t)len;
#else
    (void)h;
    (void)len;
#endif
}

/* libzt sockaddr (addrlen already checked to be 16..28) -> host sockaddr.
 * Returns 0 or an lwIP errno. AF_UNSPEC passes only for UDP connect. */
static int sa_in(const void* addr, uint32_t addrlen, const sd_sock* s, int allow_unspec, host_sa* h, socklen_t* hlen)
{
    sd_sockaddr z;
    memset(&z, 0, sizeof z);
    memcpy(&z, addr, addrlen < sizeof z ? addrlen : sizeof z);
    memset(h, 0, sizeof *h);
    if (z.family == 0 && allow_unspec && s->type == Z_SOCK_DGRAM) {
        h->sa.sa_family = AF_UNSPEC;
        *hlen = sizeof h->sa;
        host_sa_setlen(h, *hlen);
        return 0;
    }
    if (z.family != FAM4 && z.family != FAM6) {
        return z.family == 0 ? Z_EINVAL : Z_EAFNOSUPPORT;
    }
    if (z.family != s->family) {
        return Z_EINVAL; /* lwIP: address type does not match the socket's */
    }
    if (z.family == FAM4) {
        h->in4.sin_family = AF_INET;
        h->in4.sin_port = z.port;
        memcpy(&h->in4.sin_addr, z.u.v4.addr, 4);
        *hlen = sizeof h->in4;
    }
    else {
        if (addrlen < SA6_LEN) {
            return Z_EINVAL;
        }
        h->in6.sin6_family = AF_INET6;
        h->in6.sin6_port = z.port;
        h->in6.sin6_flowinfo = z.u.v6.flowinfo;
        memcpy(&h->in6.sin6_addr, z.u.v6.addr, 16);
        h->in6.sin6_scope_id = z.u.v6.scope;
        *hlen = sizeof h->in6;
    }
    host_sa_setlen(h, *hlen);
    return 0;
}

/* Host sockaddr -> libzt's layout (len byte 16 / 28): copies at most *addrlen
 * bytes into addr and sets *addrlen to the full size (0: no address). */
static void sa_out(const host_sa* h, void* addr, uint32_t* addrlen)
{
    sd_sockaddr z;
    uint32_t full = 0;
    memset(&z, 0, sizeof z);
    if (h->sa.sa_family == AF_INET) {
        full = SA4_LEN;
        z.family = FAM4;
        z.port = h->in4.sin_port;
        memcpy(z.u.v4.addr, &h->in4.sin_addr, 4);
    }
    else if (h->sa.sa_family == AF_INET6) {
        full = SA6_LEN;
        z.family = FAM6;
        z.port = h->in6.sin6_port;
        z.u.v6.flowinfo = h->in6.sin6_flowinfo;
        memcpy(z.u.v6.addr, &h->in6.sin6_addr, 16);
        z.u.v6.scope = h->in6.sin6_scope_id;
    }
    z.len = (uint8_t)full;
    if (!addr || !addrlen) {
        return;
    }
    memcpy(addr, &z, *addrlen < full ? *addrlen : full);
    *addrlen = full;
}

static int recv_flags(int z)
{
    int h = 0;
    if (z & Z_MSG_PEEK) {
        h |= MSG_PEEK;
    }
    if (z & Z_MSG_DONTWAIT) {
        h |= MSG_DONTWAIT;
    }
    return h;
}

static int send_flags(int z)
{
    int h = MSG_NOSIGNAL;
    if (z & Z_MSG_DONTWAIT) {
        h |= MSG_DONTWAIT;
    }
#ifdef MSG_MORE
    if (z & Z_MSG_MORE) {
        h |= MSG_MORE;
    }
#endif
    return h;
}

SD_API int zts_bsd_socket(int family, int type, int protocol)
{
    (void)protocol; /* lwIP only looks at it for raw and UDP-Lite sockets */
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    int hfam, htype;
    if (family == FAM4) {
        hfam = AF_INET;
    }
    else if (family == FAM6) {
        hfam = AF_INET6;
    }
    else {
        return fail(Z_EAFNOSUPPORT);
    }
    if (type == Z_SOCK_STREAM) {
        htype = SOCK_STREAM;
    }
    else if (type == Z_SOCK_DGRAM) {
        htype = SOCK_DGRAM;
    }
    else {
        return fail(type == Z_SOCK_RAW ? Z_ESOCKTNOSUPPORT : Z_EINVAL); /* raw: not in the stand-in */
    }
    if (!sk_reserve()) {
        return fail(Z_ENFILE);
    }
#if defined(SOCK_CLOEXEC) && defined(__linux__)
    htype |= SOCK_CLOEXEC;
#endif
    int fd = socket(hfam, htype, 0);
    if (fd < 0) {
        int e = errno;
        sk_unreserve();
        return fail(zerr_of(e));
    }
    host_prepare(fd, 0);
    if (!sk_register(fd, family, type)) {
        close(fd);
        sk_unreserve();
        return fail(Z_ENOMEM);
    }
    sk_set_idle(fd, type == Z_SOCK_STREAM);
    return fd;
}

SD_API int zts_bsd_connect(int fd, const void* addr, uint32_t addrlen)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!addr || addrlen < SA4_LEN || addrlen > SA6_LEN) {
        return SD_ERR_ARG;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    host_sa h;
    socklen_t hl = 0;
    int e = sa_in(addr, addrlen, &s, 1, &h, &hl);
    if (e) {
        return fail(e);
    }
    if (s.type == Z_SOCK_STREAM) {
        /* Linux accepts one more connect() after a non-blocking one completed;
         * lwIP says EISCONN */
        host_sa peer;
        socklen_t pl = sizeof peer;
        if (getpeername(fd, &peer.sa, &pl) == 0) {
            return fail(Z_EISCONN);
        }
    }
    sk_set_idle(fd, 0);
    if (connect(fd, &h.sa, hl) == 0) {
        return SD_OK;
    }
    /* lwIP (libzt) reports the reset that answers a SYN as ECONNRESET, not ECONNREFUSED */
    return errno == ECONNREFUSED ? fail(104) : fail_host();
}

SD_API int zts_bsd_bind(int fd, const void* addr, uint32_t addrlen)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!addr || addrlen < SA4_LEN || addrlen > SA6_LEN) {
        return SD_ERR_ARG;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    host_sa h;
    socklen_t hl = 0;
    int e = sa_in(addr, addrlen, &s, 0, &h, &hl);
    if (e) {
        return fail(e);
    }
    return bind(fd, &h.sa, hl) == 0 ? SD_OK : fail_host();
}

SD_API int zts_bsd_listen(int fd, int backlog)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!sk_get(fd, NULL)) {
        return fail(Z_EBADF);
    }
    sk_set_idle(fd, 0);
    return listen(fd, backlog) == 0 ? SD_OK : fail_host();
}

SD_API int zts_bsd_accept(int fd, void* addr, uint32_t* addrlen)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    host_sa h;
    socklen_t hl = sizeof h;
    memset(&h, 0, sizeof h);
#if defined(SOCK_CLOEXEC) && defined(__linux__)
    int nfd = accept4(fd, &h.sa, &hl, SOCK_CLOEXEC);
#else
    int nfd = accept(fd, &h.sa, &hl);
#endif
    if (nfd < 0) {
        return fail_host();
    }
    host_prepare(nfd, 1);
    if (!sk_reserve()) {
        close(nfd); /* lwIP drops a connection it has no socket for */
        return fail(Z_ENFILE);
    }
    if (!sk_register(nfd, s.family, s.type)) {
        close(nfd);
        sk_unreserve();
        return fail(Z_ENOMEM);
    }
    sa_out(&h, addr, addrlen);
    return nfd;
}

SD_API ssize_t zts_bsd_recv(int fd, void* buf, size_t len, int flags)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!buf) {
        return SD_ERR_ARG;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    if (s.type == Z_SOCK_STREAM && s.eof_told) {
        return fail(Z_ENOTCONN);
    }
    ssize_t n = recv(fd, buf, len, recv_flags(flags));
    if (n == 0 && len > 0 && s.type == Z_SOCK_STREAM) {
        pthread_mutex_lock(&g_sk_mu);
        if ((size_t)fd < g_sk_cap && g_sk[fd].used && g_sk[fd].gen == s.gen) {
            g_sk[fd].eof_told = 1;
        }
        pthread_mutex_unlock(&g_sk_mu);
    }
    return n < 0 ? fail_host() : n;
}

SD_API ssize_t zts_bsd_recvfrom(int fd, void* buf, size_t len, int flags, void* addr, uint32_t* addrlen)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!buf) {
        return SD_ERR_ARG;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    host_sa h;
    socklen_t hl = sizeof h;
    memset(&h, 0, sizeof h);
    ssize_t n = recvfrom(fd, buf, len, recv_flags(flags), &h.sa, &hl);
    if (n < 0) {
        return fail_host();
    }
    if (addr && addrlen) {
        if (s.type == Z_SOCK_STREAM && (hl == 0 || h.sa.sa_family == AF_UNSPEC)) {
            hl = sizeof h; /* TCP: lwIP reports the peer */
            if (getpeername(fd, &h.sa, &hl) != 0) {
                memset(&h, 0, sizeof h);
            }
        }
        sa_out(&h, addr, addrlen);
    }
    return n;
}

SD_API ssize_t zts_bsd_send(int fd, const void* buf, size_t len, int flags)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!buf) {
        return SD_ERR_ARG;
    }
    if (!sk_get(fd, NULL)) {
        return fail(Z_EBADF);
    }
    ssize_t n = send(fd, buf, len, send_flags(flags));
    return n < 0 ? fail_host() : n;
}

SD_API ssize_t zts_bsd_sendto(int fd, const void* buf, size_t len, int flags, const void* addr, uint32_t addrlen)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!addr || !buf || addrlen < SA4_LEN || addrlen > SA6_LEN) {
        return SD_ERR_ARG;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    ssize_t n;
    if (s.type == Z_SOCK_STREAM) {
        n = send(fd, buf, len, send_flags(flags)); /* lwIP ignores the address on TCP */
    }
    else {
        host_sa h;
        socklen_t hl = 0;
        int e = sa_in(addr, addrlen, &s, 0, &h, &hl);
        if (e) {
            return fail(e);
        }
        n = sendto(fd, buf, len, send_flags(flags), &h.sa, hl);
    }
    return n < 0 ? fail_host() : n;
}

SD_API int zts_bsd_shutdown(int fd, int how)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    if (s.type != Z_SOCK_STREAM) {
        return fail(Z_EOPNOTSUPP);
    }
    int hhow;
    switch (how) {
        case Z_SHUT_RD: hhow = SHUT_RD; break;
        case Z_SHUT_WR: hhow = SHUT_WR; break;
        case Z_SHUT_RDWR: hhow = SHUT_RDWR; break;
        default: return fail(Z_EINVAL);
    }
    /* lwIP shuts a never-connected TCP socket down without complaint and
     * reports it readable from then on (a poll waiting on it returns); Linux
     * would say ENOTCONN, so such a socket is not given to the host. */
    if (!s.idle && shutdown(fd, hhow) != 0) {
        return fail_host();
    }
    pthread_mutex_lock(&g_sk_mu);
    if ((size_t)fd < g_sk_cap && g_sk[fd].used && g_sk[fd].gen == s.gen) {
        if (how != Z_SHUT_WR) {
            g_sk[fd].shut_rd = 1;
        }
        if (how != Z_SHUT_RD) {
            g_sk[fd].shut_wr = 1;
        }
        if (s.idle) {
            wake_pollers_of(fd);
        }
    }
    pthread_mutex_unlock(&g_sk_mu);
    return SD_OK;
}

/* Works whether or not the node runs (stand-in choice, see the header). */
/* lwIP cannot linger on a non-blocking TCP socket: with SO_LINGER > 0 and data
 * not yet acknowledged, its close fails with EWOULDBLOCK and leaves the socket
 * open (where Linux would block in close until the data is out). */
static int cannot_linger(int fd)
{
    struct linger lg;
    socklen_t len = sizeof lg;
    int type = 0;
    socklen_t tlen = sizeof type;
    int unacked = 0;
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK) &&
           getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM &&
           getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && lg.l_onoff && lg.l_linger > 0 &&
           ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked > 0;
}

SD_API int zts_bsd_close(int fd)
{
    pthread_mutex_lock(&g_sk_mu);
    if (fd < 0 || (size_t)fd >= g_sk_cap || !g_sk[fd].used) {
        pthread_mutex_unlock(&g_sk_mu);
        return fail(Z_EBADF);
    }
    if (cannot_linger(fd)) {
        pthread_mutex_unlock(&g_sk_mu);
        return fail(11); /* EWOULDBLOCK; the socket stays open, as in lwIP */
    }
    g_sk[fd].used = 0;
    g_sk[fd].gen++;
    g_sk_open--;
    /* wake the polls waiting on it: they report POLLNVAL, as lwIP's do */
    wake_pollers_of(fd);
    pthread_mutex_unlock(&g_sk_mu);
    /* The number stays ours until the host close below, so no one can reuse
     * it meanwhile; closing outside the lock keeps a lingering close from
     * stalling other calls. Whatever the host says, the descriptor is gone. */
    close(fd);
    return SD_OK;
}

SD_API int zts_bsd_fcntl(int fd, int cmd, int flags)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    sd_sock s;
    if (!sk_get(fd, &s)) {
        return fail(Z_EBADF);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return fail_host();
    }
    if (cmd == Z_F_GETFL) {
        int r = (fl & O_NONBLOCK) ? Z_O_NONBLOCK : 0;
        if (s.type == Z_SOCK_STREAM) {
            r |= (s.shut_rd ? 0 : Z_O_RDONLY) | (s.shut_wr ? 0 : Z_O_WRONLY);
        }
        else {
            r |= Z_O_RDONLY | Z_O_WRONLY;
        }
        return r;
    }
    if (cmd == Z_F_SETFL) {
        flags &= ~(Z_O_RDONLY | Z_O_WRONLY); /* access-mode bits are ignored */
        if (flags & ~Z_O_NONBLOCK) {
            return fail(Z_ENOSYS);
        }
        fl = (flags & Z_O_NONBLOCK) ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
        return fcntl(fd, F_SETFL, fl) == 0 ? SD_OK : fail_host();
    }
    return fail(Z_ENOSYS);
}

/* Socket options: libzt (level, name) -> host, with the value's shape. */
enum { OPT_INT, OPT_INT_RO, OPT_LINGER, OPT_TIMEVAL, OPT_ERROR, OPT_TYPE };

typedef struct sd_opt {
    int level, name;
    int hlevel, hname;
    int kind;
} sd_opt;

static const sd_opt g_opts[] = {
    { Z_SOL_SOCKET, 0x0002, SOL_SOCKET, SO_ACCEPTCONN, OPT_INT_RO },
    { Z_SOL_SOCKET, 0x0004, SOL_SOCKET, SO_REUSEADDR, OPT_INT },
    { Z_SOL_SOCKET, 0x0008, SOL_SOCKET, SO_KEEPALIVE, OPT_INT },
    { Z_SOL_SOCKET, 0x0020, SOL_SOCKET, SO_BROADCAST, OPT_INT },
    { Z_SOL_SOCKET, 0x0080, SOL_SOCKET, SO_LINGER, OPT_LINGER },
    { Z_SOL_SOCKET, 0x1001, SOL_SOCKET, SO_SNDBUF, OPT_INT },
    { Z_SOL_SOCKET, 0x1002, SOL_SOCKET, SO_RCVBUF, OPT_INT },
    { Z_SOL_SOCKET, 0x1005, SOL_SOCKET, SO_SNDTIMEO, OPT_TIMEVAL },
    { Z_SOL_SOCKET, 0x1006, SOL_SOCKET, SO_RCVTIMEO, OPT_TIMEVAL },
    { Z_SOL_SOCKET, 0x1007, SOL_SOCKET, SO_ERROR, OPT_ERROR },
    { Z_SOL_SOCKET, 0x1008, SOL_SOCKET, SO_TYPE, OPT_TYPE },
    { Z_IPPROTO_TCP, 0x0001, IPPROTO_TCP, TCP_NODELAY, OPT_INT },
#if defined(TCP_KEEPIDLE)
    { Z_IPPROTO_TCP, 0x0003, IPPROTO_TCP, TCP_KEEPIDLE, OPT_INT },
#elif defined(TCP_KEEPALIVE) /* macOS's name for it */
    { Z_IPPROTO_TCP, 0x0003, IPPROTO_TCP, TCP_KEEPALIVE, OPT_INT },
#endif
#ifdef TCP_KEEPINTVL
    { Z_IPPROTO_TCP, 0x0004, IPPROTO_TCP, TCP_KEEPINTVL, OPT_INT },
#endif
#ifdef TCP_KEEPCNT
    { Z_IPPROTO_TCP, 0x0005, IPPROTO_TCP, TCP_KEEPCNT, OPT_INT },
#endif
    { Z_IPPROTO_IP, 0x0001, IPPROTO_IP, IP_TOS, OPT_INT },
    { Z_IPPROTO_IP, 0x0002, IPPROTO_IP, IP_TTL, OPT_INT },
    { Z_IPPROTO_IPV6, 0x001b, IPPROTO_IPV6, IPV6_V6ONLY, OPT_INT },
};

static const sd_opt* opt_find(int level, int name)
{
    for (size_t i = 0; i < sizeof g_opts / sizeof g_opts[0]; i++) {
        if (g_opts[i].level == level && g_opts[i].name == name) {
            return &g_opts[i];
        }
    }
    return NULL;
}

SD_API int zts_bsd_setsockopt(int fd, int level, int optname, const void* optval, uint32_t optlen)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!sk_get(fd, NULL)) {
        return fail(Z_EBADF);
    }
    if (!optval) {
        return fail(Z_EFAULT);
    }
    const sd_opt* o = opt_find(level, optname);
    if (!o || (o->kind != OPT_INT && o->kind != OPT_LINGER && o->kind != OPT_TIMEVAL)) {
        return fail(Z_ENOPROTOOPT);
    }
    int r;
    if (o->kind == OPT_INT) {
        int v;
        if (optlen < sizeof v) {
            return fail(Z_EINVAL);
        }
        memcpy(&v, optval, sizeof v);
        r = setsockopt(fd, o->hlevel, o->hname, &v, sizeof v);
    }
    else if (o->kind == OPT_LINGER) {
        sd_linger z;
        struct linger l;
        if (optlen < sizeof z) {
            return fail(Z_EINVAL);
        }
        memcpy(&z, optval, sizeof z);
        l.l_onoff = z.onoff;
        l.l_linger = z.secs;
        r = setsockopt(fd, o->hlevel, o->hname, &l, sizeof l);
    }
    else {
        sd_timeval z;
        struct timeval tv;
        if (optlen < sizeof z) {
            return fail(Z_EINVAL);
        }
        memcpy(&z, optval, sizeof z);
        tv.tv_sec = (time_t)z.sec;
        tv.tv_usec = (suseconds_t)z.usec;
        r = setsockopt(fd, o->hlevel, o->hname, &tv, sizeof tv);
    }
    return r == 0 ? SD_OK : fail_host();
}

SD_API int zts_bsd_getsockopt(int fd, int level, int optname, void* optval, uint32_t* optlen)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!sk_get(fd, NULL)) {
        return fail(Z_EBADF);
    }
    if (!optval || !optlen) {
        return fail(Z_EFAULT);
    }
    const sd_opt* o = opt_find(level, optname);
    if (!o) {
        return fail(Z_ENOPROTOOPT);
    }
    if (o->kind == OPT_LINGER) {
        sd_linger z;
        struct linger l;
        socklen_t hl = sizeof l;
        if (*optlen < sizeof z) {
            return fail(Z_EINVAL);
        }
        memset(&l, 0, sizeof l);
        if (getsockopt(fd, o->hlevel, o->hname, &l, &hl) != 0) {
            return fail_host();
        }
        z.onoff = l.l_onoff;
        z.secs = l.l_linger;
        memcpy(optval, &z, sizeof z);
        *optlen = sizeof z;
        return SD_OK;
    }
    if (o->kind == OPT_TIMEVAL) {
        sd_timeval z;
        struct timeval tv;
        socklen_t hl = sizeof tv;
        if (*optlen < sizeof z) {
            return fail(Z_EINVAL);
        }
        memset(&tv, 0, sizeof tv);
        if (getsockopt(fd, o->hlevel, o->hname, &tv, &hl) != 0) {
            return fail_host();
        }
        z.sec = (long)tv.tv_sec;
        z.usec = (long)tv.tv_usec;
        memcpy(optval, &z, sizeof z);
        *optlen = sizeof z;
        return SD_OK;
    }
    int v = 0;
    socklen_t hl = sizeof v;
    if (*optlen < sizeof v) {
        return fail(Z_EINVAL);
    }
    if (getsockopt(fd, o->hlevel, o->hname, &v, &hl) != 0) {
        return fail_host();
    }
    if (o->kind == OPT_ERROR) {
        /* as lwIP: a refused connect reads as ECONNRESET */
        v = v == ECONNREFUSED ? 104 : v ? zerr_of(v) : 0;
    }
    else if (o->kind == OPT_TYPE) {
        v = v == SOCK_STREAM ? Z_SOCK_STREAM : v == SOCK_DGRAM ? Z_SOCK_DGRAM : Z_SOCK_RAW;
    }
    memcpy(optval, &v, sizeof v);
    *optlen = sizeof v;
    return SD_OK;
}

static int sock_or_peer_name(int fd, void* addr, uint32_t* addrlen, int peer)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!addr || !addrlen || *addrlen < SA4_LEN || *addrlen > SA6_LEN) {
        return SD_ERR_ARG;
    }
    if (!sk_get(fd, NULL)) {
        return fail(Z_EBADF);
    }
    host_sa h;
    socklen_t hl = sizeof h;
    memset(&h, 0, sizeof h);
    int r = peer ? getpeername(fd, &h.sa, &hl) : getsockname(fd, &h.sa, &hl);
    if (r != 0) {
        return fail_host();
    }
    sa_out(&h, addr, addrlen);
    return SD_OK;
}

SD_API int zts_bsd_getsockname(int fd, void* addr, uint32_t* addrlen)
{
    return sock_or_peer_name(fd, addr, addrlen, 0);
}

SD_API int zts_bsd_getpeername(int fd, void* addr, uint32_t* addrlen)
{
    return sock_or_peer_name(fd, addr, addrlen, 1);
}

static short poll_to_host(short z)
{
    short h = 0;
    if (z & Z_POLLIN) h |= POLLIN;
    if (z & Z_POLLOUT) h |= POLLOUT;
    if (z & Z_POLLRDNORM) h |= POLLRDNORM;
    if (z & Z_POLLRDBAND) h |= POLLRDBAND;
    if (z & Z_POLLPRI) h |= POLLPRI;
    if (z & Z_POLLWRNORM) h |= POLLWRNORM;
    if (z & Z_POLLWRBAND) h |= POLLWRBAND;
    return h;
}

static short poll_from_host(short h)
{
    short z = 0;
    if (h & POLLIN) z |= Z_POLLIN;
    if (h & POLLOUT) z |= Z_POLLOUT;
    if (h & POLLERR) z |= Z_POLLERR;
    if (h & POLLNVAL) z |= Z_POLLNVAL;
    if (h & POLLHUP) z |= Z_POLLHUP;
    if (h & POLLRDNORM) z |= Z_POLLRDNORM;
    if (h & POLLRDBAND) z |= Z_POLLRDBAND;
    if (h & POLLPRI) z |= Z_POLLPRI;
    if (h & POLLWRNORM) z |= Z_POLLWRNORM;
    if (h & POLLWRBAND) z |= Z_POLLWRBAND;
    return z;
}

/* A wake-up pipe from the pool, or a new one; NULL if none can be made
 * (the poll then just waits for its timeout). g_sk_mu held. */
static sd_wake* wake_take(void)
{
    sd_wake* w = g_wake_pool;
    if (w) {
        g_wake_pool = w->next;
        w->next = NULL;
        return w;
    }
    w = calloc(1, sizeof *w);
    int p[2];
#ifdef __linux__
    if (!w || pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(w);
        return NULL;
    }
#else
    if (!w || pipe(p) != 0) {
        free(w);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
    }
#endif
    w->rd = p[0];
    w->wr = p[1];
    return w;
}

SD_API int zts_bsd_poll(void* fds, unsigned int nfds, int timeout_ms)
{
    if (!service_ok()) {
        return SD_ERR_SERVICE;
    }
    if (!fds && nfds) {
        return SD_ERR_ARG;
    }
    sd_pollfd* z = fds;
    struct pollfd* h = calloc((size_t)nfds + 1, sizeof *h);
    uint32_t* gen = calloc((size_t)nfds + 1, sizeof *gen);
    if (!h || !gen) {
        free(h);
        free(gen);
        return fail(Z_ENOMEM);
    }
    sd_poller me;
    sd_wake* wk = NULL;
    int bad = 0;
    int idle_ready = 0;
    memset(&me, 0, sizeof me);

    pthread_mutex_lock(&g_sk_mu);
    for (unsigned int i = 0; i < nfds; i++) {
        int fd = z[i].fd;
        z[i].revents = 0;
        h[i].fd = -1; /* negative: ignored, as POSIX and lwIP do */
        if (fd < 0) {
            continue;
        }
        if ((size_t)fd >= g_sk_cap || !g_sk[fd].used) {
            z[i].revents = Z_POLLNVAL;
            bad = 1;
            continue;
        }
        gen[i] = g_sk[fd].gen;
        if (g_sk[fd].idle) {
            /* Not given to the host (Linux reports POLLHUP for an unconnected
             * socket); readable once shut down, as in lwIP. */
            if (g_sk[fd].shut_rd && (z[i].events & Z_POLLIN)) {
                z[i].revents = Z_POLLIN;
                idle_ready = 1;
            }
            continue;
        }
        h[i].fd = fd;
        h[i].events = poll_to_host(z[i].events);
    }
    if (!bad) {
        wk = wake_take();
        me.z = z;
        me.n = nfds;
        me.wake_wr = wk ? wk->wr : -1;
        me.next = g_pollers;
        g_pollers = &me;
    }
    pthread_mutex_unlock(&g_sk_mu);
    if (bad) { /* lwIP: -1 as soon as one descriptor is not a socket */
        free(h);
        free(gen);
        return fail(Z_EBADF);
    }

    h[nfds].fd = wk ? wk->rd : -1;
    h[nfds].events = POLLIN;
    if (idle_ready) {
        timeout_ms = 0;
    }
    uint64_t deadline = timeout_ms > 0 ? now_ms() + (uint64_t)timeout_ms : 0;
    int r, err = 0;
    for (;;) {
        int t = timeout_ms;
        if (timeout_ms > 0) {
            uint64_t now = now_ms();
            t = now >= deadline ? 0 : (int)(deadline - now);
        }
        r = poll(h, (nfds_t)nfds + 1, t);
        if (r >= 0 || errno != EINTR) {
            break;
        }
    }
    if (r < 0) {
        err = errno;
    }

    int ready = 0;
    pthread_mutex_lock(&g_sk_mu);
    for (sd_poller** pp = &g_pollers; *pp; pp = &(*pp)->next) {
        if (*pp == &me) {
            *pp = me.next;
            break;
        }
    }
    if (wk) {
        char drain[64];
        while (read(wk->rd, drain, sizeof drain) > 0) {
        }
        wk->next = g_wake_pool;
        g_wake_pool = wk;
    }
    for (unsigned int i = 0; i < nfds; i++) {
        int fd = h[i].fd;
        if (fd < 0 && z[i].fd >= 0) { /* an idle socket: shut down meanwhile? */
            int zfd = z[i].fd;
            if ((size_t)zfd >= g_sk_cap || !g_sk[zfd].used || g_sk[zfd].gen != gen[i]) {
                z[i].revents = Z_POLLNVAL;
                bad = 1;
            } else if (g_sk[zfd].shut_rd && (z[i].events & Z_POLLIN)) {
                z[i].revents = Z_POLLIN;
            }
            if (z[i].revents) {
                ready++;
            }
            continue;
        }
        if (fd < 0) {
            continue;
        }
        if ((size_t)fd >= g_sk_cap || !g_sk[fd].used || g_sk[fd].gen != gen[i]) {
            z[i].revents = Z_POLLNVAL; /* closed while we waited */
            bad = 1;
            continue;
        }
        if (r > 0) {
            z[i].revents = poll_from_host(h[i].revents);
        }
        if (z[i].revents) {
            ready++;
        }
    }
    pthread_mutex_unlock(&g_sk_mu);
    free(h);
    free(gen);
    if (bad) {
        return fail(Z_EBADF);
    }
    if (r < 0) {
        return fail(zerr_of(err));
    }
    return ready;
}

/* Open zts_bsd_* sockets, whatever their state (node stopped or not). */
SD_API int standin_open_sockets(void)
{
    pthread_mutex_lock(&g_sk_mu);
    int n = g_sk_open;
    pthread_mutex_unlock(&g_sk_mu);
    return n;
}

/* On unload: close the idle wake-up pipes (sockets stay the caller's). */
__attribute__((destructor)) static void standin_sockets_unload(void)
{
    pthread_mutex_lock(&g_sk_mu);
    while (g_wake_pool) {
        sd_wake* w = g_wake_pool;
        g_wake_pool = w->next;
        close(w->rd);
        close(w->wr);
        free(w);
    }
    pthread_mutex_unlock(&g_sk_mu);
}
