/* Where a credential may travel: a URL's origin as libcurl reads it (what it would connect to)
 * and the loopback rule that lets http through for tests only. Shared by the notifier's webhook
 * and the worker's app push, so that both refuse the same URLs. */
#ifndef JT_URL_H
#define JT_URL_H

#include <stdbool.h>
#include <stddef.h>

/* The scheme and host of url as libcurl parses it, for checks and for messages that must not
 * show the path, the query or any user:password. False (both "") when it does not parse. */
bool jt_url_origin(const char *url, char *scheme, size_t ssize, char *host, size_t hsize);

/* 127.0.0.0/8, ::1 (in brackets, as libcurl gives it) or localhost, which libcurl resolves to
 * loopback without asking DNS. host is libcurl's reading of the URL, so "127.1" arrives as
 * 127.0.0.1 and "127.0.0.1.example.com" is a name, not an address. */
bool jt_url_host_is_loopback(const char *host);

/* True when a credential may be sent to url: https, or http to a loopback address. The scheme
 * and host are filled in either case ("" when url does not parse). */
bool jt_url_secret_may_go(const char *url, char *scheme, size_t ssize, char *host, size_t hsize);

/* libcurl's version, for --version (jt_program_t.curl_version). */
const char *jt_url_curl_version(void);

#endif
