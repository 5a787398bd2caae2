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
