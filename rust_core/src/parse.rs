//! The JSON parser behind one small interface: a borrowed DOM for the fields a format reads,
//! verbatim raw text for the fields it keeps, and nothing materialized for the rest.
//!
//! Why serde_json, measured (2026-11-24, one core of this project's 2-core machine, a 100 MB
//! BrightRun-like file with long escaped multilingual strings; a throwaway crate timed each
//! parser on the same lines):
//!
//! | parser, mode                                   | MB/s   |
//! |------------------------------------------------|--------|
//! | serde_json, owned `Value`                      | 410    |
//! | serde_json, validate only (`IgnoredAny`)       | 1,530  |
//! | serde_json, `map<&str, &RawValue>`             | 1,090-1,500 |
//! | sonic-rs, owned `Value`                        | 740-1,170 |
//! | sonic-rs via serde, `IgnoredAny`               | 1,810-2,400 |
//! | sonic-rs via serde, `map<&str, LazyValue>`     | 890-1,430 |
//! | simd-json, borrowed value over a mutable copy  | 650    |
//!
//! All three reject NaN and lone surrogate escapes; none rejects duplicate keys (we check them).
//! sonic-rs parses 1.2-1.6x faster through the serde path we need (borrowed strings, raw values
//! for metadata), but parsing is about a fifth of a row's cost once the mapping, Arrow building
//! and memory are counted, so the whole ingest would gain about 1.1-1.2x; serde_json bounds
//! nesting depth inside its visitor path (so a 10,000-deep line is `too_deep`, never a stack
//! overflow), borrows unescaped strings straight from the input, gives `RawValue` for verbatim
//! metadata, and reports column positions we quote in messages. Correctness of every line is the
//! contract, so serde_json it is; the interface here is small enough to swap if that changes.
//! Re-checked 2026-11-25 in sonic-rs 0.5.10's source before a swap: its checked skip of a value
//! (what raw metadata would use) recurses with no depth limit, so a 10,000-deep metadata value
//! would overflow the stack, and it does not check the `\u` escapes of strings it skips
//! (`"\uZZZZ"` passes); a swap needs a whole-line bracket pre-scan and an escape check of our
//! own, which eat much of the 1.2-1.6x. Not done.
//! Re-measured 2026-11-25 with `examples/phases.rs` (lines split beforehand, so nothing but the
//! parser is timed; 100 MB BrightRun, one core): validating every line takes serde_json 0.33-0.36
//! s/GB and sonic-rs 0.30-0.32 s/GB, also when built for this CPU (`-C target-cpu=native`); the
//! whole ingest takes about 0.9 s/GB, so a swap would gain under 5% of it.
//! Duplicate keys are rejected in every object we build (the row and every mapped field); values
//! kept verbatim in `metadata` are validated for syntax and depth and kept byte for byte.

use std::borrow::Cow;
use std::fmt;

use bumpalo::Bump;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::value::RawValue;

use crate::error::{Category, LineIssue};

/// A vector in the per-line arena: a row's values are freed all at once, not one by one.
pub type BVec<'a, T> = bumpalo::collections::Vec<'a, T>;

/// serde_json's nesting limit; deeper lines are `too_deep`.
pub const MAX_DEPTH: usize = 128;

const DUP_MARKER: &str = "\u{1}duplicate key:";

/// A JSON value whose strings borrow from the line where they can, and whose escaped strings,
/// arrays and objects live in the line's arena (`Bump`): building a row allocates nothing from
/// the global allocator, and the arena is reset, not freed piece by piece, after each line.
#[derive(Clone, Debug, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(Cow<'a, str>),
    Arr(BVec<'a, Json<'a>>),
    Obj(BVec<'a, (Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Look up a key in an object (first match; objects never hold duplicates).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// "a string", "an object", ... for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Num(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
        }
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A key: borrowed from the line when it has no escapes, else unescaped into the arena.
#[derive(Clone, Copy)]
struct KeySeed<'a>(&'a Bump);

impl<'de> DeserializeSeed<'de> for KeySeed<'de> {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'de> {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(self.0.alloc_str(v)))
    }
}

