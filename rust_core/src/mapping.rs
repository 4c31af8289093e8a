//! Run a declared format mapping (see `python/brightingest/mapping.py`) on parsed rows and build
//! validated chat messages natively: no Python per row.

use std::borrow::Cow;
use std::collections::HashMap;

use bumpalo::Bump;
use serde::Deserialize;

use crate::error::{quote, Category, IngestError, LineIssue};
use crate::parse::{parse_value, BVec, Field, Json, Want};
use crate::table::Msg;

/// Canonical roles after mapping.
pub const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

fn default_sep() -> String {
    "\n\n".to_string()
}

/// One source of messages in a row.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Part {
    /// A fixed-role message from one or more string fields (joined by `separator`).
    Message {
        role: String,
        fields: Vec<String>,
        #[serde(default)]
        optional: bool,
        #[serde(default)]
        weight: Option<i8>,
        #[serde(default = "default_sep")]
        separator: String,
        /// Dropped when another part gives a message of the same role (a top-level `system`
        /// beside an inline system turn: LLaMA-Factory lets the inline one override it).
        #[serde(default)]
        overridable: bool,
    },
    /// A list of message objects.
    List {
        field: String,
        /// The item key of the role; several are alternatives, the first present is used
        /// (ShareGPT exports have `from`/`value` or `role`/`content`).
        #[serde(default = "default_role_key")]
        role_key: Keys,
        #[serde(default = "default_content_key")]
        content_key: Keys,
        #[serde(default)]
        roles: Aliases,
        #[serde(default)]
        name_key: Option<String>,
        #[serde(default)]
        tool_calls_key: Option<String>,
        #[serde(default)]
        tool_call_id_key: Option<String>,
        /// Alternatives as for `role_key`; a boolean (axolotl's `training`) is 1 or 0.
        #[serde(default)]
        weight_key: Option<Keys>,
        #[serde(default)]
        assistant_weight: Option<i8>,
        #[serde(default)]
        optional: bool,
        #[serde(default)]
        string_role: Option<String>,
    },
    /// A list of `[user, assistant]` string pairs.
    Pairs {
        field: String,
        #[serde(default = "yes")]
        optional: bool,
        #[serde(default)]
        assistant_weight: Option<i8>,
    },
}

fn yes() -> bool {
    true
}
fn default_role_key() -> Keys {
    Keys(vec!["role".into()])
}
fn default_content_key() -> Keys {
    Keys(vec!["content".into()])
}

/// An item key and its alternatives: a string or a non-empty list of strings in the spec.
#[derive(Debug, Clone)]
pub struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let keys = match OneOrMany::deserialize(d)? {
            OneOrMany::One(k) => vec![k],
            OneOrMany::Many(ks) => ks,
        };
        if keys.is_empty() {
            return Err(serde::de::Error::custom(
                "an item key list must not be empty",
            ));
        }
        Ok(Keys(keys))
    }
}

impl Keys {
    /// The value of the first of these keys present in `obj` (not null), with the key used:
    /// the first key when none is present, for the error's field path.
    #[inline(always)]
    fn take<'k, 'a>(&'k self, obj: &mut [(Cow<'a, str>, Json<'a>)]) -> (&'k str, Option<Json<'a>>) {
        match self.0.as_slice() {
            [only] => (only, take_in(obj, only)),
            _ => self.take_any(obj),
        }
    }

    /// [`Keys::take`] with alternatives, in one pass over the item (keys are unique in it).
    fn take_any<'k, 'a>(
        &'k self,
        obj: &mut [(Cow<'a, str>, Json<'a>)],
    ) -> (&'k str, Option<Json<'a>>) {
        // (rank of the key in the list, entry index): the best non-null, and the best null
        let mut value: Option<(usize, usize)> = None;
        let mut null: Option<(usize, usize)> = None;
        for (at, (k, v)) in obj.iter().enumerate() {
            let Some(rank) = self.0.iter().position(|key| key == k) else {
                continue;
            };
            let slot = if matches!(v, Json::Null) {
                &mut null
            } else {
                &mut value
            };
            if slot.is_none_or(|(best, _)| rank < best) {
                *slot = Some((rank, at));
            }
        }
        match value.or(null) {
            Some((rank, at)) => (
                self.0[rank].as_str(),
                Some(std::mem::replace(&mut obj[at].1, Json::Null)),
            ),
            None => (self.0[0].as_str(), None),
        }
    }

    /// `"from"`, or `"from" (or "role")` for the error of a row with none of them.
    #[cold]
    fn describe(&self) -> String {
        let mut out = quote(&self.0[0], 40);
        if self.0.len() > 1 {
            let rest: Vec<String> = self.0[1..].iter().map(|k| quote(k, 40)).collect();
            out.push_str(&format!(" (or {})", rest.join(", ")));
        }
        out
    }
}

/// Which unread fields are kept in `metadata`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MetadataSpec {
    Named(String),
    Keys { keys: Vec<String> },
}

/// A format's declarative mapping, as `Mapping.to_dict(name)` serializes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatSpec {
    pub name: String,
    pub signature: Vec<String>,
    pub parts: Vec<Part>,
    #[serde(default)]
    pub id_field: Option<String>,
    #[serde(default)]
    pub tools_field: Option<String>,
    #[serde(default = "rest")]
    pub metadata: MetadataSpec,
    #[serde(default)]
    pub meta_key: Option<String>,
    #[serde(default)]
    pub roles: Aliases,
    /// A top-level field marking the row's completion as a good or bad example (KTO's
    /// `label`): a row where it is `false` is skipped; the field stays in `metadata`.
    #[serde(default)]
    pub desirable: Option<String>,
    /// More such fields, read only when they hold a boolean (or its spelling): a format whose
    /// rows may use the name for something else (a class `label`) is not refused for it.
    #[serde(default)]
    pub desirable_if_boolean: Vec<String>,
    /// Top-level fields holding the row's media files (LLaMA-Factory's `images`, `videos`,
    /// `audios`): a row where one is not empty is refused (its text alone would be trained,
    /// placeholders such as `<image>` included); an empty one stays in metadata.
    #[serde(default)]
    pub media: Vec<String>,
}

