/* The series modules add to /metrics (common/jt_metrics_process.c, jt_metrics_schedule.c,
 * jt_metrics_notifier.c) as jt_metrics_render writes them, and systemd's notifications
 * (common/jt_sd_notify.c) as a unix datagram socket receives them.
 * `test_metrics_series --dump FILE` writes an exposition with every new series for promtool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jt_metrics.h"
#include "jt_metrics_notifier.h"
#include "jt_metrics_process.h"
#include "jt_metrics_schedule.h"
#include "jt_sd_notify.h"
#include "jt_test.h"
#include "jt_test_metrics.h"

static jt_metrics_t *registry(const char *program) {
        jt_error_t err;
        jt_metrics_t *m;

        jt_error_clear(&err);
        m = jt_metrics_new(program, &err);
        assert_ok(m != NULL, err);
        return m;
}

/* The figures of a known process, formatted exactly; unknown ones are left out. */
static void process_format(void **state) {
        jt_metrics_process_t p = {.cpu_known = true,
                                  .cpu_seconds = 1.25,
                                  .rss_known = true,
                                  .rss_bytes = 8388608,
                                  .start_known = true,
                                  .start_seconds = 1796601600.5,
                                  .fds_known = true,
                                  .open_fds = 17};
        char *body = jt_metrics_process_format(&p);

        assert_non_null(body);
        expect_sample(body, "process_cpu_seconds_total", "1.25");
        expect_sample(body, "process_resident_memory_bytes", "8388608");
        expect_sample(body, "process_start_time_seconds", "1796601600.500");
        expect_sample(body, "process_open_fds", "17");
        expect_no_sample(body, "process_max_fds");
        assert_non_null(strstr(body, "# TYPE process_cpu_seconds_total counter\n"));
        assert_non_null(strstr(body, "# TYPE process_open_fds gauge\n"));
        free(body);
}

/* Read from /proc/self: plausible values, and every program's /metrics has them. */
static void process_read(void **state) {
        jt_metrics_process_t p;
        jt_metrics_t *m = registry("worker");
        char *body = jt_metrics_render(m, NULL);
        time_t now = time(NULL);

        jt_metrics_process_read(&p);
        assert_true(p.cpu_known && p.rss_known && p.start_known && p.fds_known);
        assert_true(p.cpu_seconds >= 0 && p.rss_bytes > 1024 * 1024);
        /* Started within the last hour, not in the future (a second of rounding). */
        if (p.start_seconds > (double)now + 1 || p.start_seconds < (double)now - 3600)
                fail_msg("process_start_time_seconds %.3f, now %lld", p.start_seconds,
                         (long long)now);
        assert_true(p.open_fds >= 3); /* stdin, stdout, stderr at least */
        assert_non_null(body);
        for (const char *name = "process_cpu_seconds_total "; name; name = NULL)
                assert_non_null(strstr(body, name));
        assert_non_null(strstr(body, "\nprocess_resident_memory_bytes "));
        assert_non_null(strstr(body, "\nprocess_start_time_seconds "));
        assert_non_null(strstr(body, "\nprocess_open_fds "));
        free(body);
        jt_metrics_destroy(m);
}

static void schedule_series(void **state) {
        jt_metrics_t *m = registry("scheduler");
        char *body;

        jt_metrics_schedule_set(m, "stats", 1, 2); /* before attaching: nothing to set */
        assert_true(jt_metrics_schedule_attach(m));
        body = jt_metrics_render(m, NULL);
        assert_non_null(strstr(body, "# TYPE joytify_schedule_next_fire_timestamp_seconds gauge"));
        expect_no_sample(body, "joytify_schedule_next_fire_timestamp_seconds{schedule=\"stats\"}");
        free(body);
        jt_metrics_schedule_set(m, "stats", -1, 1798768800);
        jt_metrics_schedule_set(m, "cleanup", 1796961600, 1797566400);
        jt_metrics_schedule_set(m, "evil\"}", 5, 6); /* not a schedule: ignored */
        body = jt_metrics_render(m, NULL);
        expect_no_sample(body, "joytify_schedule_last_fire_timestamp_seconds{schedule=\"stats\"}");
        expect_sample(body, "joytify_schedule_next_fire_timestamp_seconds{schedule=\"stats\"}",
                      "1798768800");
        expect_sample(body, "joytify_schedule_last_fire_timestamp_seconds{schedule=\"cleanup\"}",
                      "1796961600");
        expect_sample(body, "joytify_schedule_next_fire_timestamp_seconds{schedule=\"cleanup\"}",
                      "1797566400");
        assert_null(strstr(body, "evil"));
        free(body);
        jt_metrics_destroy(m);
}

