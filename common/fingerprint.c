/* SPDX-License-Identifier: MIT */
/* fingerprint.c -- not written yet. */
