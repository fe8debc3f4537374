/* The URL checks that decide where a credential may go (jt_url.h). */
#include "jt_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool jt_url_origin(const char *url, char *scheme, size_t ssize, char *host, size_t hsize) {
        CURLU *u = url ? curl_url() : NULL;
        char *s = NULL, *h = NULL;
        bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK;

        snprintf(scheme, ssize, "%s", ok ? s : "");
        snprintf(host, hsize, "%s", ok ? h : "");
        curl_free(s);
        curl_free(h);
        curl_url_cleanup(u);
        return ok;
}

bool jt_url_host_is_loopback(const char *host) {
        struct in_addr a4;
        struct in6_addr a6;
        char bare[64];
        size_t len = strlen(host);

        if (strcasecmp(host, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (len > 2 && len < sizeof(bare) + 2 && host[0] == '[' && host[len - 1] == ']') {
                snprintf(bare, sizeof(bare), "%.*s", (int)(len - 2), host + 1);
                return inet_pton(AF_INET6, bare, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
        return false;
}

bool jt_url_secret_may_go(const char *url, char *scheme, size_t ssize, char *host, size_t hsize) {
        if (!jt_url_origin(url, scheme, ssize, host, hsize) || !*host)
                return false;
        return strcmp(scheme, "https") == 0 ||
               (strcmp(scheme, "http") == 0 && jt_url_host_is_loopback(host));
}

const char *jt_url_curl_version(void) {
        return curl_version_info(CURLVERSION_NOW)->version;
}
