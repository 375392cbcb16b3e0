/*
 * toolbridge_plugin.h — the ToolBridge plugin ABI, version 1.
 *
 * ToolBridge is an MCP (Model Context Protocol) server. Every tool it offers to LLM clients
 * comes from a plugin: a shared library (.so) that the ToolBridge host opens with
 * dlopen(RTLD_NOW | RTLD_LOCAL). This header is the whole contract between the two. A plugin
 * needs nothing else: build it with
 *
 *     cc -shared -fPIC -I path/to/include my_plugin.c -o libmy_plugin.so
 *
 * and put the .so in a plugin directory (see docs/plugins.md).
 *
 * HOW IT FITS TOGETHER
 *
 *   1. The host calls the one exported function, toolbridge_plugin_v1(), passing the minor
 *      ABI version it speaks. The plugin returns a pointer to a static descriptor, or NULL
 *      when it needs a newer host.
 *   2. The host checks the descriptor's size and ABI major before reading anything else,
 *      reads the plugin's name and its tools (a JSON array), and refuses the plugin with a
 *      message naming the file and the reason when anything does not fit.
 *   3. The host calls init() once with its table of services, then call() for each tool
 *      invocation, from many threads at once.
 *   4. A plugin reaches the ToolBridge REST API only through services->api_request: it never
 *      opens a connection and never sees a credential. The host adds the user's identity,
 *      the signed tenant headers, a sync session and the correlation id.
 *
 * VERSIONING
 *
 *   - The major version is in the entry symbol's name (toolbridge_plugin_v1). A breaking
 *     change makes a new symbol, toolbridge_plugin_v2; a host may export support for both.
 *   - Minor versions only append: new fields at the end of a struct, new function pointers at
 *     the end of tb_host_services, new status codes. Every struct starts with its size, and a
 *     reader never reads a field that lies beyond the size the writer declared.
 *   - Optional host services are looked up by a versioned name ("name/1") with
 *     services->get_extension; an unknown name returns NULL.
 *
 * MEMORY OWNERSHIP (one rule): whoever allocates, frees.
 *
 *   - Inputs are borrowed: pointers the host passes to a plugin function are valid only
 *     until that function returns. Copy what you keep.
 *   - A call's output is allocated by the plugin and freed by the host through the plugin's
 *     descriptor->free_output.
 *   - A response the host returns from api_request is allocated by the host and freed by the
 *     plugin through services->free.
 *   - Strings in the descriptor (name, version, tools_json…) are owned by the plugin and must
 *     stay valid and unchanged for as long as the library is loaded.
 *
 * TEXT: all strings are UTF-8. Every (pointer, length) pair gives an explicit length in bytes
 * and need not be NUL-terminated; plain `const char *` fields are NUL-terminated.
 *
 * THREADS: call() is invoked concurrently from many host worker threads; it may block (for
 * example inside api_request). The host never calls deinit() while a call is in flight. The
 * host never unloads (dlclose) a library it opened, refused or not: unloading a library whose
 * initialisers ran (C++ or Swift runtimes among them) is not safe in general.
 *
 * ERRORS: functions return a tb_status. No C++ exception, longjmp or Swift error may cross
 * this boundary; catch everything inside the plugin.
 */
#ifndef TOOLBRIDGE_PLUGIN_H
#define TOOLBRIDGE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOOLBRIDGE_ABI_MAJOR 1
#define TOOLBRIDGE_ABI_MINOR 0

/* The name of the entry symbol for ABI major 1, for dlsym. */
#define TOOLBRIDGE_PLUGIN_ENTRY_V1 "toolbridge_plugin_v1"

/* ---- Status codes --------------------------------------------------------------------- */

typedef int32_t tb_status;

