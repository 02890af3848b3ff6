/*
 * Unit tests of src/lib/config.c beyond what check_settings covers for
 * stepup-fcgi's table: sections, the whole-file check, fresh copies, and
 * the files the programs write themselves (config_init, config_update),
 * read back key by key (config_pick, config_print_value).  A table of its
 * own, so that nothing here depends on a program's keys.
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/lib/config.h"

struct demo {
    struct config_common common;
    int count;
    char *name;
    struct setting_list items;
    struct crypto_keyring secret;
};

static const struct setting_def demo_defs[] = {
    { "count", SETTING_INT, offsetof(struct demo, count), 1, 9, "3", "how many (1..9)" },
    { "name", SETTING_STRING, offsetof(struct demo, name), 0, 0, "plain", "a name" },
    { "item", SETTING_LIST, offsetof(struct demo, items), 0, 0, "", "an item; repeat the key" },
    { "secret", SETTING_KEY, offsetof(struct demo, secret), 0, 0, NULL, "a key of its own" },
};

/* The whole-file rule: a name of "bad" is refused. */
static int demo_check(void *obj, char *err, size_t errlen)
{
    struct demo *d = obj;
    if (strcmp(d->name, "bad") == 0) {
        snprintf(err, errlen, "name must not be bad");
        return STEPUP_ERR;
    }
    return STEPUP_OK;
}

static const struct setting_section demo_sections[] = {
    CONFIG_COMMON_SECTION(struct demo),
    { demo_defs, sizeof demo_defs / sizeof demo_defs[0], 0 },
};
/* Read at start-up only: one key of each kind a restart key may be. */
static const char *const demo_restart_keys[] = { "count", "name", "item", "log_target", NULL };
static const struct setting_table demo = {
    "demo", demo_sections, 2, sizeof(struct demo), demo_check, demo_restart_keys,
};

static char dir[64], path[128], other[128];
static char err[1024];

static void setup(void)
{
    strcpy(dir, "/tmp/check_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/demo.conf", dir);
    snprintf(other, sizeof other, "%s/other.conf", dir);
}

static void teardown(void)
{
    unlink(path);
    unlink(other);
    rmdir(dir); /* fails if a temporary file was left behind: checked by only_files */
}

/* Nothing in dir but the expected files (no temporary file left behind). */
static void only_files(int expected)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    ck_assert_int_eq(n, expected);
}

static char *slurp(const char *p)
{
    static char text[8192];
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* A file as an operator keeps one that holds keys: mode 0600. */
static void write_text(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(p, 0600), 0);
}

/* A file with keys that its group or others may read is refused, naming the fix. */
START_TEST(test_a_readable_file_with_keys_is_refused)
{
    struct config_assignment sets[] = { { "count", "7" } };
    ck_assert_int_eq(config_init(&demo, path, sets, 1, NULL, err, sizeof err), STEPUP_OK);
    static const mode_t modes[] = { 0640, 0604, 0644, 0660, 0610 };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        ck_assert_int_eq(chmod(path, modes[i]), 0);
        ck_assert_int_eq(config_update(&demo, path, sets, 1, err, sizeof err), STEPUP_ERR);
        ck_assert_msg(strstr(err, "group or others may read its secrets; chmod 600") != NULL,
                      "%s", err);
    }
    ck_assert_int_eq(chmod(path, 0400), 0);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(config_update(&demo, path, sets, 1, err, sizeof err), STEPUP_OK);
}
END_TEST

