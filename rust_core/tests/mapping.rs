//! The declarative mapping executor: BrightRun v4, OpenAI, ShareGPT shapes and every mapping
//! category, with file:line and field paths.

mod common;

use _core::Category;
use common::*;

fn one_issue(line: &str, specs: &[&str]) -> (Category, Option<String>, String) {
    let (_, r) = read(
        format!("{line}\n").as_bytes(),
        Some(specs),
        opts(1, 1 << 20),
    );
    assert_eq!(r.rows_kept, 0, "expected a skip for {line}");
    let e = &r.examples[0];
    (e.category, e.field.clone(), e.message.clone())
}

#[test]
fn brightrun_rows_become_system_history_user_assistant() {
    let data = concat!(
        r#"{"_meta": {"format": "brightrun-lora-v4", "exported_at": "2026-11-20"}}"#,
        "\n",
        r#"{"id": "c1-t2", "conversation_id": "c1", "turn_number": 2, "system_prompt": "Be kind.", "#,
        r#""conversation_history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "#,
        r#""current_user_input": "how?", "target_response": "like this", "emotional_context": {"primary": "calm", "n": 1.50}, "#,
        r#""training_metadata": {"quality_score": 4}}"#,
        "\n",
        r#"{"id": 7, "current_user_input": "q", "target_response": "a", "system_prompt": null}"#,
        "\n",
    );
    let (b, r) = read(data.as_bytes(), Some(&[BRIGHTRUN]), opts(2, 1 << 20));
    assert_eq!(r.lines_read, 3);
    assert_eq!(r.rows_kept, 2);
    assert_eq!(r.count(Category::MetadataLine), 1);
    assert_eq!(
        r.file_metadata[0].value,
        r#"{"format": "brightrun-lora-v4", "exported_at": "2026-11-20"}"#
    );
    let m = messages(&b);
    let s = |r: &str, c: &str, w: Option<i8>| (r.to_string(), c.to_string(), w);
    assert_eq!(
        m[0],
        vec![
            s("system", "Be kind.", None),
            s("user", "hi", None),
            s("assistant", "hello", Some(0)),
            s("user", "how?", None),
            s("assistant", "like this", None),
        ]
    );
    assert_eq!(m[1], vec![s("user", "q", None), s("assistant", "a", None)]);
    assert_eq!(
        string_col(&b, "id"),
        vec![Some("c1-t2".into()), Some("7".into())]
    );
    // Unmapped fields are kept verbatim (1.50 stays 1.50), in input order.
    assert_eq!(
        string_col(&b, "metadata")[0].as_deref(),
        Some(
            r#"{"conversation_id":"c1","turn_number":2,"emotional_context":{"primary": "calm", "n": 1.50},"training_metadata":{"quality_score": 4}}"#
        )
    );
    assert_eq!(string_col(&b, "metadata")[1], None);
}

