"""The plugin system: FormatSpec contract, registry, entry points, broken plugins."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomllib

import brightingest.formats.openai
from brightingest import plugins
from brightingest.errors import PluginError
from brightingest.formats import BUILTIN_PLUGINS
from brightingest.mapping import ListOfTurns, Mapping, Message
from brightingest.plugins import (
    FormatSpec,
    as_plugin,
    fields_score,
    formats,
    get_plugin_manager,
    hookimpl,
    registry,
)
from tests._support.data import REPO_ROOT

QA = Mapping(("q", "a"), (Message("user", "q"), Message("assistant", "a")))


def test_builtins_register_through_the_hook(pm) -> None:
    found = registry(pm)
    assert list(found) == [
        "openai",
        "brightrun-v4",
        "sharegpt",
        "alpaca",
        "prompt-completion",
        "gemini",
        "dolly",
        "openorca",
        "question-answer",
    ]
    assert found["brightrun-v4"].plugin == "brightrun_v4"
    assert all(r.spec.mapping is not None for r in found.values())


def test_pyproject_lists_every_builtin_in_the_entry_point_group() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["brightingest.formats"] == BUILTIN_PLUGINS


def test_formats_lists_name_version_plugin(pm) -> None:
    infos = {i.name: i for i in formats(pm)}
    assert sorted(infos) == [
        "alpaca",
        "brightrun-v4",
        "dolly",
        "gemini",
        "openai",
        "openorca",
        "prompt-completion",
        "question-answer",
        "sharegpt",
    ]
    assert infos["brightrun-v4"].version == "4"
    assert infos["openai"].plugin == "brightingest.formats.openai"
    assert infos["openai"].description.startswith("OpenAI chat")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"name": "Bad_Name", "mapping": QA}, "name must be lowercase"),
        ({"name": "auto", "mapping": QA}, "the name 'auto' is reserved"),
        ({"name": "qa", "version": "", "mapping": QA}, "version must be a non-empty string"),
        ({"name": "qa", "mapping": {"signature": ["q"]}}, "mapping must be a brightingest"),
        ({"name": "qa"}, "give a mapping (executed natively) or a map_record function"),
        ({"name": "qa", "mapping": Mapping(("q",), ())}, "mapping.parts must declare"),
        ({"name": "qa", "mapping": Mapping((), QA.parts)}, "mapping.signature must name"),
        ({"name": "qa", "mapping": QA, "transform": 3}, "transform must be callable, not int"),
        ({"name": "qa", "map_record": lambda r: None}, "a format with no mapping needs a detect"),
    ],
)
def test_format_spec_contract(kwargs: dict[str, object], problem: str) -> None:
    kwargs.setdefault("version", "1")
    with pytest.raises(PluginError, match="breaks the plugin contract") as info:
        FormatSpec(**kwargs)  # type: ignore[arg-type]
    assert problem in str(info.value)
    assert info.value.code == "plugin_contract"


def test_default_detect_comes_from_the_mapping_signature() -> None:
    spec = FormatSpec("qa", "1", mapping=QA)
    assert spec.score({"q": "x", "a": "y"}) == 1.0
    assert spec.score({"q": "x"}) == 0.0
    assert spec.score({"q": "x", "a": "y", "other": 1}) == pytest.approx(0.6 + 0.4 * 2 / 3)
    assert spec.score(["q", "a"]) == 0.0


def test_fields_score_items_check_halves_lookalikes() -> None:
    score = fields_score(required=("messages",), items={"messages": ("role",)})
    assert score({"messages": [{"role": "user"}]}) == 1.0
    assert score({"messages": [{"from": "human"}]}) == 0.5
    assert score({"messages": "text"}) == 0.5
    assert score({"messages": None}) == 0.0
    with pytest.raises(ValueError, match="at least one required key"):
        fields_score(required=())


def test_fields_score_item_key_choices_accept_either_spelling() -> None:
    items = {"conversations": (("from", "role"), ("value", "content"))}
    score = fields_score(required=("conversations",), items=items)
    assert score({"conversations": [{"from": "human", "value": "a"}]}) == 1.0
    assert score({"conversations": [{"role": "user", "content": "a"}]}) == 1.0
    assert score({"conversations": [{"role": "user", "value": "a"}]}) == 1.0
    assert score({"conversations": [{"role": "user", "text": "a"}]}) == 0.5


def test_detect_that_raises_is_a_plugin_error_naming_the_format() -> None:
    def broken(row: object) -> float:
        raise KeyError("q")

    spec = FormatSpec("qa", "1", mapping=QA, detect=broken)
    with pytest.raises(PluginError) as info:
        spec.score({})
    assert str(info.value) == (
        "format 'qa': detect() raised KeyError: 'q'\n"
        "Hint: detect() must return a score for any JSON value, 0.0 for rows it rejects."
    )
    nan = FormatSpec("qa", "1", mapping=QA, detect=lambda row: float("nan"))
    with pytest.raises(PluginError, match=r"detect\(\) returned nan"):
        nan.score({})


def test_specificity_is_a_strict_signature_superset() -> None:
    general = FormatSpec("a", "1", mapping=Mapping(("x",), (Message("user", "x"),)))
    specific = FormatSpec("b", "1", mapping=Mapping(("x", "y"), (Message("user", "x"),)))
    assert specific.is_more_specific_than(general)
    assert not general.is_more_specific_than(specific)
    assert not general.is_more_specific_than(general)


def test_duplicate_format_names_name_both_plugins(pm) -> None:
    clash = FormatSpec("openai", "9", mapping=QA)
    pm.register(as_plugin(clash), name="my-openai")
    with pytest.raises(PluginError) as info:
        registry(pm)
    assert str(info.value) == (
        'format "openai" is registered twice: by plugin "openai" and by plugin "my-openai".\n'
        "Hint: uninstall one of the two distributions, or rename one format."
    )
    assert info.value.plugin == "my-openai"


def test_register_something_else_is_a_plugin_error(pm) -> None:
    class Plugin:
        @hookimpl
        def brightingest_register_formats(self, register: Callable[..., None]) -> None:
            register({"name": "qa"})

    pm.register(Plugin(), name="dicty")
    with pytest.raises(PluginError) as info:
        registry(pm)
    assert str(info.value) == (
        'plugin "dicty": registered a dict, not a brightingest.plugins.FormatSpec.'
    )
    assert info.value.plugin == "dicty"


def test_spec_breaking_the_contract_inside_a_plugin_names_the_plugin(pm) -> None:
    class Plugin:
        @hookimpl
        def brightingest_register_formats(self, register: Callable[..., None]) -> None:
            register(FormatSpec("Nope", "1", mapping=QA))

    pm.register(Plugin(), name="badname")
    with pytest.raises(PluginError) as info:
        registry(pm)
    assert str(info.value).startswith(
        "plugin \"badname\": format spec 'Nope' breaks the plugin contract: name must be"
    )


def test_hook_raising_is_wrapped_with_the_plugin_name(pm) -> None:
    class Plugin:
        @hookimpl
        def brightingest_register_formats(self, register: Callable[..., None]) -> None:
            raise RuntimeError("boom")

    pm.register(Plugin(), name="boomer")
    with pytest.raises(PluginError) as info:
        registry(pm)
    assert str(info.value) == (
        'plugin "boomer" failed in brightingest_register_formats: RuntimeError: boom\n'
        "Hint: fix or uninstall the plugin."
    )


def test_invalid_hookimpl_signature_is_a_plugin_error() -> None:
    class Plugin:
        @hookimpl
        def brightingest_register_formats(self, register: object, extra: object) -> None:
            """Asks for an argument the hook does not have."""

    pm = get_plugin_manager(autoload=False)
    with pytest.raises(PluginError, match='plugin "odd" has an invalid hook implementation'):
        plugins._register(pm, Plugin(), "odd", 'plugin "odd"', None)


def _install_fake_dist(root: Path, dist: str, version: str, entry_points: str) -> None:
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh directory on sys.path where tests install fake distributions."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("bi_fake_")]:
        del sys.modules[name]


def test_entry_point_plugin_is_loaded_with_its_distribution(site: Path) -> None:
    (site / "bi_fake_qa.py").write_text(
        "from brightingest.mapping import Mapping, Message\n"
        "from brightingest.plugins import FormatSpec, hookimpl\n"
        "@hookimpl\n"
        "def brightingest_register_formats(register):\n"
        "    register(FormatSpec('qa', '2', mapping=Mapping(('q', 'a'),"
        " (Message('user', 'q'), Message('assistant', 'a')))))\n"
    )
    _install_fake_dist(site, "bi-fake-qa", "1.2", "[brightingest.formats]\nqa = bi_fake_qa\n")
    pm = get_plugin_manager()
    info = {i.name: i for i in formats(pm)}["qa"]
    assert (info.plugin, info.distribution, info.distribution_version) == (
        "bi_fake_qa",
        "bi-fake-qa",
        "1.2",
    )


def test_plugin_that_fails_to_import_is_named_with_its_distribution(site: Path) -> None:
    (site / "bi_fake_broken.py").write_text("import not_a_module_anywhere_xyz\n")
    _install_fake_dist(
        site, "bi-fake-broken", "0.3", "[brightingest.formats]\nbroken = bi_fake_broken\n"
    )
    with pytest.raises(PluginError) as info:
        get_plugin_manager()
    assert str(info.value) == (
        'plugin "broken" (bi-fake-broken 0.3) failed to import (bi_fake_broken): '
        "ModuleNotFoundError: No module named 'not_a_module_anywhere_xyz'\n"
        "Hint: fix or uninstall bi-fake-broken; brightingest loads every installed format plugin."
    )
    assert (info.value.plugin, info.value.distribution) == ("broken", "bi-fake-broken")


def test_plugin_with_an_unknown_hook_is_named(site: Path) -> None:
    (site / "bi_fake_hook.py").write_text(
        "from brightingest.plugins import hookimpl\n"
        "@hookimpl\n"
        "def brightingest_register_readers(register):\n"
        "    pass\n"
    )
    _install_fake_dist(
        site, "bi-fake-hook", "1.0", "[brightingest.formats]\nhooky = bi_fake_hook\n"
    )
    with pytest.raises(PluginError) as info:
        get_plugin_manager()
    assert str(info.value).startswith(
        'plugin "hooky" (bi-fake-hook 1.0) implements a hook brightingest does not define:'
    )
    assert info.value.distribution == "bi-fake-hook"


def test_duplicate_across_distributions_names_both(site: Path) -> None:
    for dist in ("one", "two"):
        (site / f"bi_fake_{dist}.py").write_text(
            "from brightingest.formats.openai import SPEC\n"
            "from brightingest.plugins import hookimpl\n"
            "@hookimpl\n"
            "def brightingest_register_formats(register):\n"
            "    register(SPEC)\n"
        )
        _install_fake_dist(
            site, f"bi-fake-{dist}", "1.0", f"[brightingest.formats]\n{dist} = bi_fake_{dist}\n"
        )
    pm = get_plugin_manager(autoload=False)
    for dist in ("one", "two"):
        pm.register(__import__(f"bi_fake_{dist}"), name=dist)
        pm.distributions[dist] = (f"bi-fake-{dist}", "1.0")
    with pytest.raises(PluginError) as info:
        registry(pm)
    assert str(info.value).startswith(
        'format "openai" is registered twice: by plugin "one" (bi-fake-one 1.0) '
        'and by plugin "two" (bi-fake-two 1.0).'
    )


def test_autoload_without_entry_points_registers_no_duplicates() -> None:
    pm = get_plugin_manager()
    names = [i.name for i in formats(pm)]
    assert len(names) == len(set(names))
    assert {"openai", "brightrun-v4", "sharegpt", "alpaca", "prompt-completion"} <= set(names)


def test_builtin_module_is_a_plain_hookimpl_plugin() -> None:
    found: list[FormatSpec] = []
    brightingest.formats.openai.brightingest_register_formats(found.append)
    assert [s.name for s in found] == ["openai"]
    mapping = found[0].mapping
    assert mapping is not None
    assert mapping.tools == "tools"
    assert isinstance(mapping.parts[-1], ListOfTurns)


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        (
            (Message("human", "question"), Message("assistant", "answer")),
            'unknown role "human" in a message part',
        ),
        (
            (Message("user", "question"), Message("assistant", "answer", weight=5)),
            "weight must be 0 or 1, not 5",
        ),
        (
            (ListOfTurns("turns", roles={"human": "person"}),),
            'role alias "human" maps to "person", which is not one of',
        ),
    ],
)
def test_a_mapping_the_reader_cannot_run_is_refused_when_it_registers(
    pm, parts: tuple[object, ...], problem: str
) -> None:
    pytest.importorskip("brightingest._core")
    spec = FormatSpec("qa", "1", mapping=Mapping(signature=("question",), parts=parts))  # type: ignore[arg-type]
    pm.register(as_plugin(spec), name="qa-plugin")
    with pytest.raises(PluginError) as info:
        registry(pm)
    err = info.value
    assert err.code == "plugin_contract"
    assert err.plugin == "qa-plugin"
    assert str(err).startswith(
        'plugin "qa-plugin": format "qa" has a mapping the reader cannot run: '
    )
    assert problem in str(err)
