/* The process's stop flag, set from the SIGTERM/SIGINT handler (an async-signal-safe store). */
#include "jt_signal.h"

#include <string.h>

static volatile sig_atomic_t stop_flag = 0;

static void on_stop_signal(int sig) {
        (void)sig;
        stop_flag = 1;
}

void jt_signal_install_stop(void) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
}

bool jt_signal_stop_requested(void) {
        return stop_flag != 0;
}

void jt_signal_request_stop(void) {
        stop_flag = 1;
}

volatile sig_atomic_t *jt_signal_stop_flag(void) {
        return &stop_flag;
}
