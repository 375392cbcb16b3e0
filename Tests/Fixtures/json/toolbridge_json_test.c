/*
 * Tests of toolbridge_json.h, built with sanitizers by CJSONHelperTests (HostTests):
 *
 *     cc -std=c99 -Wall -Wextra -Werror -pedantic -fsanitize=address,undefined \
 *        -I Sources/PluginABI/include Tests/Fixtures/json/toolbridge_json_test.c
 *
 * Every input is copied into a heap block of exactly its length, so AddressSanitizer stops a
 * read past the given length. Prints one line per failed check, then "N checks, M failed";
 * exits 0 only when none failed.
 */
#define TOOLBRIDGE_JSON_IMPLEMENTATION
#include "toolbridge_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

#define CHECK(condition) check((condition) != 0, #condition, __LINE__)

static void check(int ok, const char *text, int line) {
    checks++;
    if (ok) return;
    failures++;
    printf("line %d: failed: %s\n", line, text);
}

/* Parses exactly `length` bytes from a heap copy with nothing after it. */
static tbj_value *parse_bytes(const char *bytes, size_t length, tbj_error *error) {
    char *copy = malloc(length ? length : 1);
    if (!copy) abort();
    if (length) memcpy(copy, bytes, length);
    tbj_value *root = tbj_parse(copy, length, error);
    free(copy);
    return root;
}

static tbj_value *parse(const char *text, tbj_error *error) {
    return parse_bytes(text, strlen(text), error);
}

/* 1 when the text is refused with that error code. */
static int refused(const char *bytes, size_t length, int code) {
    tbj_error error;
    tbj_value *root = parse_bytes(bytes, length, &error);
    tbj_free(root);
    return !root && error.code == code && error.message != NULL;
}

static int refused_text(const char *text) {
    return refused(text, strlen(text), TBJ_ERROR_SYNTAX);
}

static int string_is(const tbj_value *value, const char *bytes, size_t length) {
    size_t actual;
    const char *text = tbj_string(value, &actual);
    return text && actual == length && memcmp(text, bytes, length) == 0 && text[length] == '\0';
}

/* The writer's bytes as a C string, or "" when it failed. */
static const char *written(const tbj_writer *w) {
    return w->out.failed || !w->out.data ? "" : (const char *)w->out.data;
}

