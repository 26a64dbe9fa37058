/* SPDX-License-Identifier: MIT */
/* fdtab.c -- not written yet. */
