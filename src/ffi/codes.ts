/**
 * libzt's numbers: its return codes (`ZTS_ERR_*`) and lwIP's errno values,
 * by name. The one table of both; `src/errors.ts` names them by value.
 *
 * @module
 */

/** libzt's return codes (`ZeroTierSockets.h`). */
export const RETURN = {
  ZTS_ERR_OK: 0,
  ZTS_ERR_SOCKET: -1,
  ZTS_ERR_SERVICE: -2,
  ZTS_ERR_ARG: -3,
  ZTS_ERR_NO_RESULT: -4,
  ZTS_ERR_GENERAL: -5,
} as const;

/** lwIP's errno values, as libzt reports them in `zts_errno` and the C `errno`. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSYS: 38,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;
