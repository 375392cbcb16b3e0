//! `#[repr(C)]` mirrors of `Sources/PluginABI/include/toolbridge_plugin.h` (ABI 1.0), the whole
//! contract with the host. Field order, types and sizes are the header's; the size checks below
//! fail the build if one drifts.

use std::mem::size_of;
use std::os::raw::{c_char, c_void};

pub type Status = i32;

pub const TB_OK: Status = 0;
pub const TB_TOOL_ERROR: Status = 1;
pub const TB_INVALID_ARGUMENT: Status = 2;
pub const TB_UNKNOWN_TOOL: Status = 3;
pub const TB_UNIMPLEMENTED: Status = 4;
pub const TB_CANCELLED: Status = 5;
pub const TB_DEADLINE_EXCEEDED: Status = 6;
pub const TB_UNAVAILABLE: Status = 7;
pub const TB_INTERNAL: Status = 8;

pub const ABI_MAJOR: u32 = 1;
pub const ABI_MINOR: u32 = 0;

/// `tb_call_context`: opaque, owned by the host, valid only during the call it is passed to.
#[repr(C)]
pub struct CallContext {
    _opaque: [u8; 0],
}

/// `tb_api_request`.
#[repr(C)]
pub struct ApiRequest {
    pub struct_size: u32,
    pub reserved: u32,
    pub method: *const c_char,
    pub path: *const c_char,
    pub path_length: usize,
    pub body: *const u8,
    pub body_length: usize,
    pub if_match: *const c_char,
}

/// `tb_api_response`: `body` is the host's, freed with `HostServices::free`.
#[repr(C)]
pub struct ApiResponse {
    pub struct_size: u32,
    pub http_status: i32,
    pub body: *mut u8,
    pub body_length: usize,
}

/// `tb_host_services`. Every 1.0 function is non-NULL, but they are `Option`s so that reading
/// one never assumes it.
#[repr(C)]
pub struct HostServices {
    pub struct_size: u32,
    pub abi_minor: u32,
    pub api_request: Option<
        unsafe extern "C" fn(*const CallContext, *const ApiRequest, *mut ApiResponse) -> Status,
    >,
    pub free: Option<unsafe extern "C" fn(*mut c_void)>,
    pub log: Option<unsafe extern "C" fn(*const CallContext, i32, *const c_char, usize)>,
    pub is_cancelled: Option<unsafe extern "C" fn(*const CallContext) -> i32>,
    pub deadline_ms: Option<unsafe extern "C" fn(*const CallContext) -> i64>,
    pub context_value: Option<
        unsafe extern "C" fn(*const CallContext, *const c_char, *mut *mut u8, *mut usize) -> Status,
    >,
    pub get_extension: Option<unsafe extern "C" fn(*const c_char) -> *const c_void>,
}

/// The bytes of `tb_host_services` up to the last function this plugin calls (`free`): a host
/// whose table is shorter is refused at `init`.
pub const SERVICES_USED_SIZE: u32 = (2 * size_of::<u32>() + 2 * size_of::<usize>()) as u32;

pub type InitFn =
    unsafe extern "C" fn(*const HostServices, *mut *mut c_void, *mut *const c_char) -> Status;
pub type DeinitFn = unsafe extern "C" fn(*mut c_void);
pub type CallFn = unsafe extern "C" fn(
    *mut c_void,
    *const CallContext,
    *const c_char,
    usize,
    *const u8,
    usize,
    *mut *mut u8,
    *mut usize,
) -> Status;
pub type FreeOutputFn = unsafe extern "C" fn(*mut c_void);

/// `tb_plugin_descriptor`.
#[repr(C)]
pub struct PluginDescriptor {
    pub struct_size: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub reserved: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub description: *const c_char,
    pub tools_json: *const c_char,
    pub init: Option<InitFn>,
    pub deinit: Option<DeinitFn>,
    pub call: Option<CallFn>,
    pub free_output: Option<FreeOutputFn>,
}

/// The descriptor lives in a `static`; its pointers are to `'static` data and never change, so
/// sharing it between the host's threads is safe.
#[repr(transparent)]
pub struct StaticDescriptor(pub PluginDescriptor);

unsafe impl Sync for StaticDescriptor {}

// The header's sizes on a 64-bit target (the host runs on 64-bit Linux).
const _: () = assert!(size_of::<ApiRequest>() == 56);
const _: () = assert!(size_of::<ApiResponse>() == 24);
const _: () = assert!(size_of::<HostServices>() == 64);
const _: () = assert!(size_of::<PluginDescriptor>() == 80);