/// Reject a duplicate key among `keys`: pairwise on the stack for the small objects of chat
/// data (no allocation per object), sorted for larger ones.
fn check_duplicates<'k, E: de::Error>(
    keys: impl Iterator<Item = &'k str> + Clone,
) -> Result<(), E> {
    const SMALL: usize = 16;
    let mut seen: [&str; SMALL] = [""; SMALL];
    for (n, k) in keys.clone().enumerate() {
        if n == SMALL {
            let mut v: Vec<&str> = keys.collect();
            v.sort_unstable();
            return match v.windows(2).find(|w| w[0] == w[1]) {
                Some(w) => Err(duplicate(w[0])),
                None => Ok(()),
            };
        }
        if seen[..n].contains(&k) {
            return Err(duplicate(k));
        }
        seen[n] = k;
    }
    Ok(())
}

#[cold]
fn duplicate<E: de::Error>(key: &str) -> E {
    E::custom(format_args!("{DUP_MARKER}{key}"))
}

/// Builds a [`Json`] in an arena.
#[derive(Clone, Copy)]
pub struct JsonSeed<'a>(pub &'a Bump);

impl<'de> DeserializeSeed<'de> for JsonSeed<'de> {
    type Value = Json<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSeed<'de> {
    type Value = Json<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Num(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json<'de>, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Num)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(self.0.alloc_str(v))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut out = BVec::with_capacity_in(seq.size_hint().unwrap_or(4), self.0);
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Json::Arr(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut out: BVec<'de, (Cow<'de, str>, Json<'de>)> = BVec::with_capacity_in(4, self.0);
        while let Some(k) = map.next_key_seed(KeySeed(self.0))? {
            let v: Json<'de> = map.next_value_seed(self)?;
            out.push((k, v));
        }
        check_duplicates::<A::Error>(out.iter().map(|(k, _)| k.as_ref()))?;
        Ok(Json::Obj(out))
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Num(n) => n.serialize(s),
            Json::Str(v) => s.serialize_str(v),
            Json::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for it in items {
                    seq.serialize_element(it)?;
                }
                seq.end()
            }
            Json::Obj(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k.as_ref(), v)?;
                }
                m.end()
            }
        }
    }
}

/// Validates any JSON value (syntax, depth, escapes, duplicate keys) without building it.
#[derive(Clone, Copy)]
struct CheckSeed<'a>(&'a Bump);

impl<'de> DeserializeSeed<'de> for CheckSeed<'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CheckSeed<'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom("number out of range"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: BVec<'de, Cow<'de, str>> = BVec::with_capacity_in(8, self.0);
        while let Some(k) = map.next_key_seed(KeySeed(self.0))? {
            map.next_value_seed(self)?;
            keys.push(k);
        }
        check_duplicates::<A::Error>(keys.iter().map(|k| k.as_ref()))
    }
}

/// Validate one line (already valid UTF-8) as a JSON value, exactly as [`parse_value`] would
/// (same categories and messages), and return it as compact JSON text: the line's own bytes
/// with the whitespace between tokens removed (strings, escapes and numbers kept as written, so
/// nothing is re-encoded or rounded). Borrowed when the line is compact already.
pub fn compact_value<'a>(text: &'a str, bump: &'a Bump) -> Result<&'a str, LineIssue> {
    let mut de = serde_json::Deserializer::from_str(text);
    CheckSeed(bump)
        .deserialize(&mut de)
        .map_err(|e| classify(&e))?;
    de.end().map_err(|e| classify(&e))?;
    Ok(compact(text, bump))
}