fn rest() -> MetadataSpec {
    MetadataSpec::Named("rest".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Rest,
    Keys,
    Nothing,
}

/// Ranked formats compiled for execution: each row takes the first whose signature it has.
#[derive(Debug)]
pub struct FormatSet {
    formats: Vec<FormatSpec>,
    names: Vec<String>,
    /// Keys each format reads (not kept in its metadata): a handful each, scanned linearly.
    reads: Vec<Vec<String>>,
    keep: Vec<Keep>,
    /// Keys to build, then keys to keep raw: a few entries each, so a linear scan beats hashing.
    parse_keys: Vec<String>,
    raw_keys: Vec<String>,
    raw_rest: bool,
    meta_keys: Vec<String>,
}

impl FormatSet {
    /// Compile ranked specs, checking roles and weights once.
    pub fn new(formats: Vec<FormatSpec>) -> Result<Self, IngestError> {
        if formats.is_empty() {
            return Err(IngestError::Config("no format to map rows with".into()));
        }
        let mut reads = Vec::new();
        let mut keep = Vec::new();
        let mut parse_keys: Vec<String> = Vec::new();
        let mut raw_keys: Vec<String> = Vec::new();
        let mut raw_rest = false;
        let mut meta_keys = Vec::new();
        for f in &formats {
            if f.signature.is_empty() {
                return Err(IngestError::Config(format!(
                    "format {}: signature must name at least one field",
                    f.name
                )));
            }
            check_aliases(&f.name, &f.roles)?;
            for p in &f.parts {
                if let Part::List { roles, .. } = p {
                    check_aliases(&f.name, roles)?;
                }
            }
            let mut r: Vec<String> = f.signature.clone();
            for p in &f.parts {
                match p {
                    Part::Message {
                        role,
                        fields,
                        weight,
                        ..
                    } => {
                        if fields.is_empty() {
                            return Err(IngestError::Config(format!(
                                "format {}: a message part needs at least one field",
                                f.name
                            )));
                        }
                        if canonical_role(role, &Aliases::default(), &f.roles).is_none() {
                            return Err(IngestError::Config(format!(
                                "format {}: unknown role {role:?} in a message part (expected one of {})",
                                f.name,
                                ROLES.join(", ")
                            )));
                        }
                        check_weight(&f.name, *weight)?;
                        r.extend(fields.iter().cloned());
                    }
                    Part::List {
                        field,
                        assistant_weight,
                        string_role,
                        roles,
                        ..
                    } => {
                        check_weight(&f.name, *assistant_weight)?;
                        if let Some(sr) = string_role {
                            if canonical_role(sr, roles, &f.roles).is_none() {
                                return Err(IngestError::Config(format!(
                                    "format {}: unknown string_role {sr:?}",
                                    f.name
                                )));
                            }
                        }
                        r.push(field.clone());
                    }
                    Part::Pairs {
                        field,
                        assistant_weight,
                        ..
                    } => {
                        check_weight(&f.name, *assistant_weight)?;
                        r.push(field.clone());
                    }
                }
            }
            r.extend(f.id_field.iter().cloned());
            r.extend(f.tools_field.iter().cloned());
            let mut seen = Vec::new();
            r.retain(|k| {
                let new = !seen.contains(k);
                seen.push(k.clone());
                new
            });
            for k in &r {
                if !parse_keys.contains(k) {
                    parse_keys.push(k.clone());
                }
            }
            let k = match &f.metadata {
                MetadataSpec::Named(s) if s == "rest" => {
                    raw_rest = true;
                    Keep::Rest
                }
                MetadataSpec::Named(s) if s == "none" => Keep::Nothing,
                MetadataSpec::Named(s) => {
                    return Err(IngestError::Config(format!(
                        "format {}: metadata must be \"rest\", \"none\" or {{\"keys\": [...]}}, not {s:?}",
                        f.name
                    )))
                }
                MetadataSpec::Keys { keys } => {
                    for k in keys {
                        if !raw_keys.contains(k) {
                            raw_keys.push(k.clone());
                        }
                    }
                    Keep::Keys
                }
            };
            if let Some(mk) = &f.meta_key {
                if !raw_keys.contains(mk) {
                    raw_keys.push(mk.clone());
                }
                if !meta_keys.contains(mk) {
                    meta_keys.push(mk.clone());
                }
            }
            // Labels and media are looked at in place: keep them (raw) even without metadata.
            let looked_at = f
                .desirable
                .iter()
                .chain(&f.desirable_if_boolean)
                .chain(&f.media);
            for key in looked_at {
                if !raw_keys.contains(key) {
                    raw_keys.push(key.clone());
                }
            }
            reads.push(r);
            keep.push(k);
        }
        let names = formats.iter().map(|f| f.name.clone()).collect();
        Ok(FormatSet {
            formats,
            names,
            reads,
            keep,
            parse_keys,
            raw_keys,
            raw_rest,
            meta_keys,
        })
    }

    /// Parse a JSON list of format specs.
    pub fn from_json(text: &str) -> Result<Self, IngestError> {
        let specs: Vec<FormatSpec> = serde_json::from_str(text)
            .map_err(|e| IngestError::Config(format!("invalid format specification: {e}")))?;
        Self::new(specs)
    }

    /// Format names, in rank order (the `format` column's dictionary).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How the row parser should treat a top-level key.
    #[inline]
    pub fn want(&self, key: &str) -> Want {
        if self.parse_keys.iter().any(|k| k == key) {
            Want::Parse
        } else if self.raw_rest || self.raw_keys.iter().any(|k| k == key) {
            Want::Raw
        } else {
            Want::Skip
        }
    }

    /// Map one parsed object. Fields are taken out of `fields` as they are used; messages and
    /// metadata are built in the line's arena.
    pub fn map_row<'a>(
        &self,
        fields: &mut [(Cow<'a, str>, Field<'a>)],
        bump: &'a Bump,
    ) -> Mapped<'a> {
        // A file-metadata line: `{"_meta": {...}}` and nothing else.
        if fields.len() == 1 && self.meta_keys.iter().any(|k| k == &fields[0].0) {
            let text = match &fields[0].1 {
                Field::Raw(r) => r.get().to_string(),
                Field::Parsed(j) => j.to_json(),
                Field::Skipped => String::new(),
            };
            return Mapped::Meta(fields[0].0.to_string(), text);
        }
        let Some(fi) = (0..self.formats.len())
            .find(|&i| self.formats[i].signature.iter().all(|k| has(fields, k)))
        else {
            return Mapped::Skip(self.unsupported(fields));
        };
        let mut overridden = None;
        match self.map_with(fi, fields, bump, &mut overridden) {
            Ok((messages, id, tools)) => {
                let metadata = self.metadata(fi, fields, bump, overridden);
                Mapped::Row {
                    format: fi,
                    messages,
                    id,
                    tools,
                    metadata,
                }
            }
            Err(issue) => Mapped::Skip(issue),
        }
    }

    #[cold]
    fn unsupported(&self, fields: &[(Cow<'_, str>, Field<'_>)]) -> LineIssue {
        let keys: Vec<String> = fields.iter().take(8).map(|(k, _)| quote(k, 40)).collect();
        let keys = if keys.is_empty() {
            "an empty object".to_string()
        } else {
            format!("keys {}", keys.join(", "))
        };
        if self.formats.len() == 1 {
            let f = &self.formats[0];
            let missing: Vec<String> = f
                .signature
                .iter()
                .filter(|k| !has(fields, k))
                .map(|k| quote(k, 40))
                .collect();
            LineIssue::new(
                Category::UnsupportedFormat,
                format!(
                    "row is not {} (it lacks {}; it has {keys})",
                    f.name,
                    missing.join(", ")
                ),
            )
            .with_hint("drop format= to auto-detect, or pass the format this row is in")
        } else {
            LineIssue::new(
                Category::UnsupportedFormat,
                format!(
                    "row matches no format in use ({}; it has {keys})",
                    self.names.join(", ")
                ),
            )
            .with_hint("install a format plugin for these rows, or fix the export")
        }
    }

    /// The row's metadata: the fields the format did not read (all of them, or its raw keys),
    /// plus, when it keeps all of them, `overridden`: the value of a part another part overrode
    /// (a top-level `system` beside a system turn), so that it is kept rather than dropped.
    fn metadata<'a>(
        &self,
        fi: usize,
        fields: &[(Cow<'_, str>, Field<'_>)],
        bump: &'a Bump,
        overridden: Option<(&str, Cow<'_, str>)>,
    ) -> Option<&'a str> {
        let keep = self.keep[fi];
        if keep == Keep::Nothing {
            return None;
        }
        let reads = &self.reads[fi];
        let mut out = bumpalo::collections::String::with_capacity_in(256, bump);
        for (k, v) in fields {
            // Every key a format reads is parsed (`want`), so only a parsed field can be one
            // this format read; the fields it took are `Skipped` already.
            let text: Cow<'_, str> = match v {
                Field::Skipped => continue,
                Field::Parsed(_) if reads.iter().any(|r| r == k) => continue,
                _ if keep == Keep::Keys && !self.raw_keys.iter().any(|r| r == k) => continue,
                Field::Raw(r) => Cow::Borrowed(r.get()),
                Field::Parsed(j) => Cow::Owned(j.to_json()),
            };
            out.push(if out.is_empty() { '{' } else { ',' });
            push_json_str(&mut out, k);
            out.push(':');
            out.push_str(&text);
        }
        if let Some((k, v)) = overridden.filter(|_| keep == Keep::Rest) {
            out.push(if out.is_empty() { '{' } else { ',' });
            push_json_str(&mut out, k);
            out.push(':');
            out.push_str(&serde_json::to_string(v.as_ref()).unwrap_or_default());
        }
        if out.is_empty() {
            None
        } else {
            out.push('}');
            Some(out.into_bump_str())
        }
    }

    #[allow(clippy::type_complexity)] // (messages, id, tools): a private return tuple
    fn map_with<'a, 's>(
        &'s self,
        fi: usize,
        fields: &mut [(Cow<'a, str>, Field<'a>)],
        bump: &'a Bump,
        overridden: &mut Option<(&'s str, Cow<'a, str>)>,
    ) -> Result<(BVec<'a, Msg<'a>>, Option<Cow<'a, str>>, Option<String>), LineIssue> {
        let f = &self.formats[fi];
        let mut msgs: BVec<'a, Msg<'a>> = BVec::with_capacity_in(8, bump);
        // Where each message came from, for error messages only: built without allocating.
        let mut srcs: BVec<'_, Src<'_>> = BVec::with_capacity_in(8, bump);
        // Messages of overridable parts (allocates only when there is one).
        let mut overridables: BVec<'_, usize> = BVec::new_in(bump);
        for part in &f.parts {
            match part {
                Part::Message {
                    role,
                    fields: names,
                    optional,
                    weight,
                    separator,
                    overridable,
                } => {
                    let first = take(fields, bump, &names[0]);
                    let mut content: Cow<'a, str> = match first {
                        None | Some(Json::Null) if *optional => continue,
                        None | Some(Json::Null) => return Err(missing(&names[0], &f.name)),
                        Some(Json::Str(s)) => s,
                        // text blocks: Bedrock's and Anthropic's `"system": [{"text": ...}]`
                        Some(Json::Arr(parts)) => text_parts(parts, &names[0])?,
                        // Gemini's `"systemInstruction": {"role"?, "parts": [{"text": ...}]}`
                        Some(Json::Obj(mut obj)) => match take_in(&mut obj, "parts") {
                            Some(Json::Arr(parts)) => {
                                text_parts(parts, &format!("{}.parts", names[0]))?
                            }
                            _ => {
                                return Err(wrong_type(
                                    &names[0],
                                    "a string, a list of text parts or {\"parts\": [...]}",
                                    &Json::Obj(obj),
                                ))
                            }
                        },
                        Some(other) => {
                            return Err(wrong_type(
                                &names[0],
                                "a string or a list of text parts",
                                &other,
                            ))
                        }
                    };
                    if *optional && is_blank(&content) {
                        continue;
                    }
                    for extra in &names[1..] {
                        match take(fields, bump, extra) {
                            None | Some(Json::Null) => {}
                            Some(Json::Str(s)) if is_blank(&s) => {}
                            // A blank first part (an empty Alpaca instruction) joins nothing.
                            Some(Json::Str(s)) if is_blank(&content) => content = s,
                            Some(Json::Str(s)) => {
                                let mut joined = content.into_owned();
                                joined.push_str(separator);
                                joined.push_str(&s);
                                content = Cow::Owned(joined);
                            }
                            Some(other) => return Err(wrong_type(extra, "a string", &other)),
                        }
                    }
                    let role =
                        canonical_role(role, &Aliases::default(), &f.roles).unwrap_or("user");
                    if *overridable {
                        overridables.push(msgs.len());
                    }
                    msgs.push(Msg {
                        role,
                        content,
                        weight: *weight,
                        name: None,
                        tool_calls: None,
                        tool_call_id: None,
                        extra: None,
                    });
                    srcs.push(Src::Field(&names[0]));
                }
                Part::List {
                    field,
                    role_key: role_keys,
                    content_key: content_keys,
                    roles,
                    name_key,
                    tool_calls_key,
                    tool_call_id_key,
                    weight_key: weight_keys,
                    assistant_weight,
                    optional,
                    string_role,
                } => {
                    let items = match take(fields, bump, field) {
                        None | Some(Json::Null) if *optional => continue,
                        None | Some(Json::Null) => return Err(missing(field, &f.name)),
                        Some(Json::Str(s)) if string_role.is_some() => {
                            let role = string_role
                                .as_deref()
                                .and_then(|r| canonical_role(r, roles, &f.roles))
                                .unwrap_or("user");
                            msgs.push(Msg {
                                role,
                                content: s,
                                weight: if role == "assistant" {
                                    *assistant_weight
                                } else {
                                    None
                                },
                                name: None,
                                tool_calls: None,
                                tool_call_id: None,
                                extra: None,
                            });
                            srcs.push(Src::Field(field));
                            continue;
                        }
                        Some(Json::Arr(items)) => items,
                        Some(other) => {
                            let want = if string_role.is_some() {
                                "a list of messages or a string"
                            } else {
                                "a list of messages"
                            };
                            return Err(wrong_type(field, want, &other));
                        }
                    };
                    for (i, item) in items.into_iter().enumerate() {
                        let src = Src::Item(field, i);
                        let Json::Obj(mut obj) = item else {
                            return Err(wrong_type(&src.path(), "a message object", &item));
                        };
                        let (role_key, role_value) = role_keys.take(&mut obj);
                        let role_path = || src.sub(role_key);
                        let role = match role_value {
                            Some(Json::Str(r)) => match canonical_role(&r, roles, &f.roles) {
                                Some(c) => c,
                                None => {
                                    return Err(unknown_role(&role_path(), &r, roles, &f.roles))
                                }
                            },
                            None | Some(Json::Null) => {
                                return Err(missing_one_of(
                                    &role_path(),
                                    &role_keys.describe(),
                                    &f.name,
                                ))
                            }
                            Some(other) => {
                                return Err(wrong_type(&role_path(), "a string", &other))
                            }
                        };
                        let (content_key, content_value) = content_keys.take(&mut obj);
                        // Most items are a role and a content, nothing else: no other key to
                        // look up (each lookup is a scan of the item).
                        let bare = obj.len() == 2 && content_value.is_some();
                        let tool_calls = match tool_calls_key
                            .as_deref()
                            .filter(|_| !bare)
                            .and_then(|k| take_in(&mut obj, k))
                        {
                            None | Some(Json::Null) => None,
                            Some(Json::Arr(a)) if a.is_empty() => None,
                            Some(Json::Arr(mut calls)) => {
                                let k = tool_calls_key.as_deref().unwrap_or("tool_calls");
                                let ids = tool_call_id_key.is_some();
                                check_calls(&mut calls, &src.sub(k), ids)?;
                                Some(Json::Arr(calls).to_json())
                            }
                            Some(other) => {
                                let k = tool_calls_key.as_deref().unwrap_or("tool_calls");
                                return Err(wrong_type(&src.sub(k), "a list", &other));
                            }
                        };
                        if !bare {
                            unreadable_keys(&mut obj, src, tool_calls_key.is_some())?;
                        }
                        let content_path = || src.sub(content_key);
                        let content = match content_value {
                            Some(Json::Str(s)) => s,
                            Some(Json::Arr(parts)) => text_parts(parts, &content_path())?,
                            None | Some(Json::Null) if tool_calls.is_some() => Cow::Borrowed(""),
                            None | Some(Json::Null) => {
                                return Err(missing_one_of(
                                    &content_path(),
                                    &content_keys.describe(),
                                    &f.name,
                                ))
                            }
                            Some(other) => {
                                return Err(wrong_type(
                                    &content_path(),
                                    "a string or a list of text parts",
                                    &other,
                                ))
                            }
                        };
                        let (weight_key, weight_value) = match weight_keys {
                            Some(keys) if !bare => keys.take(&mut obj),
                            _ => ("weight", None),
                        };
                        let weight_path = || src.sub(weight_key);
                        if let (Some(keys), Some(v)) =
                            (weight_key_alternatives(weight_keys), &weight_value)
                        {
                            disagreeing_weights(&mut obj, keys, weight_key, v, src)?;
                        }
                        let weight = match weight_value {
                            None | Some(Json::Null) => {
                                if role == "assistant" {
                                    *assistant_weight
                                } else {
                                    None
                                }
                            }
                            Some(v) => match parse_weight(&v, weight_path)? {
                                // Only assistant messages are trained: a 0 elsewhere says what
                                // holds anyway (and is dropped, so that equal rows stay equal);
                                // a 1 asks for what no trainer of this format does.
                                0 if role != "assistant" => None,
                                1 if role != "assistant" => {
                                    return Err(weight_off_assistant(&weight_path(), role))
                                }
                                w => Some(w),
                            },
                        };
                        if tool_calls.is_some() && role != "assistant" {
                            let k = tool_calls_key.as_deref().unwrap_or("tool_calls");
                            return Err(LineIssue::new(
                                Category::WrongType,
                                format!("tool_calls on {} {role} message: only assistant messages call tools", article(role)),
                            )
                            .with_field(src.sub(k))
                            .with_hint("move the calls to the assistant message before, or fix the export's roles"));
                        }
                        let (name, tool_call_id) = if bare {
                            (None, None)
                        } else {
                            (
                                opt_str(&mut obj, name_key.as_deref(), src)?,
                                opt_str(&mut obj, tool_call_id_key.as_deref(), src)?,
                            )
                        };
                        if let (Some(key), "tool", None) =
                            (tool_call_id_key.as_deref(), role, &tool_call_id)
                        {
                            // Formats with call ids (OpenAI's) require one on every tool result.
                            return Err(LineIssue::new(
                                Category::MissingField,
                                format!("a tool message without {}", quote(key, 40)),
                            )
                            .with_field(src.sub(key))
                            .with_hint("give each tool result the id of the call it answers (tool_calls[].id)"));
                        }
                        // What no part of the mapping read (`reasoning_content`, a second
                        // content key ...) is kept, not dropped.
                        let extra = if bare {
                            None
                        } else {
                            leftover_keys(&obj, src, &f.name)?
                        };
                        msgs.push(Msg {
                            role,
                            content,
                            weight,
                            name,
                            tool_calls,
                            tool_call_id,
                            extra,
                        });
                        srcs.push(src);
                    }
                }
                Part::Pairs {
                    field,
                    optional,
                    assistant_weight,
                } => {
                    let items = match take(fields, bump, field) {
                        None | Some(Json::Null) if *optional => continue,
                        None | Some(Json::Null) => return Err(missing(field, &f.name)),
                        Some(Json::Arr(items)) => items,
                        Some(other) => {
                            return Err(wrong_type(
                                field,
                                "a list of [user, assistant] pairs",
                                &other,
                            ))
                        }
                    };
                    for (i, item) in items.into_iter().enumerate() {
                        let pair = match item {
                            Json::Arr(p) if p.len() == 2 => p,
                            other => {
                                let path = Src::Item(field, i).path();
                                return Err(wrong_type(&path, "a [user, assistant] pair", &other));
                            }
                        };
                        for (j, (v, role)) in
                            pair.into_iter().zip(["user", "assistant"]).enumerate()
                        {
                            let content = match v {
                                Json::Str(s) => s,
                                other => {
                                    let path = Src::Pair(field, i, j).path();
                                    return Err(wrong_type(&path, "a string", &other));
                                }
                            };
                            msgs.push(Msg {
                                role,
                                content,
                                weight: if role == "assistant" {
                                    *assistant_weight
                                } else {
                                    None
                                },
                                name: None,
                                tool_calls: None,
                                tool_call_id: None,
                                extra: None,
                            });
                            srcs.push(Src::Pair(field, i, j));
                        }
                    }
                }
            }
        }
        for &at in overridables.iter().rev() {
            let role = msgs[at].role;
            if msgs
                .iter()
                .enumerate()
                .any(|(i, m)| i != at && m.role == role)
            {
                let dropped = msgs.remove(at);
                // Kept in metadata under its own key (one overridable part per format).
                if let Src::Field(key) = srcs.remove(at) {
                    *overridden = Some((key, dropped.content));
                }
            }
        }
        validate(&msgs, &srcs)?;
        // Labels and media are top-level fields the parts did not read: a row with none left
        // (most rows) has neither, and is not scanned for each of them.
        if fields.iter().any(|(_, v)| !matches!(v, Field::Skipped)) {
            check_labels_and_media(f, fields)?;
        }
        let id = match f.id_field.as_deref().and_then(|k| take(fields, bump, k)) {
            None | Some(Json::Null) => None,
            Some(Json::Str(s)) => Some(s),
            Some(Json::Num(n)) => Some(Cow::Owned(n.to_string())),
            Some(other) => {
                return Err(wrong_type(
                    f.id_field.as_deref().unwrap_or("id"),
                    "a string or a number",
                    &other,
                ))
            }
        };
        let tools = match f.tools_field.as_deref() {
            Some(key) => tool_definitions(key, take(fields, bump, key), bump)?,
            None => None,
        };
        Ok((msgs, id, tools))
    }
}

