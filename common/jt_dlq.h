/* The dead-letter contract: the headers a DLQ message carries, written by the worker and read by
 * `joytify-producer replay --dlq`. Key and value are the original task's, byte for byte. */
#ifndef JT_DLQ_H
#define JT_DLQ_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jt_error.h"

/* Header names. Values are text without a terminating NUL; numbers are decimal. */
#define JT_DLQ_HDR_TOPIC     "jt-original-topic"     /* topic the task was consumed from */
#define JT_DLQ_HDR_PARTITION "jt-original-partition" /* its partition */
#define JT_DLQ_HDR_OFFSET    "jt-original-offset"    /* its offset there */
#define JT_DLQ_HDR_ERROR     "jt-error"              /* why it can never succeed, one line */
#define JT_DLQ_HDR_ATTEMPTS  "jt-attempts"           /* tries made before giving up */
/* Added by replay on the re-sent task: "dlq-topic/partition/offset" of the DLQ copy. */
#define JT_DLQ_HDR_REPLAYED_FROM "jt-replayed-from"

/* True when `name` is one of the DLQ headers above, which describe the dead-lettering and are
 * not carried back to the original topic. */
bool jt_dlq_header_is_contract(const char *name);

/* Copies the last value of header `name` into buf (size bytes, NUL-terminated). Fails with
 * domain JT_ERR_INPUT when the header is absent, holds a NUL byte or does not fit. */
bool jt_dlq_header_str(const rd_kafka_message_t *msg, const char *name, char *buf, size_t size,
                       jt_error_t *err);

/* Reads the last value of header `name` as a decimal integer; JT_ERR_INPUT when absent or not
 * a number. *value is 0 on failure. */
bool jt_dlq_header_int(const rd_kafka_message_t *msg, const char *name, int64_t *value,
                       jt_error_t *err);

/* The headers of the DLQ copy of a task consumed from topic/partition/offset that failed with
 * `error` after `attempts` tries. The caller owns the result (rd_kafka_headers_destroy, or hand
 * it to jt_kafka_send). */
rd_kafka_headers_t *jt_dlq_headers_new(const char *topic, int32_t partition, int64_t offset,
                                       const char *error, int attempts);

#endif
