/* LLVMFuzzerInitialize of the targets that format times through the notifier (iso_time,
 * notifier_message): the zone is UTC, so that the output does not depend on the machine's. */
#include "format.h"
#include "jt_fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        jt_error_t err;
        (void)argc;
        (void)argv;
        if (!jt_format_set_zone("UTC", &err))
                jt_fuzz_finding("setup", "%s", err.message);
        return 0;
}
