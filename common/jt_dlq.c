/* Reading and writing the DLQ headers. Header values come from a topic: every read is checked,
 * never trusted to be a terminated string. */
#include "jt_dlq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool jt_dlq_header_is_contract(const char *name) {
        static const char *const names[] = {JT_DLQ_HDR_TOPIC, JT_DLQ_HDR_PARTITION,
                                            JT_DLQ_HDR_OFFSET, JT_DLQ_HDR_ERROR,
                                            JT_DLQ_HDR_ATTEMPTS};

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return false;
}

/* The last value of a header, or false when the message has none by that name. */
static bool header_raw(const rd_kafka_message_t *msg, const char *name, const char **value,
                       size_t *size) {
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;

        *value = NULL;
        *size = 0;
        if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            rd_kafka_header_get_last(hdrs, name, &v, size) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return false;
        /* A header sent with a NULL value reads back as NULL: treat it as empty. */
        *value = v ? v : "";
        return true;
}

bool jt_dlq_header_str(const rd_kafka_message_t *msg, const char *name, char *buf, size_t size,
                       jt_error_t *err) {
        const char *value;
        size_t len;

        if (size > 0)
                buf[0] = '\0';
        if (!header_raw(msg, name, &value, &len))
                return jt_error_set(err, JT_ERR_INPUT, 0, "no %s header", name);
        if (memchr(value, '\0', len))
                return jt_error_set(err, JT_ERR_INPUT, 0, "header %s holds a NUL byte", name);
        if (len >= size)
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "header %s is %zu bytes, more than the %zu expected", name, len,
                                    size ? size - 1 : 0);
        memcpy(buf, value, len);
        buf[len] = '\0';
        return true;
}

bool jt_dlq_header_int(const rd_kafka_message_t *msg, const char *name, int64_t *value,
                       jt_error_t *err) {
        char text[32];
        char *end = NULL;
        long long n;

        *value = 0;
        if (!jt_dlq_header_str(msg, name, text, sizeof(text), err))
                return false;
        errno = 0;
        n = strtoll(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0')
                return jt_error_set(err, JT_ERR_INPUT, 0,
                                    "header %s must be a decimal integer (got \"%s\")", name, text);
        *value = n;
        return true;
}

rd_kafka_headers_t *jt_dlq_headers_new(const char *topic, int32_t partition, int64_t offset,
                                       const char *error, int attempts) {
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
        char num[32];

        rd_kafka_header_add(hdrs, JT_DLQ_HDR_TOPIC, -1, topic, -1);
        snprintf(num, sizeof(num), "%" PRId32, partition);
        rd_kafka_header_add(hdrs, JT_DLQ_HDR_PARTITION, -1, num, -1);
        snprintf(num, sizeof(num), "%" PRId64, offset);
        rd_kafka_header_add(hdrs, JT_DLQ_HDR_OFFSET, -1, num, -1);
        rd_kafka_header_add(hdrs, JT_DLQ_HDR_ERROR, -1, error ? error : "", -1);
        snprintf(num, sizeof(num), "%d", attempts);
        rd_kafka_header_add(hdrs, JT_DLQ_HDR_ATTEMPTS, -1, num, -1);
        return hdrs;
}
