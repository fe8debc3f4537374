/* Preloaded with libfaketime in the clock-skew test (worker_cleanup_safety_it.py), before it:
 * librdkafka waits with C11 cnd_timedwait, whose glibc implementation calls pthread_cond_timedwait
 * inside libc where libfaketime cannot see it, so a clock moved ahead by N days made every
 * librdkafka wait last N days. This cnd_timedwait calls pthread_cond_timedwait through the
 * dynamic linker: libfaketime's wrapper takes the faked deadline back to the real clock. */
#include <pthread.h>
#include <threads.h>
#include <errno.h>

int cnd_timedwait(cnd_t *cond, mtx_t *mtx, const struct timespec *ts) {
        int rc = pthread_cond_timedwait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx, ts);
        return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}
