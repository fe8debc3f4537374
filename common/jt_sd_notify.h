/* systemd's service notification (sd_notify(3)) for Type=notify units: READY=1 once the
 * program's servers answer, WATCHDOG=1 from its loop, STOPPING=1 at its end, STATUS= lines.
 * Every function is a no-op when NOTIFY_SOCKET is unset (not started by systemd), and all are
 * thread-safe: the notification socket is the process's, so this module's state is too. */
#ifndef JT_SD_NOTIFY_H
#define JT_SD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* The program's readiness changed, with a one-line reason ("Kafka unreachable"): the first
 * ready sends READY=1, and every change of the reason a STATUS= line. A unit's start therefore
 * completes only once both servers answered (jt_metrics_set_ready's callers). */
void jt_sd_notify_ready(bool ready, const char *reason);

/* The loop went round: WATCHDOG=1, at most every half of the unit's WatchdogSec (systemd's
 * WATCHDOG_USEC), so that a 100 ms loop costs one datagram a minute or so. Nothing without
 * WatchdogSec. */
void jt_sd_notify_watchdog(void);

/* The program is stopping (a signal, a fatal error): STOPPING=1 with the reason as STATUS=. */
void jt_sd_notify_stopping(const char *reason);

/* The watchdog interval systemd asked for, in ms; 0 when none (or NOTIFY_SOCKET is unset). */
int64_t jt_sd_notify_watchdog_ms(void);

#endif
