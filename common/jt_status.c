/* Status event sending shared by the producer, the workers and the tests. */
#include "jt_status.h"

#include <stdlib.h>
#include <string.h>

#include "jt_kafka.h"

bool jt_status_send(rd_kafka_t *rk, const jt_avro_registry_t *reg, const char *topic,
                    const jt_status_event_t *event, jt_error_t *err) {
        void *buf = NULL;
        size_t len = 0;
        bool ok = jt_status_event_encode(reg, event, &buf, &len, err) &&
                  jt_kafka_send(rk, topic, event->job_id, event->job_id ? strlen(event->job_id) : 0,
                                buf, len, NULL, err);

        free(buf);
        return ok;
}
