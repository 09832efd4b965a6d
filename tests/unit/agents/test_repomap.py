from pathlib import Path

from autopack.agents.repomap import fallback_symbols, file_symbols, repository_map


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def test_python_symbols_come_from_ast(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.py",
        "class Shop:\n    def __init__(self): ...\n    def buy(self, item): ...\n\n"
        "def total(lines, tax=0):\n    return 0\n\nasync def fetch(url):\n    ...\n",
    )
    assert file_symbols(tmp_path / "a.py") == [
        "class Shop[buy]",
        "def total(lines, tax)",
        "def fetch(url)",
    ]


def test_other_languages_are_parsed_with_tree_sitter(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.ts",
        "// add(a) is not a declaration in a comment\n"
        "export function add(a: number) {}\n"
        "export class Cart {\n  constructor() {}\n  buy(item: string) {}\n}\n"
        "interface Item {\n  price(): number;\n}\nconst total = () => 0;\n",
    )
    write(tmp_path, "b.js", "class Shop { open() {} }\nmodule.exports.close = function () {};\n")
    write(
        tmp_path,
        "c.go",
        "package b\nfunc (s *Shop) Buy() {}\nfunc Total() int { return 0 }\ntype Shop struct{}\n",
    )
    write(
        tmp_path,
        "d.rs",
        "pub fn double(x: i32) -> i32 { x }\npub struct Point;\n"
        "impl Point {\n    pub fn norm(&self) -> f64 { 0.0 }\n}\ntrait Shape {}\n",
    )
    write(
        tmp_path,
        "E.java",
        "public class E {\n  public static int add(int a, int b) { return a + b; }\n"
        "  int helper() { return 0; }\n}\ninterface Named { String name(); }\n",
    )
    assert file_symbols(tmp_path / "a.ts") == [
        "function add",
        "class Cart[buy]",
        "interface Item[price]",
        "function total",
    ]
    assert file_symbols(tmp_path / "b.js") == ["class Shop[open]", "function close"]
    assert file_symbols(tmp_path / "c.go") == ["method Buy", "function Total", "type Shop"]
    assert file_symbols(tmp_path / "d.rs") == [
        "function double",
        "class Point",
        "method norm",
        "interface Shape",
    ]
    assert file_symbols(tmp_path / "E.java") == ["class E[add, helper]", "interface Named[name]"]


def test_broken_code_still_gives_what_parses(tmp_path: Path) -> None:
    write(tmp_path, "x.go", "package x\nfunc Good() {}\nfunc Bad( {\n")
    assert "function Good" in file_symbols(tmp_path / "x.go")


def test_languages_without_a_grammar_use_the_declaration_fallback(tmp_path: Path) -> None:
    write(tmp_path, "a.kt", "class Cart {\n  fun total(): Int = 0\n}\ninterface Item\n")
    write(tmp_path, "b.rb", "class Shop\nend\n")
    assert file_symbols(tmp_path / "a.kt") == ["Cart", "Item"]
    assert file_symbols(tmp_path / "b.rb") == ["Shop"]
    # The same patterns serve the parsed languages when their grammar cannot load.
    assert fallback_symbols(".go", "func (s *Shop) Buy() {}\ntype Shop struct{}\n") == [
        "Buy",
        "Shop",
    ]
    assert fallback_symbols(".java", "public class D {\n  public int add(int a) {}\n}\n") == [
        "D",
        "add",
    ]


def test_map_is_sorted_and_bounded(tmp_path: Path) -> None:
    for n in range(50):
        write(tmp_path, f"m{n:02d}.py", f"def f{n}():\n    pass\n")
    text = repository_map(tmp_path, [f"m{n:02d}.py" for n in reversed(range(50))], budget=200)
    lines = text.splitlines()
    assert lines[0] == "m00.py: def f0()"
    assert lines[-1].startswith("... (")
    assert len(text) < 300
    assert repository_map(tmp_path, ["m01.py", "m00.py"], budget=10_000) == (
        "m00.py: def f0()\nm01.py: def f1()"
    )


def test_broken_python_is_marked_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, "bad.py", "def broken(:\n")
    assert file_symbols(tmp_path / "bad.py") == ["<syntax error>"]
