from pathlib import Path

from autopack.agents.repomap import file_symbols, repository_map


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


def test_other_languages_use_the_declaration_fallback(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.ts",
        "export function add(a: number) {}\nexport class Cart {}\ninterface Item {}\n",
    )
    write(
        tmp_path,
        "b.go",
        "package b\nfunc (s *Shop) Buy() {}\nfunc Total() int { return 0 }\ntype Shop struct{}\n",
    )
    write(tmp_path, "c.rs", "pub fn double(x: i32) -> i32 { x }\npub struct Point;\n")
    write(
        tmp_path,
        "D.java",
        "public class D {\n  public static int add(int a, int b) { return a + b; }\n}\n",
    )
    assert file_symbols(tmp_path / "a.ts") == ["add", "Cart", "Item"]
    assert file_symbols(tmp_path / "b.go") == ["Buy", "Total", "Shop"]
    assert file_symbols(tmp_path / "c.rs") == ["double", "Point"]
    assert file_symbols(tmp_path / "D.java") == ["D", "add"]


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
