/* The benchmark's record of the dataset it generated, so that a bench run again after one was
 * stopped can keep a whole dataset instead of generating it again (--reuse-data): at full scale
 * a generation is the longest part of a bench. */
#ifndef JT_LOADTEST_BENCH_DATASET_H
#define JT_LOADTEST_BENCH_DATASET_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "jt_error.h"

/* What the generator was asked for: the same values generate the same documents. */
typedef struct {
        int64_t users, playbacks_per_user, seed, history_months;
        const char *now; /* the generator's --now */
} jt_bench_dataset_t;

/* Removes the record (before a generation: a generation that fails leaves none). */
bool jt_bench_dataset_forget(mongoc_client_t *client, const char *db, jt_error_t *err);

/* Records a generation that succeeded. */
bool jt_bench_dataset_record(mongoc_client_t *client, const char *db, const jt_bench_dataset_t *d,
                             jt_error_t *err);

/* Whether db holds a dataset generated with d's values and still whole: its record matches and
 * it has d->users users and users x playbacks_per_user playbacks (a cleanup run that was stopped
 * leaves fewer). When not, why says what differs. */
bool jt_bench_dataset_matches(mongoc_client_t *client, const char *db, const jt_bench_dataset_t *d,
                              char *why, size_t why_size);

#endif