/// The outcome of mapping one row.
#[derive(Debug)]
pub enum Mapped<'a> {
    Row {
        format: usize,
        messages: BVec<'a, Msg<'a>>,
        id: Option<Cow<'a, str>>,
        tools: Option<String>,
        metadata: Option<&'a str>,
    },
    /// A file-metadata line: (key, value as JSON text).
    Meta(String, String),
    Skip(LineIssue),
}

/// Role aliases (alias -> canonical), knowing whether one of them renames a canonical name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "HashMap<String, String>")]
pub struct Aliases {
    map: HashMap<String, String>,
    /// An alias that gives a canonical name another role (`{"user": "assistant"}`): canonical
    /// names must then be looked up too.
    renames_canonical: bool,
}

impl From<HashMap<String, String>> for Aliases {
    fn from(map: HashMap<String, String>) -> Self {
        let renames_canonical = map.iter().any(|(k, target)| {
            ROLES.iter().any(|r| r.eq_ignore_ascii_case(k)) && !k.eq_ignore_ascii_case(target)
        });
        Aliases {
            map,
            renames_canonical,
        }
    }
}

impl std::ops::Deref for Aliases {
    type Target = HashMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

/// Every role alias must name one of the canonical roles (`{"human": "person"}` would map
/// every human turn to a role no chat template knows).
fn check_aliases(name: &str, aliases: &HashMap<String, String>) -> Result<(), IngestError> {
    let mut sorted: Vec<_> = aliases.iter().collect();
    sorted.sort();
    for (alias, target) in sorted {
        if !ROLES.iter().any(|r| r.eq_ignore_ascii_case(target)) {
            return Err(IngestError::Config(format!(
                "format {name}: role alias {alias:?} maps to {target:?}, which is not one of {}",
                ROLES.join(", ")
            )));
        }
    }
    Ok(())
}

fn check_weight(name: &str, w: Option<i8>) -> Result<(), IngestError> {
    match w {
        None | Some(0) | Some(1) => Ok(()),
        Some(x) => Err(IngestError::Config(format!(
            "format {name}: weight must be 0 or 1, not {x}"
        ))),
    }
}

/// Check tool calls against OpenAI's shape, `{"id", "type": "function", "function": {"name",
/// "arguments"}}`, so that what is written back is valid: an `id` where the format links calls
/// and results (`ids`); a `type` other than "function" refused, a missing one written; a
/// `function.name`; `arguments` as JSON text: an object (as Hugging Face chat templates take
/// it) becomes its text, a missing or null one `"{}"` (a call without arguments).
fn check_calls(calls: &mut [Json<'_>], path: &str, ids: bool) -> Result<(), LineIssue> {
    for (i, call) in calls.iter_mut().enumerate() {
        let at = |key: &str| format!("{path}[{i}]{key}");
        let Json::Obj(entries) = call else {
            return Err(wrong_type(&at(""), "a tool call object", call));
        };
        if ids {
            match entries.iter().find(|(k, _)| k == "id").map(|(_, v)| v) {
                Some(Json::Str(id)) if !id.trim().is_empty() => {}
                None | Some(Json::Null) | Some(Json::Str(_)) => {
                    return Err(LineIssue::new(
                        Category::MissingField,
                        "a tool call without an \"id\"",
                    )
                    .with_field(at(".id"))
                    .with_hint("give each call an id; the tool message with its result answers with the same tool_call_id"))
                }
                Some(other) => return Err(wrong_type(&at(".id"), "a string", other)),
            }
        }
        match entries.iter().position(|(k, _)| k == "type") {
            None => entries.push((Cow::Borrowed("type"), Json::Str(Cow::Borrowed("function")))),
            Some(t) => match &entries[t].1 {
                Json::Null => entries[t].1 = Json::Str(Cow::Borrowed("function")),
                Json::Str(kind) if kind == "function" => {}
                other => {
                    return Err(LineIssue::new(
                        Category::WrongType,
                        format!(
                            "a tool call of type {} (OpenAI's format has function calls only)",
                            other.to_json()
                        ),
                    )
                    .with_field(at(".type")))
                }
            },
        }
        let function = match entries.iter_mut().find(|(k, _)| k == "function") {
            Some((_, Json::Obj(function))) => function,
            None | Some((_, Json::Null)) => return Err(missing(&at(".function"), "tool call")),
            Some((_, other)) => return Err(wrong_type(&at(".function"), "an object", other)),
        };
        match function.iter().find(|(k, _)| k == "name").map(|(_, v)| v) {
            Some(Json::Str(name)) if !name.trim().is_empty() => {}
            None | Some(Json::Null) | Some(Json::Str(_)) => {
                return Err(missing(&at(".function.name"), "tool call"))
            }
            Some(other) => return Err(wrong_type(&at(".function.name"), "a string", other)),
        }
        match function.iter_mut().find(|(k, _)| k == "arguments") {
            Some((_, Json::Str(_))) => {}
            Some((_, arguments @ (Json::Obj(_) | Json::Arr(_)))) => {
                *arguments = Json::Str(Cow::Owned(arguments.to_json()));
            }
            Some((_, arguments @ Json::Null)) => *arguments = Json::Str(Cow::Borrowed("{}")),
            None => function.push((Cow::Borrowed("arguments"), Json::Str(Cow::Borrowed("{}")))),
            Some((_, other)) => {
                return Err(wrong_type(
                    &at(".function.arguments"),
                    "JSON text or an object",
                    other,
                ))
            }
        }
    }
    Ok(())
}

/// A row whose desirability label is false, or that holds media, is refused (see
/// `FormatSpec::desirable` and `FormatSpec::media`).
fn check_labels_and_media(
    f: &FormatSpec,
    fields: &[(Cow<'_, str>, Field<'_>)],
) -> Result<(), LineIssue> {
    if let Some(key) = f.desirable.as_deref() {
        if !desirable(fields, key, true)? {
            return Err(undesirable(key));
        }
    }
    for key in &f.desirable_if_boolean {
        if !desirable(fields, key, false)? {
            return Err(undesirable(key));
        }
    }
    for key in &f.media {
        if has_media(fields, key) {
            return Err(LineIssue::new(
                Category::WrongType,
                "a multimodal row: only text is trained here, and without its media the text \
                 (with placeholders such as <image>) would be trained alone",
            )
            .with_field(key.as_str())
            .with_hint("use a multimodal trainer for these rows, or drop them from the export"));
        }
    }
    Ok(())
}

/// The weight keys when there are alternatives (`weight`, `training`, `train`).
fn weight_key_alternatives(keys: &Option<Keys>) -> Option<&Keys> {
    keys.as_ref().filter(|k| k.0.len() > 1)
}

/// A message with two of the weight keys that disagree (`"weight": 1, "training": false`) is
/// refused: which one a trainer would follow is anyone's guess.
fn disagreeing_weights<'a>(
    obj: &mut [(Cow<'a, str>, Json<'a>)],
    keys: &Keys,
    used: &str,
    value: &Json<'a>,
    src: Src<'_>,
) -> Result<(), LineIssue> {
    let Ok(first) = parse_weight(value, || src.sub(used)) else {
        return Ok(()); // reported as it is read
    };
    for key in keys.0.iter().filter(|k| k.as_str() != used) {
        let Some(other) = take_in(obj, key).filter(|v| !matches!(v, Json::Null)) else {
            continue;
        };
        if parse_weight(&other, || src.sub(key)).ok() != Some(first) {
            return Err(LineIssue::new(
                Category::InvalidWeight,
                format!(
                    "{} and {} disagree on whether this message is trained",
                    quote(used, 40),
                    quote(key, 40)
                ),
            )
            .with_field(src.sub(key))
            .with_hint("keep one of them, or make them agree"));
        }
    }
    Ok(())
}

/// Keys of a message this format cannot honour, refused rather than dropped: OpenAI's legacy
/// `function_call` (in formats with `tool_calls`), and axolotl's token-level
/// `training_detail` (a message is trained whole or not at all here).
fn unreadable_keys<'a>(
    obj: &mut [(Cow<'a, str>, Json<'a>)],
    src: Src<'_>,
    calls: bool,
) -> Result<(), LineIssue> {
    if calls && take_in(obj, "function_call").is_some_and(|v| !matches!(v, Json::Null)) {
        return Err(legacy_function_call(&src.sub("function_call")));
    }
    if take_in(obj, "training_detail").is_some_and(|v| !matches!(v, Json::Null)) {
        return Err(LineIssue::new(
            Category::WrongType,
            "token-level \"training_detail\" cannot be honoured: a message is trained whole or not at all",
        )
        .with_field(src.sub("training_detail"))
        .with_hint("split the message, or give it \"training\": true or false for the whole of it"));
    }
    Ok(())
}

