//! The host's services for one call, and the failures a tool reports.

use crate::abi::*;
use crate::json::{self, Value};
use std::mem::size_of;
use std::os::raw::c_char;
use std::ptr;

/// A tool's failure: its status and the sentence for the client, with the API's HTTP status when
/// the failure came from the API. Written as `{"error": "...", "status": N}`.
pub struct Failure {
    pub status: Status,
    pub message: String,
    pub http_status: Option<i32>,
}

impl Failure {
    pub fn new(status: Status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            http_status: None,
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Failure {
        Failure::new(TB_INVALID_ARGUMENT, message)
    }

    pub fn to_json(&self) -> String {
        let mut members = vec![("error".to_string(), Value::String(self.message.clone()))];
        if let Some(status) = self.http_status {
            members.push(("status".to_string(), Value::Number(status.to_string())));
        }
        Value::Object(members).to_json()
    }
}

/// The services table and the call's context, both borrowed from the host for one `call`.
pub struct Host<'a> {
    pub services: &'a HostServices,
    pub context: *const CallContext,
}

impl<'a> Host<'a> {
    /// `GET path` as the calling user. Returns the body of a 2xx answer; a non-2xx answer is a
    /// `TB_TOOL_ERROR` with the API's sentence and HTTP status; transport failures pass on.
    pub fn get(&self, path: &str) -> Result<Value, Failure> {
        let (api_request, free) = match (self.services.api_request, self.services.free) {
            (Some(api_request), Some(free)) => (api_request, free),
            _ => return Err(Failure::new(TB_INTERNAL, "the host offers no api_request")),
        };
        let request = ApiRequest {
            struct_size: size_of::<ApiRequest>() as u32,
            reserved: 0,
            method: b"GET\0".as_ptr() as *const c_char,
            path: path.as_ptr() as *const c_char,
            path_length: path.len(),
            body: ptr::null(),
            body_length: 0,
            if_match: ptr::null(),
        };
        let mut response = ApiResponse {
            struct_size: size_of::<ApiResponse>() as u32,
            http_status: 0,
            body: ptr::null_mut(),
            body_length: 0,
        };
        // SAFETY: both structs live until the host returns; the context is this call's.
        let status = unsafe { api_request(self.context, &request, &mut response) };
        let body = if response.body.is_null() {
            Vec::new()
        } else {
            // SAFETY: the host allocated body_length bytes at body; they are copied, then freed
            // with the host's free, as the header says.
            let copy =
                unsafe { std::slice::from_raw_parts(response.body, response.body_length) }.to_vec();
            unsafe { free(response.body as *mut _) };
            copy
        };
        match status {
            TB_OK => {}
            TB_UNAVAILABLE => return Err(Failure::new(status, "the API could not be reached")),
            TB_CANCELLED => return Err(Failure::new(status, "the call was cancelled")),
            TB_DEADLINE_EXCEEDED => return Err(Failure::new(status, "the call's deadline passed")),
            other => {
                return Err(Failure::new(
                    TB_INTERNAL,
                    format!("the host refused the API request (status {})", other),
                ))
            }
        }
        let parsed = json::parse(&body);
        if (200..300).contains(&response.http_status) {
            return parsed.map_err(|reason| {
                Failure::new(
                    TB_INTERNAL,
                    format!("the API's answer is not JSON: {}", reason),
                )
            });
        }
        let message = match parsed
            .as_ref()
            .ok()
            .and_then(|value| value.get("error"))
            .and_then(Value::as_str)
        {
            Some(sentence) => sentence.to_string(),
            None => format!("the API answered with HTTP status {}", response.http_status),
        };
        Err(Failure {
            status: TB_TOOL_ERROR,
            message,
            http_status: Some(response.http_status),
        })
    }
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[(byte >> 4) as usize] as char);
            out.push(HEX[(byte & 15) as usize] as char);
        }
    }
    out
}

/// The unexpected failure a caught panic becomes.
pub fn panic_failure() -> Failure {
    Failure::new(TB_INTERNAL, "the plugin 'note_stats' failed unexpectedly")
}
