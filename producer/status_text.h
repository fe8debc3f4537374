/* The fleet view as text tables for a terminal (status, replay --dlq --list). */
#ifndef JT_PRODUCER_STATUS_TEXT_H
#define JT_PRODUCER_STATUS_TEXT_H

#include <stdio.h>

#include "jt_fleet_view.h"

/* Every section of the view, then a summary line. */
void jt_status_text_print(FILE *out, const jt_fleet_view_t *view);

/* One dead letter in full: where it is, job, task, kind, error, attempts, where it came from,
 * whether replay handled it, and its headers. */
void jt_status_text_dead_letter(FILE *out, const jt_fleet_dead_letter_t *d);

#endif
