/* SPDX-License-Identifier: MIT */
/* main.c -- not written yet. */
