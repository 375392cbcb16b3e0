//! note_stats — an example ToolBridge plugin in Rust (ABI 1.0, see `toolbridge_plugin.h`), std
//! only: no crates, plain `extern "C"`.
//!
//! Tools: `word_count` (never calls the API), `note_stats` (one note's counts, from
//! `GET /v1/notes/{uid}`) and `tag_counts` (tags across the caller's notes, paging through
//! `GET /v1/notes`).
//!
//! Every exported function catches panics (`catch_unwind`) and turns one into `TB_INTERNAL`:
//! nothing unwinds across the C ABI. `call` runs on many host threads at once; the only state is
//! the services pointer stored by `init` and read afterwards.

mod abi;
mod host;
mod json;
mod tools;

use abi::*;
use host::{panic_failure, Host};
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

extern "C" {
    // libc's allocator: the host frees a call's output through `free_output` with nothing but
    // the pointer, which `free` needs and a Rust allocation does not carry.
    fn malloc(size: usize) -> *mut c_void;
    fn free(pointer: *mut c_void);
}

static DESCRIPTOR: StaticDescriptor = StaticDescriptor(PluginDescriptor {
    struct_size: std::mem::size_of::<PluginDescriptor>() as u32,
    abi_major: ABI_MAJOR,
    abi_minor: ABI_MINOR,
    reserved: 0,
    name: b"note_stats\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
    description: b"Counts words in text and notes, and tags across notes (an example in Rust).\0"
        .as_ptr() as *const c_char,
    tools_json: tools::TOOLS_JSON.as_ptr() as *const c_char,
    init: Some(plugin_init),
    deinit: Some(plugin_deinit),
    call: Some(plugin_call),
    free_output: Some(plugin_free_output),
});

/// The entry symbol. Any 1.x host will do: this plugin uses only ABI 1.0.
#[no_mangle]
pub extern "C" fn toolbridge_plugin_v1(_host_abi_minor: u32) -> *const PluginDescriptor {
    &DESCRIPTOR.0
}

/// What `init` stores: the host's services, valid until `deinit` returns.
struct Plugin {
    services: *const HostServices,
}

unsafe extern "C" fn plugin_init(
    services: *const HostServices,
    state: *mut *mut c_void,
    error_message: *mut *const c_char,
) -> Status {
    let refuse = |message: &'static [u8]| {
        if !error_message.is_null() {
            *error_message = message.as_ptr() as *const c_char;
        }
        TB_UNIMPLEMENTED
    };
    if services.is_null() || state.is_null() {
        return refuse(b"the host passed no services\0");
    }
    let table = &*services;
    if table.struct_size < SERVICES_USED_SIZE || table.api_request.is_none() || table.free.is_none()
    {
        return refuse(b"the host's services lack api_request or free\0");
    }
    match catch_unwind(AssertUnwindSafe(|| {
        Box::into_raw(Box::new(Plugin { services }))
    })) {
        Ok(plugin) => {
            *state = plugin as *mut c_void;
            TB_OK
        }
        Err(_) => TB_INTERNAL,
    }
}

unsafe extern "C" fn plugin_deinit(state: *mut c_void) {
    if !state.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop(Box::from_raw(state as *mut Plugin))
        }));
    }
}

/// A borrowed (pointer, length) pair as a slice; NULL reads as empty.
unsafe fn borrowed<'a>(pointer: *const u8, length: usize) -> &'a [u8] {
    if pointer.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(pointer, length)
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn plugin_call(
    state: *mut c_void,
    context: *const CallContext,
    tool: *const c_char,
    tool_length: usize,
    input: *const u8,
    input_length: usize,
    output: *mut *mut u8,
    output_length: *mut usize,
) -> Status {
    if state.is_null() || output.is_null() || output_length.is_null() {
        return TB_INTERNAL;
    }
    *output = ptr::null_mut();
    *output_length = 0;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let plugin = &*(state as *const Plugin);
        let host = Host {
            services: &*plugin.services,
            context,
        };
        tools::call(
            &host,
            borrowed(tool as *const u8, tool_length),
            borrowed(input, input_length),
        )
    }));
    let (status, json) = match outcome.unwrap_or_else(|_| Err(panic_failure())) {
        Ok(result) => (TB_OK, result.to_json()),
        Err(failure) => (failure.status, failure.to_json()),
    };
    // The output is malloc'd so plugin_free_output can free it from the pointer alone.
    let bytes = malloc(json.len().max(1)) as *mut u8;
    if bytes.is_null() {
        return TB_INTERNAL;
    }
    ptr::copy_nonoverlapping(json.as_ptr(), bytes, json.len());
    *output = bytes;
    *output_length = json.len();
    status
}

unsafe extern "C" fn plugin_free_output(pointer: *mut c_void) {
    free(pointer);
}