/// The row's desirability label `key` (read in place: it stays in metadata): `Ok(true)` when it
/// is absent or true, `Ok(false)` when false. What a CSV round trip makes of a boolean counts
/// too ("false", "False", 0); any other value is refused, since guessing would train on
/// answers labelled bad.
fn desirable(
    fields: &[(Cow<'_, str>, Field<'_>)],
    key: &str,
    strict: bool,
) -> Result<bool, LineIssue> {
    let Some((_, v)) = fields.iter().find(|(k, _)| k == key) else {
        return Ok(true);
    };
    let text = match v {
        Field::Raw(r) => r.get().trim(),
        Field::Parsed(Json::Bool(b)) => return Ok(*b),
        Field::Parsed(j) => return label_value(key, &j.to_json(), strict),
        Field::Skipped => return Ok(true),
    };
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        other => label_value(key, other, strict),
    }
}

/// A label other than the JSON booleans: "true"/"false" in any case count, and when `strict`
/// 1/0 too, anything else being refused; otherwise anything else says nothing (the row is read
/// as usual).
#[cold]
fn label_value(key: &str, text: &str, strict: bool) -> Result<bool, LineIssue> {
    let unquoted = text.trim_matches('"');
    if unquoted.eq_ignore_ascii_case("true") {
        return Ok(true);
    }
    if unquoted.eq_ignore_ascii_case("false") {
        return Ok(false);
    }
    if !strict {
        // a number may be a class: only the booleans' spellings count here
        return Ok(true);
    }
    if ["1", "1.0"].contains(&unquoted) {
        return Ok(true);
    }
    if ["0", "0.0"].contains(&unquoted) {
        return Ok(false);
    }
    Err(LineIssue::new(
        Category::WrongType,
        format!(
            "expected true or false (whether this answer is a good one), found {}",
            match text.char_indices().nth(40) {
                Some((cut, _)) => format!("{}...", &text[..cut]),
                None => text.to_string(),
            }
        ),
    )
    .with_field(key)
    .with_hint("label each row true (a good answer, trained on) or false (a bad one, left out)"))
}