static void notifier_series(void **state) {
        jt_metrics_t *m = registry("notifier");
        char *body;

        assert_true(jt_metrics_notifier_attach(m));
        assert_false(jt_metrics_notifier_attach(m)); /* once per registry */
        body = jt_metrics_render(m, NULL);
        /* Every series at 0 from the start, so that increase() works from the first scrape. */
        expect_sample(body, "joytify_notifier_posts_total{outcome=\"posted\"}", "0");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"server\"}", "0");
        expect_sample(body, "joytify_notifier_post_wait_seconds_count", "0");
        free(body);
        jt_metrics_notifier_post(m, "posted");
        jt_metrics_notifier_post(m, "posted");
        jt_metrics_notifier_post(m, "duplicate");
        jt_metrics_notifier_post(m, "failed");
        jt_metrics_notifier_post(m, "bogus\n"); /* -> other */
        jt_metrics_notifier_post(m, NULL);      /* -> other */
        jt_metrics_notifier_webhook_error(m, 0);
        jt_metrics_notifier_webhook_error(m, 503);
        jt_metrics_notifier_webhook_error(m, 502);
        jt_metrics_notifier_webhook_error(m, 429);
        jt_metrics_notifier_webhook_error(m, 404);
        jt_metrics_notifier_webhook_error(m, 400);
        jt_metrics_notifier_webhook_error(m, 308);
        jt_metrics_notifier_webhook_error(m, 408);
        jt_metrics_notifier_waited(m, 400);     /* 0.4 s: le 1 */
        jt_metrics_notifier_waited(m, 45000);   /* 45 s: le 60 */
        jt_metrics_notifier_waited(m, -2000);   /* skew: 0 */
        jt_metrics_notifier_waited(m, 9000000); /* 2.5 h: le 21600 */
        body = jt_metrics_render(m, NULL);
        expect_sample(body, "joytify_notifier_posts_total{outcome=\"posted\"}", "2");
        expect_sample(body, "joytify_notifier_posts_total{outcome=\"duplicate\"}", "1");
        expect_sample(body, "joytify_notifier_posts_total{outcome=\"failed\"}", "1");
        expect_sample(body, "joytify_notifier_posts_total{outcome=\"rejected\"}", "0");
        expect_sample(body, "joytify_notifier_posts_total{outcome=\"other\"}", "2");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"network\"}", "1");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"server\"}", "2");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"rate_limited\"}", "1");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"gone\"}", "1");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"rejected\"}", "1");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"redirect\"}", "1");
        expect_sample(body, "joytify_notifier_webhook_errors_total{class=\"timeout\"}", "1");
        expect_sample(body, "joytify_notifier_post_wait_seconds_bucket{le=\"1\"}", "2");
        expect_sample(body, "joytify_notifier_post_wait_seconds_bucket{le=\"30\"}", "2");
        expect_sample(body, "joytify_notifier_post_wait_seconds_bucket{le=\"60\"}", "3");
        expect_sample(body, "joytify_notifier_post_wait_seconds_bucket{le=\"7200\"}", "3");
        expect_sample(body, "joytify_notifier_post_wait_seconds_bucket{le=\"21600\"}", "4");
        expect_sample(body, "joytify_notifier_post_wait_seconds_bucket{le=\"+Inf\"}", "4");
        expect_sample(body, "joytify_notifier_post_wait_seconds_count", "4");
        expect_sample(body, "joytify_notifier_post_wait_seconds_sum", "9045.3999999999996");
        free(body);
        jt_metrics_destroy(m);
}

/* Without NOTIFY_SOCKET every call is a no-op (run before the socket test sets it). */
static void sd_notify_unset(void **state) {
        unsetenv("NOTIFY_SOCKET");
        jt_sd_notify_ready(true, "ok");
        jt_sd_notify_watchdog();
        jt_sd_notify_stopping(NULL);
        assert_int_equal(0, jt_sd_notify_watchdog_ms());
}

