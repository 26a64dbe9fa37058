/* SPDX-License-Identifier: MIT */
/* hook_dns.c -- not written yet. */