/// Whether the top-level field `key` holds something: not absent, null, `[]`, `{}` or `""`.
fn has_media(fields: &[(Cow<'_, str>, Field<'_>)], key: &str) -> bool {
    fields.iter().any(|(k, v)| {
        k == key
            && match v {
                Field::Raw(r) => !matches!(r.get().trim(), "null" | "[]" | "{}" | "\"\""),
                Field::Parsed(j) => match j {
                    Json::Null => false,
                    Json::Arr(a) => !a.is_empty(),
                    Json::Obj(o) => !o.is_empty(),
                    Json::Str(s) => !s.is_empty(),
                    _ => true,
                },
                Field::Skipped => false,
            }
    })
}

#[cold]
fn undesirable(key: &str) -> LineIssue {
    LineIssue::new(
        Category::NoTrainableAssistant,
        "this completion is labelled false, an example of what not to answer (unpaired preference data, as for KTO)",
    )
    .with_field(key)
    .with_hint("only rows labelled true are trained on; to learn from both, use a preference trainer (TRL's KTOTrainer)")
}

fn has(fields: &[(Cow<'_, str>, Field<'_>)], key: &str) -> bool {
    fields
        .iter()
        .any(|(k, v)| k == key && !matches!(v, Field::Parsed(Json::Null)))
}