static int notify_socket(char *path, size_t size) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        struct timeval tv = {0, 200000};
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

        snprintf(path, size, "/tmp/jt-sd-notify-%d", (int)getpid());
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
        unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
                fail_msg("cannot bind %s", path);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

/* The next datagram, "" after 200 ms without one. */
static const char *next_datagram(int fd, char *buf, size_t size) {
        ssize_t n = recv(fd, buf, size - 1, 0);

        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

#define expect_datagram(fd, expected)                                                              \
        do {                                                                                       \
                char got_[512];                                                                    \
                next_datagram((fd), got_, sizeof(got_));                                           \
                if (strcmp(got_, (expected)) != 0)                                                 \
                        fail_msg("datagram: expected \"%s\", got \"%s\"", (expected), got_);       \
        } while (0)

static void sd_notify_socket(void **state) {
        char path[108];
        int fd = notify_socket(path, sizeof(path));
        jt_metrics_t *m;

        setenv("NOTIFY_SOCKET", path, 1);
        setenv("WATCHDOG_USEC", "400000", 1); /* 0.4 s: a ping every 0.2 s at most */
        unsetenv("WATCHDOG_PID");
        m = registry("worker");
        assert_int_equal(400, jt_sd_notify_watchdog_ms());
        /* Not ready: a STATUS, no READY; the same reason again sends nothing. */
        jt_metrics_set_ready(m, false, "starting: Kafka unreachable", 0);
        expect_datagram(fd, "STATUS=not ready: starting: Kafka unreachable");
        jt_metrics_set_ready(m, false, "starting: Kafka unreachable", 0);
        expect_datagram(fd, "");
        jt_metrics_set_ready(m, true, NULL, 0);
        expect_datagram(fd, "READY=1\nSTATUS=ready: ok");
        /* READY once; a later change is a STATUS line only (control characters flattened). */
        jt_metrics_set_ready(m, false, "MongoDB\nunreachable", 0);
        expect_datagram(fd, "STATUS=not ready: MongoDB unreachable");
        jt_metrics_set_ready(m, true, NULL, 0);
        expect_datagram(fd, "STATUS=ready: ok");
        /* The loop's beats: a ping at once, then none within half the interval. */
        jt_metrics_beat(m);
        expect_datagram(fd, "WATCHDOG=1");
        jt_metrics_beat(m);
        expect_datagram(fd, "");
        usleep(50000);
        jt_metrics_beat(m);
        expect_datagram(fd, "WATCHDOG=1");
        jt_sd_notify_stopping("stopping on signal");
        expect_datagram(fd, "STOPPING=1\nSTATUS=stopping on signal");
        jt_metrics_destroy(m);
        unsetenv("NOTIFY_SOCKET");
        close(fd);
        unlink(path);
}

static int dump(const char *path) {
        jt_error_t err;
        jt_metrics_t *m;
        char *body;
        FILE *f;

        jt_error_clear(&err);
        if (!(m = jt_metrics_new("notifier", &err)) || !jt_metrics_notifier_attach(m) ||
            !jt_metrics_schedule_attach(m)) {
                fprintf(stderr, "metrics dump: cannot make the registry\n");
                return 1;
        }
        jt_metrics_notifier_post(m, "posted");
        jt_metrics_notifier_webhook_error(m, 503);
        jt_metrics_notifier_waited(m, 2500);
        jt_metrics_schedule_set(m, "stats", 1796083200, 1798768800);
        jt_metrics_schedule_set(m, "cleanup", -1, 1797566400);
        body = jt_metrics_render(m, NULL);
        jt_metrics_destroy(m);
        f = fopen(path, "w");
        if (!body || !f || fputs(body, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "metrics dump: cannot write %s\n", path);
                free(body);
                return 1;
        }
        free(body);
        return 0;
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(process_format),  cmocka_unit_test(process_read),
            cmocka_unit_test(schedule_series), cmocka_unit_test(notifier_series),
            cmocka_unit_test(sd_notify_unset), cmocka_unit_test(sd_notify_socket),
        };

        if (argc == 3 && strcmp(argv[1], "--dump") == 0)
                return dump(argv[2]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