#define TB_OK 0                  /* success */
#define TB_TOOL_ERROR 1          /* the tool ran and failed; output holds {"error": "...", "status": N} */
#define TB_INVALID_ARGUMENT 2    /* the arguments did not match the tool's inputSchema */
#define TB_UNKNOWN_TOOL 3        /* call() was given a tool name this plugin does not have */
#define TB_UNIMPLEMENTED 4       /* the function or extension is not provided */
#define TB_CANCELLED 5           /* the call was cancelled by the client */
#define TB_DEADLINE_EXCEEDED 6   /* the call's deadline passed */
#define TB_UNAVAILABLE 7         /* the API could not be reached */
#define TB_INTERNAL 8            /* anything else; output may hold {"error": "..."} */

/* Log levels for services->log. */
#define TB_LOG_DEBUG 0
#define TB_LOG_INFO 1
#define TB_LOG_WARNING 2
#define TB_LOG_ERROR 3

/* ---- The call context ----------------------------------------------------------------- */

/*
 * Opaque, owned by the host, valid only during the call() it is passed to. It carries the
 * caller's identity and tenant, the deadline, cancellation and the correlation id. Pass it
 * back to every host service you use during that call, so requests carry that identity.
 */
typedef struct tb_call_context tb_call_context;

/* ---- API requests ---------------------------------------------------------------------- */

/* A request to the ToolBridge REST API. Set struct_size to sizeof(tb_api_request); fields
 * added in later minor versions are appended and read only when struct_size covers them. */
typedef struct tb_api_request {
    uint32_t struct_size;
    uint32_t reserved;        /* 0 */
    const char *method;       /* "GET", "POST", "PUT", "PATCH" or "DELETE", NUL-terminated */
    const char *path;         /* the API path with its query string, e.g. "/v1/notes?limit=10" */
    size_t path_length;
    const uint8_t *body;      /* JSON request body, or NULL with body_length 0 */
    size_t body_length;
    const char *if_match;     /* NULL, or an item version ("3") sent as If-Match */
} tb_api_request;

/* The API's answer. Set struct_size to sizeof(tb_api_response) before the call; the host
 * fills at most that many bytes and sets struct_size to the number it filled, so a plugin
 * built for a later minor can tell which appended fields an older host wrote. */
typedef struct tb_api_response {
    uint32_t struct_size;
    int32_t http_status;      /* 200, 201, 404, 410… */
    uint8_t *body;            /* the JSON body, allocated by the host: free with services->free */
    size_t body_length;
} tb_api_response;

/* ---- Host services (host → plugin) ---------------------------------------------------- */

typedef struct tb_host_services {
    /* sizeof(tb_host_services) as the host built it. Never call a function whose field
     * ends beyond this size. Every function of ABI 1.0 is non-NULL; functions appended in
     * later minors may be NULL, so check them. */
    uint32_t struct_size;
    /* The ABI minor version the host speaks. */
    uint32_t abi_minor;

    /*
     * Makes a request to the ToolBridge REST API through the host's proxy, as the user of
     * `context`. On TB_OK, response->http_status is the API's status and response->body /
     * body_length its body (free body with services->free; it may be non-NULL when
     * body_length is 0). Returns TB_UNAVAILABLE when the API cannot be reached,
     * TB_CANCELLED when the call is cancelled, TB_DEADLINE_EXCEEDED when the call's deadline or
     * the host's own request timeout passes first, TB_INVALID_ARGUMENT when
     * the request itself is malformed (a plugin bug: report it from call() as TB_INTERNAL, not
     * as the caller's invalid arguments); response->body is then NULL.
     * Thread-safe; blocks the calling thread until the response arrives.
     */
    tb_status (*api_request)(const tb_call_context *context, const tb_api_request *request,
                             tb_api_response *response);

    /* Frees memory the host allocated (api_request response bodies, context_value results). */
    void (*free)(void *pointer);

    /* Writes a line to the host's log, tagged with the plugin's name and, when context is
     * not NULL, the call's correlation id. Thread-safe. */
    void (*log)(const tb_call_context *context, int32_t level, const char *message, size_t message_length);

    /* 1 when the client cancelled the call, else 0. Cheap; poll it in long loops. */
    int32_t (*is_cancelled)(const tb_call_context *context);

    /* The call's deadline in Unix milliseconds, or 0 when there is none. */
    int64_t (*deadline_ms)(const tb_call_context *context);

    /*
     * Reads a value of the call context by key, as UTF-8 allocated by the host (free with
     * services->free). Keys: "user", "tenant", "correlation_id". Returns TB_UNIMPLEMENTED
     * for an unknown key.
     */
    tb_status (*context_value)(const tb_call_context *context, const char *key,
                               uint8_t **value, size_t *value_length);

    /* An optional service by versioned name ("name/1"), or NULL when the host has none. */
    const void *(*get_extension)(const char *name);
} tb_host_services;

