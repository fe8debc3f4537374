/* `joytify-loadtest roundtrip`: Avro-encoded statistics tasks sent through the real Kafka and
 * read back by a fresh consumer group, compared field by field and timed. */
#ifndef JT_LOADTEST_ROUNDTRIP_H
#define JT_LOADTEST_ROUNDTRIP_H

#include "jt_config.h"

extern const jt_opt_t *const jt_roundtrip_tables[];

int jt_roundtrip_run(const jt_config_t *cfg);

#endif