/// Remove the whitespace between the tokens of valid JSON text.
fn compact<'a>(text: &'a str, bump: &'a Bump) -> &'a str {
    let b = text.as_bytes();
    let trimmed = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\r' | '\n'));
    let is_ws = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    // Whitespace outside strings can only sit next to a structural character; a quick check for
    // the separators exporters write (", " and ": ") and for tabs or CRs decides most lines.
    let needs = memchr::memmem::find(b, b", ").is_some()
        || memchr::memmem::find(b, b": ").is_some()
        || memchr::memchr3(b'\t', b'\r', b'\n', trimmed.as_bytes()).is_some()
        || has_spaced_structure(trimmed.as_bytes());
    if !needs {
        return trimmed;
    }
    let mut out = bumpalo::collections::Vec::with_capacity_in(b.len(), bump);
    let mut i = 0;
    while i < b.len() {
        // Copy up to the next string or whitespace byte.
        let Some(j) = b[i..]
            .iter()
            .position(|&c| c == b'"' || is_ws(c))
            .map(|p| i + p)
        else {
            out.extend_from_slice(&b[i..]);
            break;
        };
        out.extend_from_slice(&b[i..j]);
        if b[j] == b'"' {
            // A string: copy through its closing quote, stepping over escapes.
            let mut k = j + 1;
            loop {
                match memchr::memchr2(b'"', b'\\', &b[k..]) {
                    Some(p) if b[k + p] == b'\\' => k += p + 2,
                    Some(p) => {
                        k += p + 1;
                        break;
                    }
                    None => {
                        k = b.len();
                        break;
                    }
                }
            }
            out.extend_from_slice(&b[j..k]);
            i = k;
        } else {
            i = j + 1;
        }
    }
    // SAFETY: only ASCII whitespace bytes outside strings were dropped from valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(out.into_bump_slice()) }
}

/// Whether a space sits next to a structural character (`{ [ ] } , :`), outside the common
/// separators that [`compact`] tests first. Spaces inside strings may also match: that only
/// sends the line through the exact copy loop.
fn has_spaced_structure(b: &[u8]) -> bool {
    memchr::memchr_iter(b' ', b).any(|i| {
        let before = i.checked_sub(1).map(|p| b[p]);
        let after = b.get(i + 1).copied();
        matches!(before, Some(b'{' | b'[' | b']' | b'}' | b',' | b':'))
            || matches!(after, Some(b'{' | b'[' | b']' | b'}' | b',' | b':' | b' '))
    })
}

/// How the row parser treats a top-level key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Build it (a mapped field).
    Parse,
    /// Validate and keep its verbatim text (metadata).
    Raw,
    /// Validate only.
    Skip,
}

