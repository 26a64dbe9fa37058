/* SPDX-License-Identifier: MIT */
/* hot.h -- AT_HOT keeps the code that every traced process runs on a few pages of libattrace.so.
 *
 * The first touch of a page of a file-backed mapping is a page fault (the
 * kernel maps up to 64 KiB around it), 10-15 us here. The shim's
 * constructor, agent_start, the flushes and the exit path run in every
 * traced process, and so do the hooks nearly every program calls (the
 * open and fopen family, read, close, fcntl, the clocks, getrandom,
 * signal and sigaction). Left where the link order put them, they were
 * spread over some 200 KiB of .text: a traced curl took 2-3 faults more
 * for them, /bin/true 2, python3 2.
 *
 * AT_HOT puts a function in .text.hot.attrace, and GNU ld's default
 * script places .text.hot.* input sections together at the start of
 * .text, next to the PLT, which every process touches anyway. Mark a
 * definition only when (nearly) every traced process runs it: each
 * function marked makes the region bigger for all.
 */
#pragma once

#define AT_HOT __attribute__((section(".text.hot.attrace")))