#[test]
fn openai_parts_tool_calls_names_and_weights() {
    let line = r#"{"messages": [{"role": "developer", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]}, {"role": "user", "content": "weather?", "name": "ann"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "wx", "arguments": "{}"}}], "weight": 0}, {"role": "tool", "content": "sunny", "tool_call_id": "c1"}, {"role": "assistant", "content": "Sunny.", "weight": 1}], "tools": [{"type": "function", "function": {"name": "wx"}}]}"#;
    let (b, r) = read(
        format!("{line}\n").as_bytes(),
        Some(&[OPENAI]),
        opts(1, 1 << 20),
    );
    assert_eq!(r.rows_kept, 1, "{:?}", r.examples);
    let m = &messages(&b)[0];
    assert_eq!(m[0], ("developer".into(), "Be brief.".into(), None));
    assert_eq!(m[2], ("assistant".into(), "".into(), Some(0)));
    assert_eq!(m[4], ("assistant".into(), "Sunny.".into(), Some(1)));
    assert_eq!(
        string_col(&b, "tools")[0].as_deref(),
        Some(r#"[{"type":"function","function":{"name":"wx"}}]"#)
    );
}

#[test]
fn every_mapping_category_names_its_field() {
    let cases: &[(&str, Category, Option<&str>)] = &[
        (r#"[1, 2]"#, Category::NotAnObject, None),
        (r#"{"foo": 1}"#, Category::UnsupportedFormat, None),
        (
            r#"{"messages": [{"role": "bot", "content": "x"}]}"#,
            Category::UnknownRole,
            Some("messages[0].role"),
        ),
        (
            r#"{"messages": [{"role": "user"}]}"#,
            Category::MissingField,
            Some("messages[0].content"),
        ),
        (
            r#"{"messages": [{"role": "user", "content": 5}]}"#,
            Category::WrongType,
            Some("messages[0].content"),
        ),
        (
            r#"{"messages": "hello"}"#,
            Category::WrongType,
            Some("messages"),
        ),
        (
            r#"{"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "a"}]}"#,
            Category::EmptyContent,
            Some("messages[0]"),
        ),
        (r#"{"messages": []}"#, Category::EmptyConversation, None),
        (
            r#"{"messages": [{"role": "user", "content": "q"}]}"#,
            Category::NoTrainableAssistant,
            None,
        ),
        (
            r#"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}]}"#,
            Category::NoTrainableAssistant,
            None,
        ),
        (
            r#"{"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}"#,
            Category::SystemNotFirst,
            Some("messages[1]"),
        ),
        (
            r#"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 2}]}"#,
            Category::InvalidWeight,
            Some("messages[1].weight"),
        ),
        (
            r#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}"#,
            Category::WrongType,
            Some("messages[0].content[0].type"),
        ),
    ];
    for (line, cat, field) in cases {
        let (c, f, msg) = one_issue(line, &[OPENAI]);
        assert_eq!(c, *cat, "{line}: {msg}");
        assert_eq!(f.as_deref(), *field, "{line}: {msg}");
    }
    let (_, _, msg) = one_issue(
        r#"{"messages": [{"role": "bot", "content": "x"}]}"#,
        &[OPENAI],
    );
    assert_eq!(
        msg,
        r#"unknown role "bot" (expected system, developer, user, assistant, tool)"#
    );
    let (_, _, msg) = one_issue(
        r#"{"messages": [{"role": "user", "content": "q"}]}"#,
        &[BRIGHTRUN],
    );
    assert!(
        msg.starts_with(
            "row is not brightrun-v4 (it lacks \"current_user_input\", \"target_response\""
        ),
        "{msg}"
    );
}

#[test]
fn mixed_formats_are_mapped_per_row_and_counted() {
    let data = concat!(
        r#"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}"#,
        "\n",
        r#"{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "system": "s"}"#,
        "\n",
        r#"{"current_user_input": "q", "target_response": "a"}"#,
        "\n",
        r#"{"prompt": "q", "completion": "a"}"#,
        "\n",
    );
    let (b, r) = read(
        data.as_bytes(),
        Some(&[OPENAI, SHAREGPT, BRIGHTRUN]),
        opts(2, 1 << 20),
    );
    assert_eq!(r.rows_kept, 3);
    assert_eq!(r.count(Category::UnsupportedFormat), 1);
    assert_eq!(
        r.formats,
        vec![
            ("openai".into(), 1),
            ("sharegpt".into(), 1),
            ("brightrun-v4".into(), 1)
        ]
    );
    let m = messages(&b);
    assert_eq!(m[1][0], ("system".into(), "s".into(), None));
    assert_eq!(m[1][2], ("assistant".into(), "a".into(), None));
}

#[test]
fn an_unknown_role_lists_the_names_the_format_accepts() {
    let line = r#"{"conversations": [{"from": "bot", "value": "x"}]}"#;
    let (category, field, message) = one_issue(line, &[SHAREGPT]);
    assert_eq!(category, Category::UnknownRole);
    assert_eq!(field.as_deref(), Some("conversations[0].from"));
    assert_eq!(
        message,
        r#"unknown role "bot" (expected gpt, human, observation, system, developer, user, assistant, tool)"#
    );
}

#[test]
fn a_blank_first_part_joins_nothing() {
    const ALPACA: &str = r#"{"name": "alpaca", "signature": ["instruction", "output"],
     "parts": [{"kind": "message", "role": "user", "fields": ["instruction", "input"],
                "separator": "\n\n"},
               {"kind": "message", "role": "assistant", "fields": ["output"]}],
     "metadata": "rest"}"#;
    let data = br#"{"instruction": "", "input": "x", "output": "y"}
{"instruction": "Do", "input": "x", "output": "y"}
"#;
    let (b, _) = read(data, Some(&[ALPACA]), opts(1, 1 << 20));
    let m = messages(&b);
    assert_eq!(m[0][0].1, "x");
    assert_eq!(m[1][0].1, "Do\n\nx");
}

#[test]
fn alternative_item_keys_take_the_first_present_and_name_all_when_none_is() {
    const TWO_SPELLINGS: &str = r#"{"name": "sharegpt", "signature": ["conversations"],
     "parts": [{"kind": "list", "field": "conversations", "role_key": ["from", "role"],
                "content_key": ["value", "content"], "roles": {"human": "user", "gpt": "assistant"}}],
     "metadata": "rest"}"#;
    let data = br#"{"conversations": [{"role": "user", "content": "a"}, {"from": "gpt", "value": "b"}]}
{"conversations": [{"from": null, "role": "human", "value": "c"}, {"role": "assistant", "content": "d", "value": "e"}]}
"#;
    let (b, r) = read(data, Some(&[TWO_SPELLINGS]), opts(1, 1 << 20));
    assert_eq!(r.rows_kept, 2);
    let m = messages(&b);
    let pairs = |row: &[(String, String, Option<i8>)]| {
        row.iter()
            .map(|(role, content, _)| format!("{role}:{content}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&m[0]), ["user:a", "assistant:b"]);
    // "value" comes first in the list, so it wins over "content" in an item with both
    assert_eq!(pairs(&m[1]), ["user:c", "assistant:e"]);

    let (category, field, message) =
        one_issue(r#"{"conversations": [{"text": "a"}]}"#, &[TWO_SPELLINGS]);
    assert_eq!(category, Category::MissingField);
    assert_eq!(field.as_deref(), Some("conversations[0].from"));
    assert_eq!(message, r#"missing field "from" (or "role")"#);

    let empty = TWO_SPELLINGS.replace(r#"["from", "role"]"#, "[]");
    let specs = [serde_json::from_str::<_core::FormatSpec>(&empty)];
    assert!(specs[0].is_err(), "an empty key list is refused");
}

#[test]
fn a_desirable_field_that_is_false_skips_the_row_and_stays_in_metadata() {
    const KTO: &str = r#"{"name": "prompt-completion", "signature": ["prompt", "completion"],
     "parts": [{"kind": "list", "field": "prompt", "string_role": "user", "assistant_weight": 0},
               {"kind": "list", "field": "completion", "string_role": "assistant"}],
     "metadata": "rest", "desirable": "label"}"#;
    let data = br#"{"prompt": "a", "completion": "b", "label": true}
{"prompt": "a", "completion": "b", "label": false}
{"prompt": "a", "completion": "b", "label" :  false }
{"prompt": "a", "completion": "b", "label": "False"}
{"prompt": "a", "completion": "b", "label": 0}
{"prompt": "a", "completion": "b"}
{"prompt": "a", "completion": "b", "label": "TRUE"}
{"prompt": "a", "completion": "b", "label": 1}
{"prompt": "a", "completion": "b", "label": "maybe"}
{"prompt": "a", "completion": "b", "label": null}
"#;
    let (b, r) = read(data, Some(&[KTO]), opts(1, 1 << 20));
    assert_eq!(r.rows_kept, 4);
    assert_eq!(lines(&b), [1, 6, 7, 8]);
    let got: Vec<(u64, Category)> = r.examples.iter().map(|e| (e.line, e.category)).collect();
    assert_eq!(
        got,
        [
            (2, Category::NoTrainableAssistant),
            (3, Category::NoTrainableAssistant),
            (4, Category::NoTrainableAssistant),
            (5, Category::NoTrainableAssistant),
            (9, Category::WrongType),
            (10, Category::WrongType),
        ]
    );
    assert!(r
        .examples
        .iter()
        .all(|e| e.field.as_deref() == Some("label")));
    assert_eq!(
        r.examples[4].message,
        r#"expected true or false (whether this answer is a good one), found "maybe""#
    );
}

#[test]
fn labels_and_media_are_seen_even_by_a_format_that_keeps_no_metadata() {
    const NO_METADATA: &str = r#"{"name": "qa", "signature": ["q", "a"], "metadata": "none",
     "desirable": "label", "media": ["images"],
     "parts": [{"kind": "message", "role": "user", "fields": ["q"]},
               {"kind": "message", "role": "assistant", "fields": ["a"]}]}"#;
    let data = br#"{"q": "x", "a": "y"}
{"q": "x", "a": "y", "label": false}
{"q": "x", "a": "y", "images": ["1.png"]}
{"q": "x", "a": "y", "label": true, "images": []}
"#;
    let (b, r) = read(data, Some(&[NO_METADATA]), opts(1, 1 << 20));
    assert_eq!(lines(&b), [1, 4]);
    let got: Vec<(u64, Category)> = r.examples.iter().map(|e| (e.line, e.category)).collect();
    assert_eq!(
        got,
        [
            (2, Category::NoTrainableAssistant),
            (3, Category::WrongType)
        ]
    );
}

#[test]
fn message_keys_no_part_reads_are_kept_in_extra_not_dropped() {
    let data = concat!(
        r#"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning_content": "Think: \"a\".", "weight": 1, "meta": {"k": [1, 2.50]}, "gone": null}]}"#,
        "\n",
        r#"{"conversations": [{"from": "human", "value": "q", "ts": 3}, {"from": "gpt", "value": "a"}]}"#,
        "\n",
    );
    let (b, r) = read(data.as_bytes(), Some(&[OPENAI, SHAREGPT]), opts(1, 1 << 20));
    assert_eq!(r.rows_kept, 2, "{:?}", r.examples);
    let extra = message_field(&b, "extra");
    // Read keys (role, content, weight) and null values are not kept; the rest are, in order,
    // as compact JSON (a number as its value: 2.50 is 2.5, as in tool call arguments).
    assert_eq!(
        extra[0],
        vec![
            None,
            Some(r#"{"reasoning_content":"Think: \"a\".","meta":{"k":[1,2.5]}}"#.to_string())
        ]
    );
    assert_eq!(extra[1], vec![Some(r#"{"ts":3}"#.to_string()), None]);
}

#[test]
fn an_overridden_top_level_system_is_kept_in_metadata() {
    let line = r#"{"system": "top", "conversations": [{"from": "system", "value": "inline"}, {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "k": 1}"#;
    let (b, r) = read(
        format!("{line}\n").as_bytes(),
        Some(&[SHAREGPT_OVERRIDE]),
        opts(1, 1 << 20),
    );
    assert_eq!(r.rows_kept, 1, "{:?}", r.examples);
    assert_eq!(messages(&b)[0][0].1, "inline");
    assert_eq!(
        string_col(&b, "metadata")[0].as_deref(),
        Some(r#"{"k":1,"system":"top"}"#)
    );
}

#[test]
fn keys_that_decide_training_or_calls_are_refused_where_a_format_does_not_read_them() {
    // sharegpt reads weights but not OpenAI-style tool calls on a turn
    let calls = r#"{"conversations": [{"from": "human", "value": "rm?"}, {"from": "gpt", "value": "Sure.", "tool_calls": [{"id": "c1"}]}]}"#;
    let (category, field, message) = one_issue(calls, &[SHAREGPT]);
    assert_eq!(category, Category::WrongType);
    assert_eq!(field.as_deref(), Some("conversations[1].tool_calls"));
    assert!(
        message.contains("does not read \"tool_calls\""),
        "{message}"
    );
    // a null one says nothing; a read weight is not left over
    let fine = r#"{"messages": [{"role": "user", "content": "q", "tool_calls": null}, {"role": "assistant", "content": "a", "weight": 1}]}"#;
    let (_, r) = read(
        format!("{fine}\n").as_bytes(),
        Some(&[OPENAI]),
        opts(1, 1 << 20),
    );
    assert_eq!(r.rows_kept, 1, "{:?}", r.examples);
}
