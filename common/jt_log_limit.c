/* The log's repeat limiter (jt_log_limit.h): a small table of recent keys under one lock. */
#include "jt_log_limit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SLOTS   32
#define KEY_MAX 256

typedef struct {
        char key[KEY_MAX];
        int64_t shown_ms; /* when it was last shown */
        int64_t seen_ms;  /* when it last came: the slot of the longest unseen key is reused */
        long held_back;
        bool used;
} slot_t;

static slot_t slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot of key, or the one to reuse for it (emptied, used false). */
static slot_t *find_slot(const char *key) {
        slot_t *oldest = &slots[0];

        for (size_t i = 0; i < SLOTS; i++) {
                if (slots[i].used && strncmp(slots[i].key, key, KEY_MAX - 1) == 0)
                        return &slots[i];
                if (!slots[i].used || (oldest->used && slots[i].seen_ms < oldest->seen_ms))
                        oldest = &slots[i];
        }
        memset(oldest, 0, sizeof(*oldest));
        return oldest;
}

bool jt_log_limit_pass(const char *key, int64_t now_ms, int64_t interval_ms, long *held_back) {
        bool pass;
        slot_t *s;

        pthread_mutex_lock(&lock);
        s = find_slot(key);
        if (!s->used) {
                snprintf(s->key, sizeof(s->key), "%s", key);
                s->used = true;
                s->shown_ms = now_ms - interval_ms;
        }
        s->seen_ms = now_ms;
        pass = now_ms - s->shown_ms >= interval_ms;
        *held_back = pass ? s->held_back : 0;
        if (pass) {
                s->shown_ms = now_ms;
                s->held_back = 0;
        } else {
                s->held_back++;
        }
        pthread_mutex_unlock(&lock);
        return pass;
}

void jt_log_limit_reset(void) {
        pthread_mutex_lock(&lock);
        memset(slots, 0, sizeof(slots));
        pthread_mutex_unlock(&lock);
}