/* ---- The plugin descriptor (plugin → host) -------------------------------------------- */

typedef struct tb_plugin_descriptor {
    /* sizeof(tb_plugin_descriptor) as the plugin built it. */
    uint32_t struct_size;
    /* TOOLBRIDGE_ABI_MAJOR and TOOLBRIDGE_ABI_MINOR as the plugin was built. */
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t reserved; /* 0 */

    /* The plugin's name as operators enable it per tenant: 1 to 64 lowercase letters, digits
     * or '_' (e.g. "notes"). Unique among loaded plugins. */
    const char *name;
    /* The plugin's own version, e.g. "1.0.0". */
    const char *version;
    /* One sentence for `toolbridge plugins`. */
    const char *description;
    /*
     * The tools, as a JSON array of MCP tool definitions:
     *   [{"name": "...", "title": "...", "description": "...",
     *     "inputSchema": {...}, "outputSchema": {...}, "annotations": {...}}, ...]
     * "name" and "inputSchema" are required. Tool names are unique across all plugins.
     * Readable without calling init(). (C compilers in -pedantic mode warn about string
     * literals over 4095 bytes; a long list can be built once at first use instead.)
     */
    const char *tools_json;

    /*
     * Called once, before any call(), with the host's services (valid until deinit returns).
     * Store what you need in *state; it is passed back to call() and deinit(). Return TB_OK,
     * or another status and optionally point *error_message at a static NUL-terminated
     * sentence saying why (the host copies it and never frees it). A plugin whose init fails
     * is never called again, deinit included: set *state only on success.
     */
    tb_status (*init)(const tb_host_services *services, void **state, const char **error_message);

    /* Called at most once, when a host that owns the plugin shuts down and no call is in
     * flight. A process may also just exit without calling it: keep nothing in the plugin that
     * must be flushed. The only function here that may be NULL. */
    void (*deinit)(void *state);

    /*
     * Runs one tool. tool/tool_length name it; input/input_length are its arguments as valid
     * UTF-8 JSON, as the client sent them (normally an object). The host does not check them
     * against inputSchema: that is the plugin's job, so a wrong call gets TB_INVALID_ARGUMENT
     * and a sentence naming the argument. On TB_OK, *output is the result as a JSON object (the MCP
     * structuredContent). On TB_TOOL_ERROR, *output is {"error": "<sentence>", "status": N}
     * with status the API's HTTP status when the failure came from the API. Other statuses
     * may leave *output NULL. *output is allocated by the plugin; the host frees it with
     * free_output. Called concurrently from many threads.
     */
    tb_status (*call)(void *state, const tb_call_context *context,
                      const char *tool, size_t tool_length,
                      const uint8_t *input, size_t input_length,
                      uint8_t **output, size_t *output_length);

    /* Frees memory the plugin allocated for call outputs. */
    void (*free_output)(void *pointer);
} tb_plugin_descriptor;

/*
 * The one symbol a plugin exports. host_abi_minor is the minor version the host speaks;
 * return NULL when the plugin needs a newer one. Thread-safe, cheap, callable many times,
 * and returns the same pointer each time.
 */
typedef const tb_plugin_descriptor *(*tb_plugin_entry_v1)(uint32_t host_abi_minor);

const tb_plugin_descriptor *toolbridge_plugin_v1(uint32_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* TOOLBRIDGE_PLUGIN_H */