/// Take a parsed top-level field out of the row (leaving `Skipped` behind).
fn take<'a>(
    fields: &mut [(Cow<'a, str>, Field<'a>)],
    bump: &'a Bump,
    key: &str,
) -> Option<Json<'a>> {
    let slot = fields.iter_mut().find(|(k, _)| k == key)?;
    match std::mem::replace(&mut slot.1, Field::Skipped) {
        Field::Parsed(j) => Some(j),
        Field::Raw(r) => parse_value(r.get(), bump).ok(),
        Field::Skipped => None,
    }
}

#[inline(always)]
fn take_in<'a>(obj: &mut [(Cow<'a, str>, Json<'a>)], key: &str) -> Option<Json<'a>> {
    obj.iter_mut()
        .find(|(k, _)| k == key)
        .map(|(_, v)| std::mem::replace(v, Json::Null))
        .filter(|_| true)
}

fn opt_str<'a>(
    obj: &mut [(Cow<'a, str>, Json<'a>)],
    key: Option<&str>,
    src: Src<'_>,
) -> Result<Option<Cow<'a, str>>, LineIssue> {
    let Some(key) = key else { return Ok(None) };
    match take_in(obj, key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(&src.sub(key), "a string", &other)),
    }
}

/// The keys of a message item that the mapping did not read (taken keys are left null), as a
/// JSON object text in the item's order, or `None` when there are none. A key whose value is
/// null says nothing and is not kept.
///
/// A left-over key that says what is trained or which call a message makes or answers
/// (`weight`, `training`, `train`, `tool_calls`, `tool_call_id`) is refused: this format does
/// not read it, and keeping it aside would train the message as if it were not there.
fn leftover_keys(
    obj: &[(Cow<'_, str>, Json<'_>)],
    src: Src<'_>,
    format: &str,
) -> Result<Option<String>, LineIssue> {
    const UNHONOURED: [&str; 5] = ["weight", "training", "train", "tool_calls", "tool_call_id"];
    let mut left = obj
        .iter()
        .filter(|(_, v)| !matches!(v, Json::Null))
        .peekable();
    if left.peek().is_none() {
        return Ok(None);
    }
    if let Some((k, _)) = obj
        .iter()
        .find(|(k, v)| !matches!(v, Json::Null) && UNHONOURED.contains(&k.as_ref()))
    {
        let what = if k.starts_with("tool") {
            "the tool call it makes or answers would be lost"
        } else {
            "the message would be trained as if it were not there"
        };
        return Err(LineIssue::new(
            Category::WrongType,
            format!(
                "the {format} format does not read {} on a message: {what}",
                quote(k, 40)
            ),
        )
        .with_field(src.sub(k))
        .with_hint("convert the rows to a format that has it (openai), or remove the key"));
    }
    let mut out = String::from("{");
    for (i, (k, v)) in left.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k.as_ref()).unwrap_or_default());
        out.push(':');
        out.push_str(&v.to_json());
    }
    out.push('}');
    Ok(Some(out))
}

/// Append `s` as a JSON string literal (keys are short; escapes are rare).
fn push_json_str(out: &mut bumpalo::collections::String<'_>, s: &str) {
    out.push('"');
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push_str(s);
    } else {
        let quoted = serde_json::to_string(s).unwrap_or_default();
        out.push_str(&quoted[1..quoted.len() - 1]);
    }
    out.push('"');
}