/// A top-level field of a row.
#[derive(Debug)]
pub enum Field<'a> {
    Parsed(Json<'a>),
    Raw(&'a RawValue),
    Skipped,
}

/// A parsed line: an object's top-level fields, or the kind of the non-object value.
#[derive(Debug)]
pub enum Row<'a> {
    Object(BVec<'a, (Cow<'a, str>, Field<'a>)>),
    Other(&'static str),
}

impl<'a> Row<'a> {
    /// The field named `key`, if present.
    pub fn field(fields: &'a [(Cow<'a, str>, Field<'a>)], key: &str) -> Option<&'a Field<'a>> {
        fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

struct RowSeed<'w, 'de> {
    want: &'w dyn Fn(&str) -> Want,
    bump: &'de Bump,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, 'de> {
    type Value = Row<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Row<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, 'de> {
    type Value = Row<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Row<'de>, E> {
        Ok(Row::Other("null"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Row<'de>, E> {
        Ok(Row::Other("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Row<'de>, E> {
        Ok(Row::Other("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Row<'de>, E> {
        Ok(Row::Other("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Row<'de>, E> {
        Ok(Row::Other("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Row<'de>, E> {
        Ok(Row::Other("a string"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Row<'de>, A::Error> {
        // Validate the whole array (depth-limited like every value) without building it.
        while seq.next_element_seed(JsonSeed(self.bump))?.is_some() {}
        Ok(Row::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row<'de>, A::Error> {
        let mut out: BVec<'de, (Cow<'de, str>, Field<'de>)> = BVec::with_capacity_in(12, self.bump);
        while let Some(k) = map.next_key_seed(KeySeed(self.bump))? {
            let v = match (self.want)(&k) {
                Want::Parse => Field::Parsed(map.next_value_seed(JsonSeed(self.bump))?),
                want => {
                    // serde_json validates raw values without its depth limit: apply ours so
                    // a line is `too_deep` whichever fields a format reads.
                    let raw = map.next_value::<&'de RawValue>()?;
                    if may_nest(raw.get(), MAX_DEPTH) && nesting(raw.get()) >= MAX_DEPTH {
                        return Err(de::Error::custom("recursion limit exceeded"));
                    }
                    if want == Want::Raw {
                        Field::Raw(raw)
                    } else {
                        Field::Skipped
                    }
                }
            };
            out.push((k, v));
        }
        check_duplicates::<A::Error>(out.iter().map(|(k, _)| k.as_ref()))?;
        Ok(Row::Object(out))
    }
}

/// Whether `text` holds at least `depth` opening brackets (anywhere, strings included): a cheap
/// vectorized test that rules out deep nesting for almost every value before [`nesting`] runs.
#[inline]
pub fn may_nest(text: &str, depth: usize) -> bool {
    let b = text.as_bytes();
    b.len() >= 2 * depth && memchr::memchr2_iter(b'[', b'{', b).nth(depth - 1).is_some()
}

/// Maximum nesting of arrays and objects in valid JSON text (strings skipped).
pub fn nesting(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// Parse one line (already valid UTF-8) into a [`Row`], building only what `want` asks for.
pub fn parse_row<'a>(
    text: &'a str,
    want: &dyn Fn(&str) -> Want,
    bump: &'a Bump,
) -> Result<Row<'a>, LineIssue> {
    let mut de = serde_json::Deserializer::from_str(text);
    let row = RowSeed { want, bump }
        .deserialize(&mut de)
        .map_err(|e| classify(&e))?;
    de.end().map_err(|e| classify(&e))?;
    Ok(row)
}

/// Parse one line (already valid UTF-8) into a full [`Json`] value, built in `bump`.
pub fn parse_value<'a>(text: &'a str, bump: &'a Bump) -> Result<Json<'a>, LineIssue> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = JsonSeed(bump)
        .deserialize(&mut de)
        .map_err(|e| classify(&e))?;
    de.end().map_err(|e| classify(&e))?;
    Ok(v)
}

/// Turn a serde_json error into a line issue with our own words.
#[cold]
pub fn classify(e: &serde_json::Error) -> LineIssue {
    let text = e.to_string();
    let col = e.column();
    if let Some(rest) = text.strip_prefix(DUP_MARKER) {
        let key = rest.split(" at line ").next().unwrap_or(rest);
        return LineIssue::new(
            Category::DuplicateKey,
            format!(
                "duplicate key {} in one object (at column {col})",
                crate::error::quote(key, 60)
            ),
        )
        .with_hint(
            "which value a trainer would see is undefined; remove one of them in the export",
        );
    }
    let what = text.split(" at line ").next().unwrap_or(&text).to_string();
    if what.contains("recursion limit exceeded") {
        return LineIssue::new(
            Category::TooDeep,
            format!("nesting deeper than {MAX_DEPTH} levels (at column {col})"),
        )
        .with_hint("no chat format nests this deep; the line is probably corrupt");
    }
    let what = match what.as_str() {
        "expected value" => {
            "expected a JSON value (NaN, Infinity and bare words are not JSON)".to_string()
        }
        _ => what,
    };
    LineIssue::new(
        Category::InvalidJson,
        format!("invalid JSON: {what} at column {col}"),
    )
    .with_hint("fix or remove the line; use policy=\"quarantine\" to set bad lines aside")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_rejects_duplicates() {
        let bump = Bump::new();
        let v = parse_value(r#"{"a":"plain","b":"esc\n"}"#, &bump).unwrap();
        match v.get("a") {
            Some(Json::Str(Cow::Borrowed(_))) => {}
            other => panic!("expected a borrowed string, got {other:?}"),
        }
        let e = parse_value(r#"{"a":1,"b":{"c":1,"c":2}}"#, &Bump::new()).unwrap_err();
        assert_eq!(e.category, Category::DuplicateKey);
        assert!(e.message.contains("\"c\""), "{}", e.message);
    }

    #[test]
    fn duplicates_are_found_in_small_and_large_objects() {
        for n in [2usize, 15, 16, 17, 40] {
            let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            let ok = format!("{{{}}}", keys.join(","));
            assert!(parse_value(&ok, &Bump::new()).is_ok(), "{ok}");
            // The last key repeats the first one, and a middle one repeats its neighbour.
            for dup in [format!("{},\"k0\":1", keys.join(",")), {
                let mut k = keys.clone();
                k[n / 2] = k[n / 2 - 1].clone();
                k.join(",")
            }] {
                let line = if dup.starts_with('{') {
                    dup
                } else {
                    format!("{{{dup}}}")
                };
                let e = parse_value(&line, &Bump::new()).unwrap_err();
                assert_eq!(e.category, Category::DuplicateKey, "{line}");
            }
        }
    }

    #[test]
    fn deep_nesting_is_too_deep_not_a_crash() {
        let line = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(
            parse_value(&line, &Bump::new()).unwrap_err().category,
            Category::TooDeep
        );
        let obj = r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000);
        assert_eq!(
            parse_value(&obj, &Bump::new()).unwrap_err().category,
            Category::TooDeep
        );
        let want = |_: &str| Want::Raw;
        assert_eq!(
            parse_row(&obj, &want, &Bump::new()).unwrap_err().category,
            Category::TooDeep
        );
        assert_eq!(
            parse_row(&line, &want, &Bump::new()).unwrap_err().category,
            Category::TooDeep
        );
    }

    #[test]
    fn compact_value_drops_only_whitespace_between_tokens() {
        let bump = Bump::new();
        let cases = [
            (r#"{"a":1}"#, r#"{"a":1}"#),
            (
                r#"  {"a" : [1 , 2 ,{ "b":"x, y: z" }] }  "#,
                r#"{"a":[1,2,{"b":"x, y: z"}]}"#,
            ),
            (
                "{\"a\":\t\"t\\\"ab\\\\\",\r\"b\": 1e5}",
                r#"{"a":"t\"ab\\","b":1e5}"#,
            ),
            (
                r#"["\u00e9 \" , ", -0.0 ,12345678901234567890123]"#,
                r#"["\u00e9 \" , ",-0.0,12345678901234567890123]"#,
            ),
            (r#"[ ]"#, "[]"),
            (r#""just a string""#, r#""just a string""#),
            (" true ", "true"),
        ];
        for (input, want) in cases {
            let got = compact_value(input, &bump).unwrap();
            assert_eq!(got, want, "{input}");
            // Same value as the full parse.
            let a = parse_value(got, &bump).unwrap();
            let b = parse_value(input, &bump).unwrap();
            assert_eq!(a, b, "{input}");
        }
        // Compact lines are borrowed, not copied.
        let line = r#"{"a":"b c","d":[1,2]}"#;
        assert!(std::ptr::eq(compact_value(line, &bump).unwrap(), line));
    }

    #[test]
    fn compact_value_rejects_what_parse_value_rejects() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"b":1,"\u0062":2}}"#,
            r#"["\ud800"]"#,
            r#"["\uZZZZ"]"#,
            "[1e999]",
            "[NaN]",
            "{\"a\":1} x",
            r#"{"a":1,}"#,
        ] {
            let bump = Bump::new();
            let e = compact_value(bad, &bump).unwrap_err();
            let f = parse_value(bad, &bump).unwrap_err();
            assert_eq!(e.category, f.category, "{bad}");
            assert_eq!(e.message, f.message, "{bad}");
        }
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(
            compact_value(&deep, &Bump::new()).unwrap_err().category,
            Category::TooDeep
        );
    }

    #[test]
    fn rejects_nan_infinity_and_lone_surrogates() {
        for bad in [
            "NaN",
            "[Infinity]",
            r#"{"a":-Infinity}"#,
            r#"["\ud800"]"#,
            r#"{"a":"\udc00x"}"#,
        ] {
            let e = parse_value(bad, &Bump::new()).unwrap_err();
            assert_eq!(e.category, Category::InvalidJson, "{bad}");
        }
        assert!(parse_value(r#"["\ud83d\ude00"]"#, &Bump::new()).is_ok());
    }
}