START_TEST(test_init_writes_a_complete_private_file)
{
    struct config_assignment sets[] = { { "count", "7" }, { "item", "a" }, { "item", "b" } };
    ck_assert_int_eq(config_init(&demo, path, sets, 3, NULL, err, sizeof err), STEPUP_OK);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    char *text = slurp(path);
    /* every key, under its documentation; defaults commented out */
    ck_assert_ptr_nonnull(strstr(text, "# how many (1..9)\ncount = 7\n"));
    ck_assert_ptr_nonnull(strstr(text, "# a name\n# name = plain\n"));
    ck_assert_ptr_nonnull(strstr(text, "item = a\nitem = b\n"));
    ck_assert_ptr_nonnull(strstr(text, "# db_retry_seconds = 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\noutbox_key = "));
    ck_assert_ptr_nonnull(strstr(text, "\nsecret = "));
    struct demo *d = config_load_new(&demo, path, err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    ck_assert_int_eq(d->count, 7);
    ck_assert_str_eq(d->name, "plain");
    ck_assert_uint_eq(d->items.count, 2);
    ck_assert_str_eq(d->items.items[1], "b");
    /* fresh random keys, different from each other */
    ck_assert_uint_eq(d->secret.count, 1);
    ck_assert(memcmp(d->secret.keys[0].raw, d->common.outbox_key.keys[0].raw, CRYPTO_KEY_LEN) != 0);
    config_release(&demo, d);
    only_files(1);
}
END_TEST

START_TEST(test_init_refuses_an_existing_file)
{
    write_text(path, "# mine\n");
    ck_assert_int_eq(config_init(&demo, path, NULL, 0, NULL, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "exists already"));
    ck_assert_str_eq(slurp(path), "# mine\n");
    only_files(1);
}
END_TEST

START_TEST(test_init_refuses_what_would_not_load)
{
    struct config_assignment bad_int[] = { { "count", "10" } };
    struct config_assignment bad_file[] = { { "name", "bad" } };
    struct config_assignment unknown[] = { { "nope", "1" } };
    struct config_assignment broken[] = { { "name", "two\nlines" } };
    ck_assert_int_eq(config_init(&demo, path, bad_int, 1, NULL, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "count: expected an integer in 1..9"));
    ck_assert_ptr_nonnull(strstr(err, path)); /* named as the file it was to be */
    ck_assert_int_eq(config_init(&demo, path, bad_file, 1, NULL, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "name must not be bad"));
    ck_assert_int_eq(config_init(&demo, path, unknown, 1, NULL, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "unknown key \"nope\""));
    ck_assert_int_eq(config_init(&demo, path, broken, 1, NULL, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "line break"));
    ck_assert_int_eq(access(path, F_OK), -1);
    only_files(0);
}
END_TEST

START_TEST(test_values_that_need_quotes_come_back_as_given)
{
    static const char *const values[] = {
        "a # not a comment", "  blanks at both ends  ", "say \"hi\"", "back\\slash", "",
        "host=db password='p#w'",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct config_assignment sets[] = { { "name", values[i] } };
        unlink(path);
        ck_assert_int_eq(config_init(&demo, path, sets, 1, NULL, err, sizeof err), STEPUP_OK);
        struct demo *d = config_load_new(&demo, path, err, sizeof err);
        ck_assert_msg(d != NULL, "%s", err);
        ck_assert_str_eq(d->name, values[i]);
        char picked[128];
        ck_assert_int_eq(config_pick(path, "name", picked, sizeof picked, err, sizeof err),
                         STEPUP_OK);
        ck_assert_str_eq(picked, values[i]);
        config_release(&demo, d);
    }
}
END_TEST

START_TEST(test_keys_from_another_file)
{
    write_text(other, "# another program's file\nworkers = 4\n"
                      "outbox_key = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    ck_assert_int_eq(config_init(&demo, path, NULL, 0, other, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "secret")); /* other has no secret: nothing written */
    ck_assert_int_eq(access(path, F_OK), -1);
    write_text(other, "outbox_key = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
                      "secret = ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
    ck_assert_int_eq(config_init(&demo, path, NULL, 0, other, err, sizeof err), STEPUP_OK);
    ck_assert_ptr_nonnull(strstr(slurp(path), "\noutbox_key = 00112233445566778899aabbccdd"));
    struct demo *d = config_load_new(&demo, path, err, sizeof err);
    ck_assert_ptr_nonnull(d);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(config_print_value(&demo, d, "secret", f), STEPUP_OK);
    ck_assert_int_eq(config_print_value(&demo, d, "nope", f), STEPUP_ERR);
    fclose(f);
    ck_assert_str_eq(text, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
    free(text);
    config_release(&demo, d);
}
END_TEST

START_TEST(test_update_changes_only_the_keys_given)
{
    ck_assert_int_eq(config_init(&demo, path, NULL, 0, NULL, err, sizeof err), STEPUP_OK);
    char before[8192];
    snprintf(before, sizeof before, "%s", slurp(path));
    chmod(path, 0400); /* kept, as any mode a file with keys may have */
    struct config_assignment sets[] = { { "name", "x#y" }, { "log_level", "debug" },
                                        { "item", "one" }, { "item", "two" } };
    ck_assert_int_eq(config_update(&demo, path, sets, 4, err, sizeof err), STEPUP_OK);
    char *after = slurp(path);
    /* a default commented out is replaced where it stood */
    ck_assert_ptr_nonnull(strstr(after, "# a name\nname = \"x#y\"\n"));
    ck_assert_ptr_nonnull(strstr(after, "\nlog_level = debug\n"));
    ck_assert_ptr_null(strstr(after, "# log_level = info"));
    ck_assert_ptr_nonnull(strstr(after, "item = one\nitem = two\n"));
    /* the keys and every comment stay */
    char *key_line = strstr(before, "\nsecret = "), kept[76];
    ck_assert_ptr_nonnull(key_line);
    snprintf(kept, sizeof kept, "%.75s", key_line);
    ck_assert_ptr_nonnull(strstr(after, kept));
    ck_assert_ptr_nonnull(strstr(after, "# how many (1..9)\n# count = 3\n"));
    struct stat st;
    stat(path, &st);
    ck_assert_int_eq(st.st_mode & 0777, 0400);
    /* lines of a list key are all replaced */
    struct config_assignment again[] = { { "item", "three" } };
    ck_assert_int_eq(config_update(&demo, path, again, 1, err, sizeof err), STEPUP_OK);
    after = slurp(path);
    ck_assert_ptr_nonnull(strstr(after, "\nitem = three\n"));
    ck_assert_ptr_null(strstr(after, "item = one"));
    only_files(1);
}
END_TEST

START_TEST(test_update_adds_a_key_the_file_lacks)
{
    write_text(path, "# hand-written\nsecret = ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"
                     "outbox_key = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    struct config_assignment sets[] = { { "count", "5" } };
    ck_assert_int_eq(config_update(&demo, path, sets, 1, err, sizeof err), STEPUP_OK);
    char *after = slurp(path);
    ck_assert_ptr_nonnull(strstr(after, "# hand-written\n"));
    ck_assert_ptr_nonnull(strstr(after, "ccddeeff\ncount = 5\n")); /* a newline was added */
}
END_TEST

START_TEST(test_update_refuses_what_would_not_load)
{
    ck_assert_int_eq(config_init(&demo, path, NULL, 0, NULL, err, sizeof err), STEPUP_OK);
    char before[8192];
    snprintf(before, sizeof before, "%s", slurp(path));
    struct config_assignment bad[] = { { "count", "0" } };
    ck_assert_int_eq(config_update(&demo, path, bad, 1, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "count"));
    struct config_assignment worse[] = { { "name", "bad" } };
    ck_assert_int_eq(config_update(&demo, path, worse, 1, err, sizeof err), STEPUP_ERR);
    ck_assert_str_eq(slurp(path), before);
    only_files(1);
    ck_assert_int_eq(config_update(&demo, other, worse, 1, err, sizeof err), STEPUP_ERR);
}
END_TEST

START_TEST(test_pick_reads_one_key)
{
    char v[128];
    write_text(path, "a = 1\nb = \"two # three\"\na2 = x\n");
    ck_assert_int_eq(config_pick(path, "b", v, sizeof v, err, sizeof err), STEPUP_OK);
    ck_assert_str_eq(v, "two # three");
    ck_assert_int_eq(config_pick(path, "c", v, sizeof v, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "no key \"c\""));
    write_text(path, "a = 1\na = 2\n");
    ck_assert_int_eq(config_pick(path, "a", v, sizeof v, err, sizeof err), STEPUP_ERR);
    ck_assert_ptr_nonnull(strstr(err, "duplicate"));
    write_text(path, "a = 12345\n");
    ck_assert_int_eq(config_pick(path, "a", v, 4, err, sizeof err), STEPUP_ERR);
}
END_TEST

START_TEST(test_missing_keys_are_named_together)
{
    write_text(path, "count = 2\n");
    ck_assert_ptr_null(config_load_new(&demo, path, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "missing required keys \"outbox_key\""));
    ck_assert_ptr_nonnull(strstr(err, "\"secret\""));
}
END_TEST

START_TEST(test_assignments)
{
    struct config_command cmd = { .op = CONFIG_OP_INIT };
    char a[] = "name=x=y", b[] = "=x", c[] = "novalue";
    ck_assert_int_eq(config_command_set(&cmd, a), STEPUP_OK);
    ck_assert_str_eq(cmd.sets[0].key, "name");
    ck_assert_str_eq(cmd.sets[0].value, "x=y");
    ck_assert_int_eq(config_command_set(&cmd, b), STEPUP_ERR);
    ck_assert_int_eq(config_command_set(&cmd, c), STEPUP_ERR);
    ck_assert_uint_eq(cmd.nsets, 1);
}
END_TEST

/* A reload names the restart keys it changed, in the list's order, and no other. */
START_TEST(test_restart_changes_name_what_a_reload_keeps)
{
    struct demo a, b;
    char out[64];
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    config_defaults(&demo, &a);
    config_defaults(&demo, &b);
    config_restart_changes(&demo, &a, &b, out, sizeof out);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(config_set(&demo, &b, "log_level", "debug", err, sizeof err), STEPUP_OK);
    config_restart_changes(&demo, &a, &b, out, sizeof out);
    ck_assert_str_eq(out, ""); /* not a restart key */
    ck_assert_int_eq(config_set(&demo, &b, "log_target", "syslog", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(config_set(&demo, &b, "item", "x", err, sizeof err), STEPUP_OK);
    ck_assert_int_eq(config_set(&demo, &b, "name", "other", err, sizeof err), STEPUP_OK);
    config_restart_changes(&demo, &a, &b, out, sizeof out);
    ck_assert_str_eq(out, "name, item, log_target");
    config_restart_changes(&demo, &a, &b, out, 8); /* cut, still a string */
    ck_assert_uint_lt(strlen(out), 8);
    ck_assert(config_is_restart_key(&demo, "count") && !config_is_restart_key(&demo, "secret"));
    config_free(&demo, &a);
    config_free(&demo, &b);
}
END_TEST

int main(void)
{
    log_init("check_config", LOG_ERROR);
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_readable_file_with_keys_is_refused);
    tcase_add_test(tc, test_restart_changes_name_what_a_reload_keeps);
    tcase_add_test(tc, test_init_writes_a_complete_private_file);
    tcase_add_test(tc, test_init_refuses_an_existing_file);
    tcase_add_test(tc, test_init_refuses_what_would_not_load);
    tcase_add_test(tc, test_values_that_need_quotes_come_back_as_given);
    tcase_add_test(tc, test_keys_from_another_file);
    tcase_add_test(tc, test_update_changes_only_the_keys_given);
    tcase_add_test(tc, test_update_adds_a_key_the_file_lacks);
    tcase_add_test(tc, test_update_refuses_what_would_not_load);
    tcase_add_test(tc, test_pick_reads_one_key);
    tcase_add_test(tc, test_missing_keys_are_named_together);
    tcase_add_test(tc, test_assignments);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
