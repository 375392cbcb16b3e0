//! The three tools: their definitions (`TOOLS_JSON`), argument checks and handlers.

use crate::abi::{TB_INTERNAL, TB_UNKNOWN_TOOL};
use crate::host::{percent_encode, Failure, Host};
use crate::json::{self, object, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The tools as the descriptor's NUL-terminated JSON array of MCP tool definitions.
pub const TOOLS_JSON: &str = concat!(
    r#"[{"name":"word_count","title":"Word count","#,
    r#""description":"Counts the words, characters (Unicode scalar values) and lines of a text. Never calls the API.","#,
    r#""inputSchema":{"type":"object","properties":{"text":{"type":"string","description":"The text to count."}},"required":["text"],"additionalProperties":false},"#,
    r#""outputSchema":{"type":"object","properties":{"words":{"type":"integer"},"characters":{"type":"integer"},"lines":{"type":"integer"}},"required":["words","characters","lines"]},"#,
    r#""annotations":{"readOnlyHint":true,"openWorldHint":false}},"#,
    r#"{"name":"note_stats","title":"Note statistics","#,
    r#""description":"Counts the words, characters and lines of a note's content, with its title and tags.","#,
    r#""inputSchema":{"type":"object","properties":{"uid":{"type":"string","description":"The note's uid (a UUID)."}},"required":["uid"],"additionalProperties":false},"#,
    r#""outputSchema":{"type":"object","properties":{"uid":{"type":"string"},"title":{"type":"string"},"words":{"type":"integer"},"characters":{"type":"integer"},"lines":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":["uid","title","words","characters","lines","tags"]},"#,
    r#""annotations":{"readOnlyHint":true,"openWorldHint":false}},"#,
    r#"{"name":"tag_counts","title":"Tag counts","#,
    r#""description":"Counts how many of the caller's notes carry each tag, most used first, reading up to 'limit' notes in the API's order (oldest update first); 'complete' says whether that was all of them.","#,
    r#""inputSchema":{"type":"object","properties":{"limit":{"type":"integer","minimum":1,"maximum":1000,"description":"How many notes to read at most (default 100)."}},"additionalProperties":false},"#,
    r#""outputSchema":{"type":"object","properties":{"notes":{"type":"integer"},"complete":{"type":"boolean"},"tags":{"type":"array","items":{"type":"object","properties":{"tag":{"type":"string"},"count":{"type":"integer"}},"required":["tag","count"]}}},"required":["notes","complete","tags"]},"#,
    r#""annotations":{"readOnlyHint":true,"openWorldHint":false}}]"#,
    "\0"
);

const PAGE_SIZE: i64 = 100;

/// Runs the tool named `tool` with the JSON arguments `input`.
pub fn call(host: &Host, tool: &[u8], input: &[u8]) -> Result<Value, Failure> {
    match tool {
        b"word_count" => {
            let arguments = Arguments::parse(input, &["text"])?;
            Ok(text_counts(arguments.required_string("text")?, Vec::new()))
        }
        b"note_stats" => note_stats(host, &Arguments::parse(input, &["uid"])?),
        b"tag_counts" => tag_counts(host, &Arguments::parse(input, &["limit"])?),
        _ => Err(Failure::new(
            TB_UNKNOWN_TOOL,
            format!(
                "the plugin 'note_stats' has no tool '{}'",
                String::from_utf8_lossy(tool)
            ),
        )),
    }
}

/// `{words, characters, lines}` of `text`, followed by `extra` members.
fn text_counts(text: &str, extra: Vec<(String, Value)>) -> Value {
    let mut members = extra;
    members.push((
        "words".to_string(),
        Value::count(text.split_whitespace().count()),
    ));
    members.push(("characters".to_string(), Value::count(text.chars().count())));
    members.push(("lines".to_string(), Value::count(text.lines().count())));
    Value::Object(members)
}

fn note_stats(host: &Host, arguments: &Arguments) -> Result<Value, Failure> {
    let uid = arguments.required_string("uid")?;
    if !is_uuid(uid) {
        return Err(Failure::invalid_argument(format!(
            "the argument 'uid' must be a UUID, not '{}'",
            uid
        )));
    }
    let note = host.get(&format!("/v1/notes/{}", uid.to_ascii_lowercase()))?;
    let payload = note.get("payload");
    let field = |name: &str| {
        payload
            .and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let tags = payload.map(tags_of).unwrap_or_default();
    Ok(text_counts(
        field("content"),
        vec![
            (
                "uid".to_string(),
                Value::String(
                    note.get("uid")
                        .and_then(Value::as_str)
                        .unwrap_or(uid)
                        .to_string(),
                ),
            ),
            (
                "title".to_string(),
                Value::String(field("title").to_string()),
            ),
            (
                "tags".to_string(),
                Value::Array(tags.into_iter().map(Value::String).collect()),
            ),
        ],
    ))
}

fn tag_counts(host: &Host, arguments: &Arguments) -> Result<Value, Failure> {
    let limit = arguments
        .optional_integer("limit", 1, 1000)?
        .unwrap_or(PAGE_SIZE);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut read: i64 = 0;
    let mut cursor: Option<String> = None;
    // Each page holds at least one note, so this ends within `limit` pages.
    while read < limit {
        let mut path = format!("/v1/notes?limit={}", PAGE_SIZE.min(limit - read));
        if let Some(cursor) = &cursor {
            path.push_str("&cursor=");
            path.push_str(&percent_encode(cursor));
        }
        let page = host.get(&path)?;
        let items = match page.get("items") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(Failure::new(
                    TB_INTERNAL,
                    "the API's note list has no items",
                ))
            }
        };
        for item in items.iter().take((limit - read) as usize) {
            for tag in item.get("payload").map(tags_of).unwrap_or_default() {
                *counts.entry(tag).or_insert(0) += 1;
            }
            read += 1;
        }
        cursor = page
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        if cursor.is_none() || items.is_empty() {
            break;
        }
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(object([
        ("notes", Value::Number(read.to_string())),
        ("complete", Value::Bool(cursor.is_none())),
        (
            "tags",
            Value::Array(
                ranked
                    .into_iter()
                    .map(|(tag, count)| {
                        object([("tag", Value::String(tag)), ("count", Value::count(count))])
                    })
                    .collect(),
            ),
        ),
    ]))
}

/// A payload's distinct string tags, in first-seen order.
fn tags_of(payload: &Value) -> Vec<String> {
    let mut seen = BTreeSet::new();
    match payload.get("tags") {
        Some(Value::Array(tags)) => tags
            .iter()
            .filter_map(Value::as_str)
            .filter(|tag| seen.insert(tag.to_string()))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// A tool's arguments: a JSON object whose names are all among the tool's (the schemas say
/// `additionalProperties: false`). `null` counts as left out, as PluginKit reads it.
struct Arguments {
    members: Value,
}

impl Arguments {
    fn parse(input: &[u8], known: &[&str]) -> Result<Arguments, Failure> {
        let text = if input.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else {
            input
        };
        let members = json::parse(text).map_err(|reason| {
            Failure::invalid_argument(format!("the arguments are not valid JSON: {}", reason))
        })?;
        match &members {
            Value::Object(pairs) => {
                if let Some((name, _)) = pairs
                    .iter()
                    .find(|(name, _)| !known.contains(&name.as_str()))
                {
                    return Err(Failure::invalid_argument(format!(
                        "unknown argument '{}': the tool takes {}",
                        name,
                        known.join(", ")
                    )));
                }
            }
            _ => {
                return Err(Failure::invalid_argument(
                    "the arguments must be a JSON object",
                ))
            }
        }
        Ok(Arguments { members })
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.members
            .get(name)
            .filter(|value| **value != Value::Null)
    }

    fn required_string(&self, name: &str) -> Result<&str, Failure> {
        match self.present(name) {
            Some(Value::String(text)) => Ok(text),
            Some(_) => Err(Failure::invalid_argument(format!(
                "the argument '{}' must be a string",
                name
            ))),
            None => Err(Failure::invalid_argument(format!(
                "the argument '{}' is required",
                name
            ))),
        }
    }

    fn optional_integer(
        &self,
        name: &str,
        minimum: i64,
        maximum: i64,
    ) -> Result<Option<i64>, Failure> {
        match self.present(name) {
            None => Ok(None),
            Some(value) => match value.as_i64() {
                Some(number) if (minimum..=maximum).contains(&number) => Ok(Some(number)),
                _ => Err(Failure::invalid_argument(format!(
                    "the argument '{}' must be a whole number from {} to {}",
                    name, minimum, maximum
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_json_is_one_valid_array_ending_in_nul() {
        let (body, nul) = TOOLS_JSON.split_at(TOOLS_JSON.len() - 1);
        assert_eq!(nul, "\0");
        match json::parse(body.as_bytes()).unwrap() {
            Value::Array(tools) => assert_eq!(tools.len(), 3),
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn counts_words_characters_and_lines() {
        let counts = text_counts("héllo wörld\nsecond line\n", Vec::new());
        assert_eq!(counts.to_json(), r#"{"words":4,"characters":24,"lines":2}"#);
        assert_eq!(
            text_counts("", Vec::new()).to_json(),
            r#"{"words":0,"characters":0,"lines":0}"#
        );
    }

    #[test]
    fn arguments_are_checked_with_sentences() {
        let refusal = |input: &str, known: &[&str]| match Arguments::parse(input.as_bytes(), known)
        {
            Ok(arguments) => arguments
                .required_string("text")
                .err()
                .map(|failure| failure.message),
            Err(failure) => Some(failure.message),
        };
        assert_eq!(
            refusal("[1]", &["text"]).unwrap(),
            "the arguments must be a JSON object"
        );
        assert_eq!(
            refusal(r#"{"txt":1}"#, &["text"]).unwrap(),
            "unknown argument 'txt': the tool takes text"
        );
        assert_eq!(
            refusal(r#"{"text":1}"#, &["text"]).unwrap(),
            "the argument 'text' must be a string"
        );
        assert_eq!(
            refusal(r#"{"text":null}"#, &["text"]).unwrap(),
            "the argument 'text' is required"
        );
        assert_eq!(
            refusal("", &["text"]).unwrap(),
            "the argument 'text' is required"
        );
        assert!(refusal(r#"{"text":"a"}"#, &["text"]).is_none());
    }

    #[test]
    fn uids_are_uuids() {
        assert!(is_uuid("3b241101-e2bb-4255-8caf-4136c566a962"));
        assert!(!is_uuid("3b241101-e2bb-4255-8caf-4136c566a96"));
        assert!(!is_uuid("3b241101e2bb-4255-8caf-4136c566a9620"));
        assert!(!is_uuid("../../v1/tasks/3b241101-e2bb-4255-8c"));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("a+b/c=é~"), "a%2Bb%2Fc%3D%C3%A9~");
    }
}
