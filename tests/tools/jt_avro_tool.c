/* jt_avro_tool: the Avro codec from the command line, so that another implementation
 * (fastavro, in tests/tools/avro_crosscheck.py) can check it byte for byte. */
#include "jt_avro.h"
#include "jt_hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
        fprintf(out,
                "usage: jt_avro_tool pcf FILE          Parsing Canonical Form of a schema file\n"
                "       jt_avro_tool fingerprint FILE  CRC-64-AVRO of it, as the 8 header bytes "
                "in hex\n"
                "       jt_avro_tool schemas           the built-in schemas: file, "
                "fingerprint, form\n"
                "       jt_avro_tool encode TYPE [--hex] [OPTIONS] < JSON\n"
                "       jt_avro_tool decode [TYPE] [--hex] [OPTIONS] < MESSAGE\n"
                "TYPE is stats_task, cleanup_task or status_event. Without --hex, one JSON\n"
                "document in and one message out (or the reverse); with --hex, one item per\n"
                "line, messages in hex, and a failed item prints {\"error\": ...}.\n"
                "OPTIONS: --schema FILE (add TYPE.vN.avsc to the registry, repeatable),\n"
                "         --reader TYPE:N (pin the reader version).\n");
}

static char *read_all(FILE *f, size_t cap, size_t *len) {
        size_t size = 4096, n = 0, r;
        char *buf = malloc(size + 1), *grown;

        while (buf && (r = fread(buf + n, 1, size - n, f)) > 0) {
                n += r;
                if (n == size) {
                        if (size > cap) {
                                free(buf);
                                return NULL;
                        }
                        size *= 2;
                        if (!(grown = realloc(buf, size + 1))) {
                                free(buf);
                                return NULL;
                        }
                        buf = grown;
                }
        }
        if (buf)
                buf[n] = '\0';
        *len = n;
        return buf;
}

static char *read_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        char *buf;

        if (!f) {
                perror(path);
                return NULL;
        }
        buf = read_all(f, JT_AVRO_MAX_MESSAGE_BYTES, len);
        fclose(f);
        return buf;
}

static void print_error(const jt_error_t *err) {
        json_t *j = json_pack("{s:s, s:s}", "error", err->message, "domain",
                              jt_error_domain_name(err->domain));
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

        printf("%s\n", s ? s : "{\"error\":\"out of memory\"}");
        free(s);
        json_decref(j);
}

static bool encode_one(const jt_avro_registry_t *reg, jt_avro_type_t type, const char *text,
                       size_t len, void **msg, size_t *msglen, jt_error_t *err) {
        json_error_t jerr;
        json_t *json = json_loadb(text, len, 0, &jerr);
        avro_value_t v;
        bool ok;

        if (!json)
                return jt_error_set(err, JT_ERR_INPUT, 0, "bad JSON: %s", jerr.text);
        ok = jt_avro_value_new(reg, type, &v, err);
        if (ok) {
                ok = jt_avro_value_from_json(&v, json, JT_AVRO_JSON_PLAIN, err) &&
                     jt_avro_encode(reg, type, &v, msg, msglen, err);
                avro_value_decref(&v);
        }
        json_decref(json);
        return ok;
}

static bool decode_one(const jt_avro_registry_t *reg, bool typed, jt_avro_type_t type,
                       const void *msg, size_t len, char **out, jt_error_t *err) {
        jt_avro_schema_info_t info;
        avro_value_t v;
        json_t *json = NULL;

        *out = NULL;
        if (!typed) {
                if (!jt_avro_peek(reg, msg, len, &info, err))
                        return false;
                type = info.type;
        }
        if (!jt_avro_decode(reg, type, msg, len, &v, err))
                return false;
        if (jt_avro_value_to_json(&v, &json, err))
                *out =
                    json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        json_decref(json);
        avro_value_decref(&v);
        return *out != NULL;
}

static int run_hex_lines(const jt_avro_registry_t *reg, bool encode, bool typed,
                         jt_avro_type_t type) {
        char *line = NULL, *text;
        size_t cap = 0, i, n, msglen;
        ssize_t len;
        uint8_t *bytes;
        void *msg;
        jt_error_t err;
        int failures = 0;

        while ((len = getline(&line, &cap, stdin)) >= 0) {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = '\0';
                jt_error_clear(&err);
                if (encode) {
                        if (!encode_one(reg, type, line, (size_t)len, &msg, &msglen, &err)) {
                                print_error(&err);
                                failures++;
                                continue;
                        }
                        for (i = 0; i < msglen; i++)
                                printf("%02x", ((uint8_t *)msg)[i]);
                        printf("\n");
                        free(msg);
                        continue;
                }
                n = (size_t)len / 2;
                bytes = malloc(n + 1);
                for (i = 0; bytes && i < n; i++) {
                        int hi = jt_hex_value(line[2 * i]), lo = jt_hex_value(line[2 * i + 1]);
                        if (hi < 0 || lo < 0)
                                break;
                        bytes[i] = (uint8_t)(hi << 4 | lo);
                }
                if (!bytes || i < n || len % 2) {
                        jt_error_set(&err, JT_ERR_INPUT, 0, "line is not hex");
                        print_error(&err);
                        failures++;
                } else if (!decode_one(reg, typed, type, bytes, n, &text, &err)) {
                        print_error(&err);
                        failures++;
                } else {
                        printf("%s\n", text);
                        free(text);
                }
                free(bytes);
        }
        free(line);
        fflush(stdout);
        return failures ? 1 : 0;
}

