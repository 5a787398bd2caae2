/**
 * `rxzt/threadpool`: sizes libuv's threadpool for rxzt. Load it before the
 * app, as a preload: `node --import rxzt/threadpool app.mjs` (or
 * `NODE_OPTIONS="--import rxzt/threadpool"`).
 *
 * Why a preload: rxzt runs libzt's blocking calls (socket readiness polls,
 * up to 16 at once) on libuv's threadpool, which Node shares with fs, dns,
 * crypto and zlib and sizes from UV_THREADPOOL_SIZE (default 4) when the
 * pool starts. For an ES module app that is while Node loads the app's
 * files, before any of its code (rxzt's included) runs, so only the process
 * environment or a preload can still choose the size. This sets 20 (Node's
 * 4 plus 16 for rxzt) unless UV_THREADPOOL_SIZE is already set. rxzt works
 * with any pool size, but below 20 it shares fewer threads among its polls
 * and single-stream throughput drops (see the README).
 *
 * Copied into the npm package by scripts/build_npm.ts.
 */
"use strict";
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = "20";