static void valid_documents(void) {
    const char *text = " {\"name\": \"quick\", \"count\": 3, \"ratio\": -2.5e-3, \"on\": true, \"off\": false,\n"
                       "  \"none\": null, \"list\": [1, \"two\", [], {}], \"nested\": {\"a\": {\"b\": \"deep\"}}} ";
    tbj_error error;
    tbj_value *root = parse(text, &error);
    CHECK(root != NULL);
    CHECK(tbj_type(root) == TBJ_OBJECT);
    CHECK(tbj_count(root) == 8);
    CHECK(string_is(tbj_get(root, "name"), "quick", 5));
    int64_t count = 0;
    CHECK(tbj_int64(tbj_get(root, "count"), &count) && count == 3);
    double ratio = 0;
    CHECK(tbj_double(tbj_get(root, "ratio"), &ratio) && ratio == -2.5e-3);
    int flag = 0;
    CHECK(tbj_bool(tbj_get(root, "on"), &flag) && flag == 1);
    CHECK(tbj_bool(tbj_get(root, "off"), &flag) && flag == 0);
    CHECK(tbj_is_null(tbj_get(root, "none")));
    CHECK(tbj_type(tbj_get(root, "missing")) == TBJ_ABSENT);
    CHECK(string_is(tbj_get(tbj_get(tbj_get(root, "nested"), "a"), "b"), "deep", 4));
    CHECK(tbj_get(tbj_get(tbj_get(root, "missing"), "a"), "b") == NULL);

    const tbj_value *list = tbj_get(root, "list");
    CHECK(tbj_type(list) == TBJ_ARRAY && tbj_count(list) == 4);
    CHECK(string_is(tbj_at(list, 1), "two", 3));
    CHECK(tbj_type(tbj_at(list, 2)) == TBJ_ARRAY && tbj_count(tbj_at(list, 2)) == 0);
    CHECK(tbj_type(tbj_at(list, 3)) == TBJ_OBJECT && tbj_first(tbj_at(list, 3)) == NULL);
    CHECK(tbj_at(list, 4) == NULL);
    CHECK(tbj_key(tbj_at(list, 0), NULL) == NULL);

    const char *order[] = {"name", "count", "ratio", "on", "off", "none", "list", "nested"};
    size_t seen = 0;
    for (const tbj_value *member = tbj_first(root); member; member = tbj_next(member)) {
        size_t length;
        const char *key = tbj_key(member, &length);
        CHECK(seen < 8 && key && length == strlen(order[seen]) && strcmp(key, order[seen]) == 0);
        seen++;
    }
    CHECK(seen == 8);
    CHECK(tbj_string(tbj_get(root, "count"), NULL) == NULL);
    CHECK(!tbj_int64(tbj_get(root, "name"), &count));
    tbj_free(root);

    root = parse("{\"k\": 1, \"k\": 2}", &error);
    CHECK(tbj_int64(tbj_get(root, "k"), &count) && count == 2);
    tbj_free(root);

    root = parse(" \"top\" ", &error);
    CHECK(string_is(root, "top", 3));
    tbj_free(root);
    root = parse("null", &error);
    CHECK(tbj_is_null(root));
    tbj_free(root);
    CHECK(tbj_type(NULL) == TBJ_ABSENT && tbj_count(NULL) == 0 && tbj_first(NULL) == NULL);
}

static void escapes(void) {
    tbj_error error;
    tbj_value *root = parse("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\u20AC\"", &error);
    CHECK(string_is(root, "q\" b\\ s/ \b\f\n\r\t \xC3\xA9\xE2\x82\xAC", 20));
    tbj_free(root);

    root = parse("\"a\\u0000b\"", &error);
    CHECK(string_is(root, "a\0b", 3));
    tbj_free(root);

    root = parse("{\"k\\u0065y\": 1}", &error);
    CHECK(tbj_get(root, "key") != NULL);
    tbj_free(root);

    CHECK(refused_text("\"\\x\""));
    CHECK(refused_text("\"\\u12G4\""));
    CHECK(refused_text("\"tab\there\""));
    CHECK(refused_text("\"new\nline\""));
}

static void surrogates(void) {
    tbj_error error;
    tbj_value *root = parse("\"\\ud83d\\ude00 \\uD834\\uDD1E\"", &error);
    CHECK(string_is(root, "\xF0\x9F\x98\x80 \xF0\x9D\x84\x9E", 9));
    tbj_free(root);

    CHECK(refused_text("\"\\ud83d\""));
    CHECK(refused_text("\"\\ud83d x\""));
    CHECK(refused_text("\"\\ud83d\\u0041\""));
    CHECK(refused_text("\"\\ud83d\\ud83d\""));
    CHECK(refused_text("\"\\ude00\""));
    CHECK(refused_text("\"\\ud83d\\"));
}

static void deep_nesting(void) {
    static char text[200001];
    for (size_t depth = TBJ_MAX_DEPTH; depth <= TBJ_MAX_DEPTH + 1; depth++) {
        memset(text, '[', depth);
        memset(text + depth, ']', depth);
        tbj_error error;
        tbj_value *root = parse_bytes(text, 2 * depth, &error);
        if (depth == TBJ_MAX_DEPTH) CHECK(root != NULL);
        else CHECK(!root && error.code == TBJ_ERROR_TOO_DEEP);
        tbj_free(root);
    }
    /* A hundred thousand open brackets are refused at the limit, not by the stack. */
    memset(text, '[', 100000);
    CHECK(refused(text, 100000, TBJ_ERROR_TOO_DEEP));
    size_t length = 0;
    for (int i = 0; i < 30000; i++) length += (size_t)sprintf(text + length, "{\"a\":");
    CHECK(refused(text, length, TBJ_ERROR_TOO_DEEP));
}