/// Where a message came from in the row, rendered as a field path only for error messages.
#[derive(Clone, Copy, Debug)]
enum Src<'s> {
    /// A top-level field.
    Field(&'s str),
    /// Item `i` of a list field.
    Item(&'s str, usize),
    /// Half `j` of pair `i` of a pairs field.
    Pair(&'s str, usize, usize),
}

impl Src<'_> {
    #[cold]
    fn path(self) -> String {
        match self {
            Src::Field(f) => f.to_string(),
            Src::Item(f, i) => format!("{f}[{i}]"),
            Src::Pair(f, i, j) => format!("{f}[{i}][{j}]"),
        }
    }

    #[cold]
    fn sub(self, key: &str) -> String {
        format!("{}.{key}", self.path())
    }
}

/// Join the text of `[{"type": "text", "text": ...}]` content parts.
fn text_parts<'a>(parts: BVec<'a, Json<'a>>, path: &str) -> Result<Cow<'a, str>, LineIssue> {
    let mut texts: Vec<Cow<'a, str>> = Vec::with_capacity(parts.len());
    for (i, p) in parts.into_iter().enumerate() {
        let Json::Obj(mut obj) = p else {
            return Err(wrong_type(
                &format!("{path}[{i}]"),
                "a content part object",
                &p,
            ));
        };
        let (kind, kind_field) = match take_in(&mut obj, "type") {
            Some(Json::Str(s)) => (s, Cow::Borrowed("type")),
            // Untyped parts (Bedrock's, Gemini's): `{"text": ...}`, or a non-text part named by
            // its key (`{"image": {...}}`, `{"reasoningContent": {...}}`).
            None | Some(Json::Null) => match obj
                .iter()
                .find(|(k, v)| k != "text" && !matches!(v, Json::Null))
            {
                Some((k, _)) if !obj.iter().any(|(t, _)| t == "text") => (k.clone(), k.clone()),
                _ => (Cow::Borrowed("text"), Cow::Borrowed("type")),
            },
            Some(other) => {
                return Err(wrong_type(&format!("{path}[{i}].type"), "a string", &other))
            }
        };
        if kind != "text" && kind != "input_text" && kind != "output_text" {
            return Err(LineIssue::new(
                Category::WrongType,
                format!(
                    "content part of type {} (only text parts can be trained on)",
                    quote(&kind, 40)
                ),
            )
            .with_field(format!("{path}[{i}].{kind_field}"))
            .with_hint("remove non-text parts (images, audio) or use a multimodal trainer"));
        }
        if take_in(&mut obj, "thought").is_some_and(|t| matches!(t, Json::Bool(true))) {
            // Gemini's thinking: the model's reasoning, not the answer it gives
            return Err(LineIssue::new(
                Category::WrongType,
                "a thought part (the model's reasoning): it would be trained as part of the answer",
            )
            .with_field(format!("{path}[{i}].thought"))
            .with_hint(
                "drop thought parts from the export, or use a trainer for reasoning traces",
            ));
        }
        match take_in(&mut obj, "text") {
            Some(Json::Str(s)) => texts.push(s),
            None | Some(Json::Null) => {
                return Err(missing(&format!("{path}[{i}].text"), "text part"))
            }
            Some(other) => {
                return Err(wrong_type(&format!("{path}[{i}].text"), "a string", &other))
            }
        }
    }
    Ok(if texts.len() == 1 {
        texts.pop().unwrap_or_default()
    } else {
        Cow::Owned(texts.concat())
    })
}

fn parse_weight(v: &Json<'_>, path: impl Fn() -> String) -> Result<i8, LineIssue> {
    if let Json::Bool(b) = v {
        return Ok(i8::from(*b));
    }
    if let Json::Num(n) = v {
        if let Some(i) = n.as_i64() {
            if i == 0 || i == 1 {
                return Ok(i as i8);
            }
        } else if let Some(x) = n.as_f64() {
            if x == 0.0 || x == 1.0 {
                return Ok(x as i8);
            }
        }
    }
    let shown = match v {
        Json::Str(s) => quote(s, 20),
        other => other.to_json(),
    };
    let path = path();
    let key = path.rsplit('.').next().unwrap_or("weight");
    let (expected, hint) = if key == "weight" {
        (
            "0 or 1",
            "weight says whether an assistant message is trained on: use 0 or 1",
        )
    } else {
        // axolotl's flag (`training`, `train`): a boolean
        (
            "true or false",
            "it says whether an assistant message is trained on: use true or false",
        )
    };
    let message = format!("{key} {shown} (expected {expected})");
    Err(LineIssue::new(Category::InvalidWeight, message)
        .with_field(path)
        .with_hint(hint))
}

/// "a" or "an" before a role name ("an assistant message").
fn article(role: &str) -> &'static str {
    match role.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o') => "an", // not u: "a user"
        _ => "a",
    }
}

#[cold]
fn weight_off_assistant(path: &str, role: &str) -> LineIssue {
    LineIssue::new(
        Category::InvalidWeight,
        format!(
            "weight 1 on {} {role} message: only assistant messages are trained",
            article(role)
        ),
    )
    .with_field(path)
    .with_hint(
        "remove the weight from non-assistant messages (weight: 0 there is accepted and ignored)",
    )
}

/// A row's tool definitions as compact JSON text: a list of objects, or JSON text holding one
/// (LLaMA-Factory's ShareGPT keeps `tools` as a string), bare function definitions wrapped in
/// OpenAI's `{"type": "function", "function": ...}`. An empty list is no tools. Anything else
/// would be written where OpenAI's format and chat templates expect a list of objects.
fn tool_definitions<'a>(
    key: &str,
    value: Option<Json<'a>>,
    bump: &'a Bump,
) -> Result<Option<String>, LineIssue> {
    let expected = "a list of tool definitions (objects), or JSON text of one";
    let list = match value {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Str(text)) if is_blank(&text) => return Ok(None),
        Some(Json::Str(text)) => match parse_value(bump.alloc_str(&text), bump) {
            Ok(inner @ Json::Arr(_)) => inner,
            Ok(other) => return Err(wrong_type(key, expected, &other)),
            Err(issue) => {
                return Err(LineIssue::new(
                    Category::WrongType,
                    format!(
                        "expected {expected}, found a string that is not JSON ({})",
                        issue.message
                    ),
                )
                .with_field(key)
                .with_hint("fix the export's types, or map this shape with a format plugin"))
            }
        },
        Some(v @ Json::Arr(_)) => v,
        Some(other) => return Err(wrong_type(key, expected, &other)),
    };
    let Json::Arr(items) = &list else {
        unreachable!()
    };
    if items.is_empty() {
        return Ok(None);
    }
    if let Some((i, bad)) = items
        .iter()
        .enumerate()
        .find(|(_, t)| !matches!(t, Json::Obj(_)))
    {
        return Err(wrong_type(
            &format!("{key}[{i}]"),
            "a tool definition (an object)",
            bad,
        ));
    }
    // A bare function definition ({"name", "description", "parameters"}, as LLaMA-Factory's
    // ShareGPT has them) is wrapped in OpenAI's {"type": "function", "function": ...}.
    let bare =
        |t: &Json<'_>| t.get("type").is_none() && matches!(t.get("name"), Some(Json::Str(_)));
    if !items.iter().any(bare) {
        return Ok(Some(list.to_json()));
    }
    let mut out = String::from("[");
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if bare(t) {
            out.push_str(r#"{"type":"function","function":"#);
            out.push_str(&t.to_json());
            out.push('}');
        } else {
            out.push_str(&t.to_json());
        }
    }
    out.push(']');
    Ok(Some(out))
}