static int cmd_schema_file(const char *cmd, const char *path) {
        jt_error_t err;
        size_t len;
        char *text = read_file(path, &len), *pcf = NULL;
        uint8_t le[8];
        int i;

        if (!text)
                return 1;
        jt_error_clear(&err);
        if (!jt_avro_canonical_form(text, len, &pcf, &err)) {
                fprintf(stderr, "%s: %s\n", path, err.message);
                free(text);
                return 1;
        }
        if (!strcmp(cmd, "pcf")) {
                printf("%s\n", pcf);
        } else {
                jt_avro_fingerprint_to_le(jt_avro_fingerprint_crc64(pcf, strlen(pcf)), le);
                for (i = 0; i < 8; i++)
                        printf("%02x", le[i]);
                printf("\n");
        }
        free(pcf);
        free(text);
        return 0;
}

static int cmd_schemas(void) {
        const jt_avro_schema_file_t *files = NULL;
        jt_avro_registry_t *reg;
        jt_avro_schema_info_t info;
        jt_avro_type_t type;
        jt_error_t err;
        size_t n, i;
        char *pcf;
        int version, k;
        uint8_t le[8];

        jt_error_clear(&err);
        if (!(reg = jt_avro_registry_new(&err))) {
                fprintf(stderr, "registry: %s\n", err.message);
                return 1;
        }
        files = jt_avro_schema_files(&n);
        for (i = 0; i < n; i++) {
                if (!jt_avro_parse_schema_file_name(files[i].file, &type, &version, &err) ||
                    !jt_avro_canonical_form(files[i].text, files[i].len, &pcf, &err)) {
                        fprintf(stderr, "%s: %s\n", files[i].file, err.message);
                        jt_avro_registry_destroy(reg);
                        return 1;
                }
                jt_avro_fingerprint_to_le(jt_avro_fingerprint_crc64(pcf, strlen(pcf)), le);
                printf("%s ", files[i].file);
                for (k = 0; k < 8; k++)
                        printf("%02x", le[k]);
                jt_avro_registry_reader(reg, type, &info, &err);
                printf("%s %s\n", info.version == version ? " reader" : "", pcf);
                free(pcf);
        }
        jt_avro_registry_destroy(reg);
        return 0;
}

int main(int argc, char **argv) {
        jt_avro_registry_t *reg = NULL;
        jt_avro_type_t type = JT_AVRO_STATS_TASK;
        jt_error_t err;
        bool encode, hex = false, typed = false;
        char *in = NULL, *text = NULL, *colon;
        void *msg = NULL;
        size_t len = 0, msglen;
        int i, rc = 1;

        jt_error_clear(&err);
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if ((!strcmp(argv[1], "pcf") || !strcmp(argv[1], "fingerprint")) && argc == 3)
                return cmd_schema_file(argv[1], argv[2]);
        if (!strcmp(argv[1], "schemas") && argc == 2)
                return cmd_schemas();
        if (strcmp(argv[1], "encode") && strcmp(argv[1], "decode")) {
                usage(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
                return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
        }
        encode = !strcmp(argv[1], "encode");
        if (!(reg = jt_avro_registry_new(&err)))
                goto fail;
        for (i = 2; i < argc; i++) {
                if (!strcmp(argv[i], "--hex")) {
                        hex = true;
                } else if (!strcmp(argv[i], "--schema") && i + 1 < argc) {
                        if (!jt_avro_registry_add_file(reg, argv[++i], &err))
                                goto fail;
                } else if (!strcmp(argv[i], "--reader") && i + 1 < argc &&
                           (colon = strchr(argv[++i], ':'))) {
                        jt_avro_type_t rt;
                        *colon = '\0';
                        if (!jt_avro_type_from_name(argv[i], &rt, &err) ||
                            !jt_avro_registry_set_reader(reg, rt, atoi(colon + 1), &err))
                                goto fail;
                } else if (argv[i][0] != '-' && !typed) {
                        if (!jt_avro_type_from_name(argv[i], &type, &err))
                                goto fail;
                        typed = true;
                } else {
                        usage(stderr);
                        rc = 2;
                        goto done;
                }
        }
        if (encode && !typed) {
                usage(stderr);
                rc = 2;
                goto done;
        }
        if (hex) {
                rc = run_hex_lines(reg, encode, typed, type);
                goto done;
        }
        if (!(in = read_all(stdin, JT_AVRO_MAX_MESSAGE_BYTES * 2, &len))) {
                jt_error_set(&err, JT_ERR_INPUT, 0, "cannot read stdin (or it is too large)");
                goto fail;
        }
        if (encode) {
                if (!encode_one(reg, type, in, len, &msg, &msglen, &err))
                        goto fail;
                rc = fwrite(msg, 1, msglen, stdout) == msglen ? 0 : 1;
        } else {
                if (!decode_one(reg, typed, type, in, len, &text, &err))
                        goto fail;
                printf("%s\n", text);
                rc = 0;
        }
        goto done;
fail:
        fprintf(stderr, "jt_avro_tool: %s error: %s\n", jt_error_domain_name(err.domain),
                err.message);
        rc = 1;
done:
        free(text);
        free(msg);
        free(in);
        jt_avro_registry_destroy(reg);
        return rc;
}
