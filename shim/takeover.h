/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "pager.h"

/* In a pager the keeper started after the last one died: take its state over from the arena
 * (p is the arena's root) before any thread starts. 0 or -errno. */
int pager_takeover(struct pager *p);