/// Whether `s` is empty or only whitespace (as `str::trim` sees it), deciding from the first
/// byte in the common case of text that starts with a visible ASCII character.
#[inline]
fn is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(&b) if b > b' ' && b < 0x80 => false,
        Some(_) => s.trim().is_empty(),
    }
}

/// Resolve a role name: the part's aliases, the format's aliases, then the canonical names
/// (ASCII case-insensitively).
pub fn canonical_role(raw: &str, part: &Aliases, format: &Aliases) -> Option<&'static str> {
    // The common case first: a canonical name that no alias renames (no hash lookup).
    if !part.renames_canonical && !format.renames_canonical {
        if let Some(r) = ROLES.iter().copied().find(|r| *r == raw) {
            return Some(r);
        }
    }
    let resolved = part
        .get(raw)
        .or_else(|| format.get(raw))
        .map(String::as_str)
        .unwrap_or(raw);
    ROLES
        .iter()
        .copied()
        .find(|r| r.eq_ignore_ascii_case(resolved))
        .or_else(|| {
            let lower = raw.to_ascii_lowercase();
            part.get(&lower)
                .or_else(|| format.get(&lower))
                .and_then(|c| ROLES.iter().copied().find(|r| r.eq_ignore_ascii_case(c)))
        })
}

fn validate(msgs: &[Msg<'_>], srcs: &[Src<'_>]) -> Result<(), LineIssue> {
    if msgs.is_empty() {
        return Err(
            LineIssue::new(Category::EmptyConversation, "the row has no messages")
                .with_hint("drop empty rows in the export"),
        );
    }
    let mut started = false;
    let mut trainable = false;
    for (i, m) in msgs.iter().enumerate() {
        let is_system = m.role == "system" || m.role == "developer";
        if is_system && started {
            return Err(LineIssue::new(
                Category::SystemNotFirst,
                format!(
                    "{} {} message after the conversation started (message {})",
                    article(m.role),
                    m.role,
                    i + 1
                ),
            )
            .with_field(srcs[i].path())
            .with_hint("put system messages first; chat templates reject them mid-conversation"));
        }
        if !is_system {
            started = true;
        }
        if m.tool_calls.is_none() && is_blank(&m.content) {
            return Err(LineIssue::new(
                Category::EmptyContent,
                format!("empty content in {} {} message", article(m.role), m.role),
            )
            .with_field(srcs[i].path())
            .with_hint("fill or drop empty turns in the export"));
        }
        if m.role == "assistant" && m.weight != Some(0) {
            trainable = true;
        }
    }
    if !trainable {
        let has_assistant = msgs.iter().any(|m| m.role == "assistant");
        let msg = if has_assistant {
            "no assistant message to train on (every assistant weight is 0)"
        } else {
            "no assistant message to train on"
        };
        return Err(LineIssue::new(Category::NoTrainableAssistant, msg)
            .with_hint("each training row needs an assistant reply with weight 1 (or no weight)"));
    }
    Ok(())
}

#[cold]
fn missing(path: &str, format: &str) -> LineIssue {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    LineIssue::new(Category::MissingField, format!("missing field {}", quote(leaf, 60)))
        .with_field(path)
        .with_hint(format!(
            "every {format} row needs this field; fix the export, or use policy=\"quarantine\" to set such rows aside"
        ))
}

/// OpenAI's deprecated `function_call` (and `function` role): say so, not "missing content".
#[cold]
fn legacy_function_call(path: &str) -> LineIssue {
    LineIssue::new(
        Category::WrongType,
        "a legacy \"function_call\" message (deprecated by OpenAI; not read)",
    )
    .with_field(path)
    .with_hint("convert it to \"tool_calls\": [{\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}] and each \"function\" result to a \"tool\" message with that \"tool_call_id\" (and \"functions\" to \"tools\")")
}

/// [`missing`] for an item key with alternatives: `missing field "from" (or "role")`.
#[cold]
fn missing_one_of(path: &str, keys: &str, format: &str) -> LineIssue {
    LineIssue::new(Category::MissingField, format!("missing field {keys}"))
        .with_field(path)
        .with_hint(format!(
            "every {format} message needs this field; fix the export, or use policy=\"quarantine\" to set such rows aside"
        ))
}

#[cold]
fn wrong_type(path: &str, expected: &str, got: &Json<'_>) -> LineIssue {
    let shown = match got {
        Json::Str(s) => format!(" {}", quote(s, 40)),
        Json::Num(n) => format!(" {n}"),
        Json::Bool(b) => format!(" {b}"),
        _ => String::new(),
    };
    LineIssue::new(
        Category::WrongType,
        format!("expected {expected}, found {}{shown}", got.kind()),
    )
    .with_field(path)
    .with_hint("fix the export's types, or map this shape with a format plugin")
}

#[cold]
fn unknown_role(
    path: &str,
    role: &str,
    part: &HashMap<String, String>,
    format: &HashMap<String, String>,
) -> LineIssue {
    // The names this format accepts: its aliases (e.g. ShareGPT's human, gpt) and the canonical
    // roles, each once, in a stable order.
    let mut names: Vec<&str> = part
        .keys()
        .chain(format.keys())
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names.extend(ROLES.iter().copied());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.to_ascii_lowercase()));
    LineIssue::new(
        Category::UnknownRole,
        format!("unknown role {} (expected {})", quote(role, 40), names.join(", ")),
    )
    .with_field(path)
    .with_hint(if role == "function" {
        "a \"function\" message is OpenAI's deprecated function calling: make it a \"tool\" message with the \"tool_call_id\" of the call it answers".to_string()
    } else {
        format!(
            "map it in the format's roles, e.g. roles={{{}: \"assistant\"}}, or use policy=\"quarantine\" to set such rows aside",
            quote(role, 40)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_blank_agrees_with_trim() {
        for s in [
            "",
            " ",
            "\n\t ",
            "a",
            " a",
            "!",
            "\u{7f}",
            "\u{1}",
            "\u{a0}",
            "\u{3000}x",
            "\u{2003}",
            "é",
            "\u{1}\u{2}",
            "日本",
        ] {
            assert_eq!(is_blank(s), s.trim().is_empty(), "{s:?}");
        }
    }

    #[test]
    fn canonical_roles_with_and_without_aliases() {
        let none = Aliases::default();
        assert_eq!(canonical_role("assistant", &none, &none), Some("assistant"));
        assert_eq!(canonical_role("User", &none, &none), Some("user"));
        assert_eq!(canonical_role("gpt", &none, &none), None);
        let aliases = Aliases::from(HashMap::from([
            ("gpt".into(), "assistant".into()),
            ("user".into(), "user".into()),
        ]));
        assert!(!aliases.renames_canonical);
        assert_eq!(canonical_role("gpt", &aliases, &none), Some("assistant"));
        assert_eq!(canonical_role("GPT", &none, &aliases), Some("assistant"));
        assert_eq!(canonical_role("user", &aliases, &none), Some("user"));
        // An alias may rename a canonical name too, in any case.
        for key in ["user", "User"] {
            let swap = Aliases::from(HashMap::from([(key.into(), "assistant".into())]));
            assert!(swap.renames_canonical);
            assert_eq!(canonical_role(key, &swap, &none), Some("assistant"));
            assert_eq!(canonical_role(key, &none, &swap), Some("assistant"));
        }
    }
}
