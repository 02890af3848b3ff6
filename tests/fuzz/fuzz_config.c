/*
 * fuzz_config.c - libFuzzer harness: the configuration parser
 * (src/lib/config.c) with the tables of stepup-fcgi (stepup.conf) and
 * stepup-sender (stepup-sender.conf), read from memory with
 * config_load_stream.
 *
 * Input: one byte choosing the table (even: stepup-fcgi, odd:
 * stepup-sender), then the file.  Checked: a refused file has a message;
 * a loaded one prints back (config_print_value, every key) to values that
 * config_set takes on a fresh default configuration and that print the
 * same again, so what a file says survives stepupctl-style rewriting.
 */
#include <string.h>

#include "../../src/fcgi/settings.h"
#include "../../src/sender/sender_config.h"
#include "fuzz.h"

/* The value of key in obj as config_print_value prints it, as a new string. */
static char *print_value(const struct setting_table *t, const void *obj, const char *key)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(config_print_value(t, obj, key, out) == STEPUP_OK);
    FUZZ_CHECK(fclose(out) == 0);
    return text;
}

/*
 * Print every key of obj, set it on fresh (one config_set per printed
 * line: a list prints an item a line), and print it again from fresh.
 */
static void check_round_trip(const struct setting_table *t, const void *obj, void *fresh)
{
    char err[512];

    for (size_t i = 0; i < t->nsections; i++)
        for (size_t j = 0; j < t->sections[i].count; j++) {
            const char *key = t->sections[i].defs[j].key;
            char *printed = print_value(t, obj, key), *line = printed, *nl;
            for (; *line != '\0'; line = nl) {
                nl = strchr(line, '\n');
                FUZZ_CHECK(nl != NULL);
                *nl++ = '\0';
                if (config_set(t, fresh, key, line, err, sizeof err) != STEPUP_OK) {
                    fprintf(stderr, "config_set %s refused the value it printed: %s\n", key, err);
                    abort();
                }
                nl[-1] = '\n';
            }
            char *again = print_value(t, fresh, key);
            FUZZ_CHECK(strcmp(printed, again) == 0);
            free(again);
            free(printed);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    union {
        struct settings fcgi;
        struct sender_config sender;
    } obj, fresh;
    const struct setting_table *t;
    char err[512];

    if (size < 2)
        return 0;
    if (data[0] % 2 == 0) {
        t = &settings_table;
        settings_defaults(&obj.fcgi);
        settings_defaults(&fresh.fcgi);
    } else {
        t = &sender_config_table;
        sender_config_defaults(&obj.sender);
        sender_config_defaults(&fresh.sender);
    }
    FILE *f = fmemopen((void *)(data + 1), size - 1, "r");
    FUZZ_CHECK(f != NULL);
    err[0] = '\0';
    int rc = config_load_stream(t, &obj, f, "fuzz.conf", err, sizeof err);
    fclose(f);
    if (rc != STEPUP_OK)
        FUZZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0);
    else
        check_round_trip(t, &obj, &fresh);
    config_free(t, &obj);
    config_free(t, &fresh);
    return 0;
}
