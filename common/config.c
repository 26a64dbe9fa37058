/* SPDX-License-Identifier: MIT */
/* config.c -- not written yet. */