static void truncated_input(void) {
    const char *text = "{\"a\": [1, -2.5e+3, true, false, null, \"\\u00e9\\ud83d\\ude00\xC3\xA9\"], \"b\": {\"c\": \"d\"}}";
    size_t length = strlen(text);
    int all_refused = 1;
    for (size_t prefix = 0; prefix < length; prefix++)
        all_refused &= refused(text, prefix, TBJ_ERROR_SYNTAX);
    CHECK(all_refused);
    tbj_error error;
    tbj_value *root = parse_bytes(text, length, &error);
    CHECK(root != NULL);
    tbj_free(root);
    CHECK(refused(NULL, 0, TBJ_ERROR_SYNTAX));
    CHECK(refused_text("   "));
}

static void invalid_utf8(void) {
    const char *bad[] = {
        "\"\x80\"",             /* a lone continuation byte */
        "\"\xC0\x80\"",         /* an overlong NUL */
        "\"\xC1\xBF\"",         /* overlong */
        "\"\xE0\x80\x80\"",     /* overlong */
        "\"\xF0\x80\x80\x80\"", /* overlong */
        "\"\xED\xA0\x80\"",     /* a UTF-16 surrogate */
        "\"\xF4\x90\x80\x80\"", /* above U+10FFFF */
        "\"\xF5\x80\x80\x80\"",
        "\"\xFF\"",
        "\"\xE2\x82\"",         /* cut short by the quote */
        "{\"\xC3\": 1}",        /* in a key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(refused_text(bad[i]));
    CHECK(refused("\"\xE2\x82", 3, TBJ_ERROR_SYNTAX)); /* cut short by the end of input */
    CHECK(refused("\xEF\xBB\xBF{}", 5, TBJ_ERROR_SYNTAX)); /* a byte order mark is not JSON */
    tbj_error error;
    tbj_value *root = parse("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"", &error);
    CHECK(string_is(root, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF", 13));
    tbj_free(root);
}

static void syntax_errors(void) {
    const char *bad[] = {
        "{} x", "[1,]", "[,1]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{'a':1}", "[1 2]", "01", "1.", ".5",
        "-", "+1", "1e", "1e+", "NaN", "Infinity", "tru", "nul", "[1]]", "{\"a\":1,}", "/* c */ 1", "\"open",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = refused_text(bad[i]);
        if (!ok) printf("accepted: %s\n", bad[i]);
        CHECK(ok);
    }
    tbj_error error;
    CHECK(!parse("[1, x]", &error) && error.offset == 4 && strcmp(error.message, "unexpected character") == 0);
}

static void numbers(void) {
    struct { const char *text; int is_int; int64_t value; } cases[] = {
        {"9223372036854775807", 1, INT64_MAX},
        {"-9223372036854775808", 1, INT64_MIN},
        {"9223372036854775808", 0, 0},
        {"-9223372036854775809", 0, 0},
        {"99999999999999999999999999999999999999", 0, 0},
        {"-0", 1, 0},
        {"0", 1, 0},
        {"1.0", 0, 0},
        {"1e2", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tbj_error error;
        tbj_value *root = parse(cases[i].text, &error);
        int64_t value = 12345;
        int is_int = tbj_int64(root, &value);
        CHECK(root != NULL && is_int == cases[i].is_int);
        CHECK(is_int ? value == cases[i].value : value == 12345);
        tbj_free(root);
    }
    tbj_error error;
    tbj_value *root = parse("[9223372036854775808, 1e999, -1e999, 2.5, 1E-2]", &error);
    double d = 0;
    CHECK(tbj_double(tbj_at(root, 0), &d) && d == 9223372036854775808.0);
    CHECK(!tbj_double(tbj_at(root, 1), &d));
    CHECK(!tbj_double(tbj_at(root, 2), &d));
    CHECK(tbj_double(tbj_at(root, 3), &d) && d == 2.5);
    CHECK(tbj_double(tbj_at(root, 4), &d) && d == 0.01);
    tbj_free(root);
}

/* Every byte value and some multi-byte characters go through the writer and back. */
static void writer_round_trip(void) {
    char text[160];
    size_t length = 0;
    for (int c = 1; c < 0x80; c++) text[length++] = (char)c;
    text[length++] = '\0';
    memcpy(text + length, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8", 12);
    length += 12;

    tbj_writer w = {0};
    tbj_object_begin(&w);
    tbj_write_key_n(&w, text, length);
    tbj_write_string_n(&w, text, length);
    tbj_write_key(&w, "parts");
    tbj_string_begin(&w);
    tbj_string_append(&w, "a\"", 2);
    tbj_string_append(&w, "\n\xC3\xA9", 3);
    tbj_string_end(&w);
    tbj_write_key(&w, "numbers");
    tbj_array_begin(&w);
    tbj_write_int(&w, INT64_MIN);
    tbj_write_int(&w, INT64_MAX);
    tbj_write_double(&w, 0.1);
    tbj_write_double(&w, 1e300);
    tbj_write_double(&w, -2.5);
    tbj_array_end(&w);
    tbj_write_key(&w, "flags");
    tbj_array_begin(&w);
    tbj_write_bool(&w, 1);
    tbj_write_bool(&w, 0);
    tbj_write_null(&w);
    tbj_write_string(&w, NULL);
    tbj_array_end(&w);
    tbj_object_end(&w);
    CHECK(!w.out.failed && w.done);
    CHECK(strstr(written(&w), "\"numbers\":[-9223372036854775808,9223372036854775807,0.1,1e+300,-2.5]") != NULL);
    CHECK(strstr(written(&w), "\"flags\":[true,false,null,null]") != NULL);
    CHECK(strstr(written(&w), "\\u0001\\u0002") != NULL && strstr(written(&w), "\\b\\t\\n\\u000B\\f\\r") != NULL);
    CHECK(strstr(written(&w), "\\u001F !\\\"") != NULL && strstr(written(&w), "[\\\\]") != NULL && strstr(written(&w), "\\u0000") != NULL);

    tbj_error error;
    tbj_value *root = parse_bytes((const char *)w.out.data, w.out.length, &error);
    CHECK(root != NULL);
    const tbj_value *member = tbj_first(root);
    size_t key_length = 0;
    const char *key = tbj_key(member, &key_length);
    CHECK(key && key_length == length && memcmp(key, text, length) == 0);
    CHECK(string_is(member, text, length));
    CHECK(string_is(tbj_get(root, "parts"), "a\"\n\xC3\xA9", 5));
    int64_t edge = 0;
    CHECK(tbj_int64(tbj_at(tbj_get(root, "numbers"), 0), &edge) && edge == INT64_MIN);
    double d = 0;
    CHECK(tbj_double(tbj_at(tbj_get(root, "numbers"), 2), &d) && d == 0.1);

    /* Writing the parsed tree again gives the same bytes. */
    tbj_writer again = {0};
    tbj_write_value(&again, root);
    CHECK(again.out.length == w.out.length && memcmp(again.out.data, w.out.data, w.out.length) == 0);
    tbj_writer_free(&again);
    tbj_free(root);

    uint8_t *output = NULL;
    size_t output_length = 0;
    size_t before = w.out.length;
    CHECK(tbj_finish(&w, TB_OK, &output, &output_length) == TB_OK && output && output_length == before);
    CHECK(w.out.data == NULL);
    tbj_free_output(output);
}

static void writer_refusals(void) {
    uint8_t *output = (uint8_t *)"untouched";
    size_t output_length = 1;
    struct { const char *name; int step; } misuse[] = {
        {"value without a key in an object", 0}, {"key in an array", 1}, {"unclosed array", 2},
        {"two top-level values", 3}, {"invalid UTF-8", 4}, {"NaN", 5}, {"mismatched end", 6},
        {"key without a value", 7}, {"nothing written", 8},
    };
    for (size_t i = 0; i < sizeof misuse / sizeof misuse[0]; i++) {
        tbj_writer w = {0};
        switch (misuse[i].step) {
        case 0: tbj_object_begin(&w); tbj_write_int(&w, 1); tbj_object_end(&w); break;
        case 1: tbj_array_begin(&w); tbj_write_key(&w, "k"); tbj_write_int(&w, 1); tbj_array_end(&w); break;
        case 2: tbj_array_begin(&w); tbj_write_int(&w, 1); break;
        case 3: tbj_write_int(&w, 1); tbj_write_int(&w, 2); break;
        case 4: tbj_write_string(&w, "\xC3("); break;
        case 5: tbj_array_begin(&w); tbj_write_double(&w, strtod("nan", NULL)); tbj_array_end(&w); break;
        case 6: tbj_array_begin(&w); tbj_object_end(&w); break;
        case 7: tbj_object_begin(&w); tbj_write_key(&w, "k"); tbj_object_end(&w); break;
        default: break;
        }
        int ok = tbj_finish(&w, TB_OK, &output, &output_length) == TB_INTERNAL && output == NULL &&
                 output_length == 0;
        if (!ok) printf("writer accepted: %s\n", misuse[i].name);
        CHECK(ok);
    }
    tbj_writer deep = {0};
    for (int i = 0; i <= TBJ_MAX_DEPTH; i++) tbj_array_begin(&deep);
    CHECK(deep.out.failed);
    tbj_writer_free(&deep);
}

static void percent_encoding(void) {
    tbj_buffer path = {0};
    tbj_append_text(&path, "/v1/notes");
    const char *query = "a b&c=d/\xC3\xA9~-._?#%+";
    tbj_query_param(&path, "q", query, strlen(query));
    tbj_query_param(&path, "limit", "10", 2);
    tbj_query_param(&path, "x y", "", 0);
    CHECK(!path.failed);
    CHECK(strcmp((const char *)path.data,
                 "/v1/notes?q=a%20b%26c%3Dd%2F%C3%A9~-._%3F%23%25%2B&limit=10&x%20y=") == 0);
    tbj_buffer_free(&path);

    tbj_buffer all = {0};
    char bytes[256];
    for (int i = 0; i < 256; i++) bytes[i] = (char)i;
    tbj_append_percent_encoded(&all, bytes, sizeof bytes);
    CHECK(all.length == 66 + 3 * 190);
    CHECK(strstr((const char *)all.data, "%00%01") == (const char *)all.data);
    CHECK(strstr((const char *)all.data, "%FF") != NULL);
    tbj_buffer_free(&all);
}

/* The arguments' sentence for `input`, "" when they pass. */
static const char *argument_error(tbj_arguments *args, const char *input) {
    tbj_arguments_parse(args, input, strlen(input));
    tbj_require_string(args, "text", NULL);
    tbj_optional_int(args, "limit", 7);
    tbj_require_int(args, "page");
    return args->error;
}

static void arguments(void) {
    tbj_arguments args;
    struct { const char *input; const char *sentence; } cases[] = {
        {"{\"text\": \"hi\", \"page\": 2}", ""},
        {"{\"text\": \"hi\", \"page\": 2, \"limit\": null}", ""},
        {"", "the argument 'text' is required"},
        {"{\"page\": 2}", "the argument 'text' is required"},
        {"{\"text\": null, \"page\": 2}", "the argument 'text' is required"},
        {"{\"text\": 5, \"page\": 2}", "the argument 'text' must be a string, not number"},
        {"{\"text\": \"hi\", \"page\": 2.5}", "the argument 'page' must be an integer, not number"},
        {"{\"text\": \"hi\", \"page\": 9223372036854775808}", "the argument 'page' must be an integer, not number"},
        {"{\"text\": \"hi\", \"page\": 1, \"limit\": \"3\"}", "the argument 'limit' must be an integer, not string"},
        {"{\"text\": 1, \"limit\": \"3\"}", "the argument 'text' must be a string, not number"},
        {"[1]", "the arguments must be a JSON object, not array"},
        {"{\"text\": ", "the arguments are not valid JSON: unexpected end of input at byte 9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *sentence = argument_error(&args, cases[i].input);
        int ok = strcmp(sentence, cases[i].sentence) == 0;
        if (!ok) printf("for %s: got \"%s\"\n", cases[i].input, sentence);
        CHECK(ok);
        tbj_arguments_free(&args);
    }

    tbj_arguments_parse(&args, "{\"text\": \"hi\", \"page\": -3, \"tags\": [\"a\"]}", 41);
    size_t length = 0;
    CHECK(strcmp(tbj_require_string(&args, "text", &length), "hi") == 0 && length == 2);
    CHECK(tbj_require_int(&args, "page") == -3);
    CHECK(tbj_optional_int(&args, "limit", 20) == 20);
    CHECK(tbj_optional_string(&args, "due", NULL) == NULL);
    CHECK(tbj_count(tbj_argument(&args, "tags", TBJ_ARRAY, 0)) == 1);
    uint8_t *output = NULL;
    size_t output_length = 0;
    CHECK(tbj_arguments_status(&args, &output, &output_length) == TB_OK && output == NULL);
    tbj_arguments_fail(&args, "the argument 'text' must not be empty");
    tbj_arguments_fail(&args, "a second problem is not reported");
    CHECK(tbj_arguments_status(&args, &output, &output_length) == TB_INVALID_ARGUMENT);
    CHECK(output_length == strlen("{\"error\":\"the argument 'text' must not be empty\"}") &&
          memcmp(output, "{\"error\":\"the argument 'text' must not be empty\"}", output_length) == 0);
    tbj_free_output(output);
    tbj_arguments_free(&args);
}

static void error_outputs(void) {
    uint8_t *output = NULL;
    size_t length = 0;
    CHECK(tbj_error_output(TB_TOOL_ERROR, "no \"such\" note", 404, &output, &length) == TB_TOOL_ERROR);
    const char *expected = "{\"error\":\"no \\\"such\\\" note\",\"status\":404}";
    CHECK(output && length == strlen(expected) && memcmp(output, expected, length) == 0);
    tbj_free_output(output);
}

/* Mutated documents: whatever the bytes, the parser answers, and what it accepts writes back. */
static void mutations(void) {
    const char *seed = "{\"a\": [1, -2.5e+3, true, null, \"\\u00e9\\ud83d\\ude00\xC3\xA9\"], \"b\": {\"c\": \"d\"}}";
    size_t length = strlen(seed);
    char bytes[128];
    unsigned state = 12345;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(bytes, seed, length);
        for (int edit = 0; edit < 1 + round % 4; edit++) {
            state = state * 1103515245u + 12345u;
            bytes[(state >> 8) % length] = (char)(state >> 20);
        }
        tbj_error error;
        tbj_value *root = parse_bytes(bytes, length, &error);
        if (root) {
            accepted++;
            tbj_writer w = {0};
            tbj_write_value(&w, root);
            CHECK(!w.out.failed && w.done);
            tbj_writer_free(&w);
        } else {
            CHECK(error.code == TBJ_ERROR_SYNTAX && error.offset <= length);
        }
        tbj_free(root);
    }
    CHECK(accepted > 0);
}

int main(void) {
    valid_documents();
    escapes();
    surrogates();
    deep_nesting();
    truncated_input();
    invalid_utf8();
    syntax_errors();
    numbers();
    writer_round_trip();
    writer_refusals();
    percent_encoding();
    arguments();
    error_outputs();
    mutations();
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
