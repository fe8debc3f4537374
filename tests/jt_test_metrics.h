/* Reading a Prometheus exposition in the cmocka tests of /metrics (test_metrics.c,
 * test_metrics_series.c): one sample's value, and assertions that print the whole body when
 * they fail. Include after <cmocka.h>, <stdio.h> and <string.h>. */
#ifndef JT_TEST_METRICS_H
#define JT_TEST_METRICS_H

/* The value of the sample whose name and labels are exactly `series`, or NULL. Copied into
 * out. */
static inline const char *sample(const char *body, const char *series, char *out, size_t size) {
        size_t n = strlen(series);

        for (const char *line = body; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t)(eol - line) : strlen(line);

                if (len > n && strncmp(line, series, n) == 0 && line[n] == ' ') {
                        snprintf(out, size, "%.*s", (int)(len - n - 1), line + n + 1);
                        return out;
                }
                line = eol ? eol + 1 : NULL;
        }
        return NULL;
}

#define expect_sample(body, series, expected)                                                      \
        do {                                                                                       \
                char got_[128];                                                                    \
                const char *v_ = sample((body), (series), got_, sizeof(got_));                     \
                if (!v_ || strcmp(v_, (expected)) != 0)                                            \
                        fail_msg("%s: expected %s, got %s\n--- body ---\n%s", (series),            \
                                 (expected), v_ ? v_ : "(no such series)", (body));                \
        } while (0)

#define expect_no_sample(body, series)                                                             \
        do {                                                                                       \
                char got_[128];                                                                    \
                const char *v_ = sample((body), (series), got_, sizeof(got_));                     \
                if (v_)                                                                            \
                        fail_msg("%s: expected no such series, got value %s\n--- body ---\n%s",    \
                                 (series), v_, (body));                                            \
        } while (0)

#endif
