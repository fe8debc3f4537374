/* sd_notify for Type=notify units, through libsystemd. The state (was READY sent, the last
 * STATUS, the last watchdog ping) belongs to the process, like the socket it talks to: an
 * atomic and one lock. */
#include "jt_sd_notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "jt_time.h"

#define STATUS_MAX 200

static _Atomic int64_t pinged_ms; /* monotonic time of the last WATCHDOG=1; 0: none yet */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool ready_sent;              /* under lock */
static char last_status[STATUS_MAX]; /* under lock */

/* Read at each call, as libsystemd does: a getenv costs less than the loop's round, and a
 * test can set and unset the variables. */
static bool active(void) {
        const char *socket = getenv("NOTIFY_SOCKET");

        return socket && *socket;
}

/* WATCHDOG_USEC in ms; sd_watchdog_enabled checks WATCHDOG_PID too, so that a child does not
 * ping for its parent. */
static int64_t watchdog_interval_ms(void) {
        uint64_t usec = 0;

        return active() && sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 1000) : 0;
}

/* STATUS= takes one line: a reason's control characters become spaces. */
static void one_line(const char *in, char *out, size_t size) {
        size_t i = 0;

        for (; in && in[i] && i < size - 1; i++)
                out[i] = (unsigned char)in[i] < 0x20 ? ' ' : in[i];
        out[i] = '\0';
}

void jt_sd_notify_ready(bool ready, const char *reason) {
        char status[STATUS_MAX], text[STATUS_MAX + 32];
        bool send_ready;

        if (!active())
                return;
        snprintf(text, sizeof(text), "%s", ready ? "ready: " : "not ready: ");
        one_line(reason && *reason ? reason : (ready ? "ok" : "starting"), status, sizeof(status));
        strncat(text, status, sizeof(text) - strlen(text) - 1);
        pthread_mutex_lock(&lock);
        send_ready = ready && !ready_sent;
        ready_sent = ready_sent || ready;
        if (send_ready || strcmp(last_status, text) != 0) {
                snprintf(last_status, sizeof(last_status), "%s", text);
                sd_notifyf(0, "%sSTATUS=%s", send_ready ? "READY=1\n" : "", text);
        }
        pthread_mutex_unlock(&lock);
}

void jt_sd_notify_watchdog(void) {
        int64_t every = watchdog_interval_ms(), now, last;

        if (every <= 0)
                return;
        now = jt_time_mono_ms();
        last = atomic_load_explicit(&pinged_ms, memory_order_relaxed);
        if (last != 0 && now - last < every / 2)
                return;
        /* One thread wins the ping when two loops beat at once. */
        if (atomic_compare_exchange_strong(&pinged_ms, &last, now))
                sd_notify(0, "WATCHDOG=1");
}

void jt_sd_notify_stopping(const char *reason) {
        char status[STATUS_MAX];

        if (!active())
                return;
        one_line(reason && *reason ? reason : "stopping", status, sizeof(status));
        pthread_mutex_lock(&lock);
        snprintf(last_status, sizeof(last_status), "%s", status);
        sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
        pthread_mutex_unlock(&lock);
}

int64_t jt_sd_notify_watchdog_ms(void) {
        return watchdog_interval_ms();
}
